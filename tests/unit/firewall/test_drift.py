"""Drift comparison ignores what changes by itself and catches everything else."""

from __future__ import annotations

import copy
from typing import Any

from shieldwall.firewall.drift import compare, rule_counters, set_elements
from shieldwall.firewall.nft import restore_batch

LISTING: dict[str, Any] = {
    "nftables": [
        {"metainfo": {"version": "1.0.6"}},
        {"table": {"family": "inet", "name": "shieldwall", "handle": 4}},
        {
            "counter": {
                "family": "inet",
                "name": "block",
                "table": "shieldwall",
                "handle": 3,
                "packets": 5,
                "bytes": 300,
            }
        },
        {
            "set": {
                "family": "inet",
                "name": "block_v4",
                "table": "shieldwall",
                "type": "ipv4_addr",
                "handle": 1,
                "flags": ["interval", "timeout"],
                "elem": [{"elem": {"val": "10.0.0.1", "timeout": 30, "expires": 29}}],
            }
        },
        {
            "set": {
                "family": "inet",
                "name": "rep_x_v4",
                "table": "shieldwall",
                "type": "ipv4_addr",
                "handle": 2,
                "flags": ["interval"],
                "elem": [{"prefix": {"addr": "10.1.0.0", "len": 16}}],
            }
        },
        {
            "rule": {
                "family": "inet",
                "table": "shieldwall",
                "chain": "input",
                "handle": 4,
                "comment": "sw:ssh",
                "expr": [{"counter": {"packets": 7, "bytes": 420}}, {"accept": None}],
            }
        },
        {
            "rule": {
                "family": "inet",
                "table": "shieldwall",
                "chain": "input",
                "handle": 5,
                "comment": "sw:ssh",
                "expr": [{"counter": {"packets": 2, "bytes": 120}}, {"accept": None}],
            }
        },
    ]
}


def test_counters_handles_and_timed_elements_are_not_drift() -> None:
    other = copy.deepcopy(LISTING)
    other["nftables"][2]["counter"]["packets"] = 99
    other["nftables"][3]["set"]["elem"] = []
    other["nftables"][5]["rule"]["expr"][0]["counter"]["packets"] = 1000
    for item in other["nftables"][1:]:
        next(iter(item.values()))["handle"] = 77
    assert not compare(LISTING, other).changed


def test_rule_and_static_element_changes_are_drift() -> None:
    other = copy.deepcopy(LISTING)
    other["nftables"][4]["set"]["elem"] = []
    assert compare(LISTING, other).removed
    other = copy.deepcopy(LISTING)
    other["nftables"][6]["rule"]["expr"][1] = {"drop": None}
    drift = compare(LISTING, other)
    assert drift.added and drift.removed and drift.summary()["added_count"] == 1
    assert compare(LISTING, None).removed


def test_structure_only_comparison_ignores_static_elements() -> None:
    other = copy.deepcopy(LISTING)
    other["nftables"][4]["set"].pop("elem")  # what a terse listing (nft -t) looks like
    assert compare(LISTING, other).changed
    assert not compare(LISTING, other, elements=False).changed
    other["nftables"][6]["rule"]["expr"][1] = {"drop": None}
    assert compare(LISTING, other, elements=False).changed


def test_counters_and_elements_read_back() -> None:
    counters = rule_counters(LISTING)
    assert counters["rule:ssh"] == 9 and counters["counter:block"] == 5
    assert set_elements(LISTING, "block_v4") == ["10.0.0.1"]
    assert set_elements(LISTING, "rep_x_v4") == ["10.1.0.0/16"]


def test_restore_batch_keeps_remaining_time_and_drops_handles() -> None:
    cmds = restore_batch(LISTING)["nftables"]
    assert [next(iter(c)) for c in cmds[:3]] == ["add", "delete", "add"]
    block = next(c["add"]["set"] for c in cmds if c.get("add", {}).get("set", {}).get("name") == "block_v4")
    assert block["elem"] == [{"elem": {"val": "10.0.0.1", "timeout": 29}}]
    assert all("handle" not in next(iter(c.values()))[next(iter(next(iter(c.values()))))] for c in cmds[3:])
    assert restore_batch(None)["nftables"] == cmds[:2]
