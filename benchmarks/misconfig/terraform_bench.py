"""Terraform known-answer benchmark: trivy-checks' good/bad Terraform examples, Shieldwall vs checkov.

Builds a corpus of the AWS, Google and Azure example categories Shieldwall covers
(``terraform_categories.TF_GROUPS``; one folder per example holding ``main.tf``), scans it once with
Shieldwall and once with checkov (its own venv), and reports per category how many must-flag examples
each tool flags with the category's checks, how many must-not-flag examples it flags, every
HIGH/CRITICAL Shieldwall finding on a must-not-flag example (any check), the examples checkov flags and
Shieldwall misses, and the wall time of both runs.

    .venv/bin/python benchmarks/misconfig/terraform_bench.py              # build, run both, write results
    .venv/bin/python benchmarks/misconfig/terraform_bench.py --repeat 3   # median wall time of 3 runs each
    .venv/bin/python benchmarks/misconfig/terraform_bench.py --write-only # re-render from the last results

Results: benchmarks/misconfig/RESULTS-terraform.md (full report) and a summary section between the
``terraform-bench`` markers of benchmarks/misconfig/RESULTS.md (the rest of that file belongs to run.py).
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
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from terraform_categories import TF_GROUPS  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "misconfig" / "trivy-checks" / "checks" / "cloud"
WORK = ROOT / "benchmarks" / "work" / "misconfig-tf"
CORPUS = WORK / "corpus"
CHECKOV = ROOT / "benchmarks" / "work" / "checkov-venv" / "bin" / "checkov"
HIGH = ("HIGH", "CRITICAL")
RANK = {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}
START, END = "<!-- terraform-bench:start -->", "<!-- terraform-bench:end -->"

# Good examples where Shieldwall's HIGH finding is, on review, right and the example wrong.
DISPUTED = {
    "google/compute/no_open_rdp_access/good-2": "source_ranges 0.0.0.0/0 with source_tags: GCP admits traffic "
    "matching either list, so TCP 3380-3390 (RDP) stays open to the internet.",
}


def build_corpus() -> list[dict[str, Any]]:
    """One folder per example of every covered category."""
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    cases: list[dict[str, Any]] = []
    for category in sorted(TF_GROUPS):
        raw = yaml.safe_load((DATA / f"{category}.yaml").read_text())
        examples = raw.get("terraform") or {}
        for expected in ("bad", "good"):
            for index, text in enumerate(examples.get(expected) or []):
                folder = CORPUS / category / f"{expected}-{index}"
                folder.mkdir(parents=True)
                (folder / "main.tf").write_text(text + "\n")
                cases.append({"category": category, "expected": expected, "folder": f"{category}/{expected}-{index}",
                              "sw": {}, "ck": []})  # fmt: skip
    return cases


def timed(cmd: list[str], out: Path, repeat: int, env: dict[str, str] | None = None) -> list[float]:
    """Run ``cmd`` ``repeat`` times with stdout to ``out``; the wall seconds of each run."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with out.open("w") as handle:
            subprocess.run(cmd, stdout=handle, stderr=subprocess.DEVNULL, check=False, env=env)
        times.append(time.perf_counter() - start)
    return times


def _case_of(path: str, index: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    folder = path.strip("/").rsplit("/", 1)[0]
    if folder.startswith(str(CORPUS).strip("/")):
        folder = folder[len(str(CORPUS).strip("/")) :].strip("/")
    return index.get(folder)


def load_shieldwall(out: Path, index: dict[str, dict[str, Any]]) -> None:
    for finding in json.loads(out.read_text()).get("findings", []):
        if finding.get("suppressed") or finding.get("kind") not in (None, "misconfig"):
            continue
        case = _case_of(finding["location"]["path"], index)
        if case is None:
            continue
        sw: dict[str, str] = case["sw"]
        rule, severity = finding["rule_id"], finding["severity"]
        if RANK[severity] >= RANK.get(sw.get(rule, "UNKNOWN"), 0):
            sw[rule] = severity


def load_checkov(out: Path, index: dict[str, dict[str, Any]]) -> None:
    text = out.read_text().strip()
    if not text:
        return
    data = json.loads(text)
    for framework in data if isinstance(data, list) else [data]:
        for failed in framework.get("results", {}).get("failed_checks", []):
            case = _case_of(failed["file_path"], index)
            if case is not None:
                ck: list[str] = case["ck"]
                ck.append(failed["check_id"])


def evaluate(cases: list[dict[str, Any]]) -> dict[str, Any]:
    rows: dict[str, dict[str, int]] = defaultdict(Counter)
    misses, high_good, sw_only = [], [], []
    by_provider: dict[str, Counter[str]] = defaultdict(Counter)
    for case in cases:
        category = str(case["category"])
        sw_ids, ck_ids = TF_GROUPS[category]
        found_sw = set(case["sw"]) & set(sw_ids)
        found_ck = set(case["ck"]) & set(ck_ids)
        row = rows[category]
        provider = category.split("/")[0]
        kind = str(case["expected"])
        row[kind] += 1
        row[f"sw_{kind}"] += bool(found_sw)
        row[f"ck_{kind}"] += bool(found_ck)
        by_provider[provider][kind] += 1
        by_provider[provider][f"sw_{kind}"] += bool(found_sw)
        by_provider[provider][f"ck_{kind}"] += bool(found_ck)
        if ck_ids:
            by_provider[provider][f"ck_mapped_{kind}"] += 1
        if found_ck and not found_sw:
            row["ck_only"] += 1
            by_provider[provider]["ck_only"] += 1
            if kind == "bad":
                misses.append(f"{case['folder']} (checkov {sorted(found_ck)})")
        if found_sw and not found_ck and ck_ids:
            row["sw_only"] += 1
            by_provider[provider]["sw_only"] += 1
            sw_only.append(str(case["folder"]))
        if kind == "good":
            sw: dict[str, str] = case["sw"]
            for rule, severity in sorted(sw.items()):
                if severity in HIGH:
                    high_good.append({"folder": case["folder"], "rule": rule, "severity": severity,
                                      "disputed": DISPUTED.get(str(case["folder"]), "")})  # fmt: skip
    return {"rows": rows, "misses": misses, "high_on_good": high_good, "by_provider": by_provider, "sw_only": sw_only}


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def render(result: dict[str, Any]) -> tuple[str, str]:
    """(the full report, the summary section for RESULTS.md)."""
    sw_t: list[float] = result["shieldwall_seconds"]
    ck_t: list[float] = result["checkov_seconds"]
    sw_med = statistics.median(sw_t)
    ck_med = statistics.median(ck_t) if ck_t else float("nan")
    rows: dict[str, dict[str, int]] = result["rows"]
    providers: dict[str, dict[str, int]] = result["by_provider"]
    misses: list[str] = result["misses"]
    high: list[dict[str, str]] = result["high_on_good"]
    undisputed = [h for h in high if not h["disputed"]]
    totals = Counter[str]()
    for counts in providers.values():
        totals.update(counts)
    summary = [
        "## Terraform (AWS, Google, Azure)",
        "",
        "Written by `benchmarks/misconfig/terraform_bench.py` (full report: `RESULTS-terraform.md`). Corpus: the "
        f"Terraform good/bad examples of the {len(rows)} trivy-checks categories (cloud/aws, cloud/google, "
        f"cloud/azure) that Shieldwall's Terraform checks cover; {result['cases']} examples, one folder each, "
        "both tools scan the whole corpus in one run.",
        "",
        _table(
            ["", "Shieldwall", "checkov"],
            [
                [
                    "must-flag examples flagged (category's checks)",
                    f"{totals['sw_bad']} / {totals['bad']}",
                    f"{totals['ck_bad']} / {totals['ck_mapped_bad']} (categories it has a check for)",
                ],
                [
                    "must-not-flag examples flagged (category's checks)",
                    f"{totals['sw_good']} / {totals['good']}",
                    f"{totals['ck_good']} / {totals['ck_mapped_good']}",
                ],
                ["must-flag examples checkov flags and Shieldwall misses", len(misses), ""],
                [
                    "HIGH/CRITICAL on must-not-flag examples (any check)",
                    f"{len(high)} ({len(undisputed)} after review)",
                    "n/a",
                ],
                [f"wall time (median of {len(sw_t)})", f"{sw_med:.1f} s", f"{ck_med:.1f} s"],
                ["Shieldwall / checkov wall time", f"{100 * sw_med / ck_med:.0f}%", ""],
            ],
        ),
        "",
    ]
    if high:
        summary += ["HIGH/CRITICAL findings on must-not-flag examples:", ""]
        summary += [f"- `{h['folder']}`: {h['rule']} {h['severity']}" + (f" -- disputed: {h['disputed']}"
                    if h["disputed"] else "") for h in high]  # fmt: skip
        summary += [""]
    full = ["# Terraform checks: known answers and checkov comparison", "", *summary[2:]]
    full[2] = full[2].replace(" (full report: `RESULTS-terraform.md`)", "")
    full += ["## By provider", ""]
    full += [
        _table(
            ["provider", "SW bad", "SW good", "checkov bad", "checkov good", "checkov only", "Shieldwall only"],
            [
                [
                    p,
                    f"{c.get('sw_bad', 0)}/{c.get('bad', 0)}",
                    f"{c.get('sw_good', 0)}/{c.get('good', 0)}",
                    f"{c.get('ck_bad', 0)}/{c.get('ck_mapped_bad', 0)}",
                    f"{c.get('ck_good', 0)}/{c.get('ck_mapped_good', 0)}",
                    c.get("ck_only", 0),
                    c.get("sw_only", 0),
                ]
                for p, c in sorted(providers.items())
            ],
        ),
        "",
        "'checkov only' / 'Shieldwall only': examples (good or bad) that one tool flags with the category's checks "
        "and the other does not, in categories where checkov has an equivalent check.",
        "",
        "## Per category",
        "",
    ]
    full += [
        _table(
            ["category", "Shieldwall checks", "checkov checks", "SW bad", "SW good", "checkov bad", "checkov good"],
            [
                [
                    cat,
                    ", ".join(TF_GROUPS[cat][0]),
                    ", ".join(TF_GROUPS[cat][1]) or "-",
                    f"{r.get('sw_bad', 0)}/{r.get('bad', 0)}",
                    f"{r.get('sw_good', 0)}/{r.get('good', 0)}",
                    f"{r.get('ck_bad', 0)}/{r.get('bad', 0)}" if TF_GROUPS[cat][1] else "-",
                    f"{r.get('ck_good', 0)}/{r.get('good', 0)}" if TF_GROUPS[cat][1] else "-",
                ]
                for cat, r in sorted(rows.items())
            ],
        ),
        "",
        "## Notes",
        "",
        "- A must-not-flag example counts as flagged when a check of its own category fires. Examples are good or "
        "bad for one property only, so other checks firing on them is expected (an S3 example about versioning has "
        "no public access block); the HIGH/CRITICAL list above covers every check.",
        "- Shieldwall follows the CIS AWS Foundations threshold for password reuse (24 remembered passwords), so the "
        "trivy example that remembers 5 counts as flagged; checkov does the same.",
        "- checkov's CKV_GCP_37/38 ask for customer-supplied disk keys, the opposite of the plaintext-key "
        "category, so that category has no checkov equivalent.",
        "",
    ]
    return "\n".join(full), "\n".join(summary)


def write(result: dict[str, Any]) -> None:
    full, summary = render(result)
    (HERE / "RESULTS-terraform.md").write_text(full)
    results = HERE / "RESULTS.md"
    text = results.read_text() if results.exists() else ""  # re-read right before writing: run.py owns the rest
    block = f"{START}\n{summary}{END}\n"
    if START in text and END in text:
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        text = head + block + tail.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    results.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool; the median wall time is reported")
    parser.add_argument("--write-only", action="store_true", help="re-render from the last results.json")
    args = parser.parse_args()
    if args.write_only:
        write(json.loads((WORK / "results.json").read_text()))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    cases = build_corpus()
    index = {str(c["folder"]): c for c in cases}
    sw_out, ck_out = WORK / "shieldwall.json", WORK / "checkov.json"
    sw_cmd = [str(ROOT / ".venv" / "bin" / "python"), "-m", "shieldwall", "scan", f"dir:{CORPUS}", "--scanners",
              "misconfig", "--format", "json", "--quiet", "--no-cache"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    sw_times = timed(sw_cmd, sw_out, args.repeat, env)
    load_shieldwall(sw_out, index)
    ck_cmd = [str(CHECKOV), "-d", str(CORPUS), "--framework", "terraform", "-o", "json", "--quiet", "--skip-download"]
    ck_env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    ck_times = timed(ck_cmd, ck_out, args.repeat, ck_env)
    load_checkov(ck_out, index)
    result: dict[str, Any] = {"cases": len(cases), "shieldwall_seconds": sw_times, "checkov_seconds": ck_times}
    result |= evaluate(cases)
    result["cases_detail"] = cases
    (WORK / "results.json").write_text(json.dumps(result, indent=1, default=sorted))
    write(result)
    print(f"{len(cases)} examples; shieldwall {statistics.median(sw_times):.1f}s, checkov "
          f"{statistics.median(ck_times):.1f}s; checkov-only misses {len(result['misses'])}; "
          f"HIGH+ on good {len(result['high_on_good'])}")  # fmt: skip


if __name__ == "__main__":
    main()
