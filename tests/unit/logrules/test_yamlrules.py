"""Shieldwall's YAML rules and the shipped Linux pack."""

from __future__ import annotations

import pytest

from shieldwall.logrules.yamlrules import YamlRules, builtin_pack, parse_yaml_rules

FAIL = "Dec 10 01:02:03 host sshd[1]: Failed password for root from {ip} port 22 ssh2"
OK = "Dec 10 01:02:09 host sshd[1]: Accepted password for root from {ip} port 22 ssh2"


def ids(engine: YamlRules, line: str, now: float) -> list[str]:
    return [m.rule_id for m in engine.process(line, "test", now)]


def test_pack_loads() -> None:
    specs = builtin_pack()
    assert len(specs) >= 10
    YamlRules(specs)


def test_frequency_same_address_within_window() -> None:
    y = YamlRules(builtin_pack())
    for t in range(4):
        assert ids(y, FAIL.format(ip="198.51.100.4"), float(t)) == ["sw-sshd-failed"]
    assert ids(y, FAIL.format(ip="198.51.100.5"), 4.0) == ["sw-sshd-failed"]
    assert "sw-sshd-bruteforce" in ids(y, FAIL.format(ip="198.51.100.4"), 5.0)


def test_frequency_window_expires() -> None:
    y = YamlRules(builtin_pack())
    for t in (0, 60, 130, 190, 250):
        assert "sw-sshd-bruteforce" not in ids(y, FAIL.format(ip="198.51.100.4"), float(t))


def test_sequence_failures_then_success() -> None:
    y = YamlRules(builtin_pack())
    for t in range(5):
        y.process(FAIL.format(ip="198.51.100.4"), "t", float(t))
    assert "sw-sshd-bruteforce-success" not in ids(y, OK.format(ip="198.51.100.7"), 6.0)
    got = y.process(OK.format(ip="198.51.100.4"), "t", 7.0)
    seq = next(m for m in got if m.rule_id == "sw-sshd-bruteforce-success")
    assert seq.level == 13 and len(seq.correlated_lines) == 6


def test_first_time_seen() -> None:
    y = YamlRules(builtin_pack())
    assert "sw-sshd-first-login" in ids(y, OK.format(ip="192.0.2.1"), 0.0)
    assert "sw-sshd-first-login" not in ids(y, OK.format(ip="192.0.2.1"), 1.0)
    assert "sw-sshd-first-login" in ids(y, OK.format(ip="192.0.2.2"), 2.0)


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="level"):
        parse_yaml_rules("rules: [{id: a, description: d, level: 99, regex: x}]")
    with pytest.raises(ValueError, match="unknown"):
        YamlRules(
            parse_yaml_rules("rules: [{id: a, description: d, level: 1, frequency: {of: b, count: 2, within: 5}}]")
        )
    with pytest.raises(ValueError, match="needs"):
        YamlRules(parse_yaml_rules("rules: [{id: a, description: d, level: 1}]"))
