"""Broker and cache-key configuration: what is accepted, what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.errors import ConfigError
from shieldwall.service.dispatch import InlineDispatch, broker_url, remote_dispatch, visibility_timeout
from shieldwall.worker.context import cache_key_bytes


def test_no_broker_means_in_process() -> None:
    assert broker_url({}) == ""
    assert remote_dispatch({}) is None


def test_only_redis_brokers() -> None:
    assert broker_url({"SHIELDWALL_BROKER_URL": "redis://127.0.0.1:6379/0"}) == "redis://127.0.0.1:6379/0"
    with pytest.raises(ConfigError):
        broker_url({"SHIELDWALL_BROKER_URL": "amqp://guest@localhost//"})


def test_visibility_timeout() -> None:
    assert visibility_timeout({}) == 3600
    assert visibility_timeout({"SHIELDWALL_BROKER_VISIBILITY_TIMEOUT": "30"}) == 30
    for bad in ("0", "-5", "soon"):
        with pytest.raises(ConfigError):
            visibility_timeout({"SHIELDWALL_BROKER_VISIBILITY_TIMEOUT": bad})


def test_cache_key_from_file_or_variable(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_bytes(b"0123456789abcdef0123\n")
    assert cache_key_bytes({"SHIELDWALL_CACHE_KEY_FILE": str(key)}) == b"0123456789abcdef0123"
    assert cache_key_bytes({"SHIELDWALL_CACHE_KEY": "x" * 20}) == b"x" * 20
    assert cache_key_bytes({}) is None
    with pytest.raises(ConfigError):
        cache_key_bytes({"SHIELDWALL_CACHE_KEY": "short"})
    with pytest.raises(ConfigError):
        cache_key_bytes({"SHIELDWALL_CACHE_KEY_FILE": str(tmp_path / "missing")})


def test_inline_dispatch_runs_now() -> None:
    seen: list[tuple[str, str]] = []
    inline = InlineDispatch(lambda name, payload, key: seen.append((name, key)) or {"ok": payload["n"]})
    assert inline.submit("scan.image", {"n": 1}, "k1") == "inline-1"
    assert seen == [("scan.image", "k1")] and inline.results == [{"ok": 1}]
