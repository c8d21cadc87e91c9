"""The ``license`` scanner family: packages whose licence is on the deny list become findings.

Licences are read from each package (dpkg copyright, dist-info metadata,
package.json...). An SPDX expression is split into its licence IDs; an
``OR`` expression is denied only when every alternative is denied (the
user may pick an allowed one). Matching is case-insensitive with globs
(``GPL-*`` matches ``GPL-2.0-only`` and Debian's ``GPL-2+`` but not
``LGPL-2.1``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shieldwall.config.sections import LicenseSection
from shieldwall.model import Evidence, Finding, FindingKind, Package, PackageType, ScanResult, Severity
from shieldwall.postscan import PostScanOutput

if TYPE_CHECKING:
    from shieldwall.scanopts import ScanOptions

_SPLIT_OR = re.compile(r"\s+OR\s+", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+\-]*")
_OPERATORS = {"and", "or", "with"}

DETECTOR = "license-policy"


def license_ids(expression: str) -> list[str]:
    """The licence IDs an expression names, operators and exceptions (``WITH x``) left out."""
    ids: list[str] = []
    skip_next = False
    for token in _TOKEN.findall(expression):
        low = token.lower()
        if skip_next:
            skip_next = False
            continue
        if low == "with":
            skip_next = True
            continue
        if low in _OPERATORS:
            continue
        ids.append(token)
    return ids


def denied_ids(expression: str, deny: Sequence[str]) -> list[str]:
    """The denied licence IDs of ``expression`` (empty when an allowed ``OR`` alternative exists)."""
    patterns = [p.lower() for p in deny]

    def is_denied(licence: str) -> bool:
        return any(fnmatch.fnmatchcase(licence.lower(), p) for p in patterns)

    alternatives = _SPLIT_OR.split(expression.strip("() "))
    hits_per_alternative = [[i for i in license_ids(alt) if is_denied(i)] for alt in alternatives]
    if any(not hits for hits in hits_per_alternative):
        return []
    return list(dict.fromkeys(i for hits in hits_per_alternative for i in hits))


_OS_PACKAGE_TYPES = frozenset({PackageType.DEB, PackageType.APK, PackageType.RPM})


@dataclass(slots=True)
class LicenseScanner:
    """Post-scanner: one finding per package and denied licence."""

    deny: tuple[str, ...]
    severity: Severity = Severity.HIGH
    name: str = DETECTOR
    scanner: str = "license"
    # Distribution packages carry the distro's licences (GPL throughout a Debian base is normal
    # and not a choice the team made); the deny list is about the application's dependencies.
    include_os_packages: bool = False

    def run(self, result: ScanResult) -> PostScanOutput:
        """Findings for every package whose licence is denied."""
        findings: list[Finding] = []
        seen: set[tuple[str, str]] = set()
        for package in result.packages:
            if package.type in _OS_PACKAGE_TYPES and not self.include_os_packages:
                continue
            for expression in package.licenses:
                for licence in denied_ids(expression, self.deny):
                    if (package.id, licence) in seen:
                        continue
                    seen.add((package.id, licence))
                    findings.append(self._finding(package, licence, expression))
        return PostScanOutput(findings=tuple(findings))

    def _finding(self, package: Package, licence: str, expression: str) -> Finding:
        location = package.locations[0] if package.locations else None
        return Finding(
            kind=FindingKind.LICENSE,
            rule_id=f"license:{licence}",
            title=f"{package.name} {package.version} is licensed under denied licence {licence}",
            severity=self.severity,
            location=location,
            package_id=package.id,
            message=f"{package.purl} declares {expression!r}; {licence} is on the licence deny list.",
            fix=f"Replace {package.name} with an alternative under an allowed licence, or record a legal review"
            " as an exception.",
            evidence=(
                Evidence(
                    detector=DETECTOR,
                    searched="package licences against the deny list " + ", ".join(self.deny),
                    found=expression,
                    source=location.path if location else "",
                    details=(("license", licence), ("purl", package.purl)),
                ),
            ),
            fingerprint_material=licence,
        )


def license_scanner(options: ScanOptions) -> LicenseScanner | None:
    """Factory for ``builtin_post_scanners``: the deny list comes from the options (config ``license:``)."""
    deny = options.license_deny if options.license_deny else LicenseSection().deny
    return LicenseScanner(deny=tuple(deny))
