"""Suricata as a supervised child process: start, notice a death, restart with backoff, stop cleanly.

``poll`` is called from the module's ``tick``; it never blocks. A child that
dies is restarted after a delay that doubles on each consecutive failure (up
to ``max_backoff``) and resets once a child has stayed up for ``stable_after``
seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(slots=True)
class Supervisor:
    """One supervised process."""

    argv: Sequence[str]
    stderr_path: Path
    min_backoff: float = 1.0
    max_backoff: float = 60.0
    stable_after: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _proc: subprocess.Popen[bytes] | None = None
    _started_at: float = 0.0
    _next_start: float = 0.0
    _backoff: float = 0.0
    restarts: int = 0
    deaths: list[int] = field(default_factory=list)
    """Exit codes of children that died unasked (last 20)."""

    def start(self) -> None:
        """Start the child now (no-op when it is running)."""
        if self.running():
            return
        with self.stderr_path.open("wb") as err:
            self._proc = subprocess.Popen(
                list(self.argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
            )
        self._started_at = self.clock()

    def running(self) -> bool:
        """Is the child alive?"""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs."""
        return self._proc.pid if self.running() and self._proc is not None else None

    def poll(self) -> str | None:
        """Notice a death and restart when due; returns an event word ("died", "restarted") or None."""
        now = self.clock()
        if self._proc is not None and self._proc.poll() is not None:
            code = self._proc.returncode
            self.deaths = [*self.deaths[-19:], code]
            self._proc = None
            lived = now - self._started_at
            self._backoff = (
                self.min_backoff
                if lived >= self.stable_after or not self._backoff
                else min(self.max_backoff, self._backoff * 2)
            )
            self._next_start = now + self._backoff
            return "died"
        if self._proc is None and self._next_start and now >= self._next_start:
            self._next_start = 0.0
            self.start()
            self.restarts += 1
            return "restarted"
        return None

    @property
    def backoff(self) -> float:
        """The current restart delay."""
        return self._backoff

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, wait, then SIGKILL the child's process group; no restart afterwards."""
        self._next_start = 0.0
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
