"""What every target kind resolves to: an identity, an optional image config, and layers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from shieldwall.errors import CorruptInputError
from shieldwall.model import ImageConfig, LayerRef, OSInfo, Package, Target
from shieldwall.target.entries import Entry


class LayerSource(Protocol):
    """One layer (or a whole directory) whose entries can be walked once per call.

    ``cache_key`` is the layer's content identity (the diff ID); empty means
    the layer must not be cached (a live directory).
    """

    ref: LayerRef
    cache_key: str
    read_blob_digest: str
    blob_key: str
    read_order: int
    """Where the layer's bytes sit in their archive (0 when it does not matter): read in this order."""
    """Names the stored bytes (archive member, blob path, registry digest); "" when there are none."""
    """After a complete, verified walk: the digest of the stored bytes ("" when not known)."""

    def walk(self) -> Iterator[Entry]:
        """Yield the layer's entries; opens and closes whatever it reads from."""
        ...

    def cache_identity(self) -> str:
        """The digest of the bytes as shipped, checked before a cached result is trusted ("" = never cache)."""
        ...


def _noop() -> None:
    return None


@dataclass
class ResolvedTarget:
    """A target ready to scan. ``close`` releases open archives and connections."""

    target: Target
    layers: list[LayerSource]
    config: ImageConfig | None = None
    packages: tuple[Package, ...] = ()
    os: OSInfo | None = None
    close: Callable[[], None] = field(default=_noop)


DIFF_ID = re.compile(r"sha256:[0-9a-f]{64}")


def layer_refs(config: ImageConfig, diff_ids: list[str], sizes: list[int] | None = None) -> list[LayerRef]:
    """Pair each layer with the history entry that created it (empty layers skipped).

    Every diff ID must be a well-formed SHA-256 digest: it is what each layer's
    content is verified against, and an empty or odd one would switch that off.
    """
    non_empty = [h for h in config.history if not h.empty_layer]
    refs: list[LayerRef] = []
    for index, digest in enumerate(diff_ids):
        if not isinstance(digest, str) or not DIFF_ID.fullmatch(digest):
            raise CorruptInputError(f"image config: diff ID {index} is not a sha256 digest ({str(digest)[:80]!r})")
        created_by = non_empty[index].created_by if index < len(non_empty) else ""
        size = sizes[index] if sizes and index < len(sizes) else 0
        refs.append(LayerRef(index, digest, created_by, size))
    return refs
