"""The manager's fleet settings, read once from ``SHIELDWALL_AGENT_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shieldwall.service.fleet.auth import DEFAULT_SKEW_SECONDS
from shieldwall.service.fleet.status import DEFAULT_HEARTBEAT_SECONDS, StatusThresholds


@dataclass(frozen=True, slots=True)
class FleetSettings:
    """The manager's fleet settings (``SHIELDWALL_AGENT_*`` environment variables)."""

    skew_seconds: int = DEFAULT_SKEW_SECONDS
    heartbeat_seconds: int = DEFAULT_HEARTBEAT_SECONDS
    poll_seconds: int = 30
    online_seconds: float = 3 * DEFAULT_HEARTBEAT_SECONDS
    stale_seconds: float = 24 * 3600

    @classmethod
    def from_environ(cls) -> FleetSettings:
        """Read the environment once."""

        def number(name: str, default: float) -> float:
            text = os.environ.get(name, "").strip()
            try:
                return float(text) if text else default
            except ValueError:
                return default

        base = cls()
        heartbeat = int(number("SHIELDWALL_AGENT_HEARTBEAT_SECONDS", base.heartbeat_seconds))
        return cls(
            skew_seconds=int(number("SHIELDWALL_AGENT_SKEW_SECONDS", base.skew_seconds)),
            heartbeat_seconds=heartbeat,
            poll_seconds=int(number("SHIELDWALL_AGENT_POLL_SECONDS", base.poll_seconds)),
            online_seconds=number("SHIELDWALL_AGENT_ONLINE_SECONDS", 3.0 * heartbeat),
            stale_seconds=number("SHIELDWALL_AGENT_STALE_SECONDS", base.stale_seconds),
        )

    @property
    def thresholds(self) -> StatusThresholds:
        """The status thresholds."""
        return StatusThresholds(self.online_seconds, self.stale_seconds)
