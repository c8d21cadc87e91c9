"""Domain/URL reputation lists: hostile-input parsing, allow-list overrides, rule generation."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.agent.modules.ips.policy import Mode
from shieldwall.agent.modules.ips.reputation import (
    MAX_ENTRIES,
    Entry,
    ListError,
    apply_allow,
    build_rules,
    parse_entry,
    parse_lines,
    read_list,
)
from shieldwall.agent.modules.ips.rules import parse_rule


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("evil.example", Entry("evil.example")),
        ("EVIL.Example.", Entry("evil.example")),
        ("||bad.test^", Entry("bad.test")),
        ("||github.com/x/y/raw/master/rage.dll^$all", Entry("github.com", "/x/y/raw/master/rage.dll")),
        ("http://bad.test:8080/a?b=c", Entry("bad.test", "/a?b=c")),
        ("1.2.3.4", "ip"),
        ("||1.2.3.4^", "ip"),
        ("localhost", None),
        ('bad.test/a"b', Entry("bad.test", '/a"b')),  # kept: hex-escaped in the rule
        ("bad.test/a b", None),
        ("-bad-.test", None),
        ("bad..test", None),
        ("x" * 64 + ".test", None),
        ("bad.test:notaport", None),
        ("bad;alert.test", None),
    ],
)
def test_parse_entry(raw: str, want: object) -> None:
    got = parse_entry(raw)
    if isinstance(want, Entry):
        assert isinstance(got, Entry) and (got.host, got.path) == (want.host, want.path)
    else:
        assert got == want


def test_parse_lines_counts_and_bounds() -> None:
    lines = ["! comment", "# comment", "", "a.test", "a.test", "1.1.1.1", "bad entry", "y" * 5000]
    parsed = parse_lines(lines, "l")
    assert [e.host for e in parsed.entries] == ["a.test"]
    assert parsed.rejected == 2 and parsed.skipped_ip == 1 and not parsed.truncated
    many = parse_lines((f"h{i}.test" for i in range(MAX_ENTRIES + 10)), "l")
    assert len(many.entries) == MAX_ENTRIES and many.truncated


def test_read_list_refuses_links_and_non_files(tmp_path: Path) -> None:
    real = tmp_path / "list.txt"
    real.write_text("a.test\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert len(read_list(real).entries) == 1
    with pytest.raises(ListError):
        read_list(link)
    with pytest.raises(ListError):
        read_list(tmp_path)


def test_allow_list_covers_subdomains_and_exact_urls() -> None:
    entries = [
        Entry("a.bad.test"),
        Entry("bad.test"),
        Entry("ok.test"),
        Entry("cdn.test", "/x.exe"),
        Entry("cdn.test", "/y"),
    ]
    kept = apply_allow(entries, ["bad.test", "http://cdn.test/x.exe", "not a domain"])
    assert [(e.host, e.path) for e in kept] == [("cdn.test", "/y"), ("ok.test", "")]


def test_rules_are_well_formed_stable_and_escaped() -> None:
    entries = [Entry("bad.test", list_name="urlhaus"), Entry("cdn.test", "/a|b;c\\d", list_name="urlhaus")]
    rules = build_rules(entries, Mode.PREVENT)
    assert len(rules) == 4  # dns, tls, http for the domain; one URL rule
    parsed = [parse_rule(r) for r in rules]
    assert all(p is not None and p.action == "drop" for p in parsed)
    assert len({p.sid for p in parsed if p}) == 4
    assert build_rules(entries, Mode.PREVENT) == rules
    assert 'content:"/a|7c|b|3b|c|5c|d"' in rules[-1] or any('"/a|7c|b|3b|c|5c|d"' in r for r in rules)
    assert all(r.startswith("alert ") for r in build_rules(entries, Mode.DETECT))
