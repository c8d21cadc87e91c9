"""Reporters: turn a ScanResult into a table, JSON, SBOM and other formats."""
