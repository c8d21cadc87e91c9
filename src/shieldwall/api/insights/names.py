"""How an asset is shown: ``registry/repo:tag`` rather than a digest, and who owns it.

An image is stored by digest; people know it by the tag that points at it.
``asset_names`` picks the newest current tag (or a past one, marked
``moved``), falls back to the scanned name when that is not itself a digest,
then to ``repository@sha256:0123abcd``. The digest stays available for hover
and copy. The owner comes from the asset's labels (the first of
``OWNER_LABELS`` that is set).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.store.schema import Asset, AssetTag

OWNER_LABELS = (
    "shieldwall.owner",
    "owner",
    "team",
    "org.opencontainers.image.vendor",
    "org.opencontainers.image.authors",
    "maintainer",
)


@dataclass(frozen=True, slots=True)
class AssetName:
    """What to show for an asset, and the digest behind it ('' when it is not an image)."""

    id: int
    kind: str
    label: str
    digest: str
    moved: bool = False


def labels_of(asset: Asset) -> dict[str, str]:
    """The asset's labels (image labels, or ``host``/``image`` for a container)."""
    try:
        data = json.loads(asset.labels or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def owner_of(asset: Asset) -> str:
    """The asset's owner from its labels ('' when none is set)."""
    labels = labels_of(asset)
    return next((labels[k][:200] for k in OWNER_LABELS if labels.get(k, "").strip()), "")


def _looks_like_digest(text: str) -> bool:
    return "sha256:" in text or "sha512:" in text


def tag_label(repository: str, tag: str) -> str:
    """``repository:tag`` (some tags are stored already qualified)."""
    return tag if tag.startswith(repository + ":") or not repository else f"{repository}:{tag}"


def _fallback(asset: Asset) -> str:
    name = asset.name or ""
    if name and not _looks_like_digest(name):
        return name.removeprefix("dir:")
    digest = asset.identifier if _looks_like_digest(asset.identifier) else ""
    short = digest.split(":", 1)[-1][:12] if digest else ""
    if asset.repository and short:
        return f"{asset.repository}@sha256:{short}"
    if short:
        return f"sha256:{short}"
    return (name or asset.identifier).removeprefix("dir:")


def asset_names(session: Session, assets: Iterable[Asset]) -> dict[int, AssetName]:
    """Display names of ``assets`` (one query for all their tags)."""
    items = {a.id: a for a in assets}
    best: dict[int, AssetTag] = {}
    if items:
        rows = session.scalars(
            select(AssetTag)
            .where(AssetTag.asset_id.in_(list(items)))
            .order_by(AssetTag.current.desc(), AssetTag.last_seen.desc(), AssetTag.id.desc())
        )
        for row in rows:
            best.setdefault(row.asset_id, row)
    out: dict[int, AssetName] = {}
    for asset_id, asset in items.items():
        digest = asset.identifier if asset.identifier.startswith(("sha256:", "sha512:")) else ""
        tag = best.get(asset_id)
        if tag is not None and tag.tag:
            out[asset_id] = AssetName(
                asset_id, asset.kind, tag_label(tag.repository, tag.tag), digest, moved=not tag.current
            )
        elif asset.kind == "container":
            host = labels_of(asset).get("host", "")
            label = asset.name or asset.identifier
            out[asset_id] = AssetName(asset_id, asset.kind, f"{label} on {host}" if host else label, "")
        else:
            out[asset_id] = AssetName(asset_id, asset.kind, _fallback(asset), digest)
    return out


def names_by_id(session: Session, asset_ids: Iterable[int]) -> dict[int, AssetName]:
    """Display names for asset IDs."""
    ids = sorted(set(asset_ids))
    if not ids:
        return {}
    return asset_names(session, session.scalars(select(Asset).where(Asset.id.in_(ids))))
