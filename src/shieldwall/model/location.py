"""Where a thing was found: a path inside a target, the layer that holds it, a line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LayerRef:
    """One layer of an image.

    ``digest`` is the diff ID (sha256 of the uncompressed tar), which is what
    the image config lists and what the per-layer cache is keyed by.
    ``created_by`` is the history entry that produced the layer, usually the
    Dockerfile instruction. Directory targets have a single layer with an empty
    digest.
    """

    index: int
    digest: str = ""
    created_by: str = ""
    size: int = 0


@dataclass(frozen=True, slots=True)
class Location:
    """A position inside a target: absolute path, optional layer and line range."""

    path: str
    layer: LayerRef | None = None
    line: int | None = None
    column: int | None = None
    end_line: int | None = None

    def with_layer(self, layer: LayerRef | None) -> Location:
        """Return a copy attributed to ``layer``."""
        return Location(self.path, layer, self.line, self.column, self.end_line)
