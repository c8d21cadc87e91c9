"""Reputation list parsing: hostile files are bounded and their bad lines counted, never trusted."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.firewall.reputation import ReputationListError, load_list, parse_entries
from shieldwall.model.finding import Severity

FIXTURE = Path(__file__).parents[2] / "fixtures" / "reputation" / "ip-list.txt"


def test_parses_comments_cidrs_and_counts_bad_lines() -> None:
    parsed = parse_entries(
        ["# header", "! ubo", "1.2.3.4", "5.6.7.0/24 ; SBL123", "  ", "$(reboot)", "x" * 500, "2001:db8::/32"]
    )
    assert [str(n) for n in parsed.networks] == ["1.2.3.4/32", "5.6.7.0/24", "2001:db8::/32"]
    assert parsed.bad_lines == 2
    assert any("longer than" in e for e in parsed.errors)


def test_overlaps_are_collapsed_and_host_bits_masked() -> None:
    parsed = parse_entries(["10.0.0.0/8", "10.1.2.3", "10.255.0.0/16", "192.0.2.5/24"])
    assert [str(n) for n in parsed.networks] == ["10.0.0.0/8", "192.0.2.0/24"]


def test_bounds(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("1.1.1.1\n" * 20)
    with pytest.raises(ReputationListError, match="larger than"):
        load_list(big, name="big", category="c", severity=Severity.LOW, max_bytes=100)
    with pytest.raises(ReputationListError, match="more than"):
        load_list(big, name="big", category="c", severity=Severity.LOW, max_entries=5)
    with pytest.raises(ReputationListError, match="cannot read"):
        load_list(tmp_path / "missing", name="m", category="c", severity=Severity.LOW)
    with pytest.raises(ReputationListError, match="list name"):
        load_list(big, name="../x", category="c", severity=Severity.LOW)


def test_committed_fixture() -> None:
    rep = load_list(FIXTURE, name="fixture", category="botnet", severity=Severity.HIGH)
    assert rep.contains("2.57.232.7") and rep.contains("101.96.119.195")
    assert not rep.contains("10.1.2.3")
    assert rep.bad_lines == 1


def test_shared_et_lists_known_answers(shared_data: Path) -> None:
    base = shared_data / "reputation" / "et-ip-lists"
    drop = load_list(base / "spamhaus_drop.txt", name="drop", category="hijacked", severity=Severity.HIGH)
    comp = load_list(base / "compromised.txt", name="comp", category="compromised", severity=Severity.HIGH)
    tor = load_list(base / "tor_nodes.txt", name="tor", category="anonymizer", severity=Severity.MEDIUM)
    assert drop.contains("2.57.232.1") and comp.contains("101.96.119.195") and tor.contains("1.161.183.90")
    for rep in (drop, comp, tor):
        assert rep.bad_lines == 0
        assert not any(rep.contains(a) for a in ("10.0.0.1", "192.168.1.1", "127.0.0.1"))
