"""Which ``nft -j monitor`` lines may be drift of our table."""

from __future__ import annotations

import json

import pytest

from shieldwall.firewall.monitor import concerns_us


def line(op: str, kind: str, **obj: object) -> str:
    return json.dumps({op: {kind: obj}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (line("add", "rule", family="inet", table="shieldwall", chain="input"), True),
        (line("delete", "table", family="inet", name="shieldwall"), True),
        (line("delete", "element", family="inet", table="shieldwall", name="rep_tor_v4"), True),
        (line("add", "element", family="inet", table="shieldwall", name="block_v4"), False),
        (line("add", "element", family="inet", table="shieldwall", name="rep_hits_tor_v4"), False),
        (line("add", "rule", family="ip", table="shieldwall", chain="input"), False),
        (line("add", "rule", family="inet", table="docker", chain="input"), False),
        ("not json at all", True),
        ('{"add": 1}', True),
    ],
)
def test_filter(text: str, expected: bool) -> None:
    assert concerns_us(text) is expected
