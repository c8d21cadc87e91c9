"""AF_PACKET inline: Suricata bridges two interfaces of the router namespace (copy-mode ips).

The router's interfaces have no addresses and the kernel does not forward:
only Suricata moves frames. Prevent (copy-mode ips) drops exploit-shaped
requests and passes look-alikes; Detect (every rule rewritten to alert)
passes everything and alerts. Such a bridge cannot fail open, so ``failure: open`` is refused.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.ips_cases import CASES
from helpers.netns_lab import BridgeLab
from helpers.pcap import http_request
from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext, PolicyError
from shieldwall.agent.modules.ips import Module, control
from shieldwall.agent.modules.ips.layout import live_layout

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def lab(short_dir: Path) -> Iterator[BridgeLab]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    lab = BridgeLab(short_dir)
    try:
        lab.up()
        yield lab
    finally:
        lab.close()


def _module(lab: BridgeLab, state: Path, events: list[AgentEvent]) -> Module:
    module = Module()
    module.start(
        ModuleContext(
            root=Path("/"),
            state_dir=state,
            emit=events.append,
            log=logging.getLogger("afp"),
            settings={"netns": lab.router, "capture": "af-packet", "af_packet_interfaces": list(lab.bridge_interfaces)},
        )
    )
    return module


def _ready(state: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            control.command(live_layout(state).socket, "uptime", timeout=2)
            time.sleep(1.0)  # the capture threads attach after the socket answers
            return
        except control.ControlError:
            time.sleep(0.2)
    raise AssertionError("Suricata did not come up")


@pytest.mark.parametrize("mode", ["prevent", "detect"])
def test_af_packet_bridge(lab: BridgeLab, short_dir: Path, mode: str) -> None:
    events: list[AgentEvent] = []
    state = short_dir / "state"
    module = _module(lab, state, events)
    try:
        with pytest.raises(PolicyError, match="cannot fail open"):
            module.apply({"mode": mode, "failure": "open"}, 1)
        assert not live_layout(state).config.exists()  # refused before anything was written
        module.apply({"mode": mode, "failure": "closed"}, 2)
        _ready(state)
        outcomes = {c.name: lab.request(http_request(c.method, c.target, c.headers, c.body))[0] for c in CASES}
        for _ in range(8):
            module.tick(time.monotonic())
            time.sleep(0.25)
    finally:
        module.stop()
    for case in CASES:
        if case.exploit and mode == "prevent":
            assert not outcomes[case.name].startswith("HTTP/"), (case.name, outcomes[case.name])
        else:
            assert outcomes[case.name].startswith("HTTP/1.1 200"), (case.name, outcomes[case.name])
    fired = {e.attributes["sid"] for e in events if e.kind in ("ips.alert", "ips.drop")}
    assert set().union(*(c.sids for c in CASES)) <= fired
    # with Suricata stopped, nothing crosses the bridge (fail-closed by construction)
    assert lab.request(http_request("GET", "/health"), timeout=2)[0] == "TIMEOUT"
