"""The local advisory database: OSV and other feeds imported into one indexed SQLite file."""
