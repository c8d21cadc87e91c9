"""The FIM engine without threads: build a baseline, check against it, re-check one path; emit and move on.

Every method takes the same lock, so a scheduled check and the real-time
watcher never interleave their baseline updates. Each change is emitted once,
then written to the baseline (emit first: a crash between the two repeats an
event, which the manager deduplicates by key, rather than losing one).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.modules.fim.attributes import Attrs
from shieldwall.agent.modules.fim.baseline import Baseline
from shieldwall.agent.modules.fim.compare import Change, compare
from shieldwall.agent.modules.fim.events import build_event
from shieldwall.agent.modules.fim.rules import Policy
from shieldwall.agent.modules.fim.walk import Snapshot, Walker


class Attributor(Protocol):
    """Who changed a path (Linux audit), or ``None`` when nothing recorded it."""

    def prepare(self) -> None:
        """Catch up with the audit log before a batch of ``who`` calls."""

    def who(self, path: str, kind: str) -> Mapping[str, Any] | None:
        """The process behind the latest recorded change of ``path``."""


@dataclass(slots=True)
class Counters:
    """What the module reports in its heartbeat counters."""

    values: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``."""
        self.values[name] = self.values.get(name, 0) + n


def policy_digest(policy: Policy) -> str:
    """A digest of what decides the baseline's content (rules and hashing bound)."""
    rules = sorted(
        (r.path, r.depth, r.include, r.exclude, sorted(r.attributes), r.diff, r.severity) for r in policy.rules
    )
    blob = json.dumps([rules, policy.limits.max_hash_bytes, policy.limits.diff_max_bytes], default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class Monitor:
    """Baseline + checks for one policy under one root."""

    def __init__(
        self,
        root: Path,
        policy: Policy,
        baseline: Baseline,
        emit: Callable[[AgentEvent], None],
        attributor: Attributor | None = None,
    ) -> None:
        self.root = root
        self.policy = policy
        self.baseline = baseline
        self.emit = emit
        self.attributor = attributor
        self.lock = threading.RLock()
        self.counters = Counters()
        self.warnings: list[str] = []

    def ensure_baseline(self) -> bool:
        """Build the baseline if there is none for this policy (no events); ``True`` when built."""
        digest = policy_digest(self.policy)
        with self.lock:
            if self.baseline.meta("policy_digest") == digest:
                return False
            snap = Walker(self.root, self.policy).snapshot()
            self.baseline.replace_all(snap.entries, snap.rules)
            self.baseline.set_meta("policy_digest", digest)
            self.baseline.set_meta("built_at", dt.datetime.now(dt.UTC).isoformat())
            self._note(snap)
            self.counters.add("baseline_builds")
            return True

    def check(self, seen_by: str = "scheduled") -> list[AgentEvent]:
        """Walk everything, report every difference from the baseline, move the baseline forward."""
        with self.lock:
            previous = self.baseline.load()
            snap = Walker(self.root, self.policy, previous).snapshot()
            changes = compare(self.policy, previous, snap.entries, snap.rules, frozenset(snap.unseen), snap.truncated)
            self._note(snap)
            self.counters.add("checks")
            return self._report(changes, previous, snap, seen_by)

    def recheck(self, path: str, deep: bool, seen_by: str = "realtime") -> list[AgentEvent]:
        """Re-check ``path`` (and, when ``deep``, all below it) against the baseline."""
        with self.lock:
            previous = {p: a for p in self.baseline.under(path) if (a := self.baseline.get(p)) is not None}
            if not deep:
                previous = {p: a for p, a in previous.items() if p == path}
            snap = Walker(self.root, self.policy, previous).subtree(path, deep)
            changes = compare(self.policy, previous, snap.entries, snap.rules, frozenset(snap.unseen), snap.truncated)
            self._note(snap)
            return self._report(changes, previous, snap, seen_by)

    def _note(self, snap: Snapshot) -> None:
        if snap.warnings:
            self.counters.add("warnings", len(snap.warnings))
            self.warnings = (self.warnings + snap.warnings)[-50:]
        if snap.truncated:
            self.counters.add("truncated_scans")

    def _report(
        self, changes: list[Change], previous: Mapping[str, Attrs], snap: Snapshot, seen_by: str
    ) -> list[AgentEvent]:
        events: list[AgentEvent] = []
        upserts: list[tuple[str, str, Attrs]] = []
        deletes: list[str] = []
        if changes and self.attributor is not None:
            self.attributor.prepare()
        for change in changes:
            old_full = previous.get(change.path)
            new_full = snap.entries.get(change.path)
            who = self.attributor.who(change.path, change.kind.value) if self.attributor is not None else None
            event = build_event(change, old_full, new_full, seen_by=seen_by, who=who)
            self.emit(event)
            events.append(event)
            self.counters.add(event.kind)
            if new_full is None:
                deletes.append(change.path)
            else:
                upserts.append((change.path, change.rule.path, new_full))
        # unchanged paths whose stored form changed (text added, rule moved) are refreshed silently
        reported = {c.path for c in changes}
        for path, attrs in snap.entries.items():
            if path not in reported and previous.get(path) != attrs:
                upserts.append((path, snap.rules[path].path, attrs))
        if upserts or deletes:
            self.baseline.apply(upserts, deletes)
        return events
