"""The ips module with ``capture: none``: generated config, ``suricata -T`` gate, eve -> events.

Suricata reads a pcap with the module's own live configuration (``-r``); the
module then turns that eve.json into agent events on ``tick``.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from helpers.ips_cases import CASES
from helpers.pcap import PcapWriter, http_request
from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext, ModuleStatus, PolicyError
from shieldwall.agent.modules.ips import Module
from shieldwall.agent.modules.ips.layout import live_layout

pytestmark = pytest.mark.integration


def _module(state: Path, events: list[AgentEvent], **settings: object) -> Module:
    module = Module()
    ctx = ModuleContext(
        root=Path("/"),
        state_dir=state,
        emit=events.append,
        log=logging.getLogger("test"),
        settings={"capture": "none", **settings},
    )
    module.start(ctx)
    return module


def _run_suricata(state: Path, pcap: Path, ips: bool) -> None:
    live = live_layout(state)
    argv = ["suricata", "-c", str(live.config), "-l", str(live.log_dir), "-r", str(pcap), "--runmode=single"]
    if ips:
        argv.append("--simulate-ips")
    # the unix socket is only for the long-running engine; a replay runs without it
    argv += ["--set", "unix-command.enabled=no"]
    subprocess.run(argv, check=True, timeout=120, capture_output=True)


def _exploits_pcap(tmp: Path) -> Path:
    writer = PcapWriter()
    for i, case in enumerate(CASES):
        writer.tcp_session(
            http_request(case.method, case.target, case.headers, case.body), client=("10.232.1.2", 41000 + i)
        )
    return writer.write(tmp / "x.pcap")


@pytest.mark.parametrize("mode", ["detect", "prevent"])
def test_alerts_become_events_with_cves(short_dir: Path, mode: str) -> None:
    events: list[AgentEvent] = []
    module = _module(short_dir / "state", events)
    state = module.apply({"mode": mode}, policy_version=3)
    assert state.status == ModuleStatus.RUNNING
    assert state.counters["rules_active"] >= 12
    _run_suricata(short_dir / "state", _exploits_pcap(short_dir), ips=mode == "prevent")
    module.tick(0.0)
    module.stop()
    exploits = [c for c in CASES if c.exploit]
    kinds = {e.kind for e in events}
    assert kinds == ({"ips.drop"} if mode == "prevent" else {"ips.alert"})
    by_port = {e.attributes["src_port"]: e for e in events}
    assert len(by_port) == len(exploits)
    log4 = next(e for e in events if e.attributes["sid"] == 1995001)
    assert "CVE-2021-44228" in log4.attributes["cves"]
    assert log4.attributes["dest_port"] == 80 and log4.attributes["src_ip"] == "10.232.1.2"
    assert log4.attributes["action"] == ("blocked" if mode == "prevent" else "allowed")
    assert len({e.key for e in events}) == len(events)


def test_eve_position_survives_a_restarted_module(short_dir: Path) -> None:
    events: list[AgentEvent] = []
    module = _module(short_dir / "state", events, eve_batch=3)
    module.apply({"mode": "detect"}, policy_version=1)
    _run_suricata(short_dir / "state", _exploits_pcap(short_dir), ips=False)
    module.tick(0.0)
    assert len(events) == 3  # bounded batch
    module.stop()  # drains one more batch
    again = _module(short_dir / "state", events, eve_batch=1000)
    again.apply({"mode": "detect"}, policy_version=1)
    again.tick(0.0)
    again.stop()
    assert len(events) == len([c for c in CASES if c.exploit])
    assert len({e.key for e in events}) == len(events)


def test_a_rule_suricata_refuses_is_refused_whole_and_the_live_config_stays(short_dir: Path) -> None:
    events: list[AgentEvent] = []
    module = _module(short_dir / "state", events)
    module.apply({"mode": "prevent", "custom_rules": ['alert http any any -> any any (msg:"ok"; sid:7000001;)']}, 1)
    live = live_layout(short_dir / "state")
    before_rules = live.active_rules.read_text()
    before_yaml = live.config.read_text()
    bad = 'alert http any any -> any any (msg:"bad"; contentt:"x"; sid:7000002;)'
    with pytest.raises(PolicyError, match="unknown rule keyword 'contentt'"):
        module.apply({"mode": "detect", "custom_rules": [bad]}, 2)
    assert live.active_rules.read_text() == before_rules
    assert live.config.read_text() == before_yaml
    assert module.state().policy_version == 1
    assert 'drop http any any -> any any (msg:"ok"' in before_rules


def test_per_rule_mode_overrides_policy_mode(short_dir: Path) -> None:
    module = _module(short_dir / "state", [])
    module.apply({"mode": "prevent", "rule_modes": {"1995001": "detect", "1995010": "disabled"}}, 1)
    text = live_layout(short_dir / "state").active_rules.read_text()
    lines = {int(ln.split("sid:")[-1].split(";")[0]): ln.split(" ", 1)[0] for ln in text.splitlines()}
    assert lines[1995001] == "alert"
    assert 1995010 not in lines
    assert lines[1995002] == "drop"


def test_et_open_selection_by_category_and_sid(short_dir: Path, shared_data: Path) -> None:
    et = shared_data / "ids" / "et-open" / "rules"
    module = _module(short_dir / "state", [], et_open_dir=str(et))
    state = module.apply(
        {"mode": "detect", "et_open": {"categories": ["web_server"], "sids": [2034722]}, "shieldwall_pack": False}, 1
    )
    text = live_layout(short_dir / "state").active_rules.read_text()
    assert "sid:2034722;" in text
    assert state.counters["rules_active"] > 500
    assert all(line.startswith(("alert ", "pass ")) for line in text.splitlines())
    with pytest.raises(PolicyError, match="unknown ET Open category"):
        module.apply({"et_open": {"categories": ["no_such_category"]}}, 2)


def test_disable_unavailable_and_bad_settings(short_dir: Path) -> None:
    module = _module(short_dir / "a", [])
    assert module.apply({"mode": "detect"}, 1).status == ModuleStatus.RUNNING
    off = module.apply(None, 2)
    assert off.status == ModuleStatus.DISABLED and off.policy_version == 2
    missing = _module(short_dir / "b", [], suricata="/nonexistent/suricata")
    assert missing.state().status == ModuleStatus.UNAVAILABLE
    with pytest.raises(PolicyError, match="unavailable"):
        missing.apply({}, 1)
    hostile = _module(short_dir / "c", [], netns="x; rm -rf /")
    assert hostile.state().status == ModuleStatus.UNAVAILABLE
    other = _module(short_dir / "d", [], capture="pcap-over-ip")
    with pytest.raises(PolicyError, match="unsupported capture"):
        other.apply({}, 1)
    listed = _module(short_dir / "e", [], reputation_dir=str(short_dir))
    with pytest.raises(PolicyError, match="not a file name"):
        listed.apply({"reputation": {"lists": ["../etc/passwd"]}}, 1)


@pytest.mark.slow
def test_the_whole_et_open_snapshot_loads_in_prevent(short_dir: Path, shared_data: Path) -> None:
    from shieldwall.agent.modules.ips.sources import directory_index

    et = shared_data / "ids" / "et-open" / "rules"
    index = directory_index(et)
    module = _module(short_dir / "state", [], et_open_dir=str(et))
    state = module.apply({"mode": "prevent", "et_open": {"categories": sorted(index.by_category)}}, 1)
    enabled = sum(1 for r in index.by_sid.values() if r.enabled)
    assert state.counters["rules_active"] == enabled + 12  # every enabled ET rule plus the pack
    assert f"{enabled + 12} rules successfully loaded, 0 rules failed" in state.detail, state.detail
    print(f"\nET Open snapshot: {enabled} enabled rules; suricata -T: {state.detail}")
