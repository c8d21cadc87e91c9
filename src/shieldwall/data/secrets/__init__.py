"""Bundled secret rules and the global allowlist (YAML data)."""
