"""Supervision: a dead child is noticed and restarted with a doubling backoff; stop is final."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from shieldwall.agent.modules.ips.supervisor import Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _wait_dead(sup: Supervisor) -> None:
    for _ in range(200):
        if not sup.running():
            return
        time.sleep(0.01)


def test_restart_with_backoff_and_clean_stop(tmp_path: Path) -> None:
    clock = Clock()
    sup = Supervisor(["sleep", "60"], tmp_path / "err", min_backoff=1, max_backoff=4, stable_after=30, clock=clock)
    sup.start()
    try:
        assert sup.running() and sup.pid
        delays = []
        for _ in range(4):
            pid = sup.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            _wait_dead(sup)
            assert sup.poll() == "died"
            delays.append(sup.backoff)
            assert sup.poll() is None  # not yet due
            clock.now += sup.backoff
            assert sup.poll() == "restarted"
            assert sup.running()
        assert delays == [1, 2, 4, 4]
        assert sup.restarts == 4 and sup.deaths == [-9, -9, -9, -9]
        # a child that stayed up long enough resets the backoff
        clock.now += 100
        pid = sup.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        _wait_dead(sup)
        sup.poll()
        assert sup.backoff == 1
        clock.now += 1
        sup.poll()
    finally:
        sup.stop()
    assert not sup.running()
    clock.now += 1000
    assert sup.poll() is None and not sup.running()
