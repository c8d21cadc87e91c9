"""What a task handler gets: the store, scan options (with the shared layer cache) and a way to queue more."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shieldwall.model import ScanResult
from shieldwall.service.dispatch import TaskDispatch
from shieldwall.service.scan import ScanOptions, scan_target
from shieldwall.store import Store

ScanFunction = Callable[[str, ScanOptions], ScanResult]


def _default_scan(text: str, options: ScanOptions) -> ScanResult:
    return scan_target(text, options)


@dataclass(slots=True)
class TaskContext:
    """One worker process's (or the in-process caller's) resources, passed explicitly to every handler."""

    store: Store
    options: ScanOptions
    dispatch: TaskDispatch | None = None
    vulndb_path: Path | None = None
    scan: ScanFunction = _default_scan


Handler = Callable[[TaskContext, Mapping[str, Any]], dict[str, Any]]
"""A task: context and JSON payload in, a JSON-able result out; raises to be retried."""
