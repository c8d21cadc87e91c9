"""``scan.layer``: analyse one registry layer into the shared layer cache (queued by ``service.fanout``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shieldwall.cache.shared import SharedLayerCache
from shieldwall.errors import InputError
from shieldwall.service.fanout import analyse_layer
from shieldwall.service.tasks.context import TaskContext


def run(ctx: TaskContext, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Analyse the layer unless the cache has it or another worker holds its lock."""
    cache = ctx.options.layer_cache
    if not isinstance(cache, SharedLayerCache):
        raise InputError("scan.layer needs the shared layer cache (SHIELDWALL_CACHE_KEY on the worker)")
    return analyse_layer(cache, ctx.options, payload)
