"""Bounds on what a hostile target may make Shieldwall read."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource bounds for one scan; tests lower them to prove each one holds.

    ``max_ratio`` guards against decompression bombs: once a layer has produced
    ``bomb_floor`` bytes, its uncompressed size may not exceed ``max_ratio``
    times the compressed bytes read so far.
    """

    max_layer_bytes: int = 32 * GiB
    max_members: int = 2_000_000
    max_file_bytes: int = 512 * MiB
    max_metadata_bytes: int = 8 * MiB
    max_ratio: int = 250
    bomb_floor: int = 256 * MiB
    max_layers: int = 512


DEFAULT_LIMITS = Limits()
