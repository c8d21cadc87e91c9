"""Real-time watching with inotify: bursts coalesced, new and moved directories followed, overflow rescans."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from helpers.fim import Harness, write

POLICY = {
    "realtime": True,
    "system": False,
    "audit": False,
    "scan_interval": 3600,
    "limits": {"coalesce_seconds": 0.1},
    "rules": [{"path": "/etc", "attributes": "normal"}, {"path": "/srv/app", "attributes": "content"}],
}


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll until ``predicate`` holds (a bound for a hung watcher, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def settle(harness: Harness) -> None:
    """Wait until the watcher has no dirty path left."""
    watcher = harness.module._watcher
    assert watcher is not None
    wait_for(lambda: not watcher._dirty)
    time.sleep(0.3)
    wait_for(lambda: not watcher._dirty)


def test_a_burst_of_writes_is_one_event(harness: Harness) -> None:
    write(harness.root, "/etc/app.conf", "v0\n")
    # a wide window (0.5 s of quiet, 2.5 s at most) so a loaded machine still writes the burst inside it
    state = harness.apply({**POLICY, "limits": {"coalesce_seconds": 0.5}})
    assert state.status.value == "running", state.detail
    path = harness.root / "etc/app.conf"
    with path.open("a") as handle:
        for i in range(200):
            handle.write(f"line {i}\n")
            handle.flush()
    assert wait_for(lambda: "/etc/app.conf" in harness.kinds())
    settle(harness)
    events = [e for e in harness.events if e.attributes.get("path") == "/etc/app.conf"]
    assert len(events) == 1 and events[0].kind == "fim.modified"
    assert events[0].attributes["seen_by"] == "realtime"
    assert harness.module.check_now() == []  # nothing left for the scheduled check


def test_new_directories_and_their_files_are_followed(harness: Harness) -> None:
    write(harness.root, "/etc/hosts", "x\n")
    harness.apply(POLICY)
    nested = harness.root / "etc/new/deeper"
    nested.mkdir(parents=True)
    (nested / "a.conf").write_text("a\n")
    assert wait_for(lambda: "/etc/new/deeper/a.conf" in harness.kinds())
    settle(harness)
    (nested / "a.conf").write_text("changed\n")  # in a directory the watcher added on the fly
    assert wait_for(lambda: sum(e.attributes.get("path") == "/etc/new/deeper/a.conf" for e in harness.events) == 2)
    kinds = [e.kind for e in harness.events if e.attributes.get("path") == "/etc/new/deeper/a.conf"]
    assert kinds == ["fim.added", "fim.modified"]


def test_moved_and_recreated_directories_keep_being_watched(harness: Harness) -> None:
    write(harness.root, "/etc/conf.d/one", "1\n")
    harness.apply(POLICY)
    os.rename(harness.root / "etc/conf.d", harness.root / "etc/conf.old")
    assert wait_for(lambda: {"/etc/conf.d/one", "/etc/conf.old/one"} <= set(harness.kinds()))
    settle(harness)
    kinds = harness.kinds()
    assert kinds["/etc/conf.d/one"] == "fim.deleted" and kinds["/etc/conf.old/one"] == "fim.added"
    harness.take()
    (harness.root / "etc/conf.old/one").write_text("edited after the move\n")
    assert wait_for(lambda: harness.kinds().get("/etc/conf.old/one") == "fim.modified")
    shutil.rmtree(harness.root / "etc/conf.old")
    (harness.root / "etc/conf.old").mkdir()
    write(harness.root, "/etc/conf.old/two", "2\n")
    assert wait_for(lambda: harness.kinds().get("/etc/conf.old/two") == "fim.added")
    settle(harness)
    harness.take()
    (harness.root / "etc/conf.old/two").write_text("edited in the recreated directory\n")
    assert wait_for(lambda: harness.kinds().get("/etc/conf.old/two") == "fim.modified")


def test_a_watched_path_that_appears_later_is_seen(harness: Harness) -> None:
    write(harness.root, "/etc/hosts", "x\n")
    harness.apply(POLICY)  # /srv/app does not exist yet: its nearest ancestor is watched
    write(harness.root, "/srv/app/main.py", "print(1)\n")
    assert wait_for(lambda: harness.kinds().get("/srv/app/main.py") == "fim.added")


def test_a_real_queue_overflow_is_counted_and_triggers_a_rescan(harness: Harness) -> None:
    write(harness.root, "/etc/a", "a\n")
    write(harness.root, "/etc/b", "b\n")
    harness.apply(POLICY)
    watcher, monitor = harness.module._watcher, harness.module._monitor
    assert watcher is not None and monitor is not None
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    with monitor.lock:  # the worker blocks in its first re-check while the kernel queue fills up
        (harness.root / "etc/a").write_text("first\n")
        assert wait_for(lambda: watcher.counters.values.get("inotify_events", 0) > 0)
        time.sleep(0.5)  # let the worker reach the lock with its dirty path
        fds = [os.open(harness.root / "etc" / n, os.O_WRONLY) for n in ("a", "b")]
        try:
            for i in range(limit + 100):  # alternate files: the kernel merges only identical consecutive events
                os.write(fds[i % 2], b"x")
        finally:
            for fd in fds:
                os.close(fd)
    assert wait_for(lambda: watcher.counters.values.get("overflows", 0) >= 1, timeout=60)
    assert wait_for(lambda: {"/etc/a", "/etc/b"} <= set(harness.kinds()), timeout=60)
    settle(harness)
    assert harness.module.state().counters.get("checks", 0) >= 1  # the rescan ran
    assert harness.module.check_now() == []


def test_the_state_directory_under_the_root_is_never_watched(tmp_path: Path) -> None:
    import logging

    from shieldwall.agent.events import AgentEvent
    from shieldwall.agent.module import ModuleContext
    from shieldwall.agent.modules.fim import Module

    root = tmp_path / "root"
    state = root / "var/lib/shieldwall/fim"
    state.mkdir(parents=True)
    write(root, "/var/lib/app.conf", "x\n")
    events: list[AgentEvent] = []
    module = Module()
    module.start(ModuleContext(root, state, events.append, logging.getLogger("t"), {"audit": False}))
    try:
        module.apply({**POLICY, "rules": [{"path": "/var/lib"}]}, 1)
        (root / "var/lib/app.conf").write_text("y\n")
        assert wait_for(lambda: any(e.attributes.get("path") == "/var/lib/app.conf" for e in events))
        module.check_now()
        time.sleep(0.5)
        assert not any("/shieldwall" in str(e.attributes.get("path")) for e in events)
    finally:
        module.stop()
