"""Change notification for our table: ``nft -j monitor ruleset`` in a child process.

Listing a large table costs seconds of nft's CPU (10,000 rules or 100,000
set elements), so instead of listing it every few seconds the module keeps
one ``nft -j monitor ruleset`` running and checks for drift only when the
kernel reports a change to ``inet shieldwall``. Element changes of the
timeout sets (``block_*``, ``rep_hits_*``: active response and kernel-filled
hit sets) are not drift and are ignored. Lines are bounded; a line that is
not JSON marks the table dirty (fail closed: check rather than trust).
"""

from __future__ import annotations

import json
import subprocess
import threading
from typing import IO

from shieldwall.firewall.compile import FAMILY, TABLE
from shieldwall.firewall.nft import Nft

MAX_LINE = 1 << 20
VOLATILE_SET_PREFIXES = ("block_", "rep_hits_")


def concerns_us(line: str) -> bool:
    """True when a monitor line reports a change of our table that may be drift."""
    try:
        event = json.loads(line)
    except ValueError:
        return True
    if not isinstance(event, dict) or len(event) != 1:
        return True
    body = next(iter(event.values()))
    if not isinstance(body, dict) or len(body) != 1:
        return True
    kind, obj = next(iter(body.items()))
    if not isinstance(obj, dict):
        return True
    if obj.get("family") != FAMILY:
        return False
    table = obj.get("name") if kind == "table" else obj.get("table")
    if table != TABLE:
        return False
    return not (kind == "element" and str(obj.get("name", "")).startswith(VOLATILE_SET_PREFIXES))


class RulesetMonitor:
    """A running ``nft -j monitor ruleset`` and a flag set when our table changed."""

    def __init__(self, nft: Nft) -> None:
        self._nft = nft
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self._dirty = threading.Event()

    def start(self) -> None:
        """Start the monitor process and its reader thread."""
        self._proc = subprocess.Popen(
            self._nft.argv("-j", "monitor", "ruleset"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True, name="nft-monitor")
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in iter(lambda: stream.readline(MAX_LINE), ""):
            if concerns_us(line):
                self._dirty.set()
        self._dirty.set()  # the monitor ended: the next check must not trust silence

    @property
    def alive(self) -> bool:
        """True while the monitor process runs."""
        return self._proc is not None and self._proc.poll() is None

    def take_dirty(self) -> bool:
        """True (once) when our table changed since the last call."""
        if self._dirty.is_set():
            self._dirty.clear()
            return True
        return False

    def stop(self) -> None:
        """Kill the monitor process and wait for the reader."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=5)  # the reader sees end of file once the process is gone
            self._thread = None
        if proc.stdout is not None:
            proc.stdout.close()
