"""Where Shieldwall may connect: an egress policy enforced after DNS resolution.

A server that fetches URLs named by its users (registries to scan, webhook
targets) or by remote parties (a registry's token realm, redirects) can be
turned into a proxy into the network it runs in: the cloud metadata address
(169.254.169.254), services on loopback, private ranges. The policy decides by
the *resolved* address of every connection, so a host name that resolves to
127.0.0.1, a redirect to a private address and a token realm on the metadata
address are all caught; and the connection is made to the address that was
checked, so DNS cannot answer differently the second time (rebinding).

Two presets:

- ``EgressPolicy.cli()`` — a person running the CLI names their own targets:
  loopback and private ranges are allowed, link-local (cloud metadata) is not.
- ``EgressPolicy.server()`` — the API, the monitor, webhooks and alerts:
  loopback, link-local, private, shared (CGNAT), multicast and reserved
  ranges are denied unless allowed by ``SHIELDWALL_EGRESS_ALLOW``: a
  comma-separated list of CIDRs (``10.20.0.0/16``) and host names
  (``registry.internal``, or ``*.corp.example`` for a domain).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from shieldwall.errors import InputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_ENV = "SHIELDWALL_EGRESS_ALLOW"

_SHARED = ipaddress.ip_network("100.64.0.0/10")


class EgressDenied(InputError):
    """A connection the egress policy does not allow (exit code 2, never attempted)."""


def address_class(address: IPAddress) -> str:
    """``public``, or why the address is internal: loopback, link-local, private..."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_class(address.ipv4_mapped)
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "shared"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    return "public"


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """Which resolved addresses a connection may go to.

    ``allow_classes`` lists the non-public address classes that are allowed
    (``loopback``, ``private``...); ``networks`` and ``hosts`` allow specific
    ranges and names whatever their class.
    """

    allow_classes: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def cli(cls, environ: Mapping[str, str] | None = None) -> EgressPolicy:
        """The CLI's policy: the user's own network is fine, cloud metadata (link-local) is not."""
        base = cls(allow_classes=frozenset({"loopback", "private", "shared", "reserved"}))
        return base.with_allow_list(_env(environ).get(ALLOW_ENV, ""))

    @classmethod
    def server(cls, environ: Mapping[str, str] | None = None) -> EgressPolicy:
        """The server's policy: public addresses only, plus ``SHIELDWALL_EGRESS_ALLOW``."""
        return cls().with_allow_list(_env(environ).get(ALLOW_ENV, ""))

    @classmethod
    def unrestricted(cls) -> EgressPolicy:
        """Every address (tests of the policy's callers, explicitly)."""
        return cls(allow_classes=frozenset({"loopback", "private", "shared", "reserved", "link-local", "multicast"}))

    def with_allow_list(self, text: str) -> EgressPolicy:
        """This policy plus CIDRs and host names from a comma-separated list (a bad entry is a usage error)."""
        networks = list(self.networks)
        hosts = set(self.hosts)
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
                continue
            except ValueError:
                pass
            name = item.lower().rstrip(".")
            if not name or any(c in name for c in "/ @:"):
                raise InputError(f"{ALLOW_ENV}: {item!r} is neither a CIDR nor a host name")
            hosts.add(name)
        return EgressPolicy(self.allow_classes, tuple(networks), frozenset(hosts))

    def host_allowed(self, host: str) -> bool:
        """True when the host name itself is on the allow-list (exact, or ``*.domain``)."""
        name = host.lower().rstrip(".")
        if name in self.hosts:
            return True
        return any(h.startswith("*.") and name.endswith(h[1:]) for h in self.hosts)

    def check(self, host: str, addresses: Iterable[IPAddress]) -> None:
        """Raise ``EgressDenied`` unless every resolved address of ``host`` is allowed."""
        if self.host_allowed(host):
            return
        for address in addresses:
            kind = address_class(address)
            if kind == "public" or kind in self.allow_classes:
                continue
            if any(address in net for net in self.networks if net.version == address.version):
                continue
            raise EgressDenied(
                f"connection to {host} ({address}, {kind}) refused by the egress policy; "
                f"allow it with {ALLOW_ENV}=<CIDR or host name>"
            )


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    seen: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    return seen


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, checking every TCP connection against an egress policy."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.NetworkBackend | None = None) -> None:
        self.policy = policy
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve ``host``, check every address, connect to a checked address (never re-resolving)."""
        addresses = _resolve(host, port)
        self.policy.check(host, addresses)
        last: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        """Unix sockets are never an egress target."""
        raise EgressDenied(f"connection to unix socket {path} refused by the egress policy")

    def sleep(self, seconds: float) -> None:
        """Delegate (used by httpcore's retries)."""
        self._inner.sleep(seconds)


def guarded_transport(policy: EgressPolicy, **kwargs: Any) -> httpx.HTTPTransport:
    """An ``httpx.HTTPTransport`` (same keyword arguments) whose connections obey ``policy``.

    httpx does not expose the connection pool's network backend as a
    parameter; it is set on the pool it built (checked by the egress tests,
    which fail if a future httpx stops honouring it).
    """
    transport = httpx.HTTPTransport(**kwargs)
    pool = transport._pool
    pool._network_backend = GuardedBackend(policy)
    return transport
