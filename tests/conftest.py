"""Every test runs with its own data, cache and config directories."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path_factory.mktemp("shieldwall-home")
    for name in ("DATA", "CACHE", "CONFIG"):
        monkeypatch.setenv(f"SHIELDWALL_{name}_DIR", str(base / name.lower()))
    # The services tests start (registries, webhook receivers) live on loopback, which the server's
    # egress policy denies by default: tests allow it as an operator would allow an internal registry.
    # The egress tests themselves set this variable to prove the default denies.
    monkeypatch.setenv("SHIELDWALL_EGRESS_ALLOW", "127.0.0.0/8,::1/128")
    monkeypatch.setenv("SHIELDWALL_AUDIT_WITNESS_APPEND_ONLY", "0")  # tests must be able to remove their files


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data not present")
    return SHARED_DATA
