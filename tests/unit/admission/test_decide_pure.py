"""``decide`` on hand-made facts: partial exceptions rebuild the message; crashed checks deny."""

from __future__ import annotations

import datetime as dt

from shieldwall.admission.decide import decide
from shieldwall.admission.images import ContainerImage
from shieldwall.admission.lookup import FindingFact, ImageFacts
from shieldwall.admission.podspec import PodSpecResult
from shieldwall.admission.policy import AdmissionPolicy
from shieldwall.model import FindingKind, Severity
from shieldwall.target.reference import parse_reference

IMAGE = "registry.test/app:2.0"
CONTAINER = ContainerImage("containers", "app", IMAGE, "/spec/containers/0/image")


def facts(*rules: str) -> ImageFacts:
    findings = tuple(FindingFact(FindingKind.VULNERABILITY, r, Severity.CRITICAL, True, False) for r in rules)
    return ImageFacts(IMAGE, parse_reference(IMAGE), "sha256:" + "c" * 64, "tag", 1, True, findings)


def test_partial_exception_lists_only_the_rules_left() -> None:
    policy = AdmissionPolicy.model_validate(
        {
            "exceptions": [
                {"image": "registry.test/app*", "rules": ["CVE-1"], "reason": "r", "by": "b", "expires": "2030-01-01"}
            ]
        }
    )
    three = {IMAGE: facts("CVE-1", "CVE-2", "CVE-3")}
    decision = decide(namespace="ns", operation="CREATE", policy=policy, images=[CONTAINER],
                      facts=three, podspec=None, today=dt.date(2027, 1, 1))  # fmt: skip
    (violation,) = decision.violations
    assert violation.rules == ("CVE-2", "CVE-3")
    assert violation.message == "image registry.test/app:2.0: 2 vulnerabilities at or above HIGH: CVE-2, CVE-3"
    assert not decision.allowed


def test_a_crashed_check_is_a_violation_not_a_pass() -> None:
    crashed = PodSpecResult(findings=(), warnings=("check SW-K8S-001 crashed on Pod ns/p: KeyError: 'x'",), evaluated=1)
    decision = decide(namespace="ns", operation="CREATE", policy=AdmissionPolicy(), images=[CONTAINER],
                      facts={IMAGE: facts()}, podspec=crashed, today=dt.date(2027, 1, 1))  # fmt: skip
    assert not decision.allowed
    assert [v.code for v in decision.violations] == ["check-error"]
