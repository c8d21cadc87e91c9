"""Shieldwall's rule pack: valid for Suricata, and exploit-shaped traffic fires while look-alikes do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.ips_cases import CASES, Case
from helpers.pcap import PcapWriter, http_request
from shieldwall.agent.modules.ips.commands import Tools
from shieldwall.agent.modules.ips.config import ConfigOptions
from shieldwall.agent.modules.ips.layout import Layout
from shieldwall.agent.modules.ips.policy import IpsPolicy, Mode
from shieldwall.agent.modules.ips.replay import prepare, replay
from shieldwall.agent.modules.ips.ruleset import assemble
from shieldwall.agent.modules.ips.sources import pack_index
from shieldwall.agent.modules.ips.validate import validate

pytestmark = pytest.mark.integration


def _layout(base: Path, mode: Mode) -> Layout:
    layout = Layout(base / mode.value)
    ruleset = assemble(IpsPolicy(mode=mode), None, pack_index())
    prepare(layout, ruleset.text(), ConfigOptions(unix_socket=False, checksum_validation=False))
    return layout


def test_pack_passes_suricata_T(short_dir: Path) -> None:
    layout = _layout(short_dir, Mode.PREVENT)
    result = validate(Tools(), layout)
    assert result.ok, result.message()
    assert f"{len(pack_index().by_sid)} rules successfully loaded" in result.loaded


def test_every_pack_rule_names_a_cve() -> None:
    index = pack_index()
    assert len(index.by_sid) >= 10
    for rule in index.by_sid.values():
        assert rule.cves, rule.sid
        assert rule.text.count("reference:cve,") >= 1


def _pcap(tmp: Path, cases: tuple[Case, ...]) -> Path:
    writer = PcapWriter()
    for i, case in enumerate(cases):
        writer.tcp_session(
            http_request(case.method, case.target, case.headers, case.body), client=("10.232.1.2", 40000 + i)
        )
    return writer.write(tmp / "cases.pcap")


def _sids_by_port(events: list[dict[str, object]]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for e in events:
        if e.get("event_type") == "alert":
            alert = e["alert"]
            assert isinstance(alert, dict)
            out.setdefault(int(str(e["src_port"])), set()).add(int(alert["signature_id"]))
    return out


@pytest.mark.parametrize("mode", [Mode.DETECT, Mode.PREVENT])
def test_exploits_fire_and_lookalikes_do_not(short_dir: Path, mode: Mode) -> None:
    layout = _layout(short_dir, mode)
    pcap = _pcap(short_dir, CASES)
    extra = ["--simulate-ips"] if mode == Mode.PREVENT else []
    result = replay(Tools(), layout, pcap, extra_args=extra)
    assert result.returncode == 0, result.errors
    fired = _sids_by_port(list(result.events))
    for i, case in enumerate(CASES):
        got = fired.get(40000 + i, set())
        if case.exploit:
            assert case.sids <= got, (case.name, got)
        else:
            assert not got, (case.name, got)
    actions = {e["alert"]["action"] for e in result.alerts()}
    assert actions == ({"blocked"} if mode == Mode.PREVENT else {"allowed"})
    assert len({c.name for c in CASES if c.exploit}) >= 12
