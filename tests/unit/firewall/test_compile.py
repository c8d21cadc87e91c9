"""The compiler's output: one owned table, ordered chains, family splits, set elements."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from shieldwall.firewall.compile import BlockEntry, compile_ruleset, reputation_reload_batch
from shieldwall.firewall.reputation import ReputationList, parse_entries
from shieldwall.firewall.schema import resolve_section
from shieldwall.model.finding import Severity


def rules_of(batch: dict[str, Any], chain: str) -> list[dict[str, Any]]:
    return [
        c["add"]["rule"] for c in batch["nftables"] if "rule" in c.get("add", {}) and c["add"]["rule"]["chain"] == chain
    ]


def compiled(rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"use": "p", "policies": {"p": {"rules": rules}}, **extra}
    return compile_ruleset(resolve_section(raw))


def test_only_our_table_is_touched_and_replaced_in_one_batch() -> None:
    batch = compiled([])
    head = batch["nftables"][:3]
    assert [next(iter(c)) for c in head] == ["add", "delete", "add"]
    text = json.dumps(batch)
    tables = {
        (o["family"], o["table"]) for c in batch["nftables"] for o in c.values() for o in o.values() if "table" in o
    }
    assert tables == {("inet", "shieldwall")}
    assert '"name": "shieldwall"' in text


def test_input_chain_order_and_default() -> None:
    batch = compiled([{"id": "ssh", "direction": "in", "action": "accept", "protocol": "tcp", "ports": [22]}])
    comments = [r["comment"] for r in rules_of(batch, "input")]
    assert comments == [
        "sw:state:loopback",
        "sw:rep:jump",
        "sw:block",
        "sw:block",
        "sw:state:ipv6-nd",
        "sw:state:established",
        "sw:state:invalid",
        "sw:ssh",
        "sw:default:in",
    ]
    chain = next(
        c["add"]["chain"] for c in batch["nftables"] if c.get("add", {}).get("chain", {}).get("name") == "input"
    )
    assert chain["hook"] == "input" and chain["policy"] == "drop"


def test_mixed_families_and_lists_expand_per_alternative() -> None:
    rule = {"id": "r", "direction": "out", "action": "drop", "destination": ["192.0.2.0/24", "2001:db8::1", "@l"]}
    batch = compiled([rule], ip_lists={"l": ["198.51.100.0/24"]})
    exprs = [r["expr"][0] for r in rules_of(batch, "output") if r["comment"] == "sw:r"]
    rights = [e["match"]["right"] for e in exprs]
    assert {"set": [{"prefix": {"addr": "192.0.2.0", "len": 24}}]} in rights
    assert "@list_l_v4" in rights and "@list_l_v6" in rights
    assert {"set": ["2001:db8::1"]} in rights
    assert len(exprs) == 4


def test_icmp_without_addresses_is_ipv4_only_and_reject_default() -> None:
    raw = {
        "use": "p",
        "policies": {
            "p": {
                "default_in": "reject",
                "rules": [{"id": "ping", "direction": "in", "action": "accept", "protocol": "icmp"}],
            }
        },
    }
    batch = compile_ruleset(resolve_section(raw))
    ping = [r for r in rules_of(batch, "input") if r["comment"] == "sw:ping"]
    assert len(ping) == 1
    assert [e["match"]["right"] for e in ping[0]["expr"][:2]] == ["ipv4", "icmp"]
    default = rules_of(batch, "input")[-1]
    assert default["expr"][-1] == {"reject": None}


def test_blocks_and_reputation_sets() -> None:
    rep = ReputationList(
        "bad", "botnet", Severity.HIGH, "log", parse_entries(["192.0.2.1", "192.0.2.0/30", "2001:db8::/48"]).networks
    )
    policy = resolve_section({"use": "p", "policies": {"p": {}}})
    block = BlockEntry(ipaddress.ip_network("203.0.113.9"), 42)
    batch = compile_ruleset(policy, [rep], [ipaddress.ip_network("198.51.100.0/24")], [block])
    sets = {c["add"]["set"]["name"]: c["add"]["set"] for c in batch["nftables"] if "set" in c.get("add", {})}
    assert sets["rep_bad_v4"]["elem"] == [{"prefix": {"addr": "192.0.2.0", "len": 30}}]  # collapsed
    assert sets["block_v4"]["elem"] == [{"elem": {"val": "203.0.113.9", "timeout": 42}}]
    assert "timeout" in sets["block_v4"]["flags"]
    rep_rules = [r for r in rules_of(batch, "reputation_in") if r["comment"] == "sw:rep:bad"]
    assert all({"drop": None} not in r["expr"] for r in rep_rules)  # detect-only list logs, does not drop
    reload = reputation_reload_batch(rep)["nftables"]
    assert [next(iter(c)) for c in reload] == ["flush", "add", "flush", "add"]
