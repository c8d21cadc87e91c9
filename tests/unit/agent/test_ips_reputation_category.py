"""Domain/URL reputation lists carry a category and a severity into rules and agent events."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.agent.module import PolicyError
from shieldwall.agent.modules.ips.alerts import to_event
from shieldwall.agent.modules.ips.policy import Mode, ReputationList, parse_policy
from shieldwall.agent.modules.ips.reputation import ListError, build_rules, parse_lines, read_list
from shieldwall.agent.modules.ips.rules import parse_rule
from shieldwall.model.finding import Severity


def test_plain_names_still_validate_with_the_defaults() -> None:
    policy = parse_policy({"reputation": {"lists": ["urlhaus.txt"], "entries": ["bad.test"]}})
    assert policy.reputation is not None
    assert policy.reputation.lists == (ReputationList(name="urlhaus.txt", category="malicious", severity="HIGH"),)


def test_object_form_and_mixed_lists() -> None:
    policy = parse_policy(
        {
            "reputation": {
                "lists": ["plain.txt", {"name": "phish.txt", "category": "phishing", "severity": "MEDIUM"}],
            }
        }
    )
    assert policy.reputation is not None
    assert [(s.name, s.category, s.severity) for s in policy.reputation.lists] == [
        ("plain.txt", "malicious", "HIGH"),
        ("phish.txt", "phishing", "MEDIUM"),
    ]


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "x.txt", "category": "bad category; drop"},
        {"name": "x.txt", "category": "Malware"},
        {"name": "x.txt", "severity": "SEVERE"},
        {"name": "x.txt", "colour": "red"},
        {"category": "malware"},
    ],
)
def test_bad_list_specs_are_refused(spec: dict[str, str]) -> None:
    with pytest.raises(PolicyError):
        parse_policy({"reputation": {"lists": [spec]}})


def test_rules_carry_category_and_severity(tmp_path: Path) -> None:
    (tmp_path / "phish.txt").write_text("phish.test\n||cdn.test/kit/login.php^$all\n")
    parsed = read_list(tmp_path / "phish.txt", category="phishing", severity=Severity.CRITICAL)
    parse_lines(["plain.test"], "policy", parsed)
    rules = build_rules(parsed.entries, Mode.PREVENT)
    assert len(rules) == 3 + 1 + 3
    phish = [r for r in rules if "phish.test" in r or "cdn.test" in r]
    plain = [r for r in rules if "plain.test" in r]
    assert len(phish) == 4 and len(plain) == 3
    for rule in phish:
        parsed_rule = parse_rule(rule)
        assert parsed_rule is not None and parsed_rule.action == "drop"
        assert "(phishing, CRITICAL)" in parsed_rule.msg
        assert "category phishing, severity critical;" in rule
        assert "priority:1;" in rule
    for rule in plain:
        assert "category malicious, severity high;" in rule and "(malicious, HIGH)" in rule


def test_a_category_that_is_not_a_token_is_refused() -> None:
    with pytest.raises(ListError):
        parse_lines(["a.test"], "l", category='x"; sid:1')


def _eve(metadata: dict[str, list[str]], severity: int = 2, action: str = "blocked") -> dict[str, object]:
    return {
        "timestamp": "2026-12-07T22:00:36.123456+0000",
        "flow_id": 7,
        "event_type": "alert",
        "src_ip": "10.232.1.2",
        "src_port": 5301,
        "dest_ip": "10.232.2.53",
        "dest_port": 53,
        "proto": "UDP",
        "app_proto": "dns",
        "alert": {
            "action": action,
            "signature_id": 1_912_345_678,
            "rev": 1,
            "signature": "SHIELDWALL REPUTATION dns phish.test listed in phish (phishing, CRITICAL)",
            "category": "Potentially Bad Traffic",
            "severity": severity,
            "metadata": metadata,
        },
        "dns": {"rrname": "phish.test"},
    }


def test_an_eve_alert_of_a_reputation_rule_takes_the_list_severity_and_category() -> None:
    meta = {
        "shieldwall_reputation": ["domain"],
        "list": ["phish"],
        "category": ["phishing"],
        "severity": ["critical"],
    }
    event = to_event(_eve(meta, severity=1), {})
    assert event is not None and event.kind == "ips.drop"
    assert event.severity == Severity.CRITICAL
    assert event.attributes["category"] == "phishing"
    assert event.attributes["reputation"] == {"list": "phish", "category": "phishing", "severity": "CRITICAL"}
    low = to_event(_eve({**meta, "severity": ["low"]}, severity=3, action="allowed"), {})
    assert low is not None and low.kind == "ips.alert" and low.severity == Severity.LOW


def test_other_rules_and_malformed_metadata_keep_suricata_priority() -> None:
    # an ET-style rule with a "category"-like key is not a reputation rule
    other = to_event(_eve({"category": ["phishing"], "severity": ["critical"]}, severity=2), {})
    assert other is not None and other.severity == Severity.MEDIUM
    assert other.attributes["category"] == "Potentially Bad Traffic" and "reputation" not in other.attributes
    bad = to_event(
        _eve({"shieldwall_reputation": ["domain"], "category": ["phishing"], "severity": ["apocalyptic"]}), {}
    )
    assert bad is not None and bad.severity == Severity.MEDIUM and "reputation" not in bad.attributes
