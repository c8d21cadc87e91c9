"""Domain and URL reputation lists -> Suricata rules (DNS query, TLS SNI, HTTP host and URI).

List files are hostile input: the file size, the number of entries and the
line length are bounded; every entry is validated (a domain is dot-separated
labels of ``[a-z0-9_-]``; a URL path holds printable ASCII only) and anything
else is counted as rejected, never copied into a rule. Accepted formats: one
host or URL per line (``#``/``!`` comments), and adblock-style lines as in
urlhaus-filter (``||host^``, ``||host/path^$all``). IP addresses are left to
the host firewall's IP sets and counted as skipped.

A domain entry matches the domain and its subdomains (``dotprefix`` +
``endswith``); an allow-listed domain removes entries at or below it; an
allow-listed URL removes that URL.

Every entry carries its list's category and severity (as the host firewall's
IP lists do); the rules name them in ``msg`` and ``metadata`` (``category X,
severity high``) and set Suricata's ``priority`` to match, so the alert that
becomes an agent event says which list, what kind of threat and how severe.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shieldwall.agent.modules.ips.policy import DEFAULT_LIST_CATEGORY, Mode
from shieldwall.model.finding import Severity

MAX_LIST_BYTES = 32 * 1024 * 1024
MAX_ENTRIES = 200_000
MAX_LINE = 2048
SID_BASE = 1_900_000_000
SID_SPAN = 90_000_000

_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_PATH_OK = re.compile(r"^/[\x21-\x7e]{0,1000}$")
_CATEGORY_OK = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
DEFAULT_SEVERITY = Severity.HIGH
PRIORITY = {Severity.CRITICAL: 1, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3, Severity.UNKNOWN: 3}
"""Suricata's ``priority`` (eve ``alert.severity``) for a list severity."""


class ListError(ValueError):
    """A list file cannot be read at all (too large, not a file, a link)."""


@dataclass(frozen=True, slots=True, order=True)
class Entry:
    """A listed domain (``path`` empty) or URL (host + path)."""

    host: str
    path: str = ""
    list_name: str = ""
    category: str = DEFAULT_LIST_CATEGORY
    severity: Severity = DEFAULT_SEVERITY


@dataclass(slots=True)
class ParsedList:
    """Entries of one or more lists with what was refused."""

    entries: set[Entry] = field(default_factory=set)
    rejected: int = 0
    skipped_ip: int = 0
    truncated: bool = False


def valid_domain(host: str) -> bool:
    """A DNS name of at least two labels, lower-case letters/digits/``-``/``_``."""
    if not host or len(host) > 253 or "." not in host:
        return False
    return all(_LABEL.match(label) for label in host.split("."))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def parse_entry(
    raw: str, list_name: str = "", category: str = DEFAULT_LIST_CATEGORY, severity: Severity = DEFAULT_SEVERITY
) -> Entry | str | None:
    """An ``Entry``, ``"ip"`` for an address (left to the firewall), or None when invalid."""
    line = raw.strip()
    if line.startswith("||"):
        line = line[2:]
        line = line.split("$", 1)[0].rstrip("^")
    for scheme in ("http://", "https://"):
        if line.lower().startswith(scheme):
            line = line[len(scheme) :]
    host, slash, path = line.partition("/")
    host = host.lower().rstrip(".")
    if ":" in host and not host.startswith("["):
        host, _, port = host.partition(":")
        if not port.isdigit():
            return None
    if _is_ip(host):
        return "ip"
    if not valid_domain(host):
        return None
    if slash:
        path = "/" + path
        if path == "/":
            path = ""
        elif not _PATH_OK.match(path):
            return None
    return Entry(host=host, path=path, list_name=list_name, category=category, severity=severity)


def parse_lines(
    lines: Iterable[str],
    list_name: str,
    into: ParsedList | None = None,
    category: str = DEFAULT_LIST_CATEGORY,
    severity: Severity = DEFAULT_SEVERITY,
) -> ParsedList:
    """Parse list lines (comments skipped), bounded by ``MAX_ENTRIES``; entries take the list's category/severity."""
    if not _CATEGORY_OK.match(category):
        raise ListError(f"{list_name}: category {category!r} is not a plain token")
    out = into if into is not None else ParsedList()
    for line in lines:
        if len(out.entries) >= MAX_ENTRIES:
            out.truncated = True
            break
        text = line.strip()
        if not text or text[0] in "#!":
            continue
        if len(text) > MAX_LINE:
            out.rejected += 1
            continue
        parsed = parse_entry(text, list_name, category, severity)
        if parsed is None:
            out.rejected += 1
        elif parsed == "ip":
            out.skipped_ip += 1
        elif isinstance(parsed, Entry):
            out.entries.add(parsed)
    return out


def read_list(
    path: Path,
    into: ParsedList | None = None,
    category: str = DEFAULT_LIST_CATEGORY,
    severity: Severity = DEFAULT_SEVERITY,
) -> ParsedList:
    """Parse one list file, refusing links, non-files and files above ``MAX_LIST_BYTES``."""
    if path.is_symlink() or not path.is_file():
        raise ListError(f"{path.name}: not a regular file")
    if path.stat().st_size > MAX_LIST_BYTES:
        raise ListError(f"{path.name}: larger than {MAX_LIST_BYTES} bytes")
    with path.open(encoding="utf-8", errors="replace") as fh:
        return parse_lines((ln[: MAX_LINE + 1] for ln in fh), path.stem, into, category, severity)


def apply_allow(entries: Iterable[Entry], allow: Iterable[str]) -> list[Entry]:
    """Entries not covered by the allow-list (domains cover their subdomains)."""
    domains: set[str] = set()
    urls: set[tuple[str, str]] = set()
    for item in allow:
        parsed = parse_entry(item)
        if isinstance(parsed, Entry):
            if parsed.path:
                urls.add((parsed.host, parsed.path))
            else:
                domains.add(parsed.host)

    def allowed(host: str) -> bool:
        parts = host.split(".")
        return any(".".join(parts[i:]) in domains for i in range(len(parts)))

    return sorted(e for e in entries if not allowed(e.host) and (e.host, e.path) not in urls)


def _content(text: str) -> str:
    """A Suricata content string with the characters the rule grammar reserves hex-escaped."""
    out = []
    for ch in text:
        if ch in '";\\|' or not (0x20 < ord(ch) < 0x7F):
            out.append(f"|{ord(ch):02x}|")
        else:
            out.append(ch)
    return "".join(out)


def _sid(key: str, used: set[int]) -> int:
    value = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % SID_SPAN
    while SID_BASE + value in used:
        value = (value + 1) % SID_SPAN
    sid = SID_BASE + value
    used.add(sid)
    return sid


def build_rules(entries: Iterable[Entry], mode: Mode) -> list[str]:
    """Rules for ``entries``: domains on DNS query, TLS SNI and HTTP host; URLs on HTTP host + URI."""
    action = "drop" if mode == Mode.PREVENT else "alert"
    used: set[int] = set()
    out: list[str] = []
    meta = (
        "metadata:shieldwall_reputation {kind}, list {name}, category {category}, severity {severity}; "
        "classtype:bad-unknown; priority:{priority}; rev:1;"
    )
    for e in sorted(set(entries)):
        name = re.sub(r"[^A-Za-z0-9_-]", "_", e.list_name or "inline")[:64]
        category = e.category if _CATEGORY_OK.match(e.category) else DEFAULT_LIST_CATEGORY
        severity = Severity(e.severity)
        tail = f"({category}, {severity.value})"
        fields = {
            "name": name,
            "category": category,
            "severity": severity.value.lower(),
            "priority": PRIORITY[severity],
        }
        if not e.path:
            dom = _content("." + e.host)
            for kind, proto, buf, nocase in (
                ("dns", "dns", "dns.query", "nocase; "),
                ("tls", "tls", "tls.sni", "nocase; "),
                ("http", "http", "http.host", ""),
            ):
                sid = _sid(f"{kind}:{e.host}", used)
                out.append(
                    f"{action} {proto} any any -> any any "
                    f'(msg:"SHIELDWALL REPUTATION {kind} {e.host} listed in {name} {tail}"; '
                    f'{buf}; dotprefix; content:"{dom}"; {nocase}endswith; '
                    + meta.format(kind="domain", **fields)
                    + f" sid:{sid};)"
                )
        else:
            sid = _sid(f"url:{e.host}{e.path}", used)
            out.append(
                f"{action} http any any -> any any "
                f'(msg:"SHIELDWALL REPUTATION URL on {e.host} listed in {name} {tail}"; '
                f'flow:established,to_server; http.host; content:"{_content(e.host)}"; startswith; endswith; '
                f'http.uri.raw; content:"{_content(e.path)}"; nocase; startswith; '
                + meta.format(kind="url", **fields)
                + f" sid:{sid};)"
            )
    return out
