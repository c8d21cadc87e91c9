"""A Rich progress display for scans, on standard error."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from shieldwall.model import LayerRef


class RichScanProgress:
    """Layers done out of the total, and bytes read in the current layer."""

    def __init__(self, console: Console, total_layers: int = 0) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._stage: TaskID | None = None
        self._layer: TaskID | None = None

    def __enter__(self) -> RichScanProgress:
        self._progress.start()
        self._stage = self._progress.add_task("starting", total=None)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def stage(self, message: str) -> None:
        if self._stage is not None:
            self._progress.update(self._stage, description=message)

    def layer_started(self, ref: LayerRef, total_bytes: int) -> None:
        label = ref.created_by.removeprefix("/bin/sh -c ").strip()[:50] if ref.digest else "files"
        self.stage(f"layer {ref.index}" if ref.digest else "directory")
        self._layer = self._progress.add_task(f"  {label}", total=None)

    def advance(self, nbytes: int) -> None:
        if self._layer is not None:
            self._progress.advance(self._layer, nbytes)

    def layer_finished(self, ref: LayerRef, cached: bool) -> None:
        if self._layer is not None:
            self._progress.remove_task(self._layer)
            self._layer = None
        if cached:
            self.stage(f"layer {ref.index} (cached)")
