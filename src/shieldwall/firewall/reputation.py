"""IP reputation lists: bounded, validated parsing of hostile list files.

A list file has one IPv4/IPv6 address or CIDR per line; ``#``, ``;`` and
``!`` start comments (the ET-derived lists, Spamhaus DROP's ``; SBL`` tails
and uBlock-style headers all parse). Anything else on a line is an error
for that line: it is counted and reported by line number (never its
content: a wrong path could point at a secret file), never executed or
passed on. The file size, line length and entry
count are bounded; a list over a bound is refused whole, so a truncated
list never silently replaces a complete one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shieldwall.firewall.model import Network
from shieldwall.model.finding import Severity

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_LINE_CHARS = 200
MAX_ENTRIES = 500_000
MAX_REPORTED_ERRORS = 5

LIST_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,29}$")


class ReputationListError(ValueError):
    """A list file cannot be used as a whole (missing, too large, too many entries)."""


@dataclass(frozen=True, slots=True)
class ReputationList:
    """One loaded list: its networks (collapsed), category, severity and enforcement action.

    ``action`` is ``drop`` (Prevent) or ``log`` (Detect: counted and logged, not dropped).
    """

    name: str
    category: str
    severity: Severity
    action: str
    networks: tuple[Network, ...]
    source: str = ""
    bad_lines: int = 0
    errors: tuple[str, ...] = field(default=())

    def contains(self, address: str) -> bool:
        """True when ``address`` falls in one of the list's networks (linear; for tests and tools)."""
        ip = ipaddress.ip_address(address)
        return any(ip in net for net in self.networks)


@dataclass(frozen=True, slots=True)
class ParsedEntries:
    """Networks of one file plus what was wrong with it."""

    networks: tuple[Network, ...]
    bad_lines: int
    errors: tuple[str, ...]


def parse_entries(lines: Iterable[str], *, max_entries: int = MAX_ENTRIES) -> ParsedEntries:
    """Parse list lines into networks (host bits masked), counting bad lines."""
    networks: list[Network] = []
    bad = 0
    errors: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line or line.startswith("!"):
            continue
        if len(line) > MAX_LINE_CHARS:
            bad += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(f"line {number}: longer than {MAX_LINE_CHARS} characters")
            continue
        try:
            networks.append(ipaddress.ip_network(line, strict=False))
        except ValueError:
            bad += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(f"line {number}: not an address or network")  # content never echoed
            continue
        if len(networks) > max_entries:
            raise ReputationListError(f"more than {max_entries} entries")
    return ParsedEntries(collapse(networks), bad, tuple(errors))


def collapse(networks: Iterable[Network]) -> tuple[Network, ...]:
    """Merge overlapping and adjacent networks per family (nftables interval sets refuse overlaps)."""
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    out: list[Network] = list(ipaddress.collapse_addresses(v4))
    out += list(ipaddress.collapse_addresses(v6))
    return tuple(out)


def load_list(
    path: Path,
    *,
    name: str,
    category: str,
    severity: Severity,
    action: str = "drop",
    max_bytes: int | None = None,
    max_entries: int | None = None,
) -> ReputationList:
    """Read one list file under the bounds; ``ReputationListError`` when unusable as a whole."""
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    max_entries = MAX_ENTRIES if max_entries is None else max_entries
    if not LIST_NAME_RE.match(name):
        raise ReputationListError(f"list name {name!r} must match {LIST_NAME_RE.pattern}")
    if action not in ("drop", "log"):
        raise ReputationListError(f"list {name}: action must be drop or log, not {action!r}")
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ReputationListError(f"list {name}: cannot read {path}: {exc.strerror}") from None
    if len(data) > max_bytes:
        raise ReputationListError(f"list {name}: {path} is larger than {max_bytes} bytes")
    text = data.decode("utf-8", errors="replace")
    try:
        parsed = parse_entries(text.splitlines(), max_entries=max_entries)
    except ReputationListError as exc:
        raise ReputationListError(f"list {name}: {path}: {exc}") from None
    return ReputationList(
        name=name,
        category=category,
        severity=severity,
        action=action,
        networks=parsed.networks,
        source=str(path),
        bad_lines=parsed.bad_lines,
        errors=parsed.errors,
    )
