"""Shared pieces for the secret scanner tests: tokens built at run time, a fixed fingerprint key."""

from __future__ import annotations

import pytest

from shieldwall.analyze.secret.engine import SecretEngine
from shieldwall.analyze.secret.fingerprint import Fingerprinter
from shieldwall.analyze.secret.rules import builtin_allowlist, builtin_rules


@pytest.fixture(scope="session")
def engine() -> SecretEngine:
    return SecretEngine(builtin_rules(), builtin_allowlist())


@pytest.fixture(scope="session")
def python_engine() -> SecretEngine:
    return SecretEngine(builtin_rules(), builtin_allowlist(), prefilter="python")


@pytest.fixture
def fingerprinter() -> Fingerprinter:
    return Fingerprinter(b"k" * 32)
