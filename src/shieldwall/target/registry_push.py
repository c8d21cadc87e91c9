"""A minimal image pusher for tests, the demo and benchmarks (not a general-purpose tool).

It uploads an OCI layout (directory or tar) or a ``docker save`` tarball to a
registry over the distribution API: each blob is checked with ``HEAD`` and,
when missing, uploaded monolithically (``POST .../blobs/uploads/`` then
``PUT <location>?digest=``); manifests are ``PUT`` with their media type,
children of an index first. A docker-archive's uncompressed layers are
gzip-compressed on the way and an OCI manifest is written for them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from shieldwall.errors import CorruptInputError, InputError, RegistryError
from shieldwall.target.blobs import BlobSource, DirBlobs, TarBlobs, blob_path, read_bounded, verify_digest
from shieldwall.target.limits import DEFAULT_LIMITS
from shieldwall.target.manifest import INDEX_TYPES, Descriptor, index_entries, load_json, manifest_parts, media_type_of
from shieldwall.target.reference import ImageReference, parse_reference
from shieldwall.target.registry import RegistryClient, check_digest_syntax
from shieldwall.target.streams import GZIP_MAGIC, ZSTD_MAGIC

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_LAYER_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
_METADATA_LIMIT = DEFAULT_LIMITS.max_metadata_bytes
_MAX_INDEX_DEPTH = 4

Opener = Callable[[], BinaryIO]


def push_oci_layout(
    source: Path | str,
    reference: str | ImageReference,
    *,
    client: RegistryClient | None = None,
    ref_name: str = "",
) -> str:
    """Push an OCI layout (directory or tar) or a docker-archive tar; return the pushed manifest digest.

    ``ref_name`` picks one manifest of a layout's ``index.json`` by its
    ``org.opencontainers.image.ref.name`` annotation; a layout with a single
    entry needs none. The image is stored under ``reference``'s tag (or only
    by digest when the reference has none).
    """
    ref = reference if isinstance(reference, ImageReference) else parse_reference(reference)
    path = Path(source)
    own_client = client is None
    active = client if client is not None else RegistryClient(ref.registry)
    try:
        if path.is_dir():
            return _push_layout(active, DirBlobs(path), ref, ref_name)
        if not path.is_file():
            raise InputError(f"{path}: no such OCI layout or docker archive")
        blobs = TarBlobs(path)
        try:
            if blobs.exists("index.json"):
                return _push_layout(active, blobs, ref, ref_name)
            if blobs.exists("manifest.json"):
                return _push_docker_archive(active, blobs, ref)
            raise InputError(f"{path}: neither an OCI layout nor a docker archive")
        finally:
            blobs.close()
    finally:
        if own_client:
            active.close()


def _target(ref: ImageReference, digest: str) -> str:
    return ref.tag or digest


def blob_exists(client: RegistryClient, repository: str, digest: str) -> bool:
    """``HEAD`` a blob: True when the registry already has it."""
    what = f"blob {digest} of {repository}"
    response = client.send("HEAD", f"/v2/{repository}/blobs/{digest}", what)
    response.close()
    if response.status_code == 200:
        return True
    if response.status_code == 404:
        return False
    client.raise_for_status(response, what, repository)
    return False


def upload_blob(client: RegistryClient, repository: str, digest: str, size: int, opener: Opener) -> bool:
    """Upload one blob unless the registry has it; returns True when bytes were sent."""
    check_digest_syntax(digest, f"registry {client.registry}")
    if blob_exists(client, repository, digest):
        return False
    what = f"upload of {digest} to {repository}"
    for attempt in range(2):
        response = client.send("POST", f"/v2/{repository}/blobs/uploads/", what, stream=False)
        client.raise_for_status(response, what, repository)
        location = response.headers.get("location")
        if response.status_code != 202 or not location:
            raise RegistryError(f"registry {client.registry}: {what}: no upload location (HTTP {response.status_code})")
        handle = opener()
        try:
            response = client.send(
                "PUT",
                str(httpx.URL(location).copy_add_param("digest", digest)),
                what,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                content=handle,
                stream=False,
            )
        except httpx.StreamError:
            if attempt:
                raise
            continue  # the auth flow needed a retry of a consumed body; credentials are primed now
        finally:
            handle.close()
        client.raise_for_status(response, what, repository)
        return True
    return True


def put_manifest(client: RegistryClient, repository: str, reference: str, raw: bytes, media_type: str) -> str:
    """``PUT`` a manifest or index; returns the digest the registry stored it under."""
    what = f"manifest {repository}:{reference}"
    response = client.send(
        "PUT",
        f"/v2/{repository}/manifests/{reference}",
        what,
        headers={"Content-Type": media_type},
        content=raw,
        stream=False,
    )
    client.raise_for_status(response, what, repository)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    stored = response.headers.get("docker-content-digest", digest)
    if stored != digest:
        raise RegistryError(f"registry {client.registry}: {what} stored as {stored}, expected {digest}")
    return digest


def _push_layout(client: RegistryClient, blobs: BlobSource, ref: ImageReference, ref_name: str) -> str:
    label = blobs.label
    index = load_json(read_bounded(blobs, "index.json", _METADATA_LIMIT), f"{label}: index.json")
    entries = index_entries(index, f"{label}: index.json")
    if ref_name:
        entries = [e for e in entries if e.ref_name == ref_name]
    if len(entries) != 1:
        names = ", ".join(sorted(e.ref_name or e.digest for e in index_entries(index, label)))
        raise InputError(f"{label}: choose one manifest with ref_name (entries: {names})")
    return _push_tree(client, blobs, ref, entries[0], _target(ref, entries[0].digest), 0)


def _push_tree(
    client: RegistryClient, blobs: BlobSource, ref: ImageReference, desc: Descriptor, put_as: str, depth: int
) -> str:
    label = f"{blobs.label}: {desc.digest}"
    if depth > _MAX_INDEX_DEPTH:
        raise CorruptInputError(f"{label}: indexes nested deeper than {_MAX_INDEX_DEPTH}")
    raw = read_bounded(blobs, blob_path(desc.digest), _METADATA_LIMIT)
    verify_digest(raw, desc.digest, label)
    doc = load_json(raw, label)
    media_type = media_type_of(doc, desc.media_type)
    if media_type in INDEX_TYPES:
        for child in index_entries(doc, label):
            if blobs.exists(blob_path(child.digest)):
                _push_tree(client, blobs, ref, child, child.digest, depth + 1)
            else:
                raise CorruptInputError(f"{label}: index lists {child.digest}, which the layout lacks")
    else:
        config, layers = manifest_parts(doc, label)
        for item in [config, *layers]:
            name = blob_path(item.digest)
            upload_blob(client, ref.repository, item.digest, blobs.size(name), _opener(blobs, name))
    return put_manifest(client, ref.repository, put_as, raw, media_type)


def _opener(blobs: BlobSource, name: str) -> Opener:
    def open_blob() -> BinaryIO:
        return blobs.open(name)

    return open_blob


def _file_opener(path: Path) -> Opener:
    def open_file() -> BinaryIO:
        return path.open("rb")

    return open_file


def _push_docker_archive(client: RegistryClient, blobs: TarBlobs, ref: ImageReference) -> str:
    label = blobs.label
    doc = json.loads(read_bounded(blobs, "manifest.json", _METADATA_LIMIT))
    if not isinstance(doc, list) or not doc or not isinstance(doc[0], dict):
        raise CorruptInputError(f"{label}: manifest.json is not a list of images")
    entry: dict[str, Any] = doc[0]
    config_name, layer_names = entry.get("Config"), entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list):
        raise CorruptInputError(f"{label}: manifest entry lacks Config or Layers")
    config = read_bounded(blobs, config_name, _METADATA_LIMIT)
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    repo = ref.repository
    upload_blob(client, repo, config_digest, len(config), lambda: io.BytesIO(config))
    layer_descs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="shieldwall-push-") as tmp:
        for index, name in enumerate(layer_names):
            staged = Path(tmp) / f"layer{index}"
            kind = _stage_layer(blobs, str(name), staged)
            digest, size = _file_digest(staged)
            upload_blob(client, repo, digest, size, _file_opener(staged))
            layer_descs.append({"mediaType": _LAYER_TYPES[kind], "digest": digest, "size": size})
            staged.unlink()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": layer_descs,
    }
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    return put_manifest(client, repo, _target(ref, digest), raw, OCI_MANIFEST)


def _stage_layer(blobs: TarBlobs, name: str, out: Path) -> str:
    """Copy a layer to ``out``, gzip-compressing it unless it already is; returns gzip or zstd."""
    with blobs.open(name) as src:
        head = src.read(4)
        if head.startswith(GZIP_MAGIC) or head.startswith(ZSTD_MAGIC):
            with out.open("wb") as dst:
                dst.write(head)
                shutil.copyfileobj(src, dst, 1 << 20)
            return "gzip" if head.startswith(GZIP_MAGIC) else "zstd"
        with out.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as dst:
            dst.write(head)
            shutil.copyfileobj(src, dst, 1 << 20)
    return "gzip"


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return "sha256:" + digest.hexdigest(), size
