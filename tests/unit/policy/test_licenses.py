"""The licence scanner: denied licences become findings; OR expressions allow a choice."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers.sample_result import BASH, REQUESTS, sample_result
from shieldwall.model import FindingKind
from shieldwall.policy.licenses import LicenseScanner, denied_ids, license_ids, license_scanner
from shieldwall.policy.model import license_of
from shieldwall.service.postscan import builtin_post_scanners
from shieldwall.service.scan import ScanOptions

DENY = ("GPL-*", "AGPL-*")


@pytest.mark.parametrize(
    ("expression", "denied"),
    [
        ("GPL-3.0-or-later", ["GPL-3.0-or-later"]),
        ("GPL-2+", ["GPL-2+"]),
        ("LGPL-2.1-only", []),
        ("MIT", []),
        ("MIT OR GPL-2.0-only", []),
        ("GPL-2.0-only OR AGPL-3.0-only", ["GPL-2.0-only", "AGPL-3.0-only"]),
        ("(MIT AND GPL-2.0-only)", ["GPL-2.0-only"]),
        ("GPL-2.0-only WITH Classpath-exception-2.0", ["GPL-2.0-only"]),
        ("agpl-3.0", ["agpl-3.0"]),
    ],
)
def test_denied_ids(expression: str, denied: list[str]) -> None:
    assert denied_ids(expression, DENY) == denied


def test_license_ids_skip_operators_and_exceptions() -> None:
    ids = license_ids("Apache-2.0 AND (MIT OR BSD-3-Clause) WITH LLVM-exception")
    assert ids == ["Apache-2.0", "MIT", "BSD-3-Clause"]


def test_os_packages_are_left_out_by_default() -> None:
    assert LicenseScanner(DENY).run(sample_result()).findings == ()  # BASH is a deb package


def test_scanner_reports_denied_packages_only() -> None:
    output = LicenseScanner(DENY, include_os_packages=True).run(sample_result())
    (finding,) = output.findings
    assert finding.kind is FindingKind.LICENSE and finding.package_id == BASH.id
    assert finding.rule_id == "license:GPL-3.0-or-later" and license_of(finding) == "GPL-3.0-or-later"
    assert finding.fix and finding.location is not None


def test_fingerprint_is_stable_per_package_and_licence() -> None:
    a = LicenseScanner(DENY, include_os_packages=True).run(sample_result()).findings[0]
    b = LicenseScanner(("GPL-3*",), include_os_packages=True).run(sample_result()).findings[0]
    assert a.fingerprint == b.fingerprint


def test_factory_uses_options_and_is_registered() -> None:
    scanner = license_scanner(ScanOptions(license_deny=("Apache-*",)))
    assert scanner is not None and scanner.scanner == "license"
    (finding,) = scanner.run(replace(sample_result(), packages=(REQUESTS,))).findings
    assert finding.rule_id == "license:Apache-2.0"
    default = license_scanner(ScanOptions())
    assert default is not None and "GPL-*" in default.deny
    assert license_scanner in builtin_post_scanners()
