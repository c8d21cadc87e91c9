"""The post-scanner contract: detectors that need the whole merged result, not one file.

A post-scanner factory takes the ``ScanOptions`` and returns a ``PostScanner``
(or None when it is not configured); its ``run`` returns a ``PostScanOutput``.
The contract lives here, below the service layer, so that the post-scanners
(vulnerability matching, image-config secrets, misconfiguration, host checks,
licences) never import ``shieldwall.service``; ``shieldwall.service.postscan``
lists the built-in ones and re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from shieldwall.model import Finding, ScanResult, ScanWarning
from shieldwall.scanopts import ScanOptions


@dataclass(frozen=True, slots=True)
class PostScanOutput:
    """Findings and warnings a post-scanner adds to the result."""

    findings: tuple[Finding, ...] = ()
    warnings: tuple[ScanWarning, ...] = ()
    masked: tuple[str, ...] = ()  # secret values to redact wherever the result repeats the image config
    package_marks: tuple[tuple[str, str, str], ...] = ()  # (package id, metadata key, value) to add to packages


class PostScanner(Protocol):
    """A detector over the merged ``ScanResult``."""

    name: str
    scanner: str

    def run(self, result: ScanResult) -> PostScanOutput:
        """Return what this detector found; raise only on a bug (counted as a warning)."""
        ...


PostScannerFactory = Callable[[ScanOptions], PostScanner | None]
