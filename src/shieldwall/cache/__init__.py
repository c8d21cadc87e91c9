"""Per-layer result cache: a rescan of an unchanged image re-reads nothing."""
