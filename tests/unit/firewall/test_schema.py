"""Policy validation and Deep-Security-style inheritance resolution."""

from __future__ import annotations

from typing import Any

import pytest

from shieldwall.firewall.model import Action, Direction, PortRange, Protocol
from shieldwall.firewall.schema import FirewallSchemaError, parse_port, resolve_section


def section(**policies: Any) -> dict[str, Any]:
    return {"use": "leaf", "policies": policies}


RULE_A = {"id": "a", "direction": "in", "action": "accept", "protocol": "tcp", "ports": [22]}
RULE_B = {"id": "b", "direction": "in", "action": "accept", "protocol": "tcp", "ports": [80]}
RULE_C = {"id": "c", "direction": "out", "action": "drop", "protocol": "udp", "ports": ["53"]}


def test_child_overrides_rule_in_place_appends_new_and_removes() -> None:
    policy = resolve_section(
        section(
            root={"default_in": "drop", "rules": [RULE_A, RULE_B, RULE_C]},
            mid={"parent": "root", "default_out": "drop", "rules": [{**RULE_A, "ports": [2222]}]},
            leaf={
                "parent": "mid",
                "default_in": "reject",
                "rules": [{"id": "c", "remove": True}, {**RULE_B, "id": "d"}],
            },
        )
    )
    assert policy.chain == ("root", "mid", "leaf")
    assert [r.id for r in policy.rules] == ["a", "b", "d"]
    assert policy.rules[0].ports == (PortRange(2222, 2222),)
    assert policy.rules[0].origin == "mid"
    assert policy.default_in is Action.REJECT and policy.default_out is Action.DROP


def test_override_changes_only_the_fields_it_sets() -> None:
    policy = resolve_section(
        section(
            root={"rules": [{**RULE_A, "source": ["10.0.0.0/8"], "log": True}]},
            leaf={"parent": "root", "rules": [{"id": "a", "source": ["10.1.0.0/16"]}]},
        )
    )
    rule = policy.rules[0]
    assert [str(n) for n in rule.source.networks] == ["10.1.0.0/16"]
    assert rule.ports == (PortRange(22, 22),) and rule.log and rule.action is Action.ACCEPT
    assert rule.origin == "leaf"


def test_priority_orders_rules_stably() -> None:
    policy = resolve_section(section(leaf={"rules": [RULE_A, RULE_B, {**RULE_C, "priority": 10}]}))
    assert [r.id for r in policy.rules] == ["c", "a", "b"]


def test_state_settings_inherit_unless_set() -> None:
    policy = resolve_section(
        section(
            root={"state": {"accept_established": False}}, leaf={"parent": "root", "state": {"drop_invalid": False}}
        )
    )
    assert policy.state.accept_established is False
    assert policy.state.drop_invalid is False
    assert policy.state.accept_loopback is True


def test_named_lists_and_literals() -> None:
    raw = section(leaf={"rules": [{**RULE_A, "source": ["@office", "192.0.2.7", "2001:db8::/32"]}]})
    raw["ip_lists"] = {"office": ["10.0.0.0/8"]}
    rule = resolve_section(raw).rules[0]
    assert rule.source.lists == ("office",)
    assert [str(n) for n in rule.source.networks] == ["192.0.2.7/32", "2001:db8::/32"]
    assert rule.direction is Direction.IN and rule.protocol is Protocol.TCP


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (section(leaf={"parent": "other"}, other={"parent": "leaf"}), "cycle"),
        (section(leaf={"parent": "missing"}), "not defined"),
        (section(leaf={"rules": [{"id": "x", "remove": True}]}), "does not inherit"),
        (section(leaf={"rules": [RULE_A, RULE_A]}), "twice"),
        (section(leaf={"rules": [{**RULE_A, "source": ["@nope"]}]}), "unknown IP list"),
        (section(leaf={"rules": [{**RULE_A, "source": ["10.0.0.1/8"]}]}), "not an IP address"),
        (section(leaf={"rules": [{**RULE_A, "ports": ["70000"]}]}), "outside"),
        (section(leaf={"rules": [{**RULE_A, "protocol": "icmp"}]}), "ports need"),
        (section(leaf={"rules": [{"id": "x", "protocol": "tcp"}]}), "direction and an action"),
        (section(leaf={"rules": [{**RULE_A, "id": "bad id; drop"}]}), "invalid firewall policy"),
        (section(leaf={"rules": [{**RULE_A, "interfaces": ["eth0; rm"]}]}), "invalid firewall policy"),
        (section(leaf={"unknown": 1}), "invalid firewall policy"),
    ],
)
def test_bad_sections_are_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(FirewallSchemaError, match=message):
        resolve_section(raw)


def test_ports() -> None:
    assert parse_port("1000-2000") == PortRange(1000, 2000)
    assert parse_port(22) == PortRange(22, 22)
    for bad in ("0", "10-5", "x", "1-2-3"):
        with pytest.raises(FirewallSchemaError):
            parse_port(bad)
