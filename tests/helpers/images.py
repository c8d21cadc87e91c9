"""Build real image archives for tests, without a Docker daemon.

A layer is a mapping of path -> content:
  - ``bytes``: a regular file (mode 0644),
  - ``File(data, mode)``: a regular file with a mode,
  - ``Symlink(target)`` / ``Hardlink(target)``,
  - ``DIR``: a directory,
  - ``WHITEOUT``: deletes the path from lower layers (``.wh.<name>``),
  - ``OPAQUE``: on a directory path, hides all lower-layer content of it.

``build_docker_archive`` writes ``docker save`` output (legacy layout),
``build_oci_layout`` writes an OCI image layout (directory or tar), with
gzip, zstd or no compression. Digests, diff IDs and history are real.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import zstandard


@dataclass(frozen=True)
class File:
    data: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class Hardlink:
    target: str


DIR = object()
WHITEOUT = object()
OPAQUE = object()

Content = bytes | File | Symlink | Hardlink | object
Layer = Mapping[str, Content]
Compression = Literal["gzip", "zstd", "none"]


@dataclass
class ImageSpec:
    """Config values for the image; ``created_by`` has one entry per layer."""

    created_by: Sequence[str] = ()
    env: Sequence[str] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    user: str = ""
    cmd: Sequence[str] = ("/bin/sh",)
    entrypoint: Sequence[str] = ()
    exposed_ports: Sequence[str] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""


def layer_tar(layer: Layer) -> bytes:
    """Uncompressed tar bytes of a layer, members in the given order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content in layer.items():
            name = path.lstrip("/")
            if content is WHITEOUT:
                head, _, base = name.rpartition("/")
                info = tarfile.TarInfo((head + "/" if head else "") + ".wh." + base)
                tar.addfile(info, io.BytesIO(b""))
                continue
            if content is OPAQUE:
                info = tarfile.TarInfo(name.rstrip("/") + "/.wh..wh..opq")
                tar.addfile(info, io.BytesIO(b""))
                continue
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if content is DIR:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif isinstance(content, Symlink):
                info.type = tarfile.SYMTYPE
                info.linkname = content.target
                tar.addfile(info)
            elif isinstance(content, Hardlink):
                info.type = tarfile.LNKTYPE
                info.linkname = content.target.lstrip("/")
                tar.addfile(info)
            else:
                data, mode = (content.data, content.mode) if isinstance(content, File) else (content, 0o644)
                assert isinstance(data, bytes)
                info.size = len(data)
                info.mode = mode
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def compress(data: bytes, compression: Compression) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_config(diff_ids: Sequence[str], spec: ImageSpec) -> dict[str, Any]:
    history = []
    for index in range(len(diff_ids)):
        created_by = spec.created_by[index] if index < len(spec.created_by) else f"/bin/sh -c #(nop) layer {index}"
        history.append({"created": "2024-01-01T00:00:00Z", "created_by": created_by})
    config: dict[str, Any] = {
        "Env": list(spec.env),
        "Cmd": list(spec.cmd),
        "User": spec.user,
        "Labels": dict(spec.labels),
    }
    if spec.entrypoint:
        config["Entrypoint"] = list(spec.entrypoint)
    if spec.exposed_ports:
        config["ExposedPorts"] = {p: {} for p in spec.exposed_ports}
    doc: dict[str, Any] = {
        "architecture": spec.architecture,
        "os": spec.os,
        "created": "2024-01-01T00:00:00Z",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": history,
    }
    if spec.variant:
        doc["variant"] = spec.variant
    return doc


def build_docker_archive(
    path: Path,
    layers: Sequence[Layer],
    spec: ImageSpec | None = None,
    *,
    tag: str = "example/app:1.0",
    compression: Compression = "none",
) -> Path:
    """Write a ``docker save`` style tarball (legacy layout) and return its path."""
    spec = spec or ImageSpec()
    tars = [layer_tar(layer) for layer in layers]
    diff_ids = [sha256(t) for t in tars]
    config = json.dumps(image_config(diff_ids, spec)).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    members: list[tuple[str, bytes]] = [(f"{config_hex}.json", config)]
    layer_names = []
    for index, tar_bytes in enumerate(tars):
        name = f"{index:02d}{hashlib.sha256(tar_bytes).hexdigest()[:30]}/layer.tar"
        layer_names.append(name)
        members.append((name, compress(tar_bytes, compression)))
    manifest = [{"Config": f"{config_hex}.json", "RepoTags": [tag] if tag else [], "Layers": layer_names}]
    members.insert(0, ("manifest.json", json.dumps(manifest).encode()))
    _write_tar(path, members)
    return path


def _write_tar(path: Path, members: Sequence[tuple[str, bytes]]) -> None:
    with tarfile.open(path, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))


@dataclass
class OciImage:
    """What ``build_oci_layout`` wrote: digests a test may want to check or tamper with."""

    manifest_digest: str
    config_digest: str
    layer_digests: list[str]
    diff_ids: list[str]
    blobs: dict[str, bytes]
    manifest: dict[str, Any]


def oci_image(layers: Sequence[Layer], spec: ImageSpec | None = None, *, compression: Compression = "gzip") -> OciImage:
    """Blobs and manifest of one image (not yet written anywhere)."""
    spec = spec or ImageSpec()
    tars = [layer_tar(layer) for layer in layers]
    diff_ids = [sha256(t) for t in tars]
    blobs: dict[str, bytes] = {}
    layer_descs = []
    media = {
        "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
        "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
        "none": "application/vnd.oci.image.layer.v1.tar",
    }[compression]
    for tar_bytes in tars:
        blob = compress(tar_bytes, compression)
        digest = sha256(blob)
        blobs[digest] = blob
        layer_descs.append({"mediaType": media, "digest": digest, "size": len(blob)})
    config = json.dumps(image_config(diff_ids, spec)).encode()
    config_digest = sha256(config)
    blobs[config_digest] = config
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config),
        },
        "layers": layer_descs,
    }
    manifest_bytes = json.dumps(manifest).encode()
    manifest_digest = sha256(manifest_bytes)
    blobs[manifest_digest] = manifest_bytes
    return OciImage(manifest_digest, config_digest, [d["digest"] for d in layer_descs], diff_ids, blobs, manifest)


def build_oci_layout(
    path: Path,
    images: Sequence[OciImage] | None = None,
    *,
    layers: Sequence[Layer] | None = None,
    spec: ImageSpec | None = None,
    compression: Compression = "gzip",
    ref_name: str = "1.0",
    as_index: bool = False,
    as_tar: bool = False,
) -> Path:
    """Write an OCI layout (one image, or several under an image index) as a directory or tar."""
    if images is None:
        assert layers is not None
        images = [oci_image(layers, spec, compression=compression)]
    blobs: dict[str, bytes] = {}
    for image in images:
        blobs.update(image.blobs)
    descs = []
    for image in images:
        config = json.loads(image.blobs[image.config_digest])
        desc: dict[str, Any] = {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": image.manifest_digest,
            "size": len(image.blobs[image.manifest_digest]),
            "platform": {"os": config["os"], "architecture": config["architecture"]},
        }
        if config.get("variant"):
            desc["platform"]["variant"] = config["variant"]
        descs.append(desc)
    if as_index or len(images) > 1:
        index_doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs}
        index_bytes = json.dumps(index_doc).encode()
        index_digest = sha256(index_bytes)
        blobs[index_digest] = index_bytes
        top = [
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": index_digest,
                "size": len(index_bytes),
                "annotations": {"org.opencontainers.image.ref.name": ref_name},
            }
        ]
    else:
        top = [dict(descs[0], annotations={"org.opencontainers.image.ref.name": ref_name})]
    members = [
        ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
        ("index.json", json.dumps({"schemaVersion": 2, "manifests": top}).encode()),
    ]
    for digest, data in blobs.items():
        algo, _, hexpart = digest.partition(":")
        members.append((f"blobs/{algo}/{hexpart}", data))
    if as_tar:
        _write_tar(path, members)
    else:
        for name, data in members:
            out = path / name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
    return path
