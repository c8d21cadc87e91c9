"""Post-scanners: detectors that need the whole merged result, not one file.

Vulnerability matching (the inventory against the advisory database),
checks of the image config (secrets in ENV and history, root user, exposed
ports) and licence policy all run here, after the layers are merged. Each
post-scanner belongs to a scanner family (``vuln``, ``secret``,
``misconfig``, ``license``...) that ``--scanners`` can switch off.

To add one: write a factory ``(ScanOptions) -> PostScanner`` and list it in
``builtin_post_scanners``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from shieldwall.analyze.secret.imageconfig import image_config_secret_scanner
from shieldwall.match.postscanner import vulnerability_scanner
from shieldwall.misconfig.hostscan import host_post_scanner
from shieldwall.misconfig.postscan import misconfig_post_scanner
from shieldwall.model import Finding, ScanResult, ScanWarning
from shieldwall.policy.licenses import license_scanner

if TYPE_CHECKING:
    from shieldwall.service.scan import ScanOptions


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


PostScannerFactory = Callable[["ScanOptions"], PostScanner | None]


def builtin_post_scanners() -> list[PostScannerFactory]:
    """Every built-in post-scanner factory, in order. A factory may return None (not configured)."""
    factories: list[PostScannerFactory] = []
    factories.append(vulnerability_scanner)
    factories.append(license_scanner)
    factories.append(image_config_secret_scanner)
    factories.append(misconfig_post_scanner)
    factories.append(host_post_scanner)
    return factories
