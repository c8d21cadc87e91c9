"""Web reputation in scans: URLs, domains and IPs in files that are on a block list become findings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from shieldwall.analyze.reputation.analyzer import ReputationAnalyzer, ReputationScanConfig

ENV_LISTS = "SHIELDWALL_REPUTATION_LISTS"

__all__ = ["ENV_LISTS", "ReputationAnalyzer", "ReputationScanConfig", "reputation_analyzer"]


def config_from_environ(environ: Mapping[str, str] | None = None) -> ReputationScanConfig:
    """``SHIELDWALL_REPUTATION_LISTS``: list files separated by ``os.pathsep`` (none: detector off)."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV_LISTS, "")
    return ReputationScanConfig(lists=tuple(Path(p) for p in raw.split(os.pathsep) if p.strip()))


def reputation_analyzer() -> ReputationAnalyzer:
    """The registry's factory: a ``ReputationAnalyzer`` configured from the environment."""
    return ReputationAnalyzer(config_from_environ())
