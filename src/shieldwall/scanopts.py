"""What a scan is asked to do: ``ScanOptions`` and the scanner families ``--scanners`` chooses from.

This sits below the service layer so that analyzers, matchers and post-scanners
can take the options without importing ``shieldwall.service`` (which imports
them). ``shieldwall.service.scan`` re-exports both names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shieldwall.target.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from shieldwall.analyze.base import Analyzer
    from shieldwall.cache.layers import LayerResultCache

ALL_SCANNERS = frozenset({"vuln", "secret", "malware", "misconfig", "license"})


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """Everything a scan needs to know, passed explicitly (no global settings)."""

    platform: str = ""
    use_cache: bool = True
    cache_dir: Path | None = None
    limits: Limits = DEFAULT_LIMITS
    analyzers: tuple[str, ...] | None = None
    include_plugins: bool = True
    extra_analyzers: tuple[Analyzer, ...] = field(default=())
    scanners: frozenset[str] = ALL_SCANNERS
    data_dir: Path | None = None
    license_deny: tuple[str, ...] = ()
    max_db_age: dt.timedelta | None = dt.timedelta(days=7)
    fail_on_stale_db: bool = False
    layer_cache: LayerResultCache | None = None
    parallel: int = 1
    """Worker processes analysing layers at once (1: in the scan's own process, one layer after another)."""
