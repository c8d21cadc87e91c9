"""Sparse tar members (GNU sparse 0.0/0.1/1.0, old-GNU ``S``) that claim huge holes: bounded work, a clear result.

A sparse member stores a few bytes and a map claiming any real size; reading
it materialises every hole as zeros. A 30 KB layer of such members once cost
minutes of reading zeros (hundreds of GB for a few MB of layer). Now the
holes read from one layer are charged to ``Limits.max_sparse_hole_bytes``;
past it the layer is a sparse bomb (exit 2, one line), and an honest sparse
file (small holes) is still read, its stored bytes where they belong.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from helpers.sparse_tar import FORMATS, sparse_layer
from shieldwall.errors import UnsafeInputError
from shieldwall.target.entries import EntryKind, walk_tar_stream
from shieldwall.target.limits import Limits

MiB = 1 << 20
SRC = Path(__file__).resolve().parents[3] / "src"
ADDRESS_SPACE = 3 * (1 << 29)  # 1.5 GiB: a scan that materialised the holes whole would not fit


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_an_honest_sparse_member_is_read_with_its_holes(fmt: str) -> None:
    layer = sparse_layer(fmt, 1, 3000, data=b"TAIL")
    files = [(e.path, e.size, e.read()) for e in walk_tar_stream(io.BytesIO(layer), Limits(), "layer 0")]
    assert files == [("/var/log/hole0.bin", 3000, b"\0" * 2996 + b"TAIL")]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_holes_past_the_layer_budget_stop_the_walk(fmt: str) -> None:
    limits = Limits(max_sparse_hole_bytes=10 * MiB)
    layer = sparse_layer(fmt, 50, 4 * MiB)
    read = 0
    with pytest.raises(UnsafeInputError, match="sparse bomb"):
        for entry in walk_tar_stream(io.BytesIO(layer), limits, "layer 0"):
            if entry.kind is EntryKind.FILE:
                read += len(entry.read())
    assert read <= 10 * MiB  # two members read, the third refused before its holes were made


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_members_never_read_cost_nothing(fmt: str) -> None:
    limits = Limits(max_sparse_hole_bytes=1 * MiB)
    layer = sparse_layer(fmt, 200, 100 * MiB)
    files = [e for e in walk_tar_stream(io.BytesIO(layer), limits, "layer 0") if e.kind is EntryKind.FILE]
    assert len(files) == 200 and all(e.size == 100 * MiB for e in files)


def _archive(path: Path, layer: bytes) -> Path:
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"diff_ids": [diff_id]}}).encode()
    manifest = json.dumps([{"Config": "c.json", "RepoTags": ["sparse:1"], "Layers": ["l.tar"]}]).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in (("c.json", config), ("l.tar", layer), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _scan(target: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "SHIELDWALL_DATA_DIR": str(tmp_path / "data"),
        "SHIELDWALL_CACHE_DIR": str(tmp_path / "cache"),
        "SHIELDWALL_CONFIG_DIR": str(tmp_path / "config"),
    }
    command = [sys.executable, "-m", "shieldwall", "scan", f"docker-archive:{target}", "--format", "json", "-q",
               "--no-cache", "--allow-incomplete-db"]  # fmt: skip
    # the timeout only detects a hang (the unbounded scan took tens of minutes); nothing asserts on speed
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, preexec_fn=_limit, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_sparse_bomb_image_is_refused_with_one_line(fmt: str, tmp_path: Path) -> None:
    # 2,000 members of 120 MiB each (under the per-file and malware limits): 240 GB of holes in a 3 MB layer
    target = _archive(tmp_path / "bomb.tar", sparse_layer(fmt, 2000, 120 * MiB, prefix="app/hole"))
    proc = _scan(target, tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    err = proc.stderr.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "sparse bomb" in err and "app/hole" in err, err


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_an_image_with_an_honest_sparse_file_scans(fmt: str, tmp_path: Path) -> None:
    # a lastlog-shaped file: 4 MiB of holes each, sixty of them, well inside the budget
    target = _archive(tmp_path / "ok.tar", sparse_layer(fmt, 60, 4 * MiB, prefix="var/log/lastlog"))
    proc = _scan(target, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert not [w for w in doc["warnings"] if "sparse" in w["message"] or "lastlog" in (w.get("path") or "")]
