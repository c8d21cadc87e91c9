"""OCI / Docker distribution manifests and indexes: parsing and platform choice."""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass
from typing import Any

from shieldwall.errors import CorruptInputError, InputError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A content descriptor: media type, digest, size, and platform for index entries."""

    media_type: str
    digest: str
    size: int
    platform: str = ""
    ref_name: str = ""


def _descriptor(raw: Any, label: str) -> Descriptor:
    if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str):
        raise CorruptInputError(f"{label}: malformed descriptor")
    plat = raw.get("platform") or {}
    platform = ""
    if isinstance(plat, dict) and plat.get("os"):
        platform = "/".join(str(p) for p in (plat.get("os"), plat.get("architecture"), plat.get("variant")) if p)
    annotations = raw.get("annotations") or {}
    ref_name = str(annotations.get("org.opencontainers.image.ref.name", "")) if isinstance(annotations, dict) else ""
    size = raw.get("size", 0)
    return Descriptor(
        str(raw.get("mediaType", "")),
        raw["digest"],
        int(size) if isinstance(size, int) else 0,
        platform,
        ref_name,
    )


def load_json(raw: bytes, label: str) -> dict[str, Any]:
    """Parse a JSON object or fail with a one-line diagnosis."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CorruptInputError(f"{label}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise CorruptInputError(f"{label}: expected a JSON object")
    return doc


def media_type_of(doc: dict[str, Any], fallback: str = "") -> str:
    """The document's media type, inferred from its shape when absent."""
    mt = doc.get("mediaType") or fallback
    if mt:
        return str(mt)
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST


def index_entries(doc: dict[str, Any], label: str) -> list[Descriptor]:
    """Descriptors listed by an index or manifest list."""
    manifests = doc.get("manifests")
    if not isinstance(manifests, list):
        raise CorruptInputError(f"{label}: index has no manifests list")
    if not manifests:
        raise CorruptInputError(f"{label}: index lists no manifests")
    return [_descriptor(m, label) for m in manifests]


def default_platform() -> str:
    """``linux/<arch of this machine>`` in OCI spelling."""
    machine = _platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm"}.get(machine, machine)
    return f"linux/{arch}"


def choose_platform(entries: list[Descriptor], wanted: str, label: str) -> Descriptor:
    """Pick the manifest for ``wanted`` (default: this machine); single entries need no choice."""
    images = [e for e in entries if e.platform != "unknown/unknown"]
    if not images:
        raise CorruptInputError(f"{label}: index lists no image manifests")
    if len(images) == 1 and (not wanted or not images[0].platform):
        return images[0]
    want = wanted or default_platform()
    for entry in images:
        if entry.platform == want or (entry.platform.startswith(want + "/") and want.count("/") == 1):
            return entry
    if not wanted and not any(e.platform for e in images):
        return images[0]
    available = ", ".join(sorted({e.platform or "?" for e in images}))
    raise InputError(f"{label}: no manifest for platform {want} (available: {available}); use --platform")


def manifest_parts(doc: dict[str, Any], label: str) -> tuple[Descriptor, list[Descriptor]]:
    """Config and layer descriptors of an image manifest."""
    config = doc.get("config")
    layers = doc.get("layers")
    if config is None or not isinstance(layers, list):
        raise CorruptInputError(f"{label}: manifest lacks config or layers")
    return _descriptor(config, label), [_descriptor(layer, label) for layer in layers]
