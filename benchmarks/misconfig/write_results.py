"""Render benchmarks/misconfig/RESULTS.md from results.json (run.py calls this after a run).

.venv/bin/python benchmarks/misconfig/write_results.py     # re-render from benchmarks/work/misconfig/results.json
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from categories import GROUPS, KUBESCAPE, TRIVY  # noqa: E402
from notes import NOTES  # noqa: E402

HIGH = ("HIGH", "CRITICAL")


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render(result: dict[str, object]) -> str:
    """The Markdown report."""
    cases: list[dict[str, object]] = result["cases_detail"]  # type: ignore[assignment]
    sw_t: list[float] = result["shieldwall_seconds"]  # type: ignore[assignment]
    ck_t: list[float] = result["checkov_seconds"]  # type: ignore[assignment]
    rows: dict[str, dict[str, object]] = result["rows"]  # type: ignore[assignment]
    by_source = Counter(f"{c['source']}/{str(c['category']).split('/')[0] if c['source'] == 'trivy' else 'k8s'}"
                        for c in cases)  # fmt: skip
    expected = Counter(str(c["expected"]) for c in cases)
    sw_med = statistics.median(sw_t)
    ck_med = statistics.median(ck_t) if ck_t else float("nan")

    def flagged(case: dict[str, object], tool: str) -> bool:
        sw_ids, ck_ids = GROUPS[str(case["group"])]
        found = set(case["sw"]) if tool == "sw" else set(case["ck"])  # type: ignore[call-overload]
        return bool(found & set(sw_ids if tool == "sw" else ck_ids))

    bad = [c for c in cases if c["expected"] == "bad"]
    good = [c for c in cases if c["expected"] == "good"]
    ck_only_bad = [c for c in bad if flagged(c, "ck") and not flagged(c, "sw")]
    ck_only_good = [c for c in good if flagged(c, "ck") and not flagged(c, "sw")]
    own_high_good = [
        c
        for c in good
        if any(c["sw"].get(r) in HIGH for r in GROUPS[str(c["group"])][0])  # type: ignore[attr-defined]
    ]
    any_high_good = [c for c in good if any(v in HIGH for v in c["sw"].values())]  # type: ignore[attr-defined]
    high_rules = Counter(r for c in any_high_good for r, v in c["sw"].items() if v in HIGH)  # type: ignore[attr-defined]

    out = ["# Misconfiguration checks: known answers and checkov comparison", ""]
    out += [NOTES["intro"], ""]
    out += ["## How to run", "", NOTES["commands"], ""]
    out += ["## Corpus", ""]
    out += [_table(["source", "examples"], [[k, v] for k, v in sorted(by_source.items())]), ""]
    out += [
        f"{len(cases)} examples in {result['files']} files: {expected['bad']} must-flag, {expected['good']} "
        f"must-not-flag, {expected.get('review', 0)} kubescape 'please validate' review items (a value is set and "
        "kubescape asks a human to confirm it; counted as neither).",
        "",
    ]
    out += ["## The bar", ""]
    out += [
        _table(
            ["criterion", "result"],
            [
                ["must-flag examples checkov flags and Shieldwall misses (same category)", len(ck_only_bad)],
                ["HIGH/CRITICAL from the category's own checks on must-not-flag examples", len(own_high_good)],
                [
                    f"wall time, Shieldwall vs checkov (one run over the whole corpus, median of {len(sw_t)})",
                    f"{sw_med:.1f} s vs {ck_med:.1f} s ({100 * sw_med / ck_med:.0f}%)",
                ],
            ],
        ),
        "",
    ]
    if ck_only_bad:
        out += ["Must-flag examples checkov flags and Shieldwall does not:", ""]
        out += [f"- `{c['folder']}` ({c['group']})" for c in ck_only_bad] + [""]
    out += [NOTES["bar"], ""]
    sw_bad = sum(flagged(c, "sw") for c in bad)
    sw_good = sum(flagged(c, "sw") for c in good)
    mapped_ck = [c for c in cases if GROUPS[str(c["group"])][1]]
    ck_bad = sum(flagged(c, "ck") for c in bad if c in mapped_ck)
    ck_good = sum(flagged(c, "ck") for c in good if c in mapped_ck)
    out += ["## Totals", ""]
    out += [
        _table(
            ["", "Shieldwall", "checkov (categories it has a check for)"],
            [
                [
                    "must-flag examples flagged",
                    f"{sw_bad} / {len(bad)}",
                    f"{ck_bad} / {sum(1 for c in bad if c in mapped_ck)}",
                ],
                [
                    "must-not-flag examples flagged (same category)",
                    f"{sw_good} / {len(good)}",
                    f"{ck_good} / {sum(1 for c in good if c in mapped_ck)}",
                ],
                ["must-not-flag examples with any HIGH/CRITICAL finding (any check)", len(any_high_good), "n/a"],
            ],
        ),
        "",
    ]
    out += [
        f"Checkov flags {len(ck_only_good)} must-not-flag examples that Shieldwall (correctly) leaves alone; see "
        "'Where the tools disagree'.",
        "",
        "HIGH/CRITICAL findings on must-not-flag examples, by check (each a real problem of another category in the "
        "same example):",
        "",
    ]
    out += [f"- {rule}: {n}" for rule, n in high_rules.most_common()] + [""]
    missed = [c for c in bad if not flagged(c, "sw")]
    out += ["Must-flag examples Shieldwall does not flag (checkov flags none of them):", ""]
    out += [f"- `{c['folder']}`" for c in missed] + ["", NOTES["misses"], ""]
    out += ["## Per category", ""]
    out += [
        "Counts per example category: must-flag examples flagged / total, must-not-flag examples flagged / total "
        "(by the checks of that category), HIGH+ of those on must-not-flag, and the same for checkov where it has "
        "an equivalent check ('-' when it has none).",
        "",
    ]
    table_rows: list[list[object]] = []
    for name, row in sorted(rows.items()):
        ck = row["checkov_has"]
        table_rows.append(
            [
                name,
                ", ".join(GROUPS[_group(name)][0]),
                f"{row['sw_bad']}/{row['bad']}",
                f"{row['sw_good']}/{row['good']}",
                row["sw_good_high"],
                f"{row['ck_bad']}/{row['bad']}" if ck else "-",
                f"{row['ck_good']}/{row['good']}" if ck else "-",
                row["review"] or "",
            ]
        )
    out += [
        _table(
            [
                "category",
                "Shieldwall checks",
                "SW bad",
                "SW good",
                "SW HIGH+ on good",
                "checkov bad",
                "checkov good",
                "review",
            ],
            table_rows,
        ),
        "",
    ]
    out += ["## Where the tools disagree", ""]
    out += [
        "Every equivalence group evaluated on every example of the corpus (not only its own category): examples "
        "where both tools flag, only checkov, only Shieldwall.",
        "",
    ]
    pairwise: dict[str, list[int]] = result["pairwise"]  # type: ignore[assignment]
    out += [
        _table(
            ["group", "Shieldwall", "checkov", "both", "checkov only", "Shieldwall only"],
            [[g, ", ".join(GROUPS[g][0]), ", ".join(GROUPS[g][1]), *v] for g, v in sorted(pairwise.items())],
        ),
        "",
    ]
    ck_only = [
        (g, str(c["folder"]))
        for c in cases
        for g, (sw_ids, ck_ids) in GROUPS.items()
        if ck_ids and set(c["ck"]) & set(ck_ids) and not set(c["sw"]) & set(sw_ids)  # type: ignore[call-overload]
    ]
    in_args = sum(1 for _, folder in ck_only if folder.rsplit("/", 1)[-1].startswith("rke2-args"))
    rest = Counter(g for g, folder in ck_only if not folder.rsplit("/", 1)[-1].startswith("rke2-args"))
    out += [
        f"{len(ck_only)} (group, example) pairs where only checkov flags: {in_args} on examples that pass the "
        "control-plane flags in `args`; the rest by group: "
        + ", ".join(f"{g} {n}" for g, n in sorted(rest.items()))
        + ".",
        "",
    ]
    out += [NOTES["disagree"], ""]
    unmapped: dict[str, int] = result["checkov_unmapped"]  # type: ignore[assignment]
    out += ["checkov checks that fired with no Shieldwall counterpart in the groups: "
            + (", ".join(f"{k} ({v})" for k, v in unmapped.items()) or "none") + ".", ""]  # fmt: skip
    out += ["## Not covered", "", NOTES["not_covered"], ""]
    out += [f"Covered: {len(TRIVY)} trivy-checks categories, {len(KUBESCAPE)} kubescape rules.", ""]
    return "\n".join(out)


def _group(row_name: str) -> str:
    source, _, category = row_name.partition(":")
    return TRIVY[category] if source == "trivy" else KUBESCAPE[category]


def main() -> None:
    result = json.loads((HERE.parents[1] / "benchmarks" / "work" / "misconfig" / "results.json").read_text())
    (HERE / "RESULTS.md").write_text(render(result))


if __name__ == "__main__":
    main()
