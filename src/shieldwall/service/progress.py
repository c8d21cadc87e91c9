"""Progress events the service emits; the CLI renders them, tests and the API ignore them."""

from __future__ import annotations

from typing import Protocol

from shieldwall.model import LayerRef


class ScanProgress(Protocol):
    """Receives scan progress. All methods must be cheap."""

    def stage(self, message: str) -> None:
        """A new stage started (resolving, merging, matching...)."""
        ...

    def layer_started(self, ref: LayerRef, total_bytes: int) -> None:
        """A layer walk started; ``total_bytes`` may be 0 when unknown."""
        ...

    def advance(self, nbytes: int) -> None:
        """More bytes of the current layer were processed."""
        ...

    def layer_finished(self, ref: LayerRef, cached: bool) -> None:
        """The current layer is done (``cached``: served from the layer cache)."""
        ...


class NullProgress:
    """Progress sink that does nothing."""

    def stage(self, message: str) -> None:
        return None

    def layer_started(self, ref: LayerRef, total_bytes: int) -> None:
        return None

    def advance(self, nbytes: int) -> None:
        return None

    def layer_finished(self, ref: LayerRef, cached: bool) -> None:
        return None
