"""The baseline database: the last reported attributes of every watched path (SQLite in the state directory).

After a change is reported the baseline moves forward, so each change is
reported once. The policy's digest is kept beside the rows: a different
policy means a new baseline (the old one described other paths and
attributes), built without emitting anything.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from shieldwall.agent.modules.fim.attributes import Attrs

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (path TEXT PRIMARY KEY, rule TEXT NOT NULL, attrs TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Baseline:
    """Path -> (rule path, attributes), with a few metadata values; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def meta(self, key: str) -> str | None:
        """A metadata value (``policy_digest``, ``built_at``...)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def count(self) -> int:
        """Number of paths in the baseline."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def get(self, path: str) -> Attrs | None:
        """The recorded attributes of ``path``, or ``None``."""
        with self._lock:
            row = self._db.execute("SELECT attrs FROM entries WHERE path = ?", (path,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def load(self) -> dict[str, Attrs]:
        """Every path's recorded attributes."""
        with self._lock:
            rows = self._db.execute("SELECT path, attrs FROM entries").fetchall()
        return {str(p): dict(json.loads(a)) for p, a in rows}

    def under(self, path: str) -> list[str]:
        """Recorded paths equal to or below ``path``."""
        prefix = path.rstrip("/") + "/"
        with self._lock:
            rows = self._db.execute(
                "SELECT path FROM entries WHERE path = ? OR (path >= ? AND path < ?)",
                (path, prefix, prefix[:-1] + "0"),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def replace_all(self, entries: Mapping[str, Attrs], rules: Mapping[str, Any]) -> None:
        """Make the baseline exactly ``entries`` (one transaction)."""
        rows = [(p, str(getattr(rules[p], "path", rules[p])), _dump(a)) for p, a in entries.items()]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM entries")
                self._db.executemany("INSERT INTO entries (path, rule, attrs) VALUES (?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def apply(self, upserts: Iterable[tuple[str, str, Attrs]], deletes: Iterable[str]) -> None:
        """Move the baseline forward: set ``(path, rule, attrs)`` rows and delete paths, in one transaction."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO entries (path, rule, attrs) VALUES (?, ?, ?)",
                    [(p, r, _dump(a)) for p, r, a in upserts],
                )
                self._db.executemany("DELETE FROM entries WHERE path = ?", [(p,) for p in deletes])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise


def _dump(attrs: Attrs) -> str:
    return json.dumps(attrs, sort_keys=True, separators=(",", ":"))
