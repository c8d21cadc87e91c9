"""Domain/URL reputation through Suricata: DNS query, TLS SNI, HTTP host and URL; allow-list; list updates."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import pytest

from helpers.pcap import PcapWriter, dns_query, http_request, tls_client_hello
from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext
from shieldwall.agent.modules.ips import Module
from shieldwall.agent.modules.ips.layout import live_layout
from shieldwall.model.finding import Severity

pytestmark = pytest.mark.integration

LIST = """! a small committed list in urlhaus-filter's format
||malware-drop.test^
||files.cdn-host.test/payload/stage2.exe^$all
evil-c2.test
||203.0.113.50^
not a domain
"""


def _module(state: Path, lists: Path, events: list[AgentEvent]) -> Module:
    module = Module()
    module.start(
        ModuleContext(
            root=Path("/"),
            state_dir=state,
            emit=events.append,
            log=logging.getLogger("rep"),
            settings={"capture": "none", "reputation_dir": str(lists)},
        )
    )
    return module


def _traffic(tmp: Path) -> Path:
    w = PcapWriter()
    client = ("10.232.1.2", 0)
    # port encodes the case: 5301 listed DNS, 5302 subdomain DNS, 5303 allow-listed DNS, 5304 unlisted DNS
    for port, name in (
        (5301, "malware-drop.test"),
        (5302, "x.y.evil-c2.test"),
        (5303, "ok.evil-c2.test"),
        (5304, "fine.test"),
    ):
        w.udp((client[0], port), ("10.232.2.53", 53), dns_query(name))
    w.tcp_session(
        tls_client_hello("www.malware-drop.test"),
        response=b"",
        client=("10.232.1.2", 44301),
        server=("10.232.2.2", 443),
    )
    w.tcp_session(
        tls_client_hello("notmalware-drop.test"), response=b"", client=("10.232.1.2", 44302), server=("10.232.2.2", 443)
    )
    w.tcp_session(
        http_request("GET", "/index.html", {"X": "y"}).replace(b"Host: app.example", b"Host: evil-c2.test"),
        client=("10.232.1.2", 48001),
    )
    w.tcp_session(
        http_request("GET", "/payload/stage2.exe").replace(b"Host: app.example", b"Host: files.cdn-host.test"),
        client=("10.232.1.2", 48002),
    )
    w.tcp_session(
        http_request("GET", "/payload/readme.txt").replace(b"Host: app.example", b"Host: files.cdn-host.test"),
        client=("10.232.1.2", 48003),
    )
    return w.write(tmp / "rep.pcap")


def _replay(state: Path, pcap: Path) -> None:
    live = live_layout(state)
    subprocess.run(
        [
            "suricata",
            "-c",
            str(live.config),
            "-l",
            str(live.log_dir),
            "-r",
            str(pcap),
            "--runmode=single",
            "--set",
            "unix-command.enabled=no",
            "-k",
            "none",
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )


def test_domains_and_urls_are_caught_and_the_allow_list_wins(short_dir: Path) -> None:
    lists = short_dir / "lists"
    lists.mkdir()
    (lists / "urlhaus.txt").write_text(LIST)
    events: list[AgentEvent] = []
    module = _module(short_dir / "state", lists, events)
    state = module.apply(
        {
            "shieldwall_pack": False,
            "reputation": {"mode": "prevent", "lists": ["urlhaus.txt"], "allow": ["ok.evil-c2.test"]},
        },
        1,
    )
    assert state.counters["reputation_entries"] == 3
    assert state.counters["reputation_rejected"] == 1 and state.counters["reputation_skipped_ip"] == 1
    _replay(short_dir / "state", _traffic(short_dir))
    module.tick(0.0)
    fired = {e.attributes["src_port"] for e in events}
    assert {5301, 5302, 44301, 48001, 48002} <= fired
    assert not fired & {5304, 44302, 48003}
    # the allow-list only removes what it covers: ok.evil-c2.test is below a listed domain, so it still
    # matches evil-c2.test's rule; allow-listing the listed domain itself removes the rule
    assert 5303 in fired
    module.apply({"shieldwall_pack": False, "reputation": {"lists": ["urlhaus.txt"], "allow": ["evil-c2.test"]}}, 2)
    text = live_layout(short_dir / "state").reputation_rules.read_text()
    assert "evil-c2" not in text and "malware-drop" in text
    module.stop()


def test_events_carry_the_list_category_and_severity(short_dir: Path) -> None:
    """Real eve metadata of the generated rules: the object-form list's category/severity, the plain name's defaults."""
    lists = short_dir / "lists"
    lists.mkdir()
    (lists / "urlhaus.txt").write_text(LIST)
    (lists / "c2.txt").write_text("x.y.evil-c2.test\n")
    events: list[AgentEvent] = []
    module = _module(short_dir / "state", lists, events)
    module.apply(
        {
            "shieldwall_pack": False,
            "reputation": {
                "mode": "prevent",
                "lists": ["urlhaus.txt", {"name": "c2.txt", "category": "botnet-c2", "severity": "CRITICAL"}],
            },
        },
        1,
    )
    _replay(short_dir / "state", _traffic(short_dir))
    module.tick(0.0)
    by_port = {(e.attributes["src_port"], e.attributes["reputation"]["list"]): e for e in events}
    c2 = by_port[(5302, "c2")]  # x.y.evil-c2.test is on both lists: one rule each
    assert c2.severity == Severity.CRITICAL and c2.attributes["category"] == "botnet-c2"
    assert "(botnet-c2, CRITICAL)" in c2.attributes["msg"]  # a pcap replay runs as IDS: ips.alert
    plain = by_port[(5301, "urlhaus")]
    assert plain.severity == Severity.HIGH and plain.attributes["category"] == "malicious"
    module.stop()


def test_a_list_update_is_rebuilt_on_tick(short_dir: Path) -> None:
    lists = short_dir / "lists"
    lists.mkdir()
    (lists / "l.txt").write_text("first.test\n")
    module = _module(short_dir / "state", lists, [])
    module.apply({"reputation": {"lists": ["l.txt"]}}, 1)
    path = live_layout(short_dir / "state").reputation_rules
    assert "first.test" in path.read_text()
    (lists / "l.txt").write_text("first.test\nsecond.test\n")
    for _ in range(600):  # the rebuild runs in a worker thread; a later tick switches to it
        module.tick(0.0)
        if module.state().counters.get("list_reloads"):
            break
        time.sleep(0.1)
    assert "second.test" in path.read_text()
    assert module.state().counters["list_reloads"] == 1
    module.stop()


def test_urlhaus_list_compiles(short_dir: Path, shared_data: Path) -> None:
    lists = shared_data / "reputation" / "urlhaus-filter"
    module = _module(short_dir / "state", lists, [])
    state = module.apply({"shieldwall_pack": False, "reputation": {"lists": ["urlhaus-filter-online.txt"]}}, 1)
    assert state.counters["reputation_entries"] > 1000
    assert state.counters["reputation_rules"] >= state.counters["reputation_entries"]
    module.stop()
