"""Run Wazuh's known-answer cases (cases.json) through the engine; shared by the test and the docs table."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from shieldwall.logrules.wazuh import WazuhEngine

WAZUH = Path(__file__).resolve().parents[4] / "shared" / "data" / "logs" / "wazuh"  # ../shared beside the repo


@dataclass(frozen=True)
class CaseResult:
    """One case: what was expected and what the engine said."""

    file: str
    section: str
    key: str
    expect: str
    want: tuple[str, int, str]
    got: tuple[str, int, str] | None
    ok: bool
    line: str


def run_cases(engine: WazuhEngine, cases_path: Path) -> list[CaseResult]:
    """Feed each case's lines to a fresh stream (one second apart) and compare the last result."""
    cases = json.loads(cases_path.read_text())
    out: list[CaseResult] = []
    for case in cases:
        engine.reset()
        alert = None
        for i, line in enumerate(case["logs"]):
            alert = engine.process(line, location="stdin", now=1_000_000.0 + i)
        # upstream's parser concatenates repeated keys: "40902\n40902" means rule 40902
        want = (
            str(case["rule"]).split("\n")[0],
            int(str(case["level"]).split("\n")[0]),
            str(case["decoder"] or "").split("\n")[0],
        )
        got = (str(alert.rule_id), alert.level, alert.decoder) if alert is not None else None
        same = got == want
        ok = same if case["expect"] == "pass" else not same
        out.append(
            CaseResult(case["file"], case["section"], case["key"], case["expect"], want, got, ok, case["logs"][-1])
        )
    return out


def per_file(results: list[CaseResult]) -> dict[str, tuple[int, int]]:
    """``file -> (passed, total)``."""
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        table[r.file][1] += 1
        table[r.file][0] += int(r.ok)
    return {k: (v[0], v[1]) for k, v in sorted(table.items())}
