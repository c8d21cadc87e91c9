"""Compliance frameworks as data, their consistency with the checks, and the per-control verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shieldwall.errors import ConfigError
from shieldwall.misconfig.compliance import (
    Status,
    evaluate,
    framework_ids,
    inputs_in_directory,
    load_framework,
    report_json,
)
from shieldwall.misconfig.inputs import builtin_parsers
from shieldwall.misconfig.registry import CheckConfig, builtin_checks, load_checks
from shieldwall.model import (
    Evidence,
    Finding,
    FindingKind,
    Location,
    Package,
    PackageType,
    ScanResult,
    ScanWarning,
    Severity,
    Target,
    TargetKind,
    TargetRef,
)

CHECKS = load_checks(CheckConfig(include_plugins=False))


def test_bundled_frameworks() -> None:
    ids = framework_ids()
    for wanted in ("cis-docker-1.6", "cis-kubernetes-1.23", "k8s-pss-restricted", "nsa-cisa", "nist-800-190"):
        assert wanted in ids
    for name in ids:
        framework = load_framework(name)
        assert framework.controls and framework.id == name
        assert len({c.id for c in framework.controls}) == len(framework.controls)


def test_every_declared_control_is_listed_with_its_check() -> None:
    frameworks = {name: {c.id: set(c.checks) for c in load_framework(name).controls} for name in framework_ids()}
    missing = []
    for item in builtin_checks():
        for ref in item.controls:
            framework, _, control = ref.partition(":")
            if framework in frameworks and item.id not in frameworks[framework].get(control, set()):
                missing.append(f"{item.id} -> {ref}")
    assert not missing, "add these check IDs to the framework YAML: " + ", ".join(missing)


def test_listed_check_ids_exist() -> None:
    known = {c.id for c in builtin_checks()}
    for name in framework_ids():
        for control in load_framework(name).controls:
            unknown = [c for c in control.checks if not c.startswith(("finding:", "event:")) and c not in known]
            assert not unknown, f"{name} {control.id}: unknown checks {unknown}"


def test_unknown_framework_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown framework"):
        load_framework("cis-nonsense")
    bad = tmp_path / "fw.yaml"
    bad.write_text("id: x\ncontrols: oops\n")
    with pytest.raises(ConfigError):
        load_framework(str(bad))


def _misconfig(rule: str, suppressed: str = "") -> Finding:
    evidence = Evidence("shieldwall-misconfig", rule, "x", details=(("input", "dockerfile"),))
    return Finding(
        FindingKind.MISCONFIG, rule, "t", Severity.HIGH, Location("/Dockerfile", None, 3), evidence=(evidence,),
        suppressed=suppressed,
    )  # fmt: skip


def test_pass_fail_and_not_applicable() -> None:
    framework = load_framework("cis-docker-1.6")
    result = ScanResult(
        target=Target(TargetRef(TargetKind.DIRECTORY, "/src"), "/src"),
        findings=(
            _misconfig("SW-DF-002"),
            _misconfig("SW-DF-005", suppressed="vendored tarball, checksum verified"),
            Finding(FindingKind.VULNERABILITY, "CVE-2024-0001", "t", Severity.CRITICAL),
        ),
    )
    report = evaluate(framework, result, CHECKS, {"dockerfile"}, {"misconfig", "vuln"})
    status = {r.control.id: r for r in report.results}
    assert status["4.1"].status is Status.FAIL and [f.rule_id for f in status["4.1"].findings] == ["SW-DF-002"]
    assert status["4.9"].status is Status.PASS and len(status["4.9"].suppressed) == 1
    assert status["4.6"].status is Status.PASS
    assert status["4.4"].status is Status.FAIL  # the critical vulnerability selector
    assert status["4.5"].status is Status.NOT_APPLICABLE and "manual" in status["4.5"].reason
    assert status["5.31"].status is Status.NOT_APPLICABLE  # runtime controls need compose input
    passed, failed = report.count(Status.PASS), report.count(Status.FAIL)
    assert report.percent == round(100 * passed / (passed + failed), 1)
    data = json.loads(report_json(report))
    assert data["summary"]["fail"] == failed and data["controls"][0]["id"] == "4.1"


def test_inputs_in_a_directory(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\nUSER app\n")
    (tmp_path / "values.yaml").write_text("replicas: 2\n")
    assert inputs_in_directory(tmp_path, builtin_parsers()) == {"dockerfile"}
    (tmp_path / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
    assert inputs_in_directory(tmp_path, builtin_parsers()) == {"dockerfile", "kubernetes"}


def _image(*findings: Finding, warnings: tuple = (), packages: tuple = ()) -> ScanResult:
    return ScanResult(
        target=Target(TargetRef(TargetKind.DOCKER_ARCHIVE, "/img.tar"), "img"),
        findings=findings,
        warnings=warnings,
        packages=packages,
    )


def _pkg() -> Package:
    return Package(PackageType.PYPI, "jinja2", "2.7.1", "pkg:pypi/jinja2@2.7.1")


def test_a_vulnerability_control_without_packages_is_not_a_pass() -> None:
    framework = load_framework("cis-docker-1.6")
    report = evaluate(framework, _image(), CHECKS, {"image-config"}, {"misconfig", "vuln"})
    assert {r.control.id: r for r in report.results}["4.4"].status is Status.NOT_APPLICABLE
    with_packages = evaluate(framework, _image(packages=(_pkg(),)), CHECKS, {"image-config"}, {"misconfig", "vuln"})
    assert {r.control.id: r for r in with_packages.results}["4.4"].status is Status.PASS


def test_packages_not_evaluated_turn_the_vulnerability_control_into_error() -> None:
    framework = load_framework("cis-docker-1.6")
    gap = ScanWarning("vulnerability", "not evaluated: 1 package(s): no vulnerability database at /x")
    report = evaluate(framework, _image(warnings=(gap,), packages=(_pkg(),)), CHECKS, set(), {"misconfig", "vuln"})
    control = {r.control.id: r for r in report.results}["4.4"]
    assert control.status is Status.ERROR and "not evaluated" in control.reason
    assert report.percent == 0.0  # an error is never counted as a pass


def test_a_file_that_failed_to_parse_makes_its_controls_errors() -> None:
    framework = load_framework("cis-docker-1.6")
    broken = ScanWarning("misconfig", "Dockerfile: unterminated heredoc", "/src/Dockerfile")
    result = ScanResult(target=Target(TargetRef(TargetKind.DIRECTORY, "/src"), "/src"), warnings=(broken,))
    report = evaluate(framework, result, CHECKS, {"dockerfile"}, {"misconfig"})
    status = {r.control.id: r for r in report.results}
    assert status["4.6"].status is Status.ERROR and "unterminated heredoc" in status["4.6"].reason
    assert status["4.5"].status is Status.NOT_APPLICABLE  # a manual control stays what it is
    assert json.loads(report_json(report))["summary"]["error"] == report.count(Status.ERROR) > 0


def test_host_file_controls_do_not_apply_to_images() -> None:
    framework = load_framework("cis-docker-1.6")
    host = Finding(
        FindingKind.MISCONFIG, "SW-HOST-DOCKER-001", "t", Severity.MEDIUM, Location("/etc/docker/daemon.json"),
        evidence=(Evidence("shieldwall-misconfig", "SW-HOST-DOCKER-001", "x", details=(("input", "host"),)),),
    )  # fmt: skip
    report = evaluate(framework, _image(host), CHECKS, {"host", "image-config"}, {"misconfig"})
    control = {r.control.id: r for r in report.results}["2.2"]
    assert control.status is Status.NOT_APPLICABLE and "does not apply to images" in control.reason
    on_a_host = ScanResult(target=Target(TargetRef(TargetKind.DIRECTORY, "/"), "/"), findings=(host,))
    assert {r.control.id: r for r in evaluate(framework, on_a_host, CHECKS, {"host"}, {"misconfig"}).results}[
        "2.2"
    ].status is Status.FAIL


def test_an_empty_target_has_no_score() -> None:
    framework = load_framework("cis-docker-1.6")
    empty = ScanResult(target=Target(TargetRef(TargetKind.DIRECTORY, "/empty"), "/empty"))
    report = evaluate(framework, empty, CHECKS, set(), {"misconfig", "secret", "vuln"})
    assert report.count(Status.PASS) == 0 and report.percent is None
    assert json.loads(report_json(report))["summary"]["percent"] is None
