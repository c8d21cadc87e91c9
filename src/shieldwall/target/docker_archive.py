"""``docker save`` tarballs: legacy layout and the OCI-style layout of Docker 25+."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from shieldwall.errors import CorruptInputError, InputError
from shieldwall.model import Target, TargetRef
from shieldwall.target.base import LayerSource, ResolvedTarget, layer_refs
from shieldwall.target.blobs import TarBlobs, read_bounded, verify_digest
from shieldwall.target.imageconfig import parse_image_config
from shieldwall.target.layer import BlobLayer
from shieldwall.target.limits import Limits


def _string_list(value: Any, label: str, field: str) -> list[str]:
    """A manifest field that must be a list of strings (absent or null is an empty list)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CorruptInputError(f"{label}: manifest.json {field} is not a list of strings")
    return value


def _manifest_entry(doc: Any, label: str, wanted_tag: str) -> dict[str, Any]:
    """The image entry of ``manifest.json``, its fields' types checked at the edge."""
    if not isinstance(doc, list) or not doc or not all(isinstance(x, dict) for x in doc):
        raise CorruptInputError(f"{label}: manifest.json is not a non-empty list of images")
    for entry in doc:
        entry["RepoTags"] = _string_list(entry.get("RepoTags"), label, "RepoTags")
        entry["Layers"] = _string_list(entry.get("Layers"), label, "Layers")
    if wanted_tag:
        for entry in doc:
            if wanted_tag in (entry.get("RepoTags") or []):
                return dict(entry)
        raise InputError(f"{label}: no image tagged {wanted_tag!r} in the archive")
    return dict(doc[0])


def resolve_docker_archive(ref: TargetRef, limits: Limits) -> ResolvedTarget:
    """Resolve ``docker-archive:PATH[:TAG]`` into its config and layers."""
    value = ref.value
    tag = ""
    path = Path(value)
    if not path.exists() and ":" in value:
        head, _, tail = value.rpartition(":")
        if Path(head).exists():
            path, tag = Path(head), tail
    if not path.is_file():
        raise InputError(f"{value}: no such file")
    blobs = TarBlobs(path, limits)
    try:
        label = str(path)
        if not blobs.exists("manifest.json"):
            raise CorruptInputError(f"{label}: not a docker-archive (no manifest.json)")
        try:
            manifest = json.loads(read_bounded(blobs, "manifest.json", limits.max_metadata_bytes))
        except (ValueError, RecursionError) as exc:
            raise CorruptInputError(f"{label}: manifest.json is not JSON ({exc})") from exc
        entry = _manifest_entry(manifest, label, tag)
        config_name = entry.get("Config")
        layer_names = entry.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layer_names, list):
            raise CorruptInputError(f"{label}: manifest entry lacks Config or Layers")
        if len(layer_names) > limits.max_layers:
            raise CorruptInputError(f"{label}: {len(layer_names)} layers is above the limit of {limits.max_layers}")
        raw_config = read_bounded(blobs, config_name, limits.max_metadata_bytes)
        config_hex = Path(config_name).name.removesuffix(".json")
        if len(config_hex) == 64:
            verify_digest(raw_config, f"sha256:{config_hex}", f"{label}: config")
        config = parse_image_config(raw_config, label)
        if len(config.diff_ids) != len(layer_names):
            raise CorruptInputError(
                f"{label}: config lists {len(config.diff_ids)} diff IDs but manifest has {len(layer_names)} layers"
            )
        sizes = [blobs.size(str(n)) for n in layer_names]
        refs = layer_refs(config, list(config.diff_ids), sizes)
        layers: list[LayerSource] = []
        for layer_ref, name in zip(refs, layer_names, strict=True):
            layers.append(
                BlobLayer(
                    layer_ref,
                    functools.partial(blobs.open, str(name)),
                    limits,
                    label=f"{label}: layer {layer_ref.index}",
                    blob_key=str(name),
                    read_order=blobs.offset(str(name)),
                    portable=blobs.portable_opener(str(name)),
                )
            )

        image_id = "sha256:" + hashlib.sha256(raw_config).hexdigest()
        tags = tuple(str(t) for t in entry.get("RepoTags") or [])
        target = Target(
            ref=ref,
            name=tags[0] if tags else str(path),
            image_id=image_id,
            tags=tags,
            repository=tags[0].rpartition(":")[0] if tags else "",
        )
        return ResolvedTarget(target=target, layers=layers, config=config, close=blobs.close)
    except BaseException:
        blobs.close()
        raise
