"""Matching an inventory against advisories, with per-ecosystem version semantics."""
