"""Findings: what is wrong, where, how it was found, and how to fix it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from shieldwall.model.location import LayerRef, Location


class Severity(StrEnum):
    """Severity of a finding; ``rank`` orders them."""

    UNKNOWN = "UNKNOWN"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        """Position in the order UNKNOWN < LOW < MEDIUM < HIGH < CRITICAL."""
        return _ORDER.index(self)


_ORDER = list(Severity)


class FindingKind(StrEnum):
    """Which scanner family produced a finding."""

    VULNERABILITY = "vulnerability"
    SECRET = "secret"
    SENSITIVE_FILE = "sensitive-file"
    MALWARE = "malware"
    MISCONFIG = "misconfig"
    LICENSE = "license"
    DRIFT = "drift"


@dataclass(frozen=True, slots=True)
class Evidence:
    """How a finding was established: what was searched, what was found, by whom."""

    detector: str
    searched: str
    found: str
    source: str = ""
    confidence: float = 1.0
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class VulnDetails:
    """What a vulnerability finding adds: versions, scores, prioritisation data."""

    installed_version: str
    fixed_version: str = ""
    cvss_vector: str = ""
    cvss_score: float | None = None
    cvss_version: str = ""
    vendor_severity: str = ""
    kev: bool = False
    kev_date_added: str = ""
    epss_score: float | None = None
    epss_percentile: float | None = None
    published: str = ""
    modified: str = ""


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why a finding is set aside: the rule that matched and its reason.

    A suppressed finding stays in the result (reports list it separately) so
    an auditor can see what was judged, by whom, until when and why.
    ``source`` names the rule (``.shieldwallignore.yaml:12``, a VEX document,
    an in-file comment); ``statement`` keeps extra details such as the VEX
    status and justification.
    """

    kind: str
    rule: str
    reason: str
    source: str = ""
    author: str = ""
    expires: str = ""
    statement: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a target.

    ``fingerprint`` never depends on line numbers or scan time, so
    suppressions, baselines and the store can follow a finding across scans.
    ``deleted_in`` is set when a later layer removed the file: the bytes are
    still in the image. ``suppressed`` holds the reason when an in-file
    suppression comment covers the finding: it stays in the result.
    ``suppressions`` lists the exceptions and VEX statements that set the
    finding aside, each with its rule and reason; the finding stays too.
    """

    kind: FindingKind
    rule_id: str
    title: str
    severity: Severity
    location: Location | None = None
    package_id: str = ""
    message: str = ""
    fix: str = ""
    aliases: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    fingerprint_material: str = ""
    deleted_in: LayerRef | None = None
    vuln: VulnDetails | None = None
    suppressed: str = ""
    suppressions: tuple[Suppression, ...] = ()

    @property
    def active(self) -> bool:
        """False when an in-file comment (``suppressed``) or an exception or VEX statement sets it aside."""
        return not self.suppressed and not self.suppressions

    @property
    def fingerprint(self) -> str:
        """A line-independent identity for suppressions and baselines."""
        path = self.location.path if self.location else ""
        text = f"{self.kind}\x00{self.rule_id}\x00{path}\x00{self.package_id}\x00{self.fingerprint_material}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]
