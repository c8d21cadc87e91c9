"""--timeout: durations, and a deadline that no crash guard inside the scan can swallow."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from shieldwall.analyze.base import AnalysisInput, AnalysisResult, FileInfo
from shieldwall.analyze.runner import analyze_layer
from shieldwall.errors import InputError
from shieldwall.model import LayerRef
from shieldwall.service.deadline import ScanTimeout, deadline, parse_duration
from shieldwall.target.entries import Entry, EntryKind


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("5m0s", 300.0), ("250ms", 0.25)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0", "-5m", "5x", "30d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(InputError):
        parse_duration(text)


class _Stuck:
    """An analyzer that never finishes on its own (it waits on an event nobody sets)."""

    name = "stuck"
    version = 1
    scanner = "secret"

    def required(self, path: str, info: FileInfo) -> bool:
        return True

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        threading.Event().wait()
        raise AssertionError("unreachable")


class _OneFile:
    cache_key = ""
    read_blob_digest = ""
    blob_key = ""
    read_order = 0
    ref = LayerRef(0, "", "test")

    def walk(self) -> Iterator[Entry]:
        yield Entry("/a.txt", EntryKind.FILE, 1, read=lambda: b"a")

    def cache_identity(self) -> str:
        return ""


def test_deadline_is_not_swallowed_by_the_runners_crash_guard() -> None:
    # the runner turns any Exception of an analyzer into a warning; the deadline must stop the scan instead
    with pytest.raises(ScanTimeout), deadline(0.05) as state:
        analyze_layer(_OneFile(), [_Stuck()])  # type: ignore[list-item]
    assert state.expired


def test_no_deadline_without_timeout() -> None:
    with deadline(None) as state:
        pass
    assert not state.expired
