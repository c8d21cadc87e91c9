"""The ``fim`` agent module: policy -> baseline, scheduled checks, real-time watching, audit attribution.

``apply`` validates the section, builds the baseline when the policy's rules
changed (without events: a new policy is not a change on the host), and
starts one worker thread that owns the inotify watcher and runs scheduled
checks when ``tick`` says they are due. ``check_now`` runs a check in the
caller's thread (tests and ``shieldwall agent`` one-shots use it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext, ModuleState, ModuleStatus, PolicyError
from shieldwall.agent.modules.fim.audit import AuditAttributor, audit_status
from shieldwall.agent.modules.fim.baseline import Baseline
from shieldwall.agent.modules.fim.monitor import Monitor
from shieldwall.agent.modules.fim.rules import Policy, parse_policy
from shieldwall.agent.modules.fim.system import SystemObjects
from shieldwall.agent.modules.fim.watcher import Watcher

VERSION = "1.0.0"


class Module:
    """File and system integrity monitoring (AIDE-like baseline + inotify + auditd)."""

    name = "fim"
    version = VERSION

    def __init__(self) -> None:
        self._ctx: ModuleContext | None = None
        self._baseline: Baseline | None = None
        self._monitor: Monitor | None = None
        self._system: SystemObjects | None = None
        self._watcher: Watcher | None = None
        self._audit: AuditAttributor | None = None
        self._policy_version: int | None = None
        self._next_scan: float | None = None
        self._status = ModuleStatus.DISABLED
        self._detail = ""
        self._lock = threading.Lock()
        self._checking = threading.Event()

    # -- contract -------------------------------------------------------------------------------------------

    def start(self, ctx: ModuleContext) -> None:
        """Open the baseline database in the module's state directory."""
        self._ctx = ctx
        self._baseline = Baseline(ctx.state_dir / "baseline.sqlite")

    def apply(self, section: Mapping[str, Any] | None, policy_version: int) -> ModuleState:
        """Switch to ``section`` (validated completely first) or disable the module for ``None``."""
        ctx = self._require_ctx()
        if section is None:
            self._stop_workers()
            with self._lock:
                self._monitor = None
                self._status, self._detail, self._policy_version = ModuleStatus.DISABLED, "", policy_version
            return self.state()
        policy = parse_policy(section)  # raises PolicyError; the running policy stays
        policy = replace(policy, ignore=_inside_root(ctx))
        self._stop_workers()
        assert self._baseline is not None
        reasons: list[str] = []
        audit = None
        if policy.audit:
            available, why = audit_status(ctx.settings)
            if available:
                audit = AuditAttributor(ctx.root, policy, ctx.settings, ctx.log, ctx.state_dir)
                try:
                    audit.install()
                except OSError as exc:
                    reasons.append(f"audit rules not installed: {exc}")
                    audit = None
            else:
                reasons.append(f"no attribution: {why}")
        monitor = Monitor(ctx.root, policy, self._baseline, ctx.emit, audit)
        try:
            monitor.ensure_baseline()
        except OSError as exc:
            if audit is not None:
                audit.remove()
            raise PolicyError(f"fim: cannot build the baseline under {ctx.root}: {exc}") from exc
        system = SystemObjects(ctx.root, ctx.state_dir, ctx.emit, ctx.settings) if policy.system else None
        if system is not None:
            system.ensure_baseline()
        watcher = None
        if policy.realtime:
            watcher = Watcher(ctx.root, policy, monitor, ctx.log, rescan=self._full_check)
            problem = watcher.start()
            if problem:
                reasons.append(f"real-time watching off: {problem}")
                watcher = None
        with self._lock:
            self._monitor, self._system, self._watcher, self._audit = monitor, system, watcher, audit
            self._policy_version = policy_version
            self._next_scan = None  # set by the first tick, on the caller's clock
            self._status = ModuleStatus.DEGRADED if reasons else ModuleStatus.RUNNING
            self._detail = "; ".join(reasons)
        return self.state()

    def tick(self, now: float) -> None:
        """Start a scheduled check in the worker when due.

        ``now`` may be on any clock that only moves forward (the first tick after ``apply`` starts the
        interval), so the core's choice of ``time.time`` or ``time.monotonic`` does not matter.
        """
        with self._lock:
            monitor, watcher, policy = self._monitor, self._watcher, self.policy
            if monitor is None or policy is None:
                return
            if self._next_scan is None:
                self._next_scan = now + policy.scan_interval
                return
            due = now >= self._next_scan
            if due:
                self._next_scan = now + policy.scan_interval
        if not due:
            return
        if watcher is not None:
            watcher.request_rescan("scheduled")
        elif not self._checking.is_set():
            self._checking.set()
            threading.Thread(target=self._scheduled_check, name="fim-check", daemon=True).start()

    def state(self) -> ModuleState:
        """Status, the reason when degraded, and counters (changes by kind, overflows, warnings...)."""
        with self._lock:
            counters: dict[str, int] = {}
            if self._monitor is not None:
                counters.update(self._monitor.counters.values)
                if self._baseline is not None:
                    counters["baseline_paths"] = self._baseline.count()
            if self._watcher is not None:
                counters.update(self._watcher.counters.values)
            if self._system is not None:
                counters.update(self._system.counters.values)
            detail = self._detail
            if self._monitor is not None and self._monitor.warnings:
                detail = "; ".join(filter(None, [detail, f"last warning: {self._monitor.warnings[-1]}"]))
            return ModuleState(self._status, self._policy_version, detail, counters)

    def stop(self) -> None:
        """Stop the watcher, remove the audit rules, close the baseline."""
        self._stop_workers()
        if self._baseline is not None:
            self._baseline.close()
            self._baseline = None

    # -- helpers --------------------------------------------------------------------------------------------

    @property
    def policy(self) -> Policy | None:
        """The running policy."""
        return None if self._monitor is None else self._monitor.policy

    def check_now(self) -> list[AgentEvent]:
        """Run a full check (files and system objects) in this thread and return the emitted events."""
        return self._full_check("scheduled")

    def _scheduled_check(self) -> None:
        try:
            self._full_check("scheduled")
        except Exception as exc:  # a crashed check is visible in the state, never silent
            with self._lock:
                self._status, self._detail = ModuleStatus.ERROR, f"scheduled check failed: {exc!r}"
            self._require_ctx().log.exception("fim scheduled check failed")
        finally:
            self._checking.clear()

    def _full_check(self, seen_by: str) -> list[AgentEvent]:
        monitor, system = self._monitor, self._system
        if monitor is None:
            return []
        events = monitor.check(seen_by)
        if system is not None:
            events += system.check()
        return events

    def _require_ctx(self) -> ModuleContext:
        if self._ctx is None:
            raise PolicyError("fim: apply before start")
        return self._ctx

    def _stop_workers(self) -> None:
        with self._lock:
            watcher, audit = self._watcher, self._audit
            self._watcher, self._audit = None, None
        if watcher is not None:
            watcher.stop()
        if audit is not None:
            audit.remove()


def _inside_root(ctx: ModuleContext) -> tuple[str, ...]:
    """The state directory as a root-relative path when it lies under the root (never watched: no feedback loop)."""
    root = os.path.realpath(ctx.root)
    state = os.path.realpath(ctx.state_dir)
    if state == root or not state.startswith(root.rstrip("/") + "/"):
        return ()
    return ("/" + os.path.relpath(state, root),)
