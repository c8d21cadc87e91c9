"""The drift module's policy section, validated as a whole (``apply`` is atomic)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shieldwall.agent.module import PolicyError
from shieldwall.agent.modules.drift.classify import DEFAULT_IGNORE


class DriftPolicy(BaseModel):
    """``modules.drift`` of the agent policy.

    ``socket`` is relative to the agent's root unless absolute in the agent
    settings (``docker_socket``); ``max_changes`` bounds the paths judged per
    container and scan (the rest are counted as skipped, never silently).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval_seconds: float = Field(default=60.0, ge=1.0, le=86_400.0)
    socket: str = "var/run/docker.sock"
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    readonly_paths: tuple[str, ...] = ("/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/boot/")
    max_changes: int = Field(default=5000, ge=1, le=100_000)
    max_stats: int = Field(default=500, ge=0, le=10_000)
    audit: bool = False  # attach the audited writer of each drifted path (Linux audit, see writers.py)


def parse_policy(section: Mapping[str, Any]) -> DriftPolicy:
    """The validated section, or ``PolicyError`` naming the first problem."""
    try:
        return DriftPolicy.model_validate(dict(section))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PolicyError(f"drift: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
