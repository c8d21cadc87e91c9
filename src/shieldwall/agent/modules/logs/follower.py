"""Follow a log file across rotation, truncation and copytruncate, remembering the position.

A follower keeps the file's device and inode and the byte offset of the next
unread line. On each ``poll`` it reads complete lines (at most ``max_lines``);
when the path now names another inode (rotation by rename) it first drains the
old file through its open descriptor, then starts the new one at 0; when the
file shrank below the offset (truncation, copytruncate) it starts again at 0.
Lines longer than ``max_line_bytes`` are cut and the rest of them skipped.
Positions are saved as JSON in the module's state directory, so a restarted
agent continues where it stopped instead of re-reading or skipping.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

MAX_LINE_BYTES = 16 * 1024


@dataclass(slots=True)
class Position:
    """Where reading of one file stands."""

    dev: int = 0
    ino: int = 0
    offset: int = 0


@dataclass(slots=True)
class FollowStats:
    """Counters reported in the module state."""

    lines: int = 0
    rotations: int = 0
    truncations: int = 0
    long_lines: int = 0
    errors: int = 0


class PositionStore:
    """Positions of every followed file, in one JSON file written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.positions: dict[str, Position] = {}
        try:
            raw = json.loads(path.read_text())
            for key, value in raw.items():
                self.positions[key] = Position(int(value["dev"]), int(value["ino"]), int(value["offset"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.positions = {}

    def save(self) -> None:
        """Write all positions (temp file + rename)."""
        tmp = self.path.with_suffix(".tmp")
        data = {k: {"dev": p.dev, "ino": p.ino, "offset": p.offset} for k, p in self.positions.items()}
        tmp.write_text(json.dumps(data, sort_keys=True))
        os.replace(tmp, self.path)


@dataclass(slots=True)
class FileFollower:
    """Reads new lines of one path."""

    path: Path
    store: PositionStore
    start_at_end: bool = True
    max_line_bytes: int = MAX_LINE_BYTES
    stats: FollowStats = field(default_factory=FollowStats)
    _fh: BinaryIO | None = None
    _pos: Position = field(default_factory=Position)
    _partial: bytes = b""
    _skipping: bool = False

    def _open(self, fresh: bool) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return False
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            self.stats.errors += 1
            return False
        fh = os.fdopen(fd, "rb")
        saved = self.store.positions.get(str(self.path))
        if saved is not None and saved.dev == st.st_dev and saved.ino == st.st_ino and saved.offset <= st.st_size:
            offset = saved.offset
        elif saved is not None:
            offset = 0  # rotated or truncated while we were not looking
        else:
            offset = st.st_size if (self.start_at_end and not fresh) else 0
        fh.seek(offset)
        self._fh = fh
        self._pos = Position(st.st_dev, st.st_ino, offset)
        self._partial = b""
        self._skipping = False
        return True

    def close(self) -> None:
        """Close the file (the position stays in the store)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def poll(self, max_lines: int = 10_000) -> list[str]:
        """New complete lines since the last poll (decoded as UTF-8 with replacement)."""
        return [line for line, _ident in self.poll_identified(max_lines)]

    def poll_identified(self, max_lines: int = 10_000) -> list[tuple[str, str]]:
        """New lines, each with a stable identity ``dev:inode:offset`` (the same after a restart)."""
        if self._fh is None and not self._open(fresh=False):
            return []
        lines = self._read(max_lines)
        try:
            st = os.stat(self.path, follow_symlinks=False)
        except OSError:
            st = None
        if st is not None and (st.st_ino != self._pos.ino or st.st_dev != self._pos.dev):
            if len(lines) < max_lines:
                lines += self._read(max_lines - len(lines))
                self.stats.rotations += 1
                self.close()
                self.store.positions.pop(str(self.path), None)
                if self._open(fresh=True):
                    lines += self._read(max_lines - len(lines))
        elif st is not None and st.st_size < self._pos.offset:
            self.stats.truncations += 1
            assert self._fh is not None
            self._fh.seek(0)
            self._pos.offset = 0
            self._partial = b""
            lines += self._read(max_lines - len(lines))
        self.store.positions[str(self.path)] = Position(self._pos.dev, self._pos.ino, self._pos.offset)
        return lines

    def _read(self, max_lines: int) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        fh = self._fh
        if fh is None:
            return out
        ident = f"{self._pos.dev}:{self._pos.ino}:"
        while len(out) < max_lines:
            base = fh.tell() - len(self._partial)
            chunk = fh.read(64 * 1024)
            if not chunk:
                break
            data = self._partial + chunk
            start = 0
            while len(out) < max_lines:
                nl = data.find(b"\n", start)
                if nl < 0:
                    break
                raw = data[start:nl]
                line_start = base + start
                start = nl + 1
                if self._skipping:
                    self._skipping = False
                    continue
                if len(raw) > self.max_line_bytes:
                    self.stats.long_lines += 1
                    raw = raw[: self.max_line_bytes]
                out.append((raw.rstrip(b"\r").decode("utf-8", "replace"), f"{ident}{line_start}"))
                self.stats.lines += 1
            rest = data[start:]
            if len(rest) > self.max_line_bytes and b"\n" not in rest:
                # an over-long line still without its end: emit its head, skip the rest up to the newline
                if not self._skipping:
                    out.append((rest[: self.max_line_bytes].decode("utf-8", "replace"), f"{ident}{base + start}"))
                    self.stats.long_lines += 1
                    self.stats.lines += 1
                self._skipping = True
                rest = b""
            self._partial = rest
        self._pos.offset = fh.tell() - len(self._partial)
        return out
