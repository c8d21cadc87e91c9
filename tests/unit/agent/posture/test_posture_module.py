"""The posture module on a real root directory: CIS Docker host failures as events, then passes when fixed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext, ModuleStatus, PolicyError
from shieldwall.agent.modules.posture import Module

INSECURE = '{\n  "icc": true,\n  "hosts": ["unix:///run/docker.sock", "tcp://0.0.0.0:2375"]\n}\n'


def root_fs(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc" / "docker").mkdir(parents=True)
    (root / "usr").mkdir()
    (root / "etc" / "docker" / "daemon.json").write_text(INSECURE, encoding="utf-8")
    (root / "etc" / "docker").chmod(0o777)
    return root


def module(root: Path, tmp_path: Path, events: list[AgentEvent], section: dict[str, object] | None = None) -> Module:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    mod = Module()
    mod.start(ModuleContext(root=root, state_dir=state, emit=events.append, log=logging.getLogger("t")))
    mod.apply(section if section is not None else {}, policy_version=7)
    return mod


def test_failures_then_passes(tmp_path: Path) -> None:
    root = root_fs(tmp_path)
    events: list[AgentEvent] = []
    mod = module(root, tmp_path, events)
    assert mod.run_once() > 0
    failed = {e.attributes["rule_id"]: e for e in events}
    assert {e.kind for e in events} == {"posture.failed"}
    assert "SW-HOST-DOCKER-006" in failed and failed["SW-HOST-DOCKER-006"].severity.value == "CRITICAL"
    assert "SW-HOST-DOCKER-001" in failed and "SW-HOST-PERM-007" in failed
    assert all(any(c.startswith("cis-docker-1.6:") for c in e.attributes["controls"]) for e in events)
    assert mod.state().status is ModuleStatus.RUNNING and mod.state().policy_version == 7

    assert mod.run_once() == 0  # nothing changed: nothing to say
    (root / "etc" / "docker" / "daemon.json").write_text(
        INSECURE.replace('"icc": true', '"icc": false').replace(', "tcp://0.0.0.0:2375"', ""), encoding="utf-8"
    )
    (root / "etc" / "docker").chmod(0o755)
    count = len(events)
    assert mod.run_once() == 3
    passed = {e.attributes["rule_id"] for e in events[count:]}
    assert passed == {"SW-HOST-DOCKER-001", "SW-HOST-DOCKER-006", "SW-HOST-PERM-007"}
    assert {e.kind for e in events[count:]} == {"posture.passed"}

    again: list[AgentEvent] = []
    assert module(root, tmp_path, again).run_once() == 0  # the state survives a restart


def test_all_frameworks_and_bad_policy(tmp_path: Path) -> None:
    root = root_fs(tmp_path)
    events: list[AgentEvent] = []
    (tmp_path / "a").mkdir()
    docker_count = module(root, tmp_path / "a", events).run_once()
    everything: list[AgentEvent] = []
    (tmp_path / "b").mkdir()
    assert module(root, tmp_path / "b", everything, {"frameworks": []}).run_once() > docker_count
    with pytest.raises(PolicyError, match="interval_seconds"):
        Module().apply({"interval_seconds": 1}, 1)


def test_docker_without_daemon_json_is_judged_on_the_defaults(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "usr" / "sbin").mkdir(parents=True)
    events: list[AgentEvent] = []
    assert module(root, tmp_path, events).run_once() == 0  # no Docker here: nothing to judge
    (root / "usr" / "sbin" / "dockerd").write_bytes(b"\x7fELF")
    assert module(root, tmp_path, events).run_once() > 0
    rules = {e.attributes["rule_id"] for e in events}
    assert {"SW-HOST-DOCKER-001", "SW-HOST-DOCKER-007", "SW-HOST-DOCKER-011"} <= rules  # icc, userns, live-restore
    assert "SW-HOST-DOCKER-006" not in rules  # no TCP listener by default
