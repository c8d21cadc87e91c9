"""Shared fixtures for the Suricata tests: a short private directory (unix socket paths are limited)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A private directory with a short path under /tmp, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="swips-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def _needs_suricata() -> None:
    if shutil.which("suricata") is None:
        pytest.skip("suricata is not installed")
