"""Secret detection: the rule set, the one-pass engine, sensitive files and image-config checks."""

from __future__ import annotations

from collections.abc import Callable

from shieldwall.analyze.base import Analyzer
from shieldwall.analyze.os.owned import PackageDigestsAnalyzer
from shieldwall.analyze.os.rpm import RpmDigestsAnalyzer
from shieldwall.analyze.registry import declare
from shieldwall.analyze.secret.analyzer import SecretAnalyzer, default_secret_analyzer
from shieldwall.analyze.secret.encoded import EncodedCredentialsAnalyzer
from shieldwall.analyze.secret.sensitive import SensitiveFileAnalyzer


def default_encoded_credentials_analyzer() -> EncodedCredentialsAnalyzer:
    """The registry factory: the fingerprint key from the default data directory."""
    from shieldwall import paths
    from shieldwall.analyze.secret.fingerprint import Fingerprinter, load_or_create_key

    return EncodedCredentialsAnalyzer(Fingerprinter(load_or_create_key(paths.data_dir())))


def default_sensitive_file_analyzer() -> SensitiveFileAnalyzer:
    """The registry factory: the fingerprint key from the default data directory."""
    from shieldwall import paths
    from shieldwall.analyze.secret.fingerprint import Fingerprinter, load_or_create_key

    return SensitiveFileAnalyzer(Fingerprinter(load_or_create_key(paths.data_dir())))


ANALYZERS: list[Callable[[], Analyzer]] = [
    declare(default_secret_analyzer, name=SecretAnalyzer.name, scanner=SecretAnalyzer.scanner),
    declare(default_sensitive_file_analyzer, name=SensitiveFileAnalyzer.name, scanner=SensitiveFileAnalyzer.scanner),
    declare(
        default_encoded_credentials_analyzer,
        name=EncodedCredentialsAnalyzer.name,
        scanner=EncodedCredentialsAnalyzer.scanner,
    ),
    PackageDigestsAnalyzer,
    RpmDigestsAnalyzer,
]

__all__ = ["ANALYZERS", "SecretAnalyzer", "SensitiveFileAnalyzer", "default_secret_analyzer"]
