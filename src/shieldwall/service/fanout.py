"""Per-layer fan-out: a registry image's layers are analysed on several workers, each layer once per fleet.

``FanOutScan`` is the scan function of a worker that has a broker and the
shared layer cache (``worker/context.py``). For a registry image it:

1. resolves the image (manifest and config only) and looks each layer up in
   the shared cache (an entry counts only with an authentic "these bytes are
   this diff ID" record: ``cache.verified``);
2. queues one ``scan.layer`` task per missing layer except the first (at most
   once per layer every ``QUEUED_TTL`` seconds across the fleet, and only for
   layers of at least ``SHIELDWALL_FANOUT_MIN_BYTES`` compressed bytes: a
   tiny layer costs less to analyse than to queue), last layer first;
3. works through the missing layers itself, first to last: a layer whose lock
   is free it analyses (under the lock), one whose lock another worker holds
   it leaves for later, one that appeared in the cache it takes. It never
   waits while there is a layer it can analyse, so one worker alone finishes
   the image (no deadlock on a single worker), and idle workers help with the
   rest. It waits, polling, only for layers others are analysing, at most
   ``wait_seconds``, then analyses them itself;
4. merges with the ordinary ``scan_resolved`` over a cache that already holds
   every layer's result: the merge, post-scanners and masking are the
   in-process code, so the result is the in-process result.

``analyse_layer`` is the ``scan.layer`` task: it downloads one blob, walks it
(the walk verifies the blob digest and the diff ID once the whole layer was
read), and only then records the layer as verified and stores the result
under its lock. A layer that fails (corrupt, hostile) raises: its task ends
in the dead-letter state with the error, and so does the image task when it
reaches the same layer.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any

from shieldwall.analyze.base import Analyzer
from shieldwall.analyze.registry import analyzer_versions, load_analyzers
from shieldwall.analyze.runner import LayerResult, analyze_layer
from shieldwall.cache.layers import cache_key
from shieldwall.cache.shared import SharedLayerCache
from shieldwall.errors import ConfigError, InputError
from shieldwall.model import LayerRef, ScanResult, TargetKind
from shieldwall.service.dispatch import TaskDispatch
from shieldwall.service.progress import NullProgress
from shieldwall.service.scan import ScanOptions, scan_resolved, scan_target
from shieldwall.target.base import DIFF_ID, LayerSource
from shieldwall.target.resolve import parse_target, resolve

log = logging.getLogger("shieldwall.fanout")

TASK = "scan.layer"
ENV_MIN_BYTES = "SHIELDWALL_FANOUT_MIN_BYTES"
DEFAULT_MIN_BYTES = 1 << 20
QUEUED_TTL = 600
POLL_SECONDS = 0.2


def min_bytes(environ: Mapping[str, str] | None = None) -> int:
    """``SHIELDWALL_FANOUT_MIN_BYTES``: the smallest compressed layer worth a task of its own (default 1 MiB)."""
    text = (os.environ if environ is None else environ).get(ENV_MIN_BYTES, "").strip()
    if not text:
        return DEFAULT_MIN_BYTES
    if not text.isdigit():
        raise ConfigError(f"{ENV_MIN_BYTES}: a whole number of bytes")
    return int(text)


def _analyzers(options: ScanOptions) -> tuple[list[Analyzer], tuple[tuple[str, int], ...]]:
    """The analyzers ``scan_resolved`` runs for ``options`` and their versions (the cache key's part)."""
    analyzers: list[Analyzer] = load_analyzers(
        include_plugins=options.include_plugins, only=options.analyzers, scanners=options.scanners
    )
    analyzers.extend(options.extra_analyzers)
    return analyzers, analyzer_versions(analyzers)


@dataclass
class _Remembered:
    """The shared cache seen through what this scan already read or wrote (each entry fetched once)."""

    inner: SharedLayerCache
    results: dict[str, LayerResult] = field(default_factory=dict)
    verified: set[tuple[str, str]] = field(default_factory=set)

    def get(self, key: str) -> LayerResult | None:
        if key not in self.results:
            hit = self.inner.get(key)
            if hit is None:
                return None
            self.results[key] = hit
        return self.results[key]

    def put(self, key: str, result: LayerResult) -> None:
        self.results[key] = result
        self.inner.put(key, result)

    def exclusive(self, key: str) -> AbstractContextManager[None]:
        return self.inner.exclusive(key)

    def is_verified(self, blob_digest: str, diff_id: str) -> bool:
        return (blob_digest, diff_id) in self.verified or self.inner.is_verified(blob_digest, diff_id)

    def record_verified(self, blob_digest: str, diff_id: str) -> None:
        if blob_digest and diff_id:
            self.verified.add((blob_digest, diff_id))
        self.inner.record_verified(blob_digest, diff_id)


class FanOutScan:
    """A ``ScanFunction`` that spreads a registry image's layer analyses over the workers."""

    def __init__(
        self,
        dispatch: TaskDispatch,
        cache: SharedLayerCache,
        *,
        fanout_min_bytes: int = DEFAULT_MIN_BYTES,
        wait_seconds: float = 900.0,
    ) -> None:
        self.dispatch = dispatch
        self.cache = cache
        self.min_bytes = fanout_min_bytes
        self.wait_seconds = wait_seconds
        self.queued = 0

    def __call__(self, text: str, options: ScanOptions) -> ScanResult:
        """Scan ``text``: fanned out when it is a registry image, as in-process otherwise."""
        ref = parse_target(text, options.platform)
        if ref.kind is not TargetKind.REGISTRY or not options.use_cache:
            return scan_target(text, options)
        from shieldwall.target.reference import parse_reference

        remembered = _Remembered(self.cache)
        options = replace(options, layer_cache=remembered)
        resolved = resolve(ref, options.limits)
        try:
            analyzers, _ = _analyzers(options)
            image = parse_reference(ref.value)
            self._fill(image.registry, image.repository, str(image), resolved.layers, options, remembered, analyzers)
            return scan_resolved(resolved, options, NullProgress())
        finally:
            resolved.close()

    def _missing(
        self, layers: list[LayerSource], remembered: _Remembered, versions: tuple[tuple[str, int], ...]
    ) -> dict[str, LayerSource]:
        missing: dict[str, LayerSource] = {}
        for layer in layers:
            if not layer.cache_key:
                continue
            key = cache_key(layer.cache_key, versions)
            if key in missing:
                continue
            hit = remembered.get(key)
            if hit is None or not remembered.is_verified(layer.cache_identity(), layer.cache_key):
                missing[key] = layer
        return missing

    def _fill(
        self,
        registry: str,
        repository: str,
        label: str,
        layers: list[LayerSource],
        options: ScanOptions,
        remembered: _Remembered,
        analyzers: list[Analyzer],
    ) -> None:
        versions = analyzer_versions(analyzers)
        pending = self._missing(layers, remembered, versions)
        helpers = [(key, layer) for key, layer in list(pending.items())[1:] if layer.ref.size >= self.min_bytes]
        for key, layer in reversed(helpers):  # the image task starts at the first layer, helpers at the last
            # once per (layer, bytes): an image lying about a diff ID must not suppress the task for its bytes
            if not self.cache.mark_queued(f"{key}:{layer.cache_identity()}", QUEUED_TTL):
                continue
            payload = {
                "registry": registry,
                "repository": repository,
                "label": f"{label}: layer {layer.ref.index}",
                "blob": layer.cache_identity(),
                "diff_id": layer.cache_key,
                "index": layer.ref.index,
                "created_by": layer.ref.created_by,
                "size": layer.ref.size,
                "scanners": sorted(options.scanners),
            }
            try:
                self.dispatch.submit(TASK, payload, f"layer:{key}")
                self.queued += 1
            except Exception as exc:  # the broker refused: this task analyses the layer itself
                log.warning("could not queue layer %s: %s", layer.cache_key[:19], exc)
        deadline = time.monotonic() + self.wait_seconds
        while pending:
            progressed = False
            for key, layer in list(pending.items()):
                if _take(key, layer, remembered, analyzers):
                    del pending[key]
                    progressed = True
            if pending and not progressed:
                if time.monotonic() > deadline:  # others hold them too long: scan_resolved analyses them
                    log.warning(
                        "%d layer(s) still locked by other workers after %.0fs", len(pending), self.wait_seconds
                    )
                    return
                time.sleep(POLL_SECONDS)


def _take(key: str, layer: LayerSource, remembered: _Remembered, analyzers: list[Analyzer]) -> bool:
    """Make the layer's result available (cached, or analysed now under its free lock); False if locked."""

    def ready() -> bool:
        hit = remembered.get(key)
        return hit is not None and remembered.is_verified(layer.cache_identity(), layer.cache_key)

    remembered.results.pop(key, None)  # look again: another worker may have stored it meanwhile
    if ready():
        return True
    with remembered.inner.try_exclusive(key) as held:
        if not held:
            return False
        remembered.results.pop(key, None)
        if ready():
            return True
        result = analyze_layer(layer, analyzers)
        remembered.record_verified(layer.read_blob_digest, layer.cache_key)
        remembered.put(key, result)
        return True


def analyse_layer(cache: SharedLayerCache, options: ScanOptions, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The ``scan.layer`` task: analyse one registry blob into the shared cache, unless cached or held."""
    from shieldwall.target.layer import BlobLayer
    from shieldwall.target.registry import RegistryClient, check_digest_syntax
    from shieldwall.target.registry_auth import find_credentials

    registry = _text(payload, "registry")
    repository = _text(payload, "repository")
    blob = check_digest_syntax(_text(payload, "blob"), "layer task")
    diff_id = _text(payload, "diff_id")
    if not registry or not repository or not DIFF_ID.fullmatch(diff_id):
        raise InputError("layer task: registry, repository and a sha256 diff ID are required")
    scanners = frozenset(str(s) for s in payload.get("scanners", []) if isinstance(s, str))
    options = replace(options, scanners=scanners)
    analyzers, versions = _analyzers(options)
    key = cache_key(diff_id, versions)
    if cache.get(key) is not None and cache.is_verified(blob, diff_id):
        return {"outcome": "cached", "layer": diff_id}
    ref = LayerRef(int(payload.get("index", 0)), diff_id, _text(payload, "created_by"), int(payload.get("size", 0)))
    with cache.try_exclusive(key) as held:
        if not held:  # another worker analyses it now (the image task, or another image's)
            return {"outcome": "held", "layer": diff_id}
        if cache.get(key) is not None and cache.is_verified(blob, diff_id):
            return {"outcome": "cached", "layer": diff_id}
        client = RegistryClient(registry, credentials=find_credentials(registry, repository), limits=options.limits)
        try:
            layer = BlobLayer(
                ref,
                lambda: client.get_blob_stream(repository, blob, ref.size),
                options.limits,
                blob_digest=blob,
                label=_text(payload, "label") or f"{registry}/{repository}: layer {ref.index}",
                content_addressed=True,
                blob_key=blob,
            )
            result = analyze_layer(layer, analyzers)  # raises on a digest mismatch: nothing is cached then
        finally:
            client.close()
        cache.record_verified(layer.read_blob_digest, diff_id)
        cache.put(key, result)
    return {"outcome": "analysed", "layer": diff_id, "files": len(result.files)}


def _text(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name, "")
    if not isinstance(value, str):
        raise InputError(f"layer task: {name} must be a string")
    return value
