"""Sigma rules through pySigma, evaluated over decoded log lines."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from shieldwall.logrules.sigma import SigmaRules, load_sigma

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logrules" / "sigma"
SIGMA = Path(__file__).resolve().parents[4] / "shared" / "data" / "logs" / "sigma"  # ../shared beside the repo
WEB = '192.0.2.1 - - [10/Oct/2021:13:55:36 +0000] "GET {uri} HTTP/1.1" {status} 10 "-" "curl/8"'


@pytest.fixture(scope="module")
def engine() -> SigmaRules:
    load, _stats = load_sigma([FIXTURES])
    assert len(load.rules) == 3
    assert list(load.skipped.values()) == ["correlation rule (meta-rule over other rules)"]
    return SigmaRules(load.rules)


def ids(engine: SigmaRules, line: str) -> list[str]:
    return [m.rule_id[:8] for m in engine.process(line, "t", 0.0)]


def test_web_rule_with_filter(engine: SigmaRules) -> None:
    assert ids(engine, WEB.format(uri="/cgi-bin/.%2e/.%2e/etc/passwd", status=200)) == ["6d0c8f0e"]
    assert ids(engine, WEB.format(uri="/a/../b", status=404)) == []
    assert ids(engine, WEB.format(uri="/index.html", status=200)) == []


def test_auditd_execve_gets_image_from_its_syscall_record(engine: SigmaRules) -> None:
    sid = "msg=audit(1700000000.001:77)"
    assert ids(engine, f'type=SYSCALL {sid}: arch=c000003e syscall=59 comm="cat" exe="/usr/bin/cat"') == []
    assert ids(engine, f'type=EXECVE {sid}: argc=2 a0="cat" a1="/etc/shadow"') == ["0b6f5b1e"]
    other = "msg=audit(1700000000.001:78)"
    assert ids(engine, f'type=EXECVE {other}: argc=2 a0="cat" a1="/etc/shadow"') == []


def test_keywords_regex_and_service(engine: SigmaRules) -> None:
    assert ids(engine, "Dec 10 01:02:02 host sshd[1]: Corrupted MAC on input.") == ["1c2d3e4f"]
    assert ids(engine, "Dec 10 01:02:02 host sshd[1]: error: bad string length 9999") == ["1c2d3e4f"]
    assert ids(engine, "Dec 10 01:02:02 host cron[1]: Corrupted MAC on input.") == []


@pytest.mark.skipif(not SIGMA.is_dir(), reason="../shared/data/logs/sigma is not present")
def test_sigmahq_linux_and_web_rules_load() -> None:
    load, stats = load_sigma([SIGMA / "rules", SIGMA / "rules-threat-hunting", SIGMA / "rules-emerging-threats"])
    kinds = Counter(r.kind for r in load.rules)
    print(f"loaded {len(load.rules)}, skipped {len(load.skipped)}: {load.skipped}")
    print(f"by decoding: {dict(kinds)}; fallback patterns: {stats.fallback_patterns}")
    not_evaluable = [
        (r.title, sorted(r.fields - {"hostname", "program_name"}))
        for r in load.rules
        if r.kind != "auditd" and not r.evaluable
    ]
    print(f"web/syslog rules needing fields the line decoding does not produce: {not_evaluable}")
    assert len(load.rules) + len(load.skipped) == 393
    assert len(load.rules) >= 390
