"""The ``vulnerability`` post-scanner: the merged inventory against the local advisory database.

The database is opened read-only at ``ScanOptions.data_dir`` (or the default
data directory). Without one the scan still succeeds, with a single warning
that says how to get one; a database older than the allowed age adds a
warning too (or fails the scan, when asked to).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from shieldwall.match.matcher import MatchReport, match_packages
from shieldwall.model import ScanResult, ScanWarning
from shieldwall.vulndb.store import VulnDB, check_db_age, default_db_path

if TYPE_CHECKING:
    from shieldwall.service.postscan import PostScanOutput
    from shieldwall.service.scan import ScanOptions

NAME = "vulnerability"
NO_DATABASE = "no vulnerability database: run `shieldwall db update` (or `db import`)"
DEFAULT_MAX_DB_AGE = timedelta(days=7)


class VulnerabilityScanner:
    """Matches every package of the merged result against the advisory database."""

    def __init__(
        self, db_path: Path, max_db_age: timedelta | None = DEFAULT_MAX_DB_AGE, fail_on_stale_db: bool = False
    ) -> None:
        self.name = NAME
        self.scanner = "vuln"
        self.db_path = db_path
        self.max_db_age = max_db_age
        self.fail_on_stale_db = fail_on_stale_db

    def run(self, result: ScanResult) -> PostScanOutput:
        """Findings for the inventory, plus warnings for a missing/stale database and unmatchable packages."""
        from shieldwall.service.postscan import PostScanOutput  # the service layer imports this module

        if not self.db_path.is_file():
            return PostScanOutput(warnings=(ScanWarning(NAME, NO_DATABASE, str(self.db_path)),))
        warnings: list[ScanWarning] = []
        with VulnDB.open(self.db_path, readonly=True) as db:
            if self.max_db_age is not None:
                stale = check_db_age(db, self.max_db_age, self.fail_on_stale_db)  # raises InputError on fail
                if stale:
                    warnings.append(ScanWarning(NAME, stale, str(self.db_path)))
            report = match_packages(result.packages, result.os, db)
        warnings.extend(report_warnings(report))
        return PostScanOutput(findings=tuple(report.findings), warnings=tuple(warnings))


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
