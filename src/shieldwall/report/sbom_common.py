"""What the CycloneDX and SPDX reporters share: one entry per package id, one document time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from shieldwall.model import Package, ScanResult


def unique_packages(packages: Iterable[Package]) -> list[Package]:
    """Packages with distinct ids, first of equals kept: a bom-ref or SPDXID must be unique."""
    seen: dict[str, Package] = {}
    for package in packages:
        seen.setdefault(package.id, package)
    return list(seen.values())


def document_time(result: ScanResult) -> dt.datetime:
    """When the scan finished (or started), so reruns of a stored result keep their date; else now (UTC)."""
    for value in (result.finished_at, result.started_at):
        if value:
            try:
                stamp = dt.datetime.fromisoformat(value)
            except ValueError:
                continue
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)
