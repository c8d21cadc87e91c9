"""Frozen values of a resolved firewall policy (what the compiler consumes)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Direction(StrEnum):
    """Traffic direction: ``in`` is filtered in the input hook, ``out`` in the output hook."""

    IN = "in"
    OUT = "out"


class Protocol(StrEnum):
    """Layer-4 protocols a rule can name (``any`` matches all)."""

    ANY = "any"
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"
    ICMPV6 = "icmpv6"


class Action(StrEnum):
    """What a matching rule or the default does with a packet."""

    ACCEPT = "accept"
    DROP = "drop"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class PortRange:
    """An inclusive port range (a single port has ``first == last``)."""

    first: int
    last: int


@dataclass(frozen=True, slots=True)
class AddressSpec:
    """Addresses a rule matches: literal networks plus named IP lists (``@name``)."""

    networks: tuple[Network, ...] = ()
    lists: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the rule does not restrict this side."""
        return not self.networks and not self.lists


@dataclass(frozen=True, slots=True)
class Rule:
    """One firewall rule after inheritance was resolved.

    ``origin`` names the policy that defined (or last overrode) the rule, so
    a reader can tell where an effective rule came from.
    """

    id: str
    direction: Direction
    action: Action
    protocol: Protocol = Protocol.ANY
    ports: tuple[PortRange, ...] = ()
    source: AddressSpec = AddressSpec()
    destination: AddressSpec = AddressSpec()
    interfaces: tuple[str, ...] = ()
    log: bool = False
    priority: int = 0
    origin: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class StateHandling:
    """Connection-state handling placed before the rules."""

    accept_established: bool = True
    drop_invalid: bool = True
    accept_loopback: bool = True
    accept_ipv6_nd: bool = True  # IPv6 neighbour/router discovery (without it a default drop cuts IPv6)


@dataclass(frozen=True, slots=True)
class ResolvedPolicy:
    """The effective policy: settings from the nearest policy that sets them, rules merged by id."""

    name: str
    chain: tuple[str, ...]
    default_in: Action
    default_out: Action
    state: StateHandling
    rules: tuple[Rule, ...]
    ip_lists: dict[str, tuple[Network, ...]] = field(default_factory=dict)
    log_default: bool = False
