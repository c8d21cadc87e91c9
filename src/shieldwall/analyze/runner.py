"""Run analyzers over one layer's entries and collect a ``LayerResult``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shieldwall.analyze.base import AnalysisInput, AnalysisResult, Analyzer, AnalyzerError, FileInfo
from shieldwall.errors import FileTooLargeError, InputError
from shieldwall.model import ScanWarning
from shieldwall.target.base import LayerSource
from shieldwall.target.entries import EntryKind


@dataclass(frozen=True, slots=True)
class FileResult:
    """What one analyzer found in one file of a layer."""

    path: str
    analyzer: str
    result: AnalysisResult


@dataclass(frozen=True, slots=True)
class LayerResult:
    """Everything the merger needs about one layer; cached by diff ID + analyzer versions.

    ``paths`` lists every non-directory path the layer writes, so the merger
    can tell when a later layer replaced a file an earlier one analysed.
    """

    files: tuple[FileResult, ...] = ()
    paths: tuple[str, ...] = ()
    whiteouts: tuple[str, ...] = ()
    opaque_dirs: tuple[str, ...] = ()
    warnings: tuple[ScanWarning, ...] = ()


class LayerProgress(Protocol):
    """Receives progress while a layer is walked (the CLI draws a bar from it)."""

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more of the layer's content have been passed."""
        ...


_HARDLINK_CACHE_BYTES = 64 * 1024 * 1024


class _Memo:
    """Reads a file's content at most once, however many analyzers want it."""

    __slots__ = ("_read", "loaded")

    def __init__(self, read: Callable[[], bytes]) -> None:
        self._read = read
        self.loaded: bytes | None = None

    def __call__(self) -> bytes:
        if self.loaded is None:
            self.loaded = self._read()
        return self.loaded


def _no_read() -> bytes:
    return b""


def _read_again(layer: ReReadable, offset: int, size: int) -> bytes:
    data = layer.read_at(offset, size)
    if data is None:  # checked before the memo was made; a layer cannot stop being uncompressed
        raise InputError("layer can no longer read its members again")
    return data


@runtime_checkable
class ReReadable(Protocol):
    """A layer that can read a member's bytes again during its walk (an uncompressed blob)."""

    def read_at(self, offset: int, size: int) -> bytes | None:
        """The bytes, or None when this layer cannot (compressed, not seekable)."""
        ...


class _NoProgress:
    def advance(self, nbytes: int) -> None:
        return None


def _dropped_link(path: str, link: str, size: int, mode: int, analyzers: Sequence[Analyzer]) -> list[ScanWarning]:
    """A hard link whose target's content was not kept: a warning when some analyzer wanted the file."""
    info = FileInfo(path, size, mode)
    wanted = []
    for analyzer in analyzers:
        try:
            if analyzer.required(path, info):
                wanted.append(analyzer.name)
        except Exception:  # a crashing required() still means nobody looked
            wanted.append(analyzer.name)
    if not wanted:
        return []
    return [
        ScanWarning(
            "walk",
            f"hard link to {link}: the target's content was not kept in memory (over the "
            f"{_HARDLINK_CACHE_BYTES}-byte link cache, or not read before); not analysed by {', '.join(wanted)}",
            path,
        )
    ]


def analyze_layer(
    layer: LayerSource, analyzers: Sequence[Analyzer], progress: LayerProgress | None = None
) -> LayerResult:
    """Walk ``layer`` once, handing each regular file to the analyzers that want it.

    A failing analyzer becomes a counted warning for that file; stream-level
    errors (corrupt or hostile layer) propagate and fail the target.
    """
    sink = progress or _NoProgress()
    files: list[FileResult] = []
    paths: list[str] = []
    whiteouts: list[str] = []
    opaque: list[str] = []
    warnings: list[ScanWarning] = []
    read_cache: dict[str, bytes] = {}  # hard links point at earlier members of the stream
    cached_bytes = 0
    # where each file's bytes are, for a layer that can read them again: hard links are read, not kept
    places: dict[str, tuple[int, int]] = {}
    rereader = layer if isinstance(layer, ReReadable) else None
    reread: bool | None = None  # known once the walk has opened the layer
    sizes: dict[str, int] = {}  # a dropped hard link is judged by its target's size
    for entry in layer.walk():
        kind = entry.kind
        if kind is EntryKind.DIR:
            continue
        if kind is EntryKind.WHITEOUT:
            whiteouts.append(entry.path)
            continue
        if kind is EntryKind.OPAQUE:
            opaque.append(entry.path)
            continue
        if kind is EntryKind.UNREADABLE:
            warnings.append(ScanWarning("walk", f"{entry.error}; not scanned", entry.path))
            continue
        paths.append(entry.path)
        size = entry.size
        if kind is EntryKind.FILE:
            read = _Memo(entry.read)
            sizes[entry.path] = size
            if reread is None:
                reread = rereader is not None and entry.offset >= 0 and rereader.read_at(0, 0) is not None
            if reread and entry.offset >= 0:
                places[entry.path] = (entry.offset, entry.size)
        elif kind is EntryKind.HARDLINK and entry.link in read_cache:
            read = _Memo(_no_read)
            read.loaded = read_cache[entry.link]
            size = len(read.loaded)  # a tar hard link member records size 0: the content is its target's
            sizes[entry.path] = size
        elif kind is EntryKind.HARDLINK and entry.link in places and rereader is not None and reread:
            places[entry.path] = places[entry.link]
            read = _Memo(functools.partial(_read_again, rereader, *places[entry.link]))
            size = places[entry.link][1]  # a tar hard link member records size 0: the content is its target's
            sizes[entry.path] = size
        elif kind is EntryKind.HARDLINK:
            size = sizes.get(entry.link, entry.size)
            warnings.extend(_dropped_link(entry.path, entry.link, size, entry.mode, analyzers))
            continue
        else:
            continue
        info = FileInfo(entry.path, size, entry.mode)
        for analyzer in analyzers:
            try:
                if not analyzer.required(entry.path, info):
                    continue
                result = analyzer.analyze(AnalysisInput(entry.path, info, read))
            except (AnalyzerError, FileTooLargeError) as exc:
                warnings.append(ScanWarning(analyzer.name, str(exc), entry.path))
                continue
            except InputError:
                raise
            except Exception as exc:  # a crashed analyzer is a counted warning, never a silent pass
                warnings.append(
                    ScanWarning(analyzer.name, f"analyzer crashed: {type(exc).__name__}: {exc}", entry.path)
                )
                continue
            if not result.empty:
                files.append(FileResult(entry.path, analyzer.name, result))
        loaded = read.loaded
        if reread and entry.path in places:
            pass  # a hard link to a file reads it again from the layer
        elif loaded is not None and cached_bytes + len(loaded) <= _HARDLINK_CACHE_BYTES:
            read_cache[entry.path] = loaded
            cached_bytes += len(loaded)
        sink.advance(entry.size)
    return LayerResult(
        files=tuple(files),
        paths=tuple(paths),
        whiteouts=tuple(whiteouts),
        opaque_dirs=tuple(opaque),
        warnings=tuple(warnings),
    )
