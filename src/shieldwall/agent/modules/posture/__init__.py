"""Docker daemon and host posture on a schedule: CIS Docker host checks on the agent's root, as events.

Each pass runs the host checks (``checks.evaluate_posture``) and compares
the failing checks with the previous pass (kept in the module's state
directory): a check that starts failing is ``posture.failed``, one that
stops failing is ``posture.passed``. The first pass reports every failure.
A pass whose files could not all be read reports the module DEGRADED with
the reason; it never turns an unread file into a pass.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shieldwall.agent.events import AgentEvent, event_key
from shieldwall.agent.module import ModuleContext, ModuleState, ModuleStatus, PolicyError
from shieldwall.agent.modules.posture.checks import controls_of, evaluate_posture
from shieldwall.model import Finding, Severity


class PosturePolicy(BaseModel):
    """``modules.posture`` of the agent policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval_seconds: float = Field(default=3600.0, ge=10.0, le=7 * 86_400.0)
    frameworks: tuple[str, ...] = ("cis-docker-1.6",)


def _describe(finding: Finding) -> dict[str, Any]:
    return {
        "rule_id": finding.rule_id,
        "title": finding.title,
        "severity": str(finding.severity),
        "path": finding.location.path if finding.location else "",
        "line": finding.location.line if finding.location else None,
        "message": finding.message[:1000],
        "controls": controls_of(finding)[:20],
    }


class Module:
    """The ``posture`` agent module."""

    name = "posture"
    version = "1"

    def __init__(self) -> None:
        self._ctx: ModuleContext | None = None
        self._policy: PosturePolicy | None = None
        self._policy_version: int | None = None
        self._next = 0.0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = ModuleStatus.DISABLED
        self._detail = ""
        self._counters = {"passes": 0, "failing": 0, "events": 0, "warnings": 0}
        self._previous: dict[str, dict[str, Any]] | None = None

    def start(self, ctx: ModuleContext) -> None:
        """Load the previous pass's failures."""
        self._ctx = ctx
        path = ctx.state_dir / "posture.json"
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self._previous = data if isinstance(data, dict) else None
            except (OSError, ValueError):
                ctx.log.warning("posture: state file unreadable; the next pass reports every failure again")

    def apply(self, section: Mapping[str, Any] | None, policy_version: int) -> ModuleState:
        """Validate and switch to ``section`` (None disables the module)."""
        policy: PosturePolicy | None = None
        if section is not None:
            try:
                policy = PosturePolicy.model_validate(dict(section))
            except ValidationError as exc:
                first = exc.errors()[0]
                raise PolicyError(f"posture: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
        with self._lock:
            self._policy, self._policy_version, self._next = policy, policy_version, 0.0
            self._status = ModuleStatus.RUNNING if policy is not None else ModuleStatus.DISABLED
        return self.state()

    def tick(self, now: float) -> None:
        """Start a pass in the background when one is due and none is running."""
        with self._lock:
            policy = self._policy
            if policy is None or now < self._next or (self._thread is not None and self._thread.is_alive()):
                return
            self._next = now + policy.interval_seconds
            self._thread = threading.Thread(target=self._run, args=(policy,), name="shieldwall-posture", daemon=True)
            self._thread.start()

    def state(self) -> ModuleState:
        """Status, policy version and counters."""
        with self._lock:
            return ModuleState(self._status, self._policy_version, self._detail, dict(self._counters))

    def stop(self) -> None:
        """Wait for a running pass."""
        if self._thread is not None:
            self._thread.join(120)

    def run_once(self) -> int:
        """One pass in the caller's thread; returns the number of events emitted."""
        if self._policy is None:
            raise PolicyError("posture: no policy applied")
        return self._run(self._policy)

    def _run(self, policy: PosturePolicy) -> int:
        assert self._ctx is not None
        ctx = self._ctx
        try:
            result = evaluate_posture(ctx.root, policy.frameworks)
        except Exception as exc:  # a crashed pass is an error state, never a silent pass
            ctx.log.exception("posture pass failed")
            self._set(ModuleStatus.ERROR, f"{type(exc).__name__}: {exc}"[:500])
            return 0
        current = {f.fingerprint: _describe(f) for f in result.failures}
        previous = self._previous
        stamp = time.time()
        events: list[AgentEvent] = []
        for fingerprint, facts in current.items():
            if previous is None or fingerprint not in previous:
                events.append(self._event("posture.failed", Severity(facts["severity"]), fingerprint, facts, stamp))
        for fingerprint, facts in (previous or {}).items():
            if fingerprint not in current:
                events.append(self._event("posture.passed", Severity.LOW, fingerprint, facts, stamp))
        for event in events:
            ctx.emit(event)
        self._previous = current
        temporary = ctx.state_dir / "posture.json.tmp"
        temporary.write_text(json.dumps(current), encoding="utf-8")
        os.replace(temporary, ctx.state_dir / "posture.json")
        with self._lock:
            self._counters["passes"] += 1
            self._counters["failing"] = len(current)
            self._counters["events"] += len(events)
            self._counters["warnings"] = len(result.warnings)
        if result.warnings:
            self._set(ModuleStatus.DEGRADED, "; ".join(result.warnings)[:500])
        else:
            self._set(ModuleStatus.RUNNING, f"{len(current)} failing checks of {result.evaluated} evaluated")
        return len(events)

    def _event(
        self, kind: str, severity: Severity, fingerprint: str, facts: dict[str, Any], stamp: float
    ) -> AgentEvent:
        verb = "fails" if kind == "posture.failed" else "passes again"
        summary = f"{facts['rule_id']} {verb}: {facts['title']}" + (f" ({facts['path']})" if facts["path"] else "")
        attributes = {**facts, "fingerprint": fingerprint}
        return AgentEvent("posture", kind, severity, summary[:500], attributes,
                          key=event_key("posture", kind, fingerprint, stamp))  # fmt: skip

    def _set(self, status: ModuleStatus, detail: str) -> None:
        with self._lock:
            if self._policy is not None:
                self._status, self._detail = status, detail
