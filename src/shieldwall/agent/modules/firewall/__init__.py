"""The ``firewall`` agent module: host firewall (nftables), IP reputation sets and timed blocks."""

from __future__ import annotations

from shieldwall.agent.modules.firewall.module import BlockRefused, FirewallModule

Module = FirewallModule

__all__ = ["BlockRefused", "FirewallModule", "Module"]
