"""The systemd journal as a line source: ``journalctl -o json --follow`` with a saved cursor.

A reader thread parses each JSON entry into a syslog-like line
(``<time> <host> <identifier>[<pid>]: <message>``) so the same decoders
apply, and keeps the entry's cursor; the cursor is saved in the state
directory and passed back with ``--after-cursor`` on restart. When
``journalctl`` is missing or exits, the source reports why.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path

MAX_QUEUE = 50_000
MAX_ENTRY_BYTES = 64 * 1024


def entry_line(entry: dict[str, object]) -> str:
    """A syslog-style line for one journal JSON entry."""
    try:
        ts = dt.datetime.fromtimestamp(int(str(entry.get("__REALTIME_TIMESTAMP", "0"))) / 1e6, dt.UTC)
    except ValueError:
        ts = dt.datetime.now(dt.UTC)
    host = str(entry.get("_HOSTNAME", "localhost"))
    ident = str(entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM") or "journal")
    pid = entry.get("_PID")
    message = entry.get("MESSAGE", "")
    if isinstance(message, list):  # binary messages come as byte arrays
        message = bytes(int(b) & 0xFF for b in message).decode("utf-8", "replace")
    text = str(message).replace("\n", " ")
    head = f"{ts:%b} {ts.day:2d} {ts:%H:%M:%S} {host} {ident}"
    return f"{head}[{pid}]: {text}" if pid else f"{head}: {text}"


class JournalFollower:
    """Follows the journal in a thread; ``poll`` hands over parsed lines."""

    def __init__(self, state_dir: Path, units: list[str], binary: str = "journalctl") -> None:
        self.cursor_file = state_dir / "journal.cursor"
        self.units = units
        self.binary = binary
        self.error = ""
        self.dropped = 0
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue(MAX_QUEUE)
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._cursor = ""

    def start(self) -> bool:
        """Start ``journalctl``; False (with ``error`` set) when it cannot run."""
        exe = shutil.which(self.binary)
        if exe is None:
            self.error = f"{self.binary} not found"
            return False
        args = [exe, "-o", "json", "--follow", "--no-pager"]
        try:
            self._cursor = self.cursor_file.read_text().strip()
        except OSError:
            self._cursor = ""
        args += ["--after-cursor", self._cursor] if self._cursor else ["--lines", "0"]
        for unit in self.units:
            args += ["--unit", unit]
        try:
            self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            self.error = f"cannot start {self.binary}: {exc}"
            return False
        self._thread = threading.Thread(target=self._read, name="logs-journal", daemon=True)
        self._thread.start()
        return True

    def _read(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for raw in proc.stdout:
            if len(raw) > MAX_ENTRY_BYTES:
                self.dropped += 1
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            try:
                self._queue.put_nowait((entry_line(entry), str(entry.get("__CURSOR", ""))))
            except queue.Full:
                self.dropped += 1
        code = proc.wait()
        if code not in (0, -15):
            err = proc.stderr.read(500).decode("utf-8", "replace") if proc.stderr else ""
            self.error = f"{self.binary} exited with {code}: {err.strip()}"

    def poll(self, max_lines: int) -> list[str]:
        """Lines read since the last poll (the cursor of the last one is saved)."""
        return [line for line, _cursor in self.poll_identified(max_lines)]

    def poll_identified(self, max_lines: int) -> list[tuple[str, str]]:
        """Lines with their journal cursors (stable identities)."""
        out: list[tuple[str, str]] = []
        cursor = ""
        while len(out) < max_lines:
            try:
                line, cursor = self._queue.get_nowait()
            except queue.Empty:
                break
            out.append((line, cursor))
        if cursor:
            self._cursor = cursor
            self.cursor_file.write_text(cursor)
        return out

    def stop(self) -> None:
        """Stop ``journalctl`` and the reader thread."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
