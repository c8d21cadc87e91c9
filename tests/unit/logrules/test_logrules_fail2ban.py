"""fail2ban filter translation: committed fixture, then fail2ban's own annotated test logs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from shieldwall.logrules.fail2ban import FilterError, load_filter

sys.path.insert(0, str(Path(__file__).parent))
from fail2ban_cases import LOGS, run_all

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "logrules" / "fail2ban" / "demo.conf"

MIN_PASSED = 1046
"""Regression floor: annotated lines passing when this test was written (docs/logs.md)."""


@pytest.mark.parametrize(
    ("line", "hit", "host"),
    [
        ("Jan  5 01:31:41 www demo[12]: bad login for bob from 192.0.2.1 port 22", True, "192.0.2.1"),
        ("2024-01-05T01:31:41 www demo: bad login for bob from 2001:db8::7", True, "2001:db8::7"),
        ("Jan  5 01:31:41 www demo[12]: bad login for bob from host.example.org", True, "host.example.org"),
        ("Jan  5 01:31:41 www other[12]: bad login for bob from 192.0.2.1", False, None),
        ("Jan  5 01:31:41 www demo[12]: probe from 192.0.2.1", False, None),
        ("Jan  5 01:31:41 www demo[12]: bad login for bob from 10.9.9.9", False, None),
        ("Jan  5 01:31:41 www demo[12]: timeout for 192.0.2.1", False, None),
    ],
)
def test_fixture_filter(line: str, hit: bool, host: str | None) -> None:
    assert load_filter(FIXTURE).check(line) == (hit, host)


def test_filter_options_select_tags() -> None:
    flt = load_filter(FIXTURE, {"mode": "aggressive"})
    assert flt.check("Jan  5 01:31:41 www demo[12]: timeout for 192.0.2.1") == (True, "192.0.2.1")


def test_multiline_filters_are_refused(tmp_path: Path) -> None:
    conf = tmp_path / "ml.conf"
    conf.write_text("[Definition]\nfailregex = ^x <HOST>$\nmaxlines = 5\n")
    with pytest.raises(FilterError, match="multi-line"):
        load_filter(conf)


@pytest.mark.skipif(not LOGS.is_dir(), reason="../shared/data/logs/fail2ban is not present")
def test_fail2ban_known_answers() -> None:
    results = run_all()
    for r in results:
        print(f"{r.name:28} {r.passed:4}/{r.total:4} {r.error}")
    for r in results:
        for miss in r.misses:
            print(f"MISS {r.name}: {miss}")
    passed = sum(r.passed for r in results)
    total = sum(r.total for r in results)
    print(f"passed {passed}/{total}")
    assert total == 1139
    assert passed >= MIN_PASSED
