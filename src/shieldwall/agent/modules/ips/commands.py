"""Argument lists for the tools the module runs (never a shell), optionally inside a network namespace.

``settings`` are the agent's local settings: ``suricata`` (binary),
``iptables`` (``iptables-legacy`` by default: nftables' ``queue`` expression
is not available on every kernel), ``netns`` (run everything inside this
network namespace; used by tests and by hosts that inspect a namespace).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_NETNS_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Tools:
    """Binaries and the namespace to run them in."""

    suricata: str = "suricata"
    iptables: str = "iptables-legacy"
    ip: str = "ip"
    netns: str | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Tools:
        """Read the relevant agent settings, refusing a namespace name that is not a plain name."""
        netns = settings.get("netns")
        if netns is not None and not _NETNS_RE.match(str(netns)):
            raise ValueError(f"bad network namespace name {netns!r}")
        return cls(
            suricata=str(settings.get("suricata", "suricata")),
            iptables=str(settings.get("iptables", "iptables-legacy")),
            ip=str(settings.get("ip", "ip")),
            netns=None if netns is None else str(netns),
        )

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace when one is set (``ip netns exec NAME ...``)."""
        if self.netns is None:
            return list(argv)
        return [self.ip, "netns", "exec", self.netns, *argv]
