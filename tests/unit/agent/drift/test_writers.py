"""Audit attribution of drift writers: the DEGRADED state without audit, the overlay root taken from inspect."""

from __future__ import annotations

import logging
from pathlib import Path

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext, ModuleStatus
from shieldwall.agent.modules.drift import Module
from shieldwall.agent.modules.drift.writers import merged_dir


def _module(tmp_path: Path, settings: dict[str, object]) -> Module:
    events: list[AgentEvent] = []
    module = Module()
    module.start(ModuleContext(tmp_path, tmp_path, events.append, logging.getLogger("t"), settings))
    return module


def test_audit_asked_but_unavailable_is_degraded_with_the_reason(tmp_path: Path) -> None:
    module = _module(tmp_path, {"auditctl": str(tmp_path / "no-auditctl")})
    state = module.apply({"audit": True}, 1)
    assert state.status is ModuleStatus.DEGRADED
    assert state.detail.startswith("writers not attributed: auditctl -s failed")
    assert module._writers is None
    module.run_once()  # no socket: the pass reports it, the audit reason stays visible
    assert "no Docker socket" in module.state().detail or "writers not attributed" in module.state().detail
    assert module.state().status is ModuleStatus.DEGRADED


def test_audit_disabled_in_the_agent_settings_is_degraded(tmp_path: Path) -> None:
    state = _module(tmp_path, {"audit": False}).apply({"audit": True}, 1)
    assert state.status is ModuleStatus.DEGRADED and "disabled in the agent settings" in state.detail


def test_without_audit_in_the_policy_nothing_is_attributed(tmp_path: Path) -> None:
    module = _module(tmp_path, {"auditctl": str(tmp_path / "no-auditctl")})
    assert module.apply({}, 1).status is ModuleStatus.RUNNING
    assert module._writers is None


def test_merged_dir_only_for_overlay_roots() -> None:
    data = {"MergedDir": "/var/lib/docker/overlay2/abc/merged", "UpperDir": "/var/lib/docker/overlay2/abc/diff"}
    assert merged_dir({"GraphDriver": {"Name": "overlay2", "Data": data}}) == data["MergedDir"]
    assert merged_dir({"GraphDriver": {"Name": "devicemapper", "Data": data}}) is None
    assert merged_dir({"GraphDriver": {"Name": "overlay2", "Data": {"MergedDir": "relative/merged"}}}) is None
    assert merged_dir({"GraphDriver": {"Name": "overlay2", "Data": None}}) is None
    assert merged_dir({}) is None
