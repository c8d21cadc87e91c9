"""The spool: durable before emit returns, idempotent by key, bounded with the documented drop rule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.spool import Spool
from shieldwall.model import Severity


def _event(n: int, severity: Severity = Severity.LOW, module: str = "m", pad: int = 0) -> AgentEvent:
    return AgentEvent(module, f"{module}.thing", severity, f"event {n}", {"n": n, "pad": "x" * pad}, key=f"key-{n:06d}")


def test_put_peek_acknowledge_and_duplicate_keys(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    assert spool.put(_event(1)) and spool.put(_event(2))
    assert not spool.put(_event(1)), "the same key twice is one event"
    batch = spool.peek(10)
    assert [e.key for e in batch] == ["key-000001", "key-000002"]
    assert batch[0].wire["attributes"]["n"] == 1
    assert spool.acknowledge(["key-000001", "unknown"]) == 1
    assert [e.key for e in spool.peek(10)] == ["key-000002"]
    assert spool.depth()[0] == 1
    spool.close()
    reopened = Spool(tmp_path / "spool.db")
    assert [e.key for e in reopened.peek(10)] == ["key-000002"]
    assert reopened.depth()[0] == 1


def test_bounded_by_rows_drops_lowest_severity_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_rows=4)
    spool.put(_event(1, Severity.HIGH, "fim"))
    spool.put(_event(2, Severity.LOW, "logs"))
    spool.put(_event(3, Severity.CRITICAL, "ips"))
    spool.put(_event(4, Severity.LOW, "logs"))
    spool.put(_event(5, Severity.MEDIUM, "fim"))  # over: the oldest LOW (2) goes
    assert [e.key for e in spool.peek(10)] == ["key-000001", "key-000003", "key-000004", "key-000005"]
    spool.put(_event(6, Severity.HIGH, "fim"))  # over: the other LOW (4) goes
    spool.put(_event(7, Severity.HIGH, "fim"))  # over: MEDIUM (5) goes, HIGH/CRITICAL stay while lower exist
    assert [e.key for e in spool.peek(10)] == ["key-000001", "key-000003", "key-000006", "key-000007"]
    assert spool.dropped() == {"fim": 1, "logs": 2}
    spool.put(_event(8, Severity.CRITICAL, "ips"))  # only HIGH+ left: the oldest HIGH goes before any CRITICAL
    assert [e.key for e in spool.peek(10)] == ["key-000003", "key-000006", "key-000007", "key-000008"]
    assert spool.dropped() == {"fim": 2, "logs": 2}
    assert spool.depth()[0] == 4


def test_bounded_by_bytes(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_bytes=3000)
    for n in range(10):
        spool.put(_event(n, Severity.LOW, pad=500))
    rows, size = spool.depth()
    assert size <= 3000 and rows < 10
    assert spool.dropped() == {"m": 10 - rows}
    kept = [e.key for e in spool.peek(20)]
    assert kept == [f"key-{n:06d}" for n in range(10 - rows, 10)], "the oldest go first"


def test_reject_counts_a_drop(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put(_event(1, module="bad"))
    assert spool.reject("key-000001") == 1
    assert spool.depth()[0] == 0
    assert spool.dropped() == {"bad": 1}


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from shieldwall.agent.events import AgentEvent
    from shieldwall.agent.spool import Spool
    from shieldwall.model import Severity

    spool = Spool(Path(sys.argv[1]))
    log = open(sys.argv[2], "a", buffering=1)
    n = 0
    while True:
        spool.put(AgentEvent("w", "w.e", Severity.LOW, "x", {"n": n, "pad": "y" * 200}, key=f"k-{n:08d}"))
        log.write(f"k-{n:08d}\\n")
        n += 1
    """
)


def test_kill_9_during_writes_keeps_every_returned_event(tmp_path: Path) -> None:
    """Every event whose put() returned is in the spool after SIGKILL; the file is consistent."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    db, log = tmp_path / "spool.db", tmp_path / "written.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(log)], env=env)
    try:
        for _ in range(600):
            if log.exists() and log.stat().st_size > 40 * 12:
                break
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    written = [line for line in log.read_text().splitlines() if len(line) == 10]
    assert len(written) >= 40
    spool = Spool(db)
    keys = {e.key for e in spool.peek(1_000_000)}
    assert set(written) <= keys
    assert len(keys - set(written)) <= 1, "at most the one event being written when killed"
    assert spool.depth()[0] == len(keys)
