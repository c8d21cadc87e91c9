"""Every layer's result for a scan: from the layer cache, analysed here, or analysed in worker processes.

Layers are read in archive order (a compressed archive never seeks back) and
returned in layer order, so the merge sees the same input however they were
analysed. With ``parallel`` > 1 the layers that miss the cache go to forked
worker processes (``analyze.parallel``); each worker verifies its layer's
digests as the serial path does, and the results are cached and merged
exactly as serial results are. A layer whose bytes cannot be reopened in a
worker (a registry stream, a compressed archive) keeps the whole scan serial.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack

from shieldwall.analyze.base import Analyzer
from shieldwall.analyze.parallel import detach, fork_available, layer_pool, outcome_of
from shieldwall.analyze.runner import LayerResult, analyze_layer
from shieldwall.cache.layers import LayerResultCache, cache_key
from shieldwall.model import LayerRef
from shieldwall.service.progress import ScanProgress
from shieldwall.target.base import LayerSource


def analyze_layers(
    layers: Sequence[LayerSource],
    analyzers: Sequence[Analyzer],
    versions: tuple[tuple[str, int], ...],
    cache: LayerResultCache | None,
    progress: ScanProgress,
    parallel: int = 1,
) -> list[LayerResult]:
    """The result of every layer of ``layers``, in layer order."""
    outcomes: dict[int, LayerResult] = {}
    done: dict[tuple[str, str], int] = {}  # the same bytes listed again (a layer repeated 512 times)
    todo: list[tuple[int, LayerSource]] = []
    aliases: dict[int, int] = {}
    # read in archive order (a compressed archive never seeks back), merge in layer order
    for position, layer in sorted(enumerate(layers), key=lambda item: item[1].read_order):
        same = (layer.cache_key, layer.blob_key) if layer.cache_key and layer.blob_key else None
        if same is not None and same in done:
            aliases[position] = done[same]
            continue
        if same is not None:
            done[same] = position
        todo.append((position, layer))
    if parallel > 1 and len(todo) > 1 and fork_available():
        _analyze_parallel(todo, analyzers, versions, cache, progress, parallel, outcomes)
    for position, layer in todo:
        if position not in outcomes:
            outcomes[position] = _layer_result(layer, analyzers, versions, cache, progress)
    for position, original in sorted(aliases.items(), key=lambda item: layers[item[0]].read_order):
        progress.layer_finished(layers[position].ref, cached=True)
        outcomes[position] = outcomes[original]
    return [outcomes[position] for position in range(len(layers))]


def _cached(source: LayerSource, key: str, cache: LayerResultCache) -> LayerResult | None:
    """The cached result, only when the shipped bytes are known to be that layer."""
    hit = cache.get(key)
    if hit is not None and cache.is_verified(source.cache_identity(), source.cache_key):
        return hit
    return None


def _analyze_parallel(
    todo: list[tuple[int, LayerSource]],
    analyzers: Sequence[Analyzer],
    versions: tuple[tuple[str, int], ...],
    cache: LayerResultCache | None,
    progress: ScanProgress,
    parallel: int,
    outcomes: dict[int, LayerResult],
) -> None:
    """Fill ``outcomes`` for the layers of ``todo`` that miss the cache, analysed in worker processes.

    Does nothing when some layer cannot be detached (the caller analyses
    everything serially then) or fewer than two layers need analysing.
    """
    with ExitStack() as held:
        jobs: list[tuple[int, LayerSource, LayerSource, str]] = []
        for position, layer in todo:
            key = cache_key(layer.cache_key, versions) if cache is not None and layer.cache_key else ""
            if key and cache is not None:
                hit = _cached(layer, key, cache)
                if hit is None:
                    # one process analyses a layer; the others wait on it and read its result (shared cache)
                    held.enter_context(cache.exclusive(key))
                    hit = _cached(layer, key, cache)
                if hit is not None:
                    progress.layer_finished(layer.ref, cached=True)
                    outcomes[position] = hit
                    continue
            copy = detach(layer)
            if copy is None:
                return  # the held locks are released; the serial path takes them again
            jobs.append((position, layer, copy, key))
        if len(jobs) < 2:
            return
        progress.stage(f"analysing {len(jobs)} layers in {min(parallel, len(jobs))} processes")
        with layer_pool(min(parallel, len(jobs)), analyzers) as pool:
            futures = [pool.submit(copy) for _, _, copy, _ in jobs]
            for (position, layer, _, key), future in zip(jobs, futures, strict=True):
                result, blob_digest = outcome_of(future, _label(layer.ref))
                progress.layer_started(layer.ref, layer.ref.size)
                progress.advance(layer.ref.size)
                progress.layer_finished(layer.ref, cached=False)
                if key and cache is not None:
                    cache.record_verified(blob_digest, layer.cache_key)
                    cache.put(key, result)
                outcomes[position] = result


def _label(ref: LayerRef) -> str:
    return f"layer {ref.index} ({ref.digest[:19]})" if ref.digest else "layer"


def _layer_result(
    source: LayerSource,
    analyzers: Sequence[Analyzer],
    versions: tuple[tuple[str, int], ...],
    cache: LayerResultCache | None,
    progress: ScanProgress,
) -> LayerResult:
    """A layer's result: from the cache only when the shipped bytes are known to be that layer, else analysed."""
    ref: LayerRef = source.ref
    key = cache_key(source.cache_key, versions) if cache is not None and source.cache_key else ""
    if not key or cache is None:
        return _analyze(source, analyzers, progress)
    hit = _cached(source, key, cache)
    if hit is not None:
        progress.layer_finished(ref, cached=True)
        return hit
    # one process analyses a layer; the others wait on it and read its result (shared cache)
    with cache.exclusive(key):
        hit = _cached(source, key, cache)
        if hit is not None:
            progress.layer_finished(ref, cached=True)
            return hit
        result = _analyze(source, analyzers, progress)
        cache.record_verified(source.read_blob_digest, source.cache_key)
        cache.put(key, result)
        return result


def _analyze(source: LayerSource, analyzers: Sequence[Analyzer], progress: ScanProgress) -> LayerResult:
    progress.layer_started(source.ref, source.ref.size)
    result = analyze_layer(source, analyzers, progress)
    progress.layer_finished(source.ref, cached=False)
    return result
