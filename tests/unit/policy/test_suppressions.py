"""Exceptions (with expiry) and VEX: suppress with the rule and reason kept, never drop."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from helpers.sample_result import REQUESTS, URLLIB3, sample_result
from shieldwall.errors import ConfigError, InputError
from shieldwall.model import Finding, ScanResult
from shieldwall.policy import apply_exceptions, apply_vex, load_exceptions, load_vex
from shieldwall.policy.purls import purl_matches, scope_matches

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "policy"
TODAY = dt.date(2026, 6, 1)


def unsuppressed() -> ScanResult:
    result = sample_result()
    return replace(result, findings=tuple(replace(f, suppressions=(), suppressed="") for f in result.findings))


def exceptions(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / ".shieldwallignore.yaml"
    path.write_text(text)
    return load_exceptions(path)


def by_rule(result: ScanResult) -> dict[str, Finding]:
    return {f.rule_id: f for f in result.findings}


def test_exception_suppresses_and_keeps_reason(tmp_path: Path) -> None:
    rules = exceptions(
        tmp_path,
        "exceptions:\n"
        "  - id: CVE-2023-32681\n"  # an alias of the GHSA finding
        "    packages: [pkg:pypi/requests]\n"
        "    reason: proxy redirects never used\n"
        "    by: alice@example.com\n"
        "    expires: 2026-12-31\n",
    )
    result, warnings = apply_exceptions(unsuppressed(), rules, TODAY)
    assert warnings == ()
    finding = by_rule(result)["GHSA-j8r2-6x86-q33q"]
    assert not finding.active
    (suppression,) = finding.suppressions
    assert suppression.kind == "exception" and suppression.author == "alice@example.com"
    assert suppression.reason == "proxy redirects never used" and suppression.expires == "2026-12-31"
    assert suppression.rule.endswith(".shieldwallignore.yaml:2")
    assert len(result.findings) == len(sample_result().findings)


def test_expired_exception_stops_suppressing_and_says_so(tmp_path: Path) -> None:
    rules = exceptions(
        tmp_path,
        "exceptions:\n  - id: aws-access-key-id\n    reason: test key\n    by: bob\n    expires: 2026-05-31\n",
    )
    result, warnings = apply_exceptions(unsuppressed(), rules, TODAY)
    assert by_rule(result)["aws-access-key-id"].active
    (warning,) = warnings
    assert "aws-access-key-id" in warning.message and "expired on 2026-05-31" in warning.message
    assert "1 finding(s) are active again" in warning.message
    assert warning in result.warnings
    # the last day still counts
    result, warnings = apply_exceptions(unsuppressed(), rules, dt.date(2026, 5, 31))
    assert not by_rule(result)["aws-access-key-id"].active and warnings == ()


def test_fingerprint_and_path_scope(tmp_path: Path) -> None:
    secret = by_rule(unsuppressed())["aws-access-key-id"]
    rules = exceptions(
        tmp_path,
        f"exceptions:\n  - fingerprint: {secret.fingerprint}\n    reason: r\n    by: b\n    expires: 2099-01-01\n"
        "  - id: DS002\n    paths: ['/k8s/*']\n    reason: r\n    by: b\n    expires: 2099-01-01\n",
    )
    result, warnings = apply_exceptions(unsuppressed(), rules, TODAY)
    assert not by_rule(result)["aws-access-key-id"].active
    assert by_rule(result)["DS002"].active  # /Dockerfile is outside /k8s/*
    assert [w.message for w in warnings] == ["exception DS002 matched no finding"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "exceptions:\n  - id: X\n    by: b\n    expires: 2026-01-01\n",
            ".shieldwallignore.yaml:2: exceptions.0.reason",
        ),
        ("exceptions:\n  - id: X\n    reason: r\n    expires: 2026-01-01\n", "exceptions.0.by"),
        ("exceptions:\n  - id: X\n    reason: r\n    by: b\n", "exceptions.0.expires"),
        ("exceptions:\n  - id: X\n    reason: r\n    by: b\n    expires: soon\n", "exceptions.0.expires"),
        ("exceptions:\n  - reason: r\n    by: b\n    expires: 2026-01-01\n", "needs an id or a fingerprint"),
        ("exceptions:\n  - id: X\n    reason: '  '\n    by: b\n    expires: 2026-01-01\n", "must not be blank"),
        (
            "exceptions:\n  - id: X\n    reason: r\n    by: b\n    expires: 2026-01-01\n    until: x\n",
            ".shieldwallignore.yaml:6: exceptions.0.until: unknown key",
        ),
        ("- id: X\n", "is a mapping"),
    ],
)
def test_invalid_exceptions(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        exceptions(tmp_path, text)
    assert needle in str(info.value)


def test_openvex_not_affected_with_justification_suppresses() -> None:
    statements = load_vex(FIXTURES / "openvex.json")
    assert [s.status for s in statements] == ["not_affected", "not_affected", "affected"]
    result, warnings = apply_vex(unsuppressed(), statements)
    ghsa = by_rule(result)["GHSA-j8r2-6x86-q33q"]  # matched through the statement's alias and subcomponent PURL
    assert not ghsa.active
    (suppression,) = ghsa.suppressions
    details = dict(suppression.statement)
    assert details["status"] == "not_affected" and details["justification"] == "vulnerable_code_not_in_execute_path"
    assert details["impact_statement"].startswith("The app never follows")
    assert suppression.author == "Example Security Team" and suppression.rule.endswith("openvex.json#0")
    # statement 1 has no justification: it does not suppress, and says so
    assert by_rule(result)["CVE-2018-20060"].active
    assert len(warnings) == 1 and "no justification" in warnings[0].message


def test_cyclonedx_vex_suppresses_by_bom_ref() -> None:
    result, _ = apply_vex(unsuppressed(), load_vex(FIXTURES / "cyclonedx-vex.json"))
    urllib3 = by_rule(result)["CVE-2018-20060"]
    assert not urllib3.active
    assert dict(urllib3.suppressions[0].statement)["justification"] == "code_not_reachable"
    assert by_rule(result)["GHSA-j8r2-6x86-q33q"].active  # in_triage does not suppress


def test_vex_product_must_match_package() -> None:
    statements = load_vex(FIXTURES / "openvex.json")
    other = replace(statements[0], products=("pkg:pypi/requests@2.31.0",))
    result, _ = apply_vex(unsuppressed(), [other])
    assert by_rule(result)["GHSA-j8r2-6x86-q33q"].active


@pytest.mark.parametrize("content", ["[]", "{}", "not json", '{"statements": ["x"]}'])
def test_malformed_vex_is_input_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "v.json"
    path.write_text(content)
    with pytest.raises(InputError):
        load_vex(path)


def test_purl_matching() -> None:
    assert purl_matches("pkg:pypi/Requests", REQUESTS.purl)
    assert purl_matches("pkg:pypi/requests@2.19.0", REQUESTS.purl)
    assert not purl_matches("pkg:pypi/requests@2.20.0", REQUESTS.purl)
    assert not purl_matches("pkg:npm/requests", REQUESTS.purl)
    assert purl_matches("pkg:deb/debian/bash?arch=amd64", "pkg:deb/debian/bash@5.2?arch=amd64&distro=debian-12")
    assert not purl_matches("pkg:deb/debian/bash?arch=arm64", "pkg:deb/debian/bash@5.2?arch=amd64")
    assert scope_matches("pkg:pypi/url*", URLLIB3.purl, URLLIB3.name)
    assert scope_matches("url*", URLLIB3.purl, URLLIB3.name)
    assert not scope_matches("requests", URLLIB3.purl, URLLIB3.name)
