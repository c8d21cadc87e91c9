"""Did the vulnerability scanner really look? Database gaps as facts the gate can refuse on.

A scan whose advisory database is missing, older than the allowed age, or
holds no data for an ecosystem of the inventory (a Rocky Linux image
against a database without Rocky data) has packages that were **not
evaluated**. The vulnerability post-scanner records each gap as a warning
whose message starts with ``NOT_EVALUATED`` and marks every package it
touches (``Package.metadata`` key ``vulnerability``). The CLI gate, the
API's scan jobs and the monitor then refuse to pass (exit 2 with a one-line
diagnosis) unless the opt-out (``--allow-incomplete-db``, config key
``allow_incomplete_db``) was given.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from shieldwall.errors import InputError
from shieldwall.match.ecosystems import plan_queries
from shieldwall.match.versions import UnknownEcosystemError, ecosystem_base, scheme_for
from shieldwall.model import OSInfo, Package, ScanResult

SOURCE = "vulnerability"
NOT_EVALUATED = "not evaluated:"
METADATA_KEY = "vulnerability"
OPT_OUT_HINT = "run `shieldwall db update`, or pass --allow-incomplete-db (config: allow_incomplete_db) to go on"


@dataclass(slots=True)
class Coverage:
    """Packages the database cannot speak about, grouped by the reason."""

    reasons: dict[str, list[str]] = field(default_factory=dict)  # reason -> package ids

    def add(self, reason: str, package: Package) -> None:
        """Record that ``package`` was not evaluated for ``reason``."""
        self.reasons.setdefault(reason, []).append(package.id)

    def __bool__(self) -> bool:
        return bool(self.reasons)


def needed_ecosystems(package: Package, os: OSInfo | None) -> tuple[str, ...]:
    """The ecosystems whose advisories would speak about ``package`` (empty when none could)."""
    out: list[str] = []
    for query in plan_queries(package, os).queries:
        try:
            scheme_for(query.ecosystem)
        except UnknownEcosystemError:
            continue
        out.append(query.ecosystem)
    return tuple(dict.fromkeys(out))


def _covered(needed: Iterable[str], held: set[str]) -> bool:
    # The lookups ask for the release-specific ecosystem and its bare base (``Debian:12``, ``Debian``).
    return any(ecosystem in held or ecosystem_base(ecosystem) in held for ecosystem in needed)


def ecosystem_gaps(packages: Iterable[Package], os: OSInfo | None, held: Iterable[str]) -> Coverage:
    """Packages whose ecosystems have no rows at all in a database holding ``held``."""
    held_set = set(held)
    coverage = Coverage()
    for package in packages:
        needed = needed_ecosystems(package, os)
        if needed and not _covered(needed, held_set):
            coverage.add(f"no advisory data for {needed[0]}", package)
    return coverage


def whole_inventory(packages: Iterable[Package], os: OSInfo | None, reason: str) -> Coverage:
    """Every package an advisory could speak about, not evaluated for one reason (no or stale database)."""
    coverage = Coverage()
    for package in packages:
        if needed_ecosystems(package, os):
            coverage.add(reason, package)
    return coverage


def gap_warnings(result: ScanResult) -> list[str]:
    """The ``not evaluated`` warnings of a scan result (empty when the scanner looked at everything)."""
    return [w.message for w in result.warnings if w.source == SOURCE and w.message.startswith(NOT_EVALUATED)]


def diagnosis(gaps: list[str]) -> str:
    """One line for exit 2: what was not evaluated and how to fix or opt out."""
    shown = "; ".join(g.removeprefix(NOT_EVALUATED).strip() for g in gaps[:3])
    more = f" (and {len(gaps) - 3} more)" if len(gaps) > 3 else ""
    return f"vulnerabilities not evaluated: {shown}{more}; {OPT_OUT_HINT}"


def not_evaluated_packages(result: ScanResult) -> list[Package]:
    """Packages the vulnerability scanner marked as not evaluated."""
    return [p for p in result.packages if any(k == METADATA_KEY for k, _ in p.metadata)]


def refuse_unevaluated(result: ScanResult, scanners: Iterable[str], allowed: bool) -> None:
    """Raise ``InputError`` (exit 2) when the vulnerability scanner ran but left packages not evaluated."""
    if allowed or "vuln" not in set(scanners):
        return
    gaps = gap_warnings(result)
    if gaps:
        raise InputError(diagnosis(gaps))
