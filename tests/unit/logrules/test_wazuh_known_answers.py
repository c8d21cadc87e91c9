"""Wazuh's own known answers (../shared/data/logs/wazuh/cases.json), with every miss printed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from wazuh_cases import WAZUH, per_file, run_cases

from shieldwall.logrules.wazuh import load_ruleset

MIN_PASSED = 337
"""Regression floor: the pass count measured when this test was written (see docs/logs.md)."""


@pytest.mark.skipif(not (WAZUH / "cases.json").is_file(), reason="../shared/data/logs/wazuh is not present")
def test_wazuh_cases_json() -> None:
    engine = load_ruleset(WAZUH)
    print(f"ruleset: {engine.report.decoders} decoders, {engine.report.rules} rules, errors: {engine.report.errors}")
    print(f"rules needing unsupported options (never match): {engine.report.unsupported_rules}")
    results = run_cases(engine, WAZUH / "cases.json")
    for name, (ok, total) in per_file(results).items():
        print(f"{name:28} {ok:3}/{total:3}")
    for r in results:
        if not r.ok:
            print(f"MISS {r.file} [{r.section}] {r.key}: expected {r.expect} {r.want}, engine {r.got}: {r.line[:160]}")
    passed = sum(r.ok for r in results)
    print(f"passed {passed}/{len(results)}")
    assert len(results) == 356
    assert passed >= MIN_PASSED
