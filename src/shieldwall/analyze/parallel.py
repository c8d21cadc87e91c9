"""Analyse layers in worker processes; the caller merges the results in layer order.

Each worker walks a *detached* copy of a layer (one whose opener pickles and
reopens the bytes itself, see ``BlobLayer.detached``), so it decompresses,
bounds and verifies the layer exactly as the serial path does: a digest
mismatch or a hostile layer raises in the worker and is raised again, with
its type, in the scan. A worker that dies (killed, out of memory, crashed
interpreter) is a ``LayerWorkerError``, never a skipped layer.

Workers are forked, so they share the analyzers the parent already built
(compiled rules, loaded lists) instead of building them again; where
``fork`` is not available there is no pool and the scan runs serially.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shieldwall.analyze.base import Analyzer
from shieldwall.analyze.runner import LayerResult, analyze_layer
from shieldwall.errors import ShieldwallError
from shieldwall.target.base import LayerSource


class LayerWorkerError(ShieldwallError):
    """A worker process died or returned nothing usable: the layer was not analysed."""


@runtime_checkable
class DetachableLayer(Protocol):
    """A layer that can hand a worker process a copy of itself."""

    def detached(self) -> LayerSource | None:
        """A picklable copy that reopens its bytes in the worker, or None."""
        ...


@dataclass(frozen=True, slots=True)
class LayerOutcome:
    """A worker's answer: the result and the digest of the bytes it verified, or the error it met."""

    result: LayerResult | None
    read_blob_digest: str = ""
    error: BaseException | None = None


_ANALYZERS: list[Analyzer] = []


def _init_worker(analyzers: list[Analyzer]) -> None:
    global _ANALYZERS
    _ANALYZERS = analyzers


def _portable_error(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a ShieldwallError that names it."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own object, round-tripped to test it
    except Exception:
        return ShieldwallError(f"{type(exc).__name__}: {exc}")
    return exc


def run_layer_job(layer: LayerSource) -> LayerOutcome:
    """Analyse one detached layer in this (worker) process."""
    try:
        result = analyze_layer(layer, _ANALYZERS)
    except Exception as exc:  # handed back and raised again in the scan, with its type
        return LayerOutcome(None, error=_portable_error(exc))
    return LayerOutcome(result, layer.read_blob_digest)


def detach(layer: LayerSource) -> LayerSource | None:
    """The worker copy of ``layer`` when it has one that pickles, else None (analysed in the scan's process)."""
    if not isinstance(layer, DetachableLayer):
        return None
    copy = layer.detached()
    if copy is None:
        return None
    try:
        pickle.dumps(copy)
    except Exception:
        return None
    return copy


def fork_available() -> bool:
    """True where worker processes can be forked (they inherit the built analyzers)."""
    return "fork" in multiprocessing.get_all_start_methods()


class LayerPool:
    """Submits detached layers to worker processes and returns their results."""

    def __init__(self, executor: ProcessPoolExecutor) -> None:
        self._executor = executor

    def submit(self, layer: LayerSource) -> Future[LayerOutcome]:
        """Queue ``layer`` for a worker (jobs start in submission order)."""
        return self._executor.submit(run_layer_job, layer)


def outcome_of(future: Future[LayerOutcome], label: str) -> tuple[LayerResult, str]:
    """The worker's result and verified blob digest; raises what the worker met, or ``LayerWorkerError``."""
    try:
        outcome = future.result()
    except BrokenProcessPool as exc:
        raise LayerWorkerError(f"{label}: the worker process analysing it died ({exc})") from exc
    if outcome.error is not None:
        raise outcome.error
    if outcome.result is None:
        raise LayerWorkerError(f"{label}: the worker returned no result")
    return outcome.result, outcome.read_blob_digest


@contextmanager
def layer_pool(workers: int, analyzers: Sequence[Analyzer]) -> Iterator[LayerPool]:
    """A pool of ``workers`` forked processes holding ``analyzers``; shut down (and reaped) on exit."""
    context = multiprocessing.get_context("fork")
    executor = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(list(analyzers),)
    )
    try:
        yield LayerPool(executor)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
