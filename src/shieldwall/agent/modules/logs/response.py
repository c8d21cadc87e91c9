"""Active response: ask the agent core to block an alert's source address, with expiry.

The core provides ``settings["active_response"]``, a callable
``(action, params) -> None``; the first action is ``firewall.block`` with
``address``, ``ttl_seconds`` and ``reason``. Loopback, link-local,
unspecified and allow-listed addresses are never blocked. Every decision,
taken or refused, becomes a ``logs.active_response`` event.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shieldwall.agent.modules.logs.policy import ActiveResponse
from shieldwall.logrules.common import LogMatch

Responder = Callable[[str, Mapping[str, Any]], None]
ADDRESS_FIELDS = ("srcip", "src_ip", "source.ip", "client_ip")


@dataclass(frozen=True, slots=True)
class Decision:
    """What active response did for one alert."""

    action: str
    address: str
    taken: bool
    reason: str


def source_address(match: LogMatch) -> str | None:
    """The alert's source address, if it decoded one that parses as an IP."""
    for name in ADDRESS_FIELDS:
        value = match.fields.get(name)
        if value:
            try:
                return str(ipaddress.ip_address(value.strip().removeprefix("::ffff:")))
            except ValueError:
                continue
    return None


def wants_response(policy: ActiveResponse, match: LogMatch) -> bool:
    """Whether the policy asks for a response to this alert."""
    if not policy.enabled:
        return False
    if policy.rule_ids and match.rule_id in policy.rule_ids:
        return True
    if policy.groups and set(policy.groups) & set(match.groups):
        return True
    return not policy.rule_ids and not policy.groups and match.level >= policy.min_level


def decide(policy: ActiveResponse, match: LogMatch, responder: Responder | None) -> Decision | None:
    """Block the alert's source when the policy asks for it and it is safe; None when not asked."""
    if not wants_response(policy, match):
        return None
    address = source_address(match)
    if address is None:
        return Decision("firewall.block", "", False, "no source address decoded")
    ip = ipaddress.ip_address(address)
    if ip.is_loopback or ip.is_unspecified or ip.is_link_local or ip.is_multicast:
        return Decision("firewall.block", address, False, "loopback/unspecified/link-local address is never blocked")
    for net in policy.allow:
        if ip in ipaddress.ip_network(net, strict=False):
            return Decision("firewall.block", address, False, f"allow-listed by {net}")
    if responder is None:
        return Decision("firewall.block", address, False, "the agent core provides no active_response hook")
    reason = f"{match.engine} rule {match.rule_id} (level {match.level}): {match.description}"[:300]
    try:
        responder("firewall.block", {"address": address, "ttl_seconds": policy.ttl_seconds, "reason": reason})
    except Exception as exc:  # the hook is the core's: its failure is reported, not fatal
        return Decision("firewall.block", address, False, f"hook failed: {type(exc).__name__}: {exc}"[:300])
    return Decision("firewall.block", address, True, reason)
