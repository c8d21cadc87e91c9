"""Advisories as the database stores them: the OSV schema's essentials, frozen and typed.

Every feed (OSV JSON/YAML, RustSec, Alpine secdb, KEV, EPSS) is converted to
these values before it is stored; the matcher reads only these values.

Ecosystem names are OSV's (``PyPI``, ``npm``, ``Go``, ``crates.io``,
``Maven``, ``NuGet``, ``RubyGems``, ``Packagist``, ``Debian:12``,
``Alpine:v3.19``, ``Ubuntu:22.04``, ``Rocky Linux:9``...). Package names are
stored as the ecosystem spells them; ``normalize_name`` gives the lookup key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class RangeType(StrEnum):
    """OSV range types."""

    ECOSYSTEM = "ECOSYSTEM"
    SEMVER = "SEMVER"
    GIT = "GIT"


@dataclass(frozen=True, slots=True)
class RangeEvent:
    """One event of an OSV range: exactly one of the four fields is set."""

    introduced: str = ""
    fixed: str = ""
    last_affected: str = ""
    limit: str = ""


@dataclass(frozen=True, slots=True)
class VersionRange:
    """An OSV ``ranges[]`` entry."""

    type: RangeType
    events: tuple[RangeEvent, ...]
    repo: str = ""


@dataclass(frozen=True, slots=True)
class Affected:
    """One ``affected[]`` entry: a package in an ecosystem and the versions hit."""

    ecosystem: str
    name: str
    ranges: tuple[VersionRange, ...] = ()
    versions: tuple[str, ...] = ()
    purl: str = ""
    severity: tuple[Severity, ...] = ()
    ecosystem_specific: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Severity:
    """A severity statement: ``CVSS_V2``/``CVSS_V3``/``CVSS_V4`` vector, or ``Ubuntu``/vendor rating text."""

    type: str
    score: str


@dataclass(frozen=True, slots=True)
class Advisory:
    """One advisory (an OSV record, or a converted one)."""

    id: str
    modified: str = ""
    published: str = ""
    withdrawn: str = ""
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    severity: tuple[Severity, ...] = ()
    affected: tuple[Affected, ...] = ()
    references: tuple[str, ...] = ()
    source: str = ""
    database_specific_severity: str = ""
    extra: tuple[tuple[str, str], ...] = field(default=())


def normalize_name(ecosystem: str, name: str) -> str:
    """The lookup key for a package name in an ecosystem (PEP 503 for PyPI, lower-case where insensitive)."""
    base = ecosystem.split(":", 1)[0]
    if base == "PyPI":
        import re

        return re.sub(r"[-_.]+", "-", name).lower()
    if base in ("NuGet", "Packagist", "Go", "Alpine", "Debian", "Ubuntu"):
        return name.lower() if base in ("NuGet", "Packagist") else name
    return name


@dataclass(frozen=True, slots=True)
class KevEntry:
    """One CISA Known Exploited Vulnerabilities catalogue entry."""

    cve_id: str
    vendor: str = ""
    product: str = ""
    name: str = ""
    date_added: str = ""
    due_date: str = ""
    known_ransomware: str = ""
    short_description: str = ""
    required_action: str = ""
    notes: str = ""


@dataclass(frozen=True, slots=True)
class EpssEntry:
    """One FIRST EPSS score: probability of exploitation in the next 30 days and its percentile."""

    cve_id: str
    epss: float
    percentile: float
    model_version: str = ""
    score_date: str = ""


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Where one imported feed came from, and how to ask for it again (HTTP validators)."""

    name: str
    url: str = ""
    etag: str = ""
    last_modified: str = ""
    kind: str = ""
    imported_at: str = ""
    count: int = 0


@dataclass(frozen=True, slots=True)
class DbStatus:
    """What ``shieldwall db status`` prints: sources, counts per ecosystem, last update and age."""

    path: str
    schema_version: int
    sources: tuple[SourceInfo, ...] = ()
    ecosystems: tuple[tuple[str, int], ...] = ()
    advisories: int = 0
    kev_entries: int = 0
    epss_entries: int = 0
    last_update: str = ""
    age_seconds: float | None = None
