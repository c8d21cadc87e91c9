"""The Wazuh engine on committed fixtures written in Wazuh's format."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.logrules.wazuh import WazuhEngine, load_ruleset
from shieldwall.logrules.wazuh.predecode import predecode
from shieldwall.logrules.wazuh.xmlload import parse_fragment

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logrules" / "wazuh"


@pytest.fixture
def engine() -> WazuhEngine:
    eng = load_ruleset(FIXTURES)
    assert eng.report.errors == []
    return eng


def test_predecode_syslog_header() -> None:
    p = predecode("Dec 10 01:02:02 host sshd[1234]: Accepted none for root")
    assert (p.timestamp, p.hostname, p.program_name, p.log) == (
        "Dec 10 01:02:02",
        "host",
        "sshd",
        "Accepted none for root",
    )


@pytest.mark.parametrize(
    ("line", "host", "program", "log"),
    [
        ("2013-10-30T14:51:21.901728+01:00 srv sshd[12664]: msg", "srv", "sshd", "msg"),
        ("2015 Nov 13 13:40:01 ether rsyslogd-2177: imuxsock", "ether", "rsyslogd-2177", "imuxsock"),
        ("2020-03-24 06:07:15.245255-0700  localhost sshd[195]: Connection", "localhost", "sshd", "Connection"),
        ("Apr 22 17:51:51 enigma su: dcid to root", "enigma", "su", "dcid to root"),
        ("Jan 04 22:51:57 xx proftpd[30362] xx (a[b]): USER", "xx", "proftpd", "xx (a[b]): USER"),
        ("Aug 18 07:30:25 h sshd[1]: [ID 800047 auth.notice] Failed none", "h", "sshd", "Failed none"),
        ("[error] [client 1.2.3.4] File does not exist", "", "", "[error] [client 1.2.3.4] File does not exist"),
        ("oscap: msg: x", "", "", "oscap: msg: x"),
    ],
)
def test_predecode_formats(line: str, host: str, program: str, log: str) -> None:
    p = predecode(line)
    assert (p.hostname, p.program_name, p.log) == (host, program, log)


def test_decoder_child_fields(engine: WazuhEngine) -> None:
    ev = engine.decode("Dec 10 01:02:02 host testsshd[1]: Accepted password for root from 192.0.2.1 port 22 ssh2")
    assert ev.decoder == "testsshd"
    assert ev.fields == {"user": "root", "srcip": "192.0.2.1", "srcport": "22"}


def test_sibling_decoders_add_fields(engine: WazuhEngine) -> None:
    ev = engine.decode("kv: event=login addr=192.0.2.9 who=alice")
    assert ev.decoder == "kv"
    assert ev.fields == {"kv.event": "login", "srcip": "192.0.2.9", "user": "alice"}


def test_sibling_group_needs_its_first_prematch(engine: WazuhEngine) -> None:
    ev = engine.decode("kv: other addr=192.0.2.9 who=alice")
    assert ev.fields == {}


def test_rule_tree_and_levels(engine: WazuhEngine) -> None:
    a = engine.process("Dec 10 01:02:02 host testsshd[1]: Accepted password for bob from 10.1.1.1 port 22 ssh2", now=0)
    assert a is not None and (a.rule_id, a.level, a.decoder) == (100101, 3, "testsshd")
    b = engine.process(
        "Dec 10 01:02:02 host testsshd[1]: Accepted password for root from 192.0.2.5 port 22 ssh2", now=1
    )
    assert b is not None and b.rule_id == 100106


def test_decoded_rules_win_over_generic_ones(engine: WazuhEngine) -> None:
    a = engine.process("Dec 10 01:02:02 host testsshd[1]: Failed password for evil from 192.0.2.1 port 22 ssh2", now=0)
    assert a is not None and a.rule_id == 100102
    g = engine.process("Dec 10 01:02:02 host other: something evil happened", now=0)
    assert g is not None and (g.rule_id, g.level) == (1002, 2)


def test_cdb_address_prefix_lookup(engine: WazuhEngine) -> None:
    a = engine.process(
        "Dec 10 01:02:02 host testsshd[1]: Accepted password for bob from 203.0.113.77 port 22 ssh2", now=0
    )
    assert a is not None and (a.rule_id, a.level) == (100105, 13)


def test_frequency_same_source_ip(engine: WazuhEngine) -> None:
    line = "Dec 10 01:02:02 host testsshd[1]: Failed password for bob from {ip} port 22 ssh2"
    ids = [engine.process(line.format(ip="192.0.2.1"), now=float(i)) for i in range(3)]
    assert [a.rule_id for a in ids if a] == [100102, 100102, 100102]
    other = engine.process(line.format(ip="192.0.2.2"), now=3)
    assert other is not None and other.rule_id == 100102
    fourth = engine.process(line.format(ip="192.0.2.1"), now=4)
    assert fourth is not None and fourth.rule_id == 100103
    assert fourth.correlation is not None and fourth.correlation.count == 4
    assert len(fourth.correlation.lines) == 3
    # the counted events are used up: the next failure starts a new count
    fifth = engine.process(line.format(ip="192.0.2.1"), now=5)
    assert fifth is not None and fifth.rule_id == 100102


def test_frequency_respects_timeframe(engine: WazuhEngine) -> None:
    line = "Dec 10 01:02:02 host testsshd[1]: Failed password for bob from 192.0.2.1 port 22 ssh2"
    results = [engine.process(line, now=t) for t in (0, 100, 200, 300)]
    assert all(a is not None and a.rule_id == 100102 for a in results)


def test_success_after_failures_sequence(engine: WazuhEngine) -> None:
    fail = "Dec 10 01:02:02 host testsshd[1]: Failed password for bob from 192.0.2.1 port 22 ssh2"
    ok = "Dec 10 01:02:02 host testsshd[1]: Accepted password for bob from {ip} port 22 ssh2"
    engine.process(fail, now=0)
    other = engine.process(ok.format(ip="192.0.2.3"), now=1)
    assert other is not None and other.rule_id == 100101
    same = engine.process(ok.format(ip="192.0.2.1"), now=2)
    assert same is not None and (same.rule_id, same.level) == (100104, 12)


def test_fields_pcre2_and_overwrite(engine: WazuhEngine) -> None:
    a = engine.process("kv: event=login addr=192.0.2.9 who=alice", now=0)
    assert a is not None and a.rule_id == 100201
    b = engine.process("kv: event=login addr=192.0.2.9 who=mallory", now=0)
    assert b is not None and b.rule_id == 100200
    c = engine.process("kv: event=logout addr=192.0.2.9 who=alice", now=0)
    assert c is not None and (c.rule_id, c.level) == (100202, 1)


def test_json_plugin_decoder(engine: WazuhEngine) -> None:
    a = engine.process('{"app": {"action": "delete", "user": "x"}}', now=0)
    assert a is not None and a.rule_id == 100300 and a.fields["app.user"] == "x"


def test_malformed_xml_is_tolerated_like_wazuh() -> None:
    root = parse_fragment('<decoder name="x"><regex>a&b \\<(\\d+)></regex></decoder><!-- a -- comment -->')
    regex = root.find("decoder/regex")
    assert regex is not None and regex.text == "a&b \\<(\\d+)>"


def test_broken_rule_is_a_counted_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.xml").write_text(
        '<group name="g"><rule id="1" level="0"><category>syslog</category></rule>'
        '<rule id="5" level="x"></rule><rule id="6" level="3"><match>ok</match></rule></group>'
    )
    eng = load_ruleset(tmp_path)
    assert eng.report.rules == 2
    assert any("non-numeric" in e for e in eng.report.errors)
    a = eng.process("it is ok", now=0)
    assert a is not None and a.rule_id == 6


def test_concatenated_regex_and_exact_action(engine: WazuhEngine) -> None:
    a = engine.process("fw: DROP IN=eth0 SRC=192.0.2.1 DST=x PROTO=TCP", now=0)
    assert a is not None and a.rule_id == 100401
    assert a.fields == {"action": "DROP", "srcip": "192.0.2.1", "protocol": "TCP"}
    b = engine.process("fw: SFW2-DROP-DEFLT IN=eth0 SRC=192.0.2.1 DST=x PROTO=TCP", now=0)
    assert b is not None and b.rule_id == 100400
