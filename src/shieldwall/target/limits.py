"""Bounds on what a hostile target may make Shieldwall read, and where it may make it connect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shieldwall.egress import EgressPolicy

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource bounds for one scan; tests lower them to prove each one holds.

    ``max_ratio`` guards against decompression bombs: once a layer has produced
    ``bomb_floor`` bytes, its uncompressed size may not exceed ``max_ratio``
    times the compressed bytes read so far. ``max_sparse_hole_bytes`` is the
    same guard for sparse members (GNU sparse 0.0/0.1/1.0, old-GNU ``S``),
    whose few stored bytes can claim terabytes of holes.
    """

    max_layer_bytes: int = 32 * GiB
    max_members: int = 2_000_000
    max_file_bytes: int = 512 * MiB
    max_metadata_bytes: int = 8 * MiB
    max_ratio: int = 250
    bomb_floor: int = 256 * MiB
    max_layers: int = 512
    max_sparse_hole_bytes: int = 256 * MiB
    """Zero bytes that the holes of sparse tar members may expand to, per layer, once read."""
    egress: EgressPolicy | None = None
    """Where registry connections may go; ``None`` is the CLI's policy (``EgressPolicy.cli()``)."""


DEFAULT_LIMITS = Limits()
