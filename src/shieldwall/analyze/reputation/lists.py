"""Domain, URL and IP block lists for scans (URLhaus-filter, hosts files, plain IP/CIDR lists).

Accepted line forms (anything else is counted as a bad line and skipped):
``evil.example`` (a host: it and its subdomains are listed), ``1.2.3.4`` or
``5.6.0.0/16`` (addresses), ``0.0.0.0 evil.example`` (hosts-file form),
``||evil.example^`` and ``||evil.example/path/x.exe^$all`` (adblock host
and URL-prefix forms). ``!``, ``#`` and ``;`` start comments; ``@@``
exceptions and cosmetic filters (``##``) are ignored. Files, lines and
entry counts are bounded; a file over a bound is refused whole.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_LINE_CHARS = 2048
MAX_ENTRIES = 2_000_000
MAX_SUFFIX_DEPTH = 12

HOSTS_FILE_SINKS = frozenset({"0.0.0.0", "127.0.0.1", "::"})  # noqa: S104 - hosts-file sink addresses, not a bind
HOST_RE = re.compile(r"^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9][a-z0-9-]{0,61}$")


class ScanListError(ValueError):
    """A list file cannot be used (missing, too large, too many entries)."""


@dataclass
class IndicatorList:
    """One loaded list: hosts, URL prefixes per host, single IPs and IP networks."""

    name: str
    source: str
    hosts: set[str] = field(default_factory=set)
    url_prefixes: dict[str, list[str]] = field(default_factory=dict)
    ips: set[str] = field(default_factory=set)
    v4_starts: list[int] = field(default_factory=list)
    v4_ends: list[int] = field(default_factory=list)
    bad_lines: int = 0
    digest: str = ""

    def match_host(self, host: str) -> str | None:
        """The listed host that ``host`` is (or is a subdomain of), or None."""
        labels = host.lower().rstrip(".").split(".")
        for i in range(min(len(labels) - 1, MAX_SUFFIX_DEPTH)):
            candidate = ".".join(labels[i:])
            if candidate in self.hosts:
                return candidate
        return None

    def match_url(self, host: str, path: str) -> str | None:
        """The listed URL prefix (``host/path``) that this URL starts with, or None."""
        prefixes = self.url_prefixes.get(host.lower().rstrip("."))
        if not prefixes:
            return None
        lowered = path.lower()
        for prefix in prefixes:
            if lowered.startswith(prefix):
                return f"{host.lower()}{prefix}"
        return None

    def match_ip(self, text: str) -> str | None:
        """The listed entry containing the IPv4 address ``text``, or None."""
        if text in self.ips:
            return text
        try:
            value = int(ipaddress.IPv4Address(text))
        except ValueError:
            return None
        i = bisect.bisect_right(self.v4_starts, value) - 1
        if i >= 0 and value <= self.v4_ends[i]:
            net = ipaddress.summarize_address_range(
                ipaddress.IPv4Address(self.v4_starts[i]), ipaddress.IPv4Address(self.v4_ends[i])
            )
            return str(next(net))
        return None

    @property
    def size(self) -> int:
        """Number of entries."""
        return len(self.hosts) + sum(map(len, self.url_prefixes.values())) + len(self.ips) + len(self.v4_starts)


def _strip(line: str) -> str:
    line = line.strip()
    if not line or line[0] in "!#;[" or line.startswith("@@") or "##" in line or "#@#" in line:
        return ""
    return line


def load_indicator_list(path: Path, name: str = "") -> IndicatorList:
    """Read one list file under the bounds."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScanListError(f"cannot read reputation list {path}: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScanListError(f"reputation list {path} is larger than {MAX_FILE_BYTES} bytes")
    result = IndicatorList(name=name or path.stem, source=str(path), digest=hashlib.sha256(data).hexdigest())
    networks: list[ipaddress.IPv4Network] = []
    count = 0
    for raw in data.decode("utf-8", errors="replace").splitlines():
        line = _strip(raw)
        if not line:
            continue
        count += 1
        if count > MAX_ENTRIES:
            raise ScanListError(f"reputation list {path} has more than {MAX_ENTRIES} entries")
        if len(line) > MAX_LINE_CHARS or not _add(result, line, networks):
            result.bad_lines += 1
    for net in ipaddress.collapse_addresses(networks):
        result.v4_starts.append(int(net.network_address))
        result.v4_ends.append(int(net.broadcast_address))
    return result


def _add(result: IndicatorList, line: str, networks: list[ipaddress.IPv4Network]) -> bool:
    if line.startswith("||"):
        body = line[2:].split("$", 1)[0].rstrip("^|*")
        host, slash, path = body.partition("/")
        host = host.lower().split(":", 1)[0]
        if not _host_or_ip(host):
            return False
        if not slash:
            _add_host(result, host, networks)
            return True
        result.url_prefixes.setdefault(host, []).append("/" + path.lower())
        return True
    parts = line.split()
    if len(parts) == 2 and parts[0] in HOSTS_FILE_SINKS:
        line = parts[1]
    elif len(parts) != 1:
        return False
    entry = line.lower()
    if not _host_or_ip(entry):
        return False
    _add_host(result, entry, networks)
    return True


def _host_or_ip(text: str) -> bool:
    if HOST_RE.match(text):
        return True
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _add_host(result: IndicatorList, entry: str, networks: list[ipaddress.IPv4Network]) -> None:
    try:
        net = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        result.hosts.add(entry.rstrip("."))
        return
    if isinstance(net, ipaddress.IPv4Network):
        if net.prefixlen == 32:
            result.ips.add(str(net.network_address))
        else:
            networks.append(net)
    else:
        result.ips.add(str(net.network_address) if net.prefixlen == 128 else str(net))
