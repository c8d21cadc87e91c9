"""OCI image layouts, as a directory or a tar, including nested indexes."""

from __future__ import annotations

import functools
from pathlib import Path

from shieldwall.errors import CorruptInputError, InputError
from shieldwall.model import Target, TargetRef
from shieldwall.target.base import LayerSource, ResolvedTarget, layer_refs
from shieldwall.target.blobs import BlobSource, DirBlobs, TarBlobs, blob_path, read_bounded, verify_digest
from shieldwall.target.imageconfig import parse_image_config
from shieldwall.target.layer import BlobLayer
from shieldwall.target.limits import Limits
from shieldwall.target.manifest import (
    INDEX_TYPES,
    Descriptor,
    choose_platform,
    index_entries,
    load_json,
    manifest_parts,
    media_type_of,
)

_MAX_INDEX_DEPTH = 4


def _split(value: str) -> tuple[Path, str]:
    """``path[:ref-name]``; the suffix selects a manifest by its ref.name annotation."""
    path = Path(value)
    if path.exists() or ":" not in value:
        return path, ""
    head, _, tail = value.rpartition(":")
    return Path(head), tail


def resolve_oci_layout(ref: TargetRef, limits: Limits) -> ResolvedTarget:
    """Resolve ``oci:PATH[:REF]`` (directory or tar) to one image's layers."""
    path, ref_name = _split(ref.value)
    if path.is_dir():
        blobs: BlobSource = DirBlobs(path)
    elif path.is_file():
        blobs = TarBlobs(path, limits)
    else:
        raise InputError(f"{ref.value}: no such OCI layout")
    try:
        return _resolve(ref, path, ref_name, blobs, limits)
    except BaseException:
        blobs.close()
        raise


def _read_blob(blobs: BlobSource, desc: Descriptor, limit: int, label: str) -> bytes:
    data = read_bounded(blobs, blob_path(desc.digest), limit)
    verify_digest(data, desc.digest, label)
    return data


def _resolve(ref: TargetRef, path: Path, ref_name: str, blobs: BlobSource, limits: Limits) -> ResolvedTarget:
    label = str(path)
    if not blobs.exists("index.json"):
        raise CorruptInputError(f"{label}: not an OCI layout (no index.json)")
    doc = load_json(read_bounded(blobs, "index.json", limits.max_metadata_bytes), f"{label}: index.json")
    entries = index_entries(doc, f"{label}: index.json")
    if ref_name:
        entries = [e for e in entries if e.ref_name == ref_name]
        if not entries:
            raise InputError(f"{label}: no manifest named {ref_name!r}")
    chosen = choose_platform(entries, ref.platform, label) if len(entries) > 1 or ref.platform else entries[0]
    for _ in range(_MAX_INDEX_DEPTH):
        raw = _read_blob(blobs, chosen, limits.max_metadata_bytes, f"{label}: manifest {chosen.digest}")
        manifest = load_json(raw, f"{label}: manifest {chosen.digest}")
        if media_type_of(manifest, chosen.media_type) in INDEX_TYPES:
            chosen = choose_platform(index_entries(manifest, label), ref.platform, label)
            continue
        break
    else:
        raise CorruptInputError(f"{label}: indexes nested deeper than {_MAX_INDEX_DEPTH}")
    config_desc, layer_descs = manifest_parts(manifest, label)
    if len(layer_descs) > limits.max_layers:
        raise CorruptInputError(f"{label}: {len(layer_descs)} layers is above the limit of {limits.max_layers}")
    config = parse_image_config(_read_blob(blobs, config_desc, limits.max_metadata_bytes, f"{label}: config"), label)
    if len(config.diff_ids) != len(layer_descs):
        raise CorruptInputError(f"{label}: config lists {len(config.diff_ids)} diff IDs, manifest {len(layer_descs)}")
    refs = layer_refs(config, list(config.diff_ids), [d.size for d in layer_descs])
    layers: list[LayerSource] = []
    for layer_ref, desc in zip(refs, layer_descs, strict=True):
        name = blob_path(desc.digest)
        layers.append(
            BlobLayer(
                layer_ref,
                functools.partial(blobs.open, name),
                limits,
                blob_digest=desc.digest,
                label=f"{label}: layer {layer_ref.index}",
                blob_key=name,
                read_order=blobs.offset(name) if isinstance(blobs, TarBlobs) else 0,
                portable=blobs.portable_opener(name),
            )
        )
    tag = chosen.ref_name or ref_name
    target = Target(
        ref=ref,
        name=f"{path}:{tag}" if tag else str(path),
        digest=chosen.digest,
        image_id=config_desc.digest,
        tags=(tag,) if tag else (),
    )
    return ResolvedTarget(target=target, layers=layers, config=config, close=blobs.close)
