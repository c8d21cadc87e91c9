"""JSON Schemas Shieldwall publishes (package data; the copy in schemas/ at the repository root is the same file)."""
