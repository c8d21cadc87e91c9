"""Parse an OCI / Docker image config JSON into ``ImageConfig``."""

from __future__ import annotations

import json
from typing import Any

from shieldwall.errors import CorruptInputError
from shieldwall.model import HistoryEntry, ImageConfig


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, str) and value:
        return (value,)
    return ()


def parse_image_config(raw: bytes, label: str) -> ImageConfig:
    """Read the fields Shieldwall reports and the checks use; reject non-objects."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CorruptInputError(f"{label}: image config is not JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise CorruptInputError(f"{label}: image config is not a JSON object")
    cfg = doc.get("config") or doc.get("container_config") or {}
    if not isinstance(cfg, dict):
        cfg = {}
    rootfs = doc.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise CorruptInputError(f"{label}: image config has no rootfs.diff_ids list")
    raw_history = doc.get("history") or []
    if not isinstance(raw_history, list):  # it pairs layers with their Dockerfile steps: checked, not guessed
        raise CorruptInputError(f"{label}: image config history is not a list")
    history = []
    for item in raw_history:
        if isinstance(item, dict):
            history.append(
                HistoryEntry(
                    created_by=str(item.get("created_by", "")),
                    created=str(item.get("created", "")),
                    comment=str(item.get("comment", "")),
                    empty_layer=bool(item.get("empty_layer", False)),
                )
            )
    labels = cfg.get("Labels") or {}
    health = cfg.get("Healthcheck") or {}
    return ImageConfig(
        os=str(doc.get("os", "")),
        architecture=str(doc.get("architecture", "")),
        variant=str(doc.get("variant", "")),
        created=str(doc.get("created", "")),
        user=str(cfg.get("User", "") or ""),
        env=_strs(cfg.get("Env")),
        exposed_ports=tuple(sorted((cfg.get("ExposedPorts") or {}).keys()))
        if isinstance(cfg.get("ExposedPorts"), dict)
        else (),
        entrypoint=_strs(cfg.get("Entrypoint")),
        cmd=_strs(cfg.get("Cmd")),
        working_dir=str(cfg.get("WorkingDir", "") or ""),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())) if isinstance(labels, dict) else (),
        healthcheck=_strs(health.get("Test")) if isinstance(health, dict) else (),
        volumes=tuple(sorted((cfg.get("Volumes") or {}).keys())) if isinstance(cfg.get("Volumes"), dict) else (),
        history=tuple(history),
        diff_ids=tuple(diff_ids),
    )
