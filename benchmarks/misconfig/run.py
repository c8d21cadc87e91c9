"""Known-answer benchmark for the misconfiguration checks, and a comparison with checkov.

Builds a corpus from ../shared/data/misconfig (trivy-checks docker + kubernetes good/bad examples,
kubescape-regolibrary rule test cases), scans it once with Shieldwall and once with checkov (in its own
venv), and writes benchmarks/misconfig/RESULTS.md.

    .venv/bin/python benchmarks/misconfig/run.py                      # build, run both, write RESULTS.md
    .venv/bin/python benchmarks/misconfig/run.py --repeat 3            # median wall time of 3 runs each

checkov is expected in benchmarks/work/checkov-venv (python3 -m venv ...; pip install checkov).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from categories import GROUPS, KUBESCAPE, SET_GROUPS, TRIVY  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "misconfig"
WORK = ROOT / "benchmarks" / "work" / "misconfig"
CORPUS = WORK / "corpus"
CHECKOV = ROOT / "benchmarks" / "work" / "checkov-venv" / "bin" / "checkov"
HIGH = ("HIGH", "CRITICAL")


@dataclass
class Case:
    """One example: a folder of files that should (bad) or should not (good) be flagged."""

    source: str
    category: str
    group: str
    expected: str
    folder: str
    sw: dict[str, str] = field(default_factory=dict)  # rule id -> highest severity
    ck: set[str] = field(default_factory=set)


def build_corpus() -> list[Case]:
    """Copy every example of a covered category into its own folder under CORPUS."""
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    cases: list[Case] = []
    for category, group in sorted(TRIVY.items()):
        kind, name = category.split("/")
        raw = yaml.safe_load((DATA / "trivy-checks" / "checks" / kind / f"{name}.yaml").read_text())
        (section,) = raw.values()
        for expected in ("bad", "good"):
            for index, text in enumerate(section.get(expected) or []):
                folder = CORPUS / "trivy" / kind / name / f"{expected}-{index}"
                folder.mkdir(parents=True)
                (folder / ("Dockerfile" if kind == "docker" else "manifest.yaml")).write_text(text + "\n")
                cases.append(Case("trivy", category, group, expected, str(folder.relative_to(CORPUS))))
    rules = DATA / "kubescape-regolibrary" / "rules"
    for rule, group in sorted(KUBESCAPE.items()):
        for test in sorted((rules / rule / "test").iterdir()):
            expected_file = test / "expected.json"
            if not expected_file.is_file() or not (test / "input").is_dir():
                continue
            alerts = json.loads(expected_file.read_text() or "[]")
            folder = CORPUS / "kubescape" / rule / test.name
            folder.mkdir(parents=True)
            for item in (test / "input").iterdir():
                if item.suffix in (".yaml", ".yml", ".json"):
                    shutil.copy(item, folder / item.name)
            review = bool(alerts) and all(str(a.get("alertMessage", "")).startswith("Please validate") for a in alerts)
            expected = "review" if review else "bad" if alerts else "good"
            cases.append(Case("kubescape", rule, group, expected, str(folder.relative_to(CORPUS))))
    return cases


def timed(cmd: list[str], out: Path, repeat: int, env: dict[str, str] | None = None) -> list[float]:
    """Run ``cmd`` ``repeat`` times, stdout to ``out``; wall seconds of each run."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with out.open("w") as fh:
            subprocess.run(cmd, stdout=fh, stderr=subprocess.DEVNULL, check=False, env=env)
        times.append(time.perf_counter() - start)
    return times


def shieldwall_cmd(target: Path) -> list[str]:
    return [str(ROOT / ".venv" / "bin" / "python"), "-m", "shieldwall", "scan", f"dir:{target}",
            "--scanners", "misconfig", "--format", "json", "--quiet", "--no-cache"]  # fmt: skip


def checkov_cmd(target: Path) -> list[str]:
    return [str(CHECKOV), "-d", str(target), "--framework", "kubernetes", "dockerfile", "-o", "json",
            "--quiet", "--skip-download"]  # fmt: skip


def _case_of(path: str, index: dict[str, Case]) -> Case | None:
    parts = path.strip("/").split("/")
    for cut in range(len(parts) - 1, 0, -1):
        case = index.get("/".join(parts[:cut]))
        if case is not None:
            return case
    return None


_RANK = {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}


def load_shieldwall(out: Path, index: dict[str, Case]) -> None:
    data = json.loads(out.read_text())
    for finding in data.get("findings", []):
        if finding.get("suppressed"):
            continue
        case = _case_of(finding["location"]["path"], index)
        if case is None:
            continue
        rule, severity = finding["rule_id"], finding["severity"]
        if _RANK[severity] > _RANK.get(case.sw.get(rule, "UNKNOWN"), 0):
            case.sw[rule] = severity


def load_checkov(out: Path, index: dict[str, Case], root: Path) -> None:
    text = out.read_text().strip()
    if not text:
        return
    data = json.loads(text)
    for framework in data if isinstance(data, list) else [data]:
        for failed in framework.get("results", {}).get("failed_checks", []):
            path = failed["file_path"]
            if path.startswith(str(root)):
                path = path[len(str(root)) :]
            case = _case_of(path, index)
            if case is not None:
                case.ck.add(failed["check_id"])


def graph_checks(out: Path) -> set[str]:
    """checkov graph (CKV2) checks that failed in a single-folder run."""
    text = out.read_text().strip()
    if not text:
        return set()
    data = json.loads(text)
    found: set[str] = set()
    for framework in data if isinstance(data, list) else [data]:
        found |= {f["check_id"] for f in framework.get("results", {}).get("failed_checks", [])}
    return {c for c in found if c.startswith("CKV2_")}


def shieldwall_set_checks(case: Case) -> None:
    """Cross-file checks of one example folder, as a directory scan of that folder would run them."""
    from shieldwall.analyze.base import AnalyzerError, FileInfo
    from shieldwall.misconfig.engine import run_set_checks
    from shieldwall.misconfig.inputs.kubernetes import KubernetesInput
    from shieldwall.misconfig.registry import CheckConfig, load_checks

    checks = [c for c in load_checks(CheckConfig(include_plugins=False)).for_input("kubernetes") if c.scope == "set"]
    parser = KubernetesInput()
    files = []
    for path in sorted((CORPUS / case.folder).iterdir()):
        if not parser.claims(path.name, FileInfo(path.name, path.stat().st_size)):
            continue
        try:
            parsed = parser.parse(str(path), path.read_bytes())
        except AnalyzerError:
            continue  # the corpus scan reports it as a warning
        if parsed is not None:
            files.append(parsed)
    for rule in [r for r in case.sw if any(c.id == r for c in checks)]:
        del case.sw[rule]
    for finding in run_set_checks("kubernetes", files, checks, case.folder).findings:
        case.sw[finding.rule_id] = finding.severity.value


@dataclass
class Row:
    """Per-category counts."""

    bad: int = 0
    good: int = 0
    sw_bad: int = 0
    sw_good: int = 0
    sw_good_high: int = 0
    ck_bad: int = 0
    ck_good: int = 0
    ck_only: int = 0
    sw_only: int = 0
    review: int = 0
    checkov_has: bool = False


def evaluate(cases: list[Case]) -> tuple[dict[str, Row], dict[str, list[int]], dict[str, int], list[str]]:
    rows: dict[str, Row] = defaultdict(Row)
    for case in cases:
        sw_ids, ck_ids = GROUPS[case.group]
        sw = bool(set(case.sw) & set(sw_ids))
        ck = bool(case.ck & set(ck_ids))
        row = rows[f"{case.source}:{case.category}"]
        row.checkov_has = bool(ck_ids)
        if case.expected == "review":
            row.review += 1
            continue
        if case.expected == "bad":
            row.bad += 1
            row.sw_bad += sw
            row.ck_bad += ck
        else:
            row.good += 1
            row.sw_good += sw
            row.ck_good += ck
            row.sw_good_high += any(case.sw.get(r) in HIGH for r in sw_ids)
        row.ck_only += ck and not sw
        row.sw_only += sw and not ck
    # every group on every case: what one tool finds and the other does not
    pairwise: dict[str, list[int]] = {}
    for name, (sw_ids, ck_ids) in GROUPS.items():
        if not ck_ids:
            continue
        counts = [0, 0, 0]  # both, checkov only, shieldwall only
        for case in cases:
            sw = bool(set(case.sw) & set(sw_ids))
            ck = bool(case.ck & set(ck_ids))
            if sw and ck:
                counts[0] += 1
            elif ck:
                counts[1] += 1
            elif sw:
                counts[2] += 1
        if any(counts):
            pairwise[name] = counts
    high_on_good: dict[str, int] = defaultdict(int)
    misses: list[str] = []
    for case in cases:
        if case.expected == "good":
            for rule, severity in case.sw.items():
                if severity in HIGH:
                    high_on_good[rule] += 1
        sw_ids, ck_ids = GROUPS[case.group]
        if case.expected == "bad" and case.ck & set(ck_ids) and not set(case.sw) & set(sw_ids):
            misses.append(f"{case.folder} ({case.group}: checkov {sorted(case.ck & set(ck_ids))})")
    return rows, pairwise, dict(high_on_good), misses


def unmapped_checkov(cases: list[Case]) -> dict[str, int]:
    """checkov checks that fired but belong to no group (what Shieldwall has no counterpart for)."""
    known = {c for _, ck in GROUPS.values() for c in ck}
    counts: dict[str, int] = defaultdict(int)
    for case in cases:
        for check in case.ck - known:
            counts[check] += 1
    return dict(sorted(counts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool; the median wall time is reported")
    parser.add_argument("--skip-checkov", action="store_true")
    args = parser.parse_args()
    cases = build_corpus()
    index = {c.folder: c for c in cases}
    files = sum(1 for p in CORPUS.rglob("*") if p.is_file())
    sw_out, ck_out = WORK / "shieldwall.json", WORK / "checkov.json"
    sw_times = timed(shieldwall_cmd(CORPUS), sw_out, args.repeat)
    load_shieldwall(sw_out, index)
    ck_times: list[float] = []
    if not args.skip_checkov:
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
        ck_times = timed(checkov_cmd(CORPUS), ck_out, args.repeat, env)
        load_checkov(ck_out, index, CORPUS)
    # Cross-file checks -- Shieldwall's set checks and checkov's graph (CKV2) checks -- resolve references
    # across the whole corpus in the single run; evaluate them one example folder at a time instead, as a
    # scan of that example alone would. Shieldwall: every case (library call, fast). checkov: the cases of the
    # cross-file categories and every case where a graph check fired in the corpus run.
    for case in cases:
        shieldwall_set_checks(case)
        graph = any(c.startswith("CKV2_") for c in case.ck)
        if not args.skip_checkov and (case.group in SET_GROUPS or graph):
            single = WORK / "checkov-case.json"
            timed(checkov_cmd(CORPUS / case.folder), single, 1, env)
            case.ck = {c for c in case.ck if not c.startswith("CKV2_")} | graph_checks(single)
    rows, pairwise, high_on_good, misses = evaluate(cases)
    result = {
        "cases": len(cases),
        "files": files,
        "shieldwall_seconds": sw_times,
        "checkov_seconds": ck_times,
        "rows": {k: vars(v) for k, v in sorted(rows.items())},
        "pairwise": pairwise,
        "high_on_good": high_on_good,
        "checkov_misses_by_shieldwall": misses,
        "checkov_unmapped": unmapped_checkov(cases),
        "cases_detail": [vars(c) | {"ck": sorted(c.ck)} for c in cases],
    }
    (WORK / "results.json").write_text(json.dumps(result, indent=1, default=sorted))
    write_markdown(result)
    print(f"{len(cases)} cases, shieldwall {statistics.median(sw_times):.2f}s, "
          f"checkov {statistics.median(ck_times) if ck_times else float('nan'):.2f}s, "
          f"checkov-only misses {len(misses)}, HIGH+ on good {sum(high_on_good.values())}")  # fmt: skip


def write_markdown(result: dict[str, object]) -> None:
    from write_results import render

    (HERE / "RESULTS.md").write_text(render(result))


if __name__ == "__main__":
    main()
