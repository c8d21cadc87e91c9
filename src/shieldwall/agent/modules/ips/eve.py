"""Incremental reading of ``eve.json``: bounded lines per call, the position kept across restarts.

The position (inode and byte offset) is saved in the module's state directory
after each batch, so a restarted agent resumes where it stopped: events are
neither skipped nor read twice (the event key makes a re-read harmless
anyway). A truncated or replaced file (Suricata restarted, log rotated) is
read from its start. A line longer than ``max_line`` is skipped and counted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_LINE = 256 * 1024


@dataclass(slots=True)
class EveReader:
    """Reads new complete lines of one eve.json file."""

    path: Path
    position_file: Path
    max_lines: int = 1000
    max_line: int = MAX_LINE
    skipped_long: int = 0
    bad_json: int = 0
    _inode: int = 0
    _offset: int = 0
    _loaded: bool = field(default=False)

    def _load(self) -> None:
        self._loaded = True
        try:
            data = json.loads(self.position_file.read_text(encoding="utf-8"))
            self._inode = int(data["inode"])
            self._offset = int(data["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            self._inode, self._offset = 0, 0

    def _save(self) -> None:
        tmp = self.position_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"inode": self._inode, "offset": self._offset}), encoding="utf-8")
        os.replace(tmp, self.position_file)

    def read(self) -> list[dict[str, Any]]:
        """Up to ``max_lines`` new events (parsed JSON objects)."""
        if not self._loaded:
            self._load()
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        if st.st_ino != self._inode or st.st_size < self._offset:
            self._inode, self._offset = st.st_ino, 0
        if st.st_size == self._offset:
            return []
        events: list[dict[str, Any]] = []
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            while len(events) < self.max_lines:
                line = fh.readline(self.max_line + 1)
                if not line:
                    break
                if not line.endswith(b"\n"):
                    if len(line) > self.max_line:
                        # skip the rest of an over-long line
                        self.skipped_long += 1
                        while line and not line.endswith(b"\n"):
                            line = fh.readline(self.max_line + 1)
                        self._offset = fh.tell()
                        continue
                    break  # an incomplete last line: Suricata is still writing it
                self._offset = fh.tell()
                try:
                    value = json.loads(line)
                except ValueError:
                    self.bad_json += 1
                    continue
                if isinstance(value, dict):
                    events.append(value)
                else:
                    self.bad_json += 1
        self._save()
        return events


def at_end(reader: EveReader) -> bool:
    """Has ``reader`` consumed everything currently in its file?"""
    try:
        st = reader.path.stat()
    except FileNotFoundError:
        return True
    return st.st_ino == reader._inode and st.st_size == reader._offset


def rotate(reader: EveReader, reopen: Callable[[], None]) -> list[dict[str, Any]]:
    """Bound eve.json: rename it, make Suricata reopen its logs, drain the old file, delete it.

    Lines Suricata wrote between the reader's last read and the reopen are in
    the renamed file and are returned here, so rotation loses nothing. When
    ``reopen`` fails the file is renamed back (Suricata still writes to it)
    and the error propagates.
    """
    old = reader.path.with_name(reader.path.name + ".1")
    os.replace(reader.path, old)
    try:
        reopen()
    except Exception:
        os.replace(old, reader.path)
        raise
    events: list[dict[str, Any]] = []
    with old.open("rb") as fh:
        fh.seek(reader._offset)
        for line in fh:
            if len(line) > reader.max_line:
                reader.skipped_long += 1
                continue
            try:
                value = json.loads(line)
            except ValueError:
                reader.bad_json += 1
                continue
            if isinstance(value, dict):
                events.append(value)
    old.unlink()
    reader._inode, reader._offset = 0, 0
    reader._save()
    return events
