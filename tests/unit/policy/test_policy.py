"""Policies: conditions, all/any/not, overrides, empty policies, and the gate's verdict."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from helpers.sample_result import sample_result
from shieldwall.config.yamlsource import load_yaml
from shieldwall.errors import ConfigError
from shieldwall.model import Evidence, Finding, FindingKind, Severity, Suppression, VulnDetails
from shieldwall.policy import compile_policy, evaluate_gate, fail_on_policy, load_baseline, load_policy_file
from shieldwall.policy.baseline import Baseline


def policy(text: str):  # type: ignore[no-untyped-def]
    doc = load_yaml(text, "policy.yaml")
    return compile_policy(doc.data, doc)


def vuln(rule: str, severity: Severity, *, fixed: str = "", kev: bool = False, epss: float | None = None) -> Finding:
    return Finding(
        FindingKind.VULNERABILITY,
        rule,
        rule,
        severity,
        vuln=VulnDetails("1.0", fixed, kev=kev, epss_score=epss),
    )


SECRET = Finding(FindingKind.SECRET, "aws-key", "key", Severity.LOW)
MALWARE = Finding(FindingKind.MALWARE, "eicar", "eicar", Severity.LOW)
MISCONF_HIGH = Finding(FindingKind.MISCONFIG, "DS002", "root", Severity.HIGH)
MISCONF_LOW = Finding(FindingKind.MISCONFIG, "DS026", "healthcheck", Severity.LOW)
GPL = Finding(
    FindingKind.LICENSE,
    "license:GPL-2.0-only",
    "gpl",
    Severity.HIGH,
    evidence=(Evidence("license-policy", "", "GPL-2.0-only", details=(("license", "GPL-2.0-only"),)),),
)


@pytest.mark.parametrize(
    ("condition", "matches", "misses"),
    [
        ("severity: high", [vuln("a", Severity.CRITICAL), MISCONF_HIGH], [vuln("b", Severity.MEDIUM), SECRET]),
        ("{severity: high, fixable: true}", [vuln("a", Severity.HIGH, fixed="2")], [vuln("b", Severity.HIGH)]),
        ("kev: true", [vuln("a", Severity.LOW, kev=True)], [vuln("b", Severity.CRITICAL)]),
        (
            "epss_above: 0.5",
            [vuln("a", Severity.LOW, epss=0.7)],
            [vuln("b", Severity.LOW, epss=0.5), vuln("c", Severity.LOW)],
        ),
        ("secret: true", [SECRET], [MALWARE]),
        ("malware: true", [MALWARE], [SECRET]),
        ("misconfig: high", [MISCONF_HIGH], [MISCONF_LOW, vuln("a", Severity.CRITICAL)]),
        ("license: [GPL-*, AGPL-*]", [GPL], [MISCONF_HIGH]),
        ("license: [AGPL-*]", [], [GPL]),
        ("kind: [secret, malware]", [SECRET, MALWARE], [GPL]),
        ("id: CVE-2024-*", [vuln("CVE-2024-1", Severity.LOW)], [vuln("CVE-2023-1", Severity.LOW)]),
        ("not: {severity: low}", [vuln("u", Severity.UNKNOWN)], [SECRET]),
        ("all: [{severity: high}, {kev: true}]", [vuln("a", Severity.HIGH, kev=True)], [vuln("b", Severity.HIGH)]),
        ("any: [{secret: true}, {kev: true}]", [SECRET, vuln("a", Severity.LOW, kev=True)], [MALWARE]),
    ],
)
def test_conditions(condition: str, matches: list[Finding], misses: list[Finding]) -> None:
    compiled = policy(f"fail_when:\n  {condition}\n" if not condition.startswith("{") else f"fail_when: {condition}\n")
    for finding in matches:
        assert compiled.condition.matches(finding), (condition, finding.rule_id)
    for finding in misses:
        assert not compiled.condition.matches(finding), (condition, finding.rule_id)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{}", "policy.yaml:1: the policy is empty"),
        ("name: x\n", "has no fail_when conditions"),
        ("fail_when: {}\n", "policy.yaml:1: an empty condition"),
        ("fail_when:\n  any: []\n", "policy.yaml:2: any: an empty list"),
        ("fail_when:\n  any:\n    - severity: hgh\n", "policy.yaml:3: fail_when.any.0.severity"),
        ("fail_when:\n  severity: high\n  colour: red\n", "policy.yaml:3: fail_when.colour: unknown key"),
        ("fail_when:\n  epss_above: 2\n", "fail_when.epss_above"),
        ("overrides:\n  - target: x\n    fail_when: {}\nfail_when: {kev: true}\n", "policy.yaml:3: an empty condition"),
    ],
)
def test_invalid_and_empty_policies_are_errors(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        policy(text)
    assert needle in str(info.value)


def test_empty_policy_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("# nothing\n")
    with pytest.raises(ConfigError, match="empty policy is an error"):
        load_policy_file(tmp_path / "p.yaml")
    (tmp_path / "p.yaml").write_text("policy:\n  fail_when:\n    kev: true\n")
    assert load_policy_file(tmp_path / "p.yaml").condition.describe() == "in KEV"


def test_gate_on_sample() -> None:
    result = sample_result()
    verdict = evaluate_gate(result, [fail_on_policy(Severity.CRITICAL)])
    # the CRITICAL urllib3 vulnerability is suppressed by VEX: only the secret fails
    assert not verdict.passed and [f.rule_id for f in verdict.failures] == ["aws-access-key-id"]
    assert verdict.suppressed == 3 and verdict.active == 4
    assert evaluate_gate(result, []).passed


def test_override_by_target_glob() -> None:
    compiled = policy(
        "fail_when: {severity: low}\noverrides:\n  - target: 'example/*'\n    fail_when: {malware: true}\n"
    )
    result = sample_result()
    verdict = evaluate_gate(result, [compiled])
    assert [f.rule_id for f in verdict.failures] == ["EICAR-Test-File"]
    other = replace(result, target=replace(result.target, name="other", tags=()))
    assert len(evaluate_gate(other, [compiled]).failures) == 4


def test_failure_reason_names_the_branch() -> None:
    compiled = policy("fail_when:\n  any:\n    - kev: true\n    - name: no secrets\n      secret: true\n")
    verdict = evaluate_gate(sample_result(), [compiled])
    assert {f.reason for f in verdict.failures} == {"no secrets"}


def test_license_patterns_collected() -> None:
    compiled = policy(
        "fail_when:\n  any: [{license: [GPL-*]}, {not: {license: [SSPL-*]}}]\n"
        "overrides:\n  - target: x\n    fail_when: {license: AGPL-*}\n"
    )
    assert set(compiled.license_patterns()) == {"GPL-*", "SSPL-*", "AGPL-*"}


def test_baseline_only_new_findings_fail(tmp_path: Path) -> None:
    from shieldwall.report.json_report import render_json

    result = sample_result()
    previous = tmp_path / "previous.json"
    previous.write_text(render_json(result))
    baseline = load_baseline(previous)
    verdict = evaluate_gate(result, [fail_on_policy(Severity.LOW)], baseline)
    assert verdict.passed and verdict.baseline_known == 4
    new = Finding(FindingKind.SECRET, "github-pat", "token", Severity.HIGH)
    grown = replace(result, findings=(*result.findings, new))
    verdict = evaluate_gate(grown, [fail_on_policy(Severity.LOW)], baseline)
    assert [f.rule_id for f in verdict.failures] == ["github-pat"]
    assert verdict.new_fingerprints == {new.fingerprint}


def test_baseline_matches_by_fingerprint_not_line() -> None:
    finding = sample_result().findings[2]
    moved = replace(finding, location=replace(finding.location, line=99, column=1))  # type: ignore[arg-type]
    assert moved.fingerprint == finding.fingerprint
    verdict = evaluate_gate(
        replace(sample_result(), findings=(moved,)),
        [fail_on_policy(Severity.LOW)],
        Baseline("b", frozenset({finding.fingerprint})),
    )
    assert verdict.passed


@pytest.mark.parametrize("content", ["not json", '{"findings": []}', '{"schema_version": "1.0", "findings": [{}]}'])
def test_bad_baseline_is_input_error(tmp_path: Path, content: str) -> None:
    from shieldwall.errors import InputError

    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(InputError):
        load_baseline(path)


def test_suppressed_findings_never_gate() -> None:
    finding = replace(SECRET, suppressions=(Suppression("exception", "f:1", "test key"),))
    result = replace(sample_result(), findings=(finding,))
    verdict = evaluate_gate(result, [fail_on_policy(Severity.UNKNOWN)])
    assert verdict.passed and verdict.suppressed == 1
