"""The ``vulnerability`` post-scanner: the merged inventory against the local advisory database.

The database is opened read-only at ``ScanOptions.data_dir`` (or the default
data directory). Without one, with one older than the allowed age, or
without data for an inventoried ecosystem, the scan completes but marks the
packages concerned "not evaluated" (``coverage.py``): the gate refuses to
pass on such a result unless explicitly told to go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from shieldwall.match.coverage import METADATA_KEY, NOT_EVALUATED, Coverage, ecosystem_gaps, whole_inventory
from shieldwall.match.matcher import MatchReport, match_packages
from shieldwall.model import ScanResult, ScanWarning
from shieldwall.postscan import PostScanOutput
from shieldwall.vulndb.store import VulnDB, check_db_age, default_db_path

if TYPE_CHECKING:
    from shieldwall.scanopts import ScanOptions

NAME = "vulnerability"
NO_DATABASE = "no vulnerability database: run `shieldwall db update` (or `db import`)"
DEFAULT_MAX_DB_AGE = timedelta(days=7)


class VulnerabilityScanner:
    """Matches every package of the merged result against the advisory database.

    What it cannot evaluate (no database, a database older than ``max_db_age``,
    an inventoried ecosystem without data) is never a silent pass: each gap is
    a ``not evaluated:`` warning and the packages it touches are marked (see
    ``coverage.py``); the gate refuses to pass on them unless opted out.
    ``fail_on_stale_db`` (``--max-db-age``) raises on a stale database at once.
    """

    def __init__(
        self, db_path: Path, max_db_age: timedelta | None = DEFAULT_MAX_DB_AGE, fail_on_stale_db: bool = False
    ) -> None:
        self.name = NAME
        self.scanner = "vuln"
        self.db_path = db_path
        self.max_db_age = max_db_age
        self.fail_on_stale_db = fail_on_stale_db

    def run(self, result: ScanResult) -> PostScanOutput:
        """Findings for the inventory, plus warnings and marks for what was not evaluated."""
        if not self.db_path.is_file():
            gaps = whole_inventory(result.packages, result.os, f"no vulnerability database at {self.db_path}")
            return PostScanOutput(
                warnings=(ScanWarning(NAME, NO_DATABASE, str(self.db_path)), *_gap_warnings(gaps)),
                package_marks=_marks(gaps),
            )
        warnings: list[ScanWarning] = []
        with VulnDB.open(self.db_path, readonly=True) as db:
            gaps = Coverage()
            if self.max_db_age is not None:
                stale = check_db_age(db, self.max_db_age, self.fail_on_stale_db)  # raises InputError on fail
                if stale:
                    warnings.append(ScanWarning(NAME, stale, str(self.db_path)))
                    gaps = whole_inventory(result.packages, result.os, "the vulnerability database is stale")
            if not gaps:
                gaps = ecosystem_gaps(result.packages, result.os, db.ecosystems())
            report = match_packages(result.packages, result.os, db)
        warnings.extend(report_warnings(report))
        warnings.extend(_gap_warnings(gaps))
        return PostScanOutput(findings=tuple(report.findings), warnings=tuple(warnings), package_marks=_marks(gaps))


def _gap_warnings(gaps: Coverage) -> list[ScanWarning]:
    return [
        ScanWarning(NAME, f"{NOT_EVALUATED} {len(ids)} package(s): {reason}")
        for reason, ids in sorted(gaps.reasons.items())
    ]


def _marks(gaps: Coverage) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (package_id, METADATA_KEY, f"not evaluated: {reason}")
        for reason, ids in sorted(gaps.reasons.items())
        for package_id in ids
    )


def report_warnings(report: MatchReport) -> Iterator[ScanWarning]:
    """What the matcher could not check, as counted warnings (never silent)."""
    if report.unparseable_installed:
        shown = ", ".join(report.unparseable_installed[:5])
        more = f" and {len(report.unparseable_installed) - 5} more" if len(report.unparseable_installed) > 5 else ""
        yield ScanWarning(
            NAME,
            f"{len(report.unparseable_installed)} package version(s) not comparable, not checked: {shown}{more}",
        )
    if report.unparseable_advisory_versions:
        yield ScanWarning(
            NAME,
            f"{report.unparseable_advisory_versions} advisory range(s) with versions the ecosystem cannot parse "
            "were not evaluated (explicit version lists still apply)",
        )
    for ecosystem in sorted(report.unknown_ecosystems):
        yield ScanWarning(NAME, f"no version scheme for ecosystem {ecosystem}: its advisories were not evaluated")
    os_skips = {reason: n for reason, n in report.skipped.items() if "OS" in reason or "advisory source" in reason}
    for reason, count in sorted(os_skips.items()):
        yield ScanWarning(NAME, f"{count} package(s) not checked: {reason}")


def vulnerability_scanner(options: ScanOptions) -> VulnerabilityScanner | None:
    """Factory for ``builtin_post_scanners``: the scanner reading the database under ``options.data_dir``."""
    environ = {"SHIELDWALL_DATA_DIR": str(options.data_dir)} if options.data_dir is not None else None
    return VulnerabilityScanner(default_db_path(environ), options.max_db_age, options.fail_on_stale_db)
