"""Fuzz image targets: docker-archive manifest.json and config, OCI index/manifest/config.

Each example builds a real archive or layout on disk, resolves it through
``parse_target`` + ``resolve`` and walks every layer; the only acceptable
failure is an ``InputError`` (exit 2). A file above the per-file limit is a
``FileTooLargeError`` (a warning), also accepted.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.fuzzkit import FUZZ, JSONISH, deep, mutated, mutated_bytes
from shieldwall.errors import CorruptInputError, FileTooLargeError, InputError
from shieldwall.target.entries import EntryKind
from shieldwall.target.limits import DEFAULT_LIMITS
from shieldwall.target.resolve import parse_target, resolve

pytestmark = pytest.mark.slow  # bounded (150 examples per property) and run by `make test`


def _layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        content = b"ID=debian\nVERSION_ID=12\n"
        info = tarfile.TarInfo("etc/os-release")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


LAYER = _layer()
DIFF_ID = "sha256:" + hashlib.sha256(LAYER).hexdigest()
CONFIG: dict[str, Any] = {
    "architecture": "amd64",
    "os": "linux",
    "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["sh"], "Labels": {"a": "b"}, "User": "1000"},
    "rootfs": {"type": "layers", "diff_ids": [DIFF_ID]},
    "history": [{"created_by": "ADD rootfs /"}, {"created_by": "ENV X=1", "empty_layer": True}],
}
MANIFEST: list[Any] = [{"Config": "config.json", "RepoTags": ["fuzz:latest"], "Layers": ["layer.tar"]}]


def _encode(doc: Any) -> bytes:
    if isinstance(doc, bytes):
        return doc  # already serialised (deep nesting, raw junk)
    try:
        return json.dumps(doc).encode()
    except (ValueError, RecursionError):
        return b"[]"


def scan_target(path: Path) -> None:
    """Resolve ``path`` and walk every layer, reading every file; accept only the documented errors."""
    try:
        resolved = resolve(parse_target(str(path)), DEFAULT_LIMITS)
    except InputError:
        return
    try:
        for layer in resolved.layers:
            for entry in layer.walk():
                if entry.kind is EntryKind.FILE:
                    with contextlib.suppress(FileTooLargeError):
                        entry.read()
    except InputError:
        pass
    finally:
        resolved.close()


def write_docker_archive(path: Path, manifest: bytes, config: bytes) -> None:
    with tarfile.open(path, "w") as tar:
        for name, content in (("manifest.json", manifest), ("config.json", config), ("layer.tar", LAYER)):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))


def docker_archive(manifest: bytes, config: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.tar"
        write_docker_archive(path, manifest, config)
        scan_target(path)


def test_seed_docker_archive_resolves() -> None:
    """The unmutated seed is a valid image (so mutations start from a real one)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.tar"
        write_docker_archive(path, _encode(MANIFEST), _encode(CONFIG))
        resolved = resolve(parse_target(str(path)), DEFAULT_LIMITS)
        try:
            assert resolved.target.tags == ("fuzz:latest",)
            assert [e.path for e in resolved.layers[0].walk()] == ["/etc/os-release"]
        finally:
            resolved.close()


@FUZZ
@given(mutated(copy.deepcopy(MANIFEST)), mutated(copy.deepcopy(CONFIG)))
@example([{"Config": "config.json", "RepoTags": 5, "Layers": ["layer.tar"]}], CONFIG)
@example([], CONFIG)
@example(MANIFEST, {**CONFIG, "history": True})  # found by this harness: TypeError in parse_image_config
@example(deep(100_000), CONFIG)
@example(MANIFEST, deep(100_000))
def test_docker_archive_documents(manifest: Any, config: Any) -> None:
    """Mutated manifest.json and image config: wrong types, missing keys, deep nesting, huge numbers."""
    docker_archive(_encode(manifest), _encode(config))


@FUZZ
@given(JSONISH, JSONISH)
def test_docker_archive_arbitrary_json(manifest: Any, config: Any) -> None:
    """Arbitrary JSON values where the manifest and config belong."""
    docker_archive(_encode(manifest), _encode(config))


@FUZZ
@given(st.binary(max_size=300), st.binary(max_size=300))
@example(b"[" * 200_000, b"{}")
def test_docker_archive_not_json(manifest: bytes, config: bytes) -> None:
    """Bytes that are not JSON (or not UTF-8) in manifest.json and the config."""
    docker_archive(manifest, config)


def _blob(root: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}"


def oci_layout(index_edit: Any, manifest: Any, config: Any, *, raw_index: bytes | None = None) -> None:
    """Write an OCI layout whose blobs carry the right digests, then scan it.

    ``index_edit`` is applied to a valid index pointing at the (mutated) manifest;
    ``raw_index`` replaces index.json wholesale.
    """
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "layout"
        (root / "blobs" / "sha256").mkdir(parents=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        layer_digest = _blob(root, LAYER)
        config_bytes = _encode(config)
        config_digest = _blob(root, config_bytes)
        manifest = _fill(manifest, config_digest, len(config_bytes), layer_digest)
        manifest_bytes = _encode(manifest)
        manifest_digest = _blob(root, manifest_bytes)
        index = _fill(index_edit, manifest_digest, len(manifest_bytes), layer_digest)
        (root / "index.json").write_bytes(raw_index if raw_index is not None else _encode(index))
        scan_target(root)


def _fill(doc: Any, digest: str, size: int, layer_digest: str) -> Any:
    """Replace the placeholders ``@digest``/``@size``/``@layer`` anywhere in ``doc``."""
    if isinstance(doc, dict):
        return {k: _fill(v, digest, size, layer_digest) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_fill(v, digest, size, layer_digest) for v in doc]
    if doc == "@digest":
        return digest
    if doc == "@size":
        return size
    if doc == "@layer":
        return layer_digest
    if doc == "@layersize":
        return len(LAYER)
    return doc


OCI_INDEX: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "@digest",
            "size": "@size",
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
            "platform": {"architecture": "amd64", "os": "linux"},
        }
    ],
}
OCI_MANIFEST: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "@digest", "size": "@size"},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "@layer", "size": "@layersize"}],
}


def test_seed_oci_layout_resolves() -> None:
    """The unmutated OCI seed is a valid layout."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "layout"
        (root / "blobs" / "sha256").mkdir(parents=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        layer_digest = _blob(root, LAYER)
        config_bytes = _encode(CONFIG)
        manifest = _fill(OCI_MANIFEST, _blob(root, config_bytes), len(config_bytes), layer_digest)
        manifest_bytes = _encode(manifest)
        index = _fill(OCI_INDEX, _blob(root, manifest_bytes), len(manifest_bytes), layer_digest)
        (root / "index.json").write_bytes(_encode(index))
        resolved = resolve(parse_target(str(root)), DEFAULT_LIMITS)
        try:
            assert [e.path for e in resolved.layers[0].walk()] == ["/etc/os-release"]
        finally:
            resolved.close()


@FUZZ
@given(
    mutated(copy.deepcopy(OCI_INDEX)), mutated(copy.deepcopy(OCI_MANIFEST)), mutated(copy.deepcopy(CONFIG), budget=2)
)
@example({**OCI_INDEX, "manifests": []}, OCI_MANIFEST, CONFIG)
@example(OCI_INDEX, deep(100_000), CONFIG)
@example(OCI_INDEX, {**OCI_MANIFEST, "mediaType": "application/vnd.oci.image.index.v1+json"}, CONFIG)
def test_oci_layout_documents(index: Any, manifest: Any, config: Any) -> None:
    """Mutated index.json, manifest and config (blob digests kept right so the parsers are reached)."""
    oci_layout(index, manifest, config)


@FUZZ
@given(JSONISH, JSONISH)
def test_oci_layout_arbitrary_json(index: Any, manifest: Any) -> None:
    """Arbitrary JSON where the index and the manifest belong."""
    oci_layout(index, manifest, CONFIG)


@FUZZ
@given(st.binary(max_size=300))
@example(b"[" * 200_000)
def test_oci_index_not_json(raw: bytes) -> None:
    """index.json that is not JSON."""
    oci_layout(OCI_INDEX, OCI_MANIFEST, CONFIG, raw_index=raw)


def _seed_archive_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.tar"
        write_docker_archive(path, _encode(MANIFEST), _encode(CONFIG))
        return path.read_bytes()


SEED_ARCHIVE = _seed_archive_bytes()


@FUZZ
@given(mutated_bytes(SEED_ARCHIVE, budget=8))
def test_docker_archive_byte_flips(data: bytes) -> None:
    """The whole docker-archive with bytes flipped, cut or inserted: outer tar headers, JSON and layer."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.tar"
        path.write_bytes(data)
        scan_target(path)


def test_regression_history_of_wrong_type_is_corrupt_input() -> None:
    """Found by this harness: ``"history": true`` in an image config was a TypeError (exit 3)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.tar"
        write_docker_archive(path, _encode(MANIFEST), _encode({**CONFIG, "history": True}))
        with pytest.raises(CorruptInputError, match="image config history is not a list"):
            resolve(parse_target(str(path)), DEFAULT_LIMITS)
