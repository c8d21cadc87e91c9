"""The agent's spool: every event durable on disk before ``emit`` returns, uploaded later, bounded.

One SQLite file in the state directory (WAL, ``synchronous=FULL``: a
committed event survives a power cut or ``kill -9``). Each event is stored
with its idempotency key (``INSERT OR IGNORE``: the same key twice is one
event); the uploader reads the oldest events and deletes them only after the
manager acknowledged their keys, so a crash between upload and delete is a
retry, which the manager records once.

The spool is bounded by rows and bytes. When a new event pushes it over a
bound, events are dropped by this rule: the lowest severity first
(UNKNOWN < LOW < MEDIUM < HIGH < CRITICAL), the oldest first within a
severity. So HIGH and CRITICAL events are never dropped while a lower one is
spooled. Every drop is counted per module; the cumulative counts are sent
with each batch and heartbeat (cumulative, so a retried report never counts
twice).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shieldwall.agent.events import AgentEvent

DEFAULT_MAX_ROWS = 100_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    module TEXT NOT NULL,
    rank INTEGER NOT NULL,
    size INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_rank_seq ON events (rank, seq);
CREATE TABLE IF NOT EXISTS drops (module TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS totals (
    id INTEGER PRIMARY KEY CHECK (id = 1), rows INTEGER NOT NULL, bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals (id, rows, bytes) VALUES (1, 0, 0);
"""


@dataclass(frozen=True, slots=True)
class SpooledEvent:
    """An event read back for upload: its position and its wire form."""

    seq: int
    key: str
    wire: dict[str, Any]


class Spool:
    """A bounded, durable, thread-safe event queue in one SQLite file."""

    def __init__(self, path: Path, *, max_rows: int = DEFAULT_MAX_ROWS, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_rows = max(1, max_rows)
        self.max_bytes = max(1, max_bytes)
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.executescript(SCHEMA)
        self._recount()

    def _recount(self) -> None:
        # The totals row is kept in the same transactions as the events; recount once at open anyway.
        with self._lock:
            rows, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM events").fetchone()
            self._db.execute("UPDATE totals SET rows = ?, bytes = ? WHERE id = 1", (rows, size))

    def put(self, event: AgentEvent) -> bool:
        """Write one event durably; False when its key is already spooled. May drop others to stay bounded."""
        keyed = event.with_key()
        body = json.dumps(keyed.to_wire(), sort_keys=True, separators=(",", ":"))
        size = len(body.encode())
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO events (key, module, rank, size, body) VALUES (?, ?, ?, ?, ?)",
                    (keyed.key, keyed.module, keyed.severity.rank, size, body),
                )
                added = cursor.rowcount == 1
                if added:
                    self._db.execute("UPDATE totals SET rows = rows + 1, bytes = bytes + ? WHERE id = 1", (size,))
                    self._enforce_bounds()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    def _enforce_bounds(self) -> None:
        rows, size = self._db.execute("SELECT rows, bytes FROM totals WHERE id = 1").fetchone()
        while rows > self.max_rows or size > self.max_bytes:
            victim = self._db.execute("SELECT seq, module, size FROM events ORDER BY rank, seq LIMIT 1").fetchone()
            if victim is None:
                break
            seq, module, victim_size = victim
            self._db.execute("DELETE FROM events WHERE seq = ?", (seq,))
            self._db.execute(
                "INSERT INTO drops (module, count) VALUES (?, 1) ON CONFLICT(module) DO UPDATE SET count = count + 1",
                (module,),
            )
            rows -= 1
            size -= victim_size
            self._db.execute("UPDATE totals SET rows = ?, bytes = ? WHERE id = 1", (rows, size))

    def peek(self, limit: int) -> list[SpooledEvent]:
        """The oldest ``limit`` events (not removed)."""
        with self._lock:
            rows = self._db.execute("SELECT seq, key, body FROM events ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [SpooledEvent(seq, key, json.loads(body)) for seq, key, body in rows]

    def acknowledge(self, keys: Sequence[str]) -> int:
        """Delete the events the manager acknowledged; how many were deleted."""
        if not keys:
            return 0
        deleted = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for key in keys:
                    row = self._db.execute("SELECT size FROM events WHERE key = ?", (key,)).fetchone()
                    if row is None:
                        continue
                    self._db.execute("DELETE FROM events WHERE key = ?", (key,))
                    self._db.execute("UPDATE totals SET rows = rows - 1, bytes = bytes - ? WHERE id = 1", (row[0],))
                    deleted += 1
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return deleted

    def reject(self, key: str) -> int:
        """Remove an event the manager refuses on its own (invalid), counting it as a drop of its module."""
        with self._lock:
            row = self._db.execute("SELECT module FROM events WHERE key = ?", (key,)).fetchone()
        if row is None:
            return 0
        deleted = self.acknowledge([key])
        with self._lock:
            self._db.execute(
                "INSERT INTO drops (module, count) VALUES (?, 1) ON CONFLICT(module) DO UPDATE SET count = count + 1",
                (row[0],),
            )
        return deleted

    def depth(self) -> tuple[int, int]:
        """(events, bytes) waiting."""
        with self._lock:
            rows, size = self._db.execute("SELECT rows, bytes FROM totals WHERE id = 1").fetchone()
        return int(rows), int(size)

    def dropped(self) -> dict[str, int]:
        """Cumulative drops per module since the spool was created."""
        with self._lock:
            return {m: int(c) for m, c in self._db.execute("SELECT module, count FROM drops ORDER BY module")}

    def close(self) -> None:
        """Close the file (events already committed stay)."""
        with self._lock:
            self._db.close()
