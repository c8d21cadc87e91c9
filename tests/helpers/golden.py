"""Golden files: compare rendered reports with committed copies, volatile fields normalised.

Refresh every golden file with ONE command (documented in docs/ci.md)::

    SHIELDWALL_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/report/test_golden.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import shieldwall

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("SHIELDWALL_UPDATE_GOLDEN") == "1"

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")
_TMP = re.compile(r"/tmp/[^\s\"'<>]*")


def normalise(text: str) -> str:
    """Replace UUIDs, timestamps, temporary paths and the tool version by placeholders."""
    text = _UUID.sub("00000000-0000-0000-0000-000000000000", text)
    text = _STAMP.sub("<timestamp>", text)
    text = _TMP.sub("<tmp>", text)
    version = shieldwall.__version__
    text = text.replace(f'"{version}"', '"<version>"').replace(f"Shieldwall {version}", "Shieldwall <version>")
    return text


def check_golden(name: str, text: str) -> None:
    """Assert ``text`` (normalised) equals ``tests/golden/name``; rewrite it when updating."""
    path = GOLDEN_DIR / name
    got = normalise(text)
    if UPDATE or not path.exists():
        if not UPDATE:
            raise AssertionError(f"missing golden file {path}; run with SHIELDWALL_UPDATE_GOLDEN=1")
        path.write_text(got, encoding="utf-8")
        return
    want = path.read_text(encoding="utf-8")
    assert got == want, f"{name} differs from its golden file; refresh with SHIELDWALL_UPDATE_GOLDEN=1"
