"""A cached layer result is trusted only for the bytes that produced it.

An image can claim any diff ID in its config. These tests plant a clean
layer in the cache, then scan an image that reuses its diff ID for other
content (a secret), and check that the content is read and the lie caught;
that an empty diff ID is refused; that an unchanged image is still served
from the cache; and that cache records made with another key are not trusted.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from helpers.images import ImageSpec, build_docker_archive, layer_tar
from shieldwall.errors import CorruptInputError
from shieldwall.model import LayerRef
from shieldwall.service.progress import NullProgress
from shieldwall.service.scan import ScanOptions, scan_target

CLEAN = {"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n", "app/readme.txt": b"hello\n"}
LEAK = {"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n", "app/readme.txt": b"hello\n",
        "app/.env": b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ3vK8pLm2Tn\n"}  # fmt: skip


class Recorder(NullProgress):
    def __init__(self) -> None:
        self.cached: list[bool] = []

    def layer_finished(self, ref: LayerRef, cached: bool) -> None:
        self.cached.append(cached)


def _forged_archive(path: Path, content: bytes, claimed_diff_id: str) -> Path:
    """A docker-archive whose config claims ``claimed_diff_id`` for a gzip layer holding ``content``."""
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [claimed_diff_id]}}
    ).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["evil/app:1"], "Layers": ["layer.tar.gz"]}])
    with tarfile.open(path, "w") as tar:
        for name, data in (("config.json", config), ("layer.tar.gz", content), ("manifest.json", manifest.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _options(tmp_path: Path) -> ScanOptions:
    return ScanOptions(cache_dir=tmp_path / "cache", scanners=frozenset({"secret"}))


def test_a_reused_diff_id_with_other_content_is_read_and_refused(tmp_path: Path) -> None:
    clean = build_docker_archive(tmp_path / "clean.tar", [CLEAN], ImageSpec(created_by=["ADD"]), compression="gzip")
    first = scan_target(f"docker-archive:{clean}", _options(tmp_path))
    diff_id = first.layers[0].digest
    assert not [f for f in first.findings if f.kind == "secret"]

    evil = _forged_archive(tmp_path / "evil.tar", gzip.compress(layer_tar(LEAK)), diff_id)
    with pytest.raises(CorruptInputError, match="diff ID mismatch"):
        scan_target(f"docker-archive:{evil}", _options(tmp_path))


def test_an_empty_diff_id_is_refused(tmp_path: Path) -> None:
    evil = _forged_archive(tmp_path / "evil.tar", gzip.compress(layer_tar(LEAK)), "")
    with pytest.raises(CorruptInputError, match="diff ID"):
        scan_target(f"docker-archive:{evil}", _options(tmp_path))


def test_an_unchanged_image_is_served_from_the_cache(tmp_path: Path) -> None:
    for compression in ("gzip", "none"):
        archive = build_docker_archive(
            tmp_path / f"{compression}.tar", [CLEAN], ImageSpec(created_by=["ADD"]), compression=compression
        )
        runs = []
        for _ in range(2):
            progress = Recorder()
            scan_target(f"docker-archive:{archive}", _options(tmp_path / compression), progress)
            runs.append(progress.cached)
        assert runs == [[False], [True]], (compression, runs)


def test_cache_records_made_under_another_key_are_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", [CLEAN], ImageSpec(created_by=["ADD"]), compression="gzip")
    monkeypatch.setenv("SHIELDWALL_CONFIG_DIR", str(tmp_path / "config-a"))
    scan_target(f"docker-archive:{archive}", _options(tmp_path))
    # the same cache directory restored on a machine with another key (a CI cache, another user)
    monkeypatch.setenv("SHIELDWALL_CONFIG_DIR", str(tmp_path / "config-b"))
    progress = Recorder()
    scan_target(f"docker-archive:{archive}", _options(tmp_path), progress)
    assert progress.cached == [False]
    key = (tmp_path / "config-b" / "layer-cache.key").stat()
    assert key.st_mode & 0o077 == 0


def test_cache_identity_hashes_the_bytes_on_disk(tmp_path: Path) -> None:
    data = gzip.compress(layer_tar(CLEAN))
    archive = _forged_archive(tmp_path / "x.tar", data, "sha256:" + hashlib.sha256(layer_tar(CLEAN)).hexdigest())
    from shieldwall.target.limits import DEFAULT_LIMITS
    from shieldwall.target.resolve import parse_target, resolve

    resolved = resolve(parse_target(f"docker-archive:{archive}", ""), DEFAULT_LIMITS)
    try:
        assert resolved.layers[0].cache_identity() == "sha256:" + hashlib.sha256(data).hexdigest()
    finally:
        resolved.close()
