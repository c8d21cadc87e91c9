"""Inline IPS between network namespaces: client -> router (Suricata on NFQUEUE) -> server.

Real HTTP requests through the agent-managed Suricata: exploit-shaped
requests are dropped in Prevent and alerted (and answered) in Detect; benign
look-alikes pass in both; a rule-only policy change is a live reload; a killed
Suricata is fail-open or fail-closed as the policy says and is restarted.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.ips_cases import CASES
from helpers.netns_lab import Lab
from helpers.pcap import http_request
from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext
from shieldwall.agent.modules.ips import Module, control
from shieldwall.agent.modules.ips.layout import live_layout

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BENIGN_PROBE = http_request("GET", "/health")


@pytest.fixture
def lab(short_dir: Path) -> Iterator[Lab]:
    if os.geteuid() != 0 or shutil.which("iptables-legacy") is None:
        pytest.skip("needs root and iptables-legacy")
    lab = Lab(short_dir)
    try:
        lab.up()
        yield lab
    finally:
        lab.close()


def _start(lab: Lab, state: Path, events: list[AgentEvent], section: dict[str, object], **settings: object) -> Module:
    module = Module()
    module.start(
        ModuleContext(
            root=Path("/"),
            state_dir=state,
            emit=events.append,
            log=logging.getLogger("ips-test"),
            settings={"netns": lab.router, "capture": "nfqueue", **settings},
        )
    )
    try:
        module.apply(section, policy_version=1)
        _wait_ready(module, state)
    except BaseException:
        module.stop()
        raise
    return module


def _wait_ready(module: Module, state: Path, timeout: float = 60.0) -> None:
    sock = live_layout(state).socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            control.command(sock, "uptime", timeout=2)
            return
        except control.ControlError:
            time.sleep(0.2)
    raise AssertionError(f"Suricata did not come up: {module.state()}")


def _drain(module: Module, events: list[AgentEvent]) -> None:
    # eve lines are flushed by Suricata shortly after the packet; read until quiet
    last = -1
    for _ in range(20):
        module.tick(time.monotonic())
        if len(events) == last:
            return
        last = len(events)
        time.sleep(0.25)


@pytest.mark.parametrize("mode", ["prevent", "detect"])
def test_exploits_and_lookalikes_through_the_inline_path(lab: Lab, short_dir: Path, mode: str) -> None:
    events: list[AgentEvent] = []
    # eve_max_bytes=1: eve.json is rotated (rename, reopen-log-files, drain) whenever it is fully read
    module = _start(lab, short_dir / "state", events, {"mode": mode, "failure": "closed"}, eve_max_bytes=1)
    try:
        status, _ = lab.request(BENIGN_PROBE)
        assert status.startswith("HTTP/1.1 200"), status
        outcomes = {}
        for case in CASES:
            outcomes[case.name] = lab.request(http_request(case.method, case.target, case.headers, case.body))[0]
            module.tick(time.monotonic())  # rotations interleave with traffic
        _drain(module, events)
        rotations = module.state().counters.get("eve_rotations", 0)
    finally:
        module.stop()
    assert rotations >= 1
    for case in CASES:
        got = outcomes[case.name]
        if case.exploit and mode == "prevent":
            assert not got.startswith("HTTP/"), (case.name, got)
        else:
            assert got.startswith("HTTP/1.1 200"), (case.name, got)
    fired = {e.attributes["sid"] for e in events if e.kind in ("ips.alert", "ips.drop")}
    for case in CASES:
        if case.exploit:
            assert case.sids <= fired, case.name
    # across rotations every alert arrived exactly once
    per_request = Counter(
        (e.attributes["src_port"], e.attributes["sid"]) for e in events if e.kind != "ips.engine_restarted"
    )
    assert set(per_request.values()) == {1}
    assert len({e.key for e in events}) == len(events)
    kinds = {e.kind for e in events if e.kind.startswith("ips.") and e.kind != "ips.engine_restarted"}
    assert kinds == ({"ips.drop"} if mode == "prevent" else {"ips.alert"})
    # the module removed its NFQUEUE rules on stop: traffic flows with no Suricata at all
    assert lab.request(BENIGN_PROBE)[0].startswith("HTTP/1.1 200")


def test_live_reload_and_fail_closed_then_restart(lab: Lab, short_dir: Path) -> None:
    events: list[AgentEvent] = []
    state = short_dir / "state"
    marker = http_request("GET", "/reload-marker-7731")
    module = _start(lab, state, events, {"mode": "prevent", "failure": "closed"})
    try:
        assert lab.request(marker)[0].startswith("HTTP/1.1 200")
        sup = module.supervisor()
        assert sup is not None
        pid = sup.pid
        rule = (
            'alert http any any -> any any (msg:"marker"; flow:to_server; '
            'http.uri; content:"/reload-marker-7731"; sid:7100001;)'
        )
        module.apply({"mode": "prevent", "failure": "closed", "custom_rules": [rule]}, policy_version=2)
        assert module.state().counters.get("reloads") == 1
        assert sup.pid == pid  # reloaded, not restarted
        assert not lab.request(marker)[0].startswith("HTTP/")
        # Suricata dies: fail-closed means nothing passes
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while sup.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        module.tick(time.monotonic())
        assert any(e.kind == "ips.engine_down" and e.attributes["failure"] == "closed" for e in events)
        assert lab.request(BENIGN_PROBE, timeout=2)[0] == "TIMEOUT"
        # restarted after its backoff, and inspecting again
        deadline = time.monotonic() + 30
        while not sup.running() and time.monotonic() < deadline:
            module.tick(time.monotonic())
            time.sleep(0.2)
        assert sup.running()
        _wait_ready(module, state)
        assert lab.request(BENIGN_PROBE)[0].startswith("HTTP/1.1 200")
        assert not lab.request(marker)[0].startswith("HTTP/")
    finally:
        module.stop()


def test_fail_open_passes_while_suricata_is_down(lab: Lab, short_dir: Path) -> None:
    events: list[AgentEvent] = []
    module = _start(lab, short_dir / "state", events, {"mode": "prevent", "failure": "open"})
    try:
        sup = module.supervisor()
        assert sup is not None and sup.pid is not None
        os.kill(sup.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while sup.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        exploit = next(c for c in CASES if c.exploit)
        got = lab.request(http_request(exploit.method, exploit.target, exploit.headers, exploit.body))[0]
        assert got.startswith("HTTP/1.1 200"), got  # uninspected: that is what fail-open means
    finally:
        module.stop()
