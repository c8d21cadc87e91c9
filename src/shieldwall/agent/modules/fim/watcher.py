"""Real-time watching with inotify (``inotify_simple``): coalesced, surviving moves, overflow counted.

One worker thread reads the inotify descriptor and keeps a table of *dirty*
paths. A path is re-checked (``Monitor.recheck``) once no event touched it
for ``coalesce_seconds`` (or at the latest 5x that after its first event, so a
file written forever is still reported): a burst of writes is one event.

* A directory created or moved in is re-checked *deep* and watched (with
  everything below it); one moved out or deleted loses its watches, and a
  deep re-check reports what vanished with it.
* ``IN_Q_OVERFLOW`` (the kernel dropped events) is counted and triggers a full
  rescan with fresh watches: events were lost, so everything is compared.
* When the watch limit is reached the watcher says so (DEGRADED) and the
  scheduled checks still cover everything.

Scheduled checks run in the same thread (``request_rescan``), so checks and
real-time re-checks never race.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import inotify_simple  # type: ignore[import-untyped]

from shieldwall.agent.modules.fim.monitor import Counters, Monitor
from shieldwall.agent.modules.fim.rules import Policy, relative_to
from shieldwall.agent.modules.fim.walk import Walker, descends, split, top_paths

F = inotify_simple.flags
WATCH_MASK = (
    F.CREATE
    | F.DELETE
    | F.MODIFY
    | F.ATTRIB
    | F.CLOSE_WRITE
    | F.MOVED_FROM
    | F.MOVED_TO
    | F.DELETE_SELF
    | F.MOVE_SELF
    | F.DONT_FOLLOW
    | F.ONLYDIR
    | F.EXCL_UNLINK
)
_DEEP = F.CREATE | F.MOVED_TO | F.MOVED_FROM | F.DELETE


@dataclass(slots=True)
class _Dirty:
    first: float
    last: float
    deep: bool


class Watcher:
    """The inotify worker for one policy."""

    def __init__(
        self,
        root: Path,
        policy: Policy,
        monitor: Monitor,
        log: logging.Logger,
        rescan: Callable[[str], object] | None = None,
    ) -> None:
        self.root = root
        self.policy = policy
        self.monitor = monitor
        self.log = log
        self.rescan = rescan or monitor.check
        self.counters = Counters()
        self.problem = ""
        self._inotify: inotify_simple.INotify | None = None
        self._path_by_wd: dict[int, str] = {}
        self._wd_by_path: dict[str, int] = {}
        self._dirty: dict[str, _Dirty] = {}
        self._rescan_reason = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> str:
        """Create the inotify instance, add the watches and start the thread; a problem string when it cannot."""
        try:
            self._inotify = inotify_simple.INotify()
        except OSError as exc:
            return f"inotify unavailable ({exc.strerror or exc})"
        self._add_all()
        self._thread = threading.Thread(target=self._run, name="fim-watcher", daemon=True)
        self._thread.start()
        return ""

    def stop(self) -> None:
        """Stop the thread and close the inotify descriptor (removes every watch)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None

    def request_rescan(self, reason: str) -> None:
        """Ask the worker for a full check (scheduled, or after an overflow)."""
        self._rescan_reason = self._rescan_reason or reason

    @property
    def watch_count(self) -> int:
        """Directories watched now."""
        return len(self._path_by_wd)

    # -- watches --------------------------------------------------------------------------------------------

    def _host(self, path: str) -> str:
        return os.path.join(self.root, *split(path))

    def _watch(self, path: str) -> None:
        if self._inotify is None or path in self._wd_by_path:
            return
        if len(self._path_by_wd) >= self.policy.limits.max_watches:
            if not self.problem:
                self.problem = f"watch limit {self.policy.limits.max_watches} reached; scheduled checks only"
                self.counters.add("watch_limit_hits")
            return
        try:
            wd = self._inotify.add_watch(self._host(path), WATCH_MASK)
        except OSError:
            return  # vanished, not a directory or a link: the next check sees it
        old = self._path_by_wd.get(wd)
        if old is not None:  # the same directory under a new name (moved)
            self._wd_by_path.pop(old, None)
        self._path_by_wd[wd] = path
        self._wd_by_path[path] = wd

    def _unwatch_under(self, path: str) -> None:
        for watched in [p for p in self._wd_by_path if relative_to(p, path) is not None]:
            wd = self._wd_by_path.pop(watched)
            self._path_by_wd.pop(wd, None)
            if self._inotify is not None:
                with contextlib.suppress(OSError):  # already gone with its directory
                    self._inotify.rm_watch(wd)

    def _anchors(self) -> list[str]:
        """For each top rule path: its parent, or the nearest existing ancestor (to see it appear)."""
        anchors = []
        for top in top_paths(self.policy):
            parts = split(top)[:-1]
            while parts and not os.path.isdir(self._host("/" + "/".join(parts))):
                parts.pop()
            anchors.append("/" + "/".join(parts))
        return anchors

    def _add_all(self) -> None:
        for anchor in self._anchors():
            self._watch(anchor)
        snap = Walker(self.root, self.policy).snapshot_dirs()
        for directory in snap:
            self._watch(directory)
        self.counters.values["watches"] = self.watch_count

    def _add_under(self, path: str) -> None:
        for directory in Walker(self.root, self.policy).snapshot_dirs(path):
            self._watch(directory)
        self.counters.values["watches"] = self.watch_count

    # -- the loop -------------------------------------------------------------------------------------------

    def _run(self) -> None:
        coalesce = self.policy.limits.coalesce_seconds
        timeout_ms = max(10, int(coalesce * 1000 / 2)) if coalesce else 50
        while not self._stop.is_set():
            try:
                self._step(timeout_ms, coalesce)
            except Exception as exc:  # a crashed step is counted and visible, the watcher keeps going
                self.counters.add("watcher_errors")
                self.problem = f"watcher error: {exc!r}"
                self.log.exception("fim watcher step failed")
                time.sleep(0.5)

    def _step(self, timeout_ms: int, coalesce: float) -> None:
        assert self._inotify is not None
        for event in self._inotify.read(timeout=timeout_ms):
            self._on_event(event)
        if self._rescan_reason:
            reason, self._rescan_reason = self._rescan_reason, ""
            self._dirty.clear()
            if reason == "overflow":
                self._unwatch_under("/")
                self._add_all()
            self.rescan("rescan" if reason == "overflow" else reason)
            return
        now = time.monotonic()
        due = [p for p, d in self._dirty.items() if now - d.last >= coalesce or now - d.first >= 5 * coalesce]
        for path in sorted(due):
            dirty = self._dirty.pop(path)
            self.monitor.recheck(path, dirty.deep, "realtime")
            self.counters.add("rechecks")

    def _on_event(self, event: inotify_simple.Event) -> None:
        self.counters.add("inotify_events")
        if event.mask & F.Q_OVERFLOW:
            self.counters.add("overflows")
            self.request_rescan("overflow")
            return
        if event.mask & F.IGNORED:
            path = self._path_by_wd.pop(event.wd, None)
            if path is not None and self._wd_by_path.get(path) == event.wd:
                del self._wd_by_path[path]
            return
        base = self._path_by_wd.get(event.wd)
        if base is None:
            return
        path = base if not event.name else f"{base.rstrip('/')}/{event.name}"
        is_dir = bool(event.mask & F.ISDIR)
        if not (self.policy.rule_for(path) is not None or (is_dir and descends(self.policy, path))):
            return
        deep = is_dir and bool(event.mask & _DEEP)
        if is_dir and event.mask & (F.MOVED_FROM | F.DELETE):
            self._unwatch_under(path)
        if is_dir and event.mask & (F.CREATE | F.MOVED_TO):
            self._add_under(path)
        now = time.monotonic()
        dirty = self._dirty.get(path)
        if dirty is None:
            self._dirty[path] = _Dirty(now, now, deep)
        else:
            dirty.last, dirty.deep = now, dirty.deep or deep
