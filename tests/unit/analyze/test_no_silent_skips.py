"""No silent skips: over-limit files, unreadable directories and dropped hard links are warnings."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import shieldwall.analyze.runner as runner
from helpers.secrets import ghp
from shieldwall.analyze.runner import analyze_layer
from shieldwall.analyze.secret.analyzer import SecretAnalyzer
from shieldwall.analyze.secret.engine import SecretEngine
from shieldwall.analyze.secret.fingerprint import Fingerprinter
from shieldwall.analyze.secret.rules import builtin_allowlist, builtin_rules
from shieldwall.model import LayerRef
from shieldwall.target.directory import DirectoryLayer
from shieldwall.target.entries import Entry, walk_tar_stream
from shieldwall.target.limits import DEFAULT_LIMITS


def secret_analyzer(max_file_bytes: int = 64 * 1024 * 1024) -> SecretAnalyzer:
    engine = SecretEngine(builtin_rules(), builtin_allowlist())
    return SecretAnalyzer(engine, Fingerprinter(b"k" * 32), max_file_bytes=max_file_bytes)


class TarLayer:
    """A layer read from an in-memory tar stream, as an image layer is."""

    cache_key = ""
    read_blob_digest = ""
    blob_key = ""
    read_order = 0

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ref = LayerRef(0, "", "test layer")

    def walk(self) -> Iterator[Entry]:
        yield from walk_tar_stream(io.BytesIO(self.data), DEFAULT_LIMITS, "test layer")

    def cache_identity(self) -> str:
        return ""


def test_file_over_the_secret_limit_is_a_warning_with_path_and_size(tmp_path: Path) -> None:
    content = f"token = {ghp()}\n".encode() * 4
    (tmp_path / "big.env").write_bytes(content)
    (tmp_path / "small.env").write_bytes(f"T={ghp()}\n".encode())
    result = analyze_layer(DirectoryLayer(tmp_path, DEFAULT_LIMITS), [secret_analyzer(max_file_bytes=64)])
    assert [w.path for w in result.warnings] == ["/big.env"]
    assert str(len(content)) in result.warnings[0].message and "not scanned" in result.warnings[0].message
    assert [f.path for f in result.files] == ["/small.env"]  # the small file is still scanned


def _tar_with_hard_link(payload: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("app/original.env")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
        link = tarfile.TarInfo("app/linked.env")
        link.type = tarfile.LNKTYPE
        link.linkname = "app/original.env"
        tar.addfile(link)
    return buf.getvalue()


def test_hard_link_whose_content_was_not_kept_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = TarLayer(_tar_with_hard_link(f"T={ghp()}\n".encode()))
    kept = analyze_layer(layer, [secret_analyzer()])
    assert not kept.warnings and {f.path for f in kept.files} == {"/app/original.env", "/app/linked.env"}
    monkeypatch.setattr(runner, "_HARDLINK_CACHE_BYTES", 0)  # the link cache is full: the link is dropped
    dropped = analyze_layer(layer, [secret_analyzer()])
    assert [f.path for f in dropped.files] == ["/app/original.env"]
    (warning,) = dropped.warnings
    assert warning.path == "/app/linked.env" and "/app/original.env" in warning.message and "secret" in warning.message


def _warnings_as(user: int | None, root: Path) -> list[list[str]]:
    """Walk ``root`` in a forked child running as ``user`` (root reads any directory)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(read_end)
            if user is not None:
                os.setgid(user)
                os.setuid(user)
            result = analyze_layer(DirectoryLayer(root, DEFAULT_LIMITS), [])
            os.write(write_end, json.dumps([[w.path, w.message] for w in result.warnings]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return list(json.loads(data))


def test_unreadable_directory_is_a_warning() -> None:
    root = Path(tempfile.mkdtemp(prefix="shieldwall-unreadable-"))
    try:
        os.chmod(root, 0o755)
        (root / "open").mkdir()
        (root / "open" / "a.txt").write_text("a")
        (root / "closed").mkdir()
        (root / "closed" / "b.txt").write_text("b")
        os.chmod(root / "closed", 0o000)
        warnings = _warnings_as(65534 if os.geteuid() == 0 else None, root)
        assert [path for path, _ in warnings] == ["/closed"]
        assert "not readable" in warnings[0][1]
    finally:
        os.chmod(root / "closed", 0o755)
        shutil.rmtree(root)
