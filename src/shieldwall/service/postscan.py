"""Post-scanners: detectors that need the whole merged result, not one file.

Vulnerability matching (the inventory against the advisory database),
checks of the image config (secrets in ENV and history, root user, exposed
ports) and licence policy all run here, after the layers are merged. Each
post-scanner belongs to a scanner family (``vuln``, ``secret``,
``misconfig``, ``license``...) that ``--scanners`` can switch off.

To add one: write a factory ``(ScanOptions) -> PostScanner`` (the contract is in
``shieldwall.postscan``, below this layer) and list it in ``builtin_post_scanners``.
"""

from __future__ import annotations

from shieldwall.analyze.secret.imageconfig import image_config_secret_scanner
from shieldwall.match.postscanner import vulnerability_scanner
from shieldwall.misconfig.hostscan import host_post_scanner
from shieldwall.misconfig.postscan import misconfig_post_scanner
from shieldwall.policy.licenses import license_scanner
from shieldwall.postscan import PostScanner as PostScanner
from shieldwall.postscan import PostScannerFactory as PostScannerFactory
from shieldwall.postscan import PostScanOutput as PostScanOutput


def builtin_post_scanners() -> list[PostScannerFactory]:
    """Every built-in post-scanner factory, in order. A factory may return None (not configured)."""
    factories: list[PostScannerFactory] = []
    factories.append(vulnerability_scanner)
    factories.append(license_scanner)
    factories.append(image_config_secret_scanner)
    factories.append(misconfig_post_scanner)
    factories.append(host_post_scanner)
    return factories
