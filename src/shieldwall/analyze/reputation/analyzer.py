"""The reputation detector: URLs, domains and IPv4 addresses in files that are on a block list.

Shift-left web reputation: a script in an image that downloads from a
URLhaus-listed host, a config pointing at a botnet IP, a README linking a
malware URL. The detector reads every file up to ``max_file_bytes`` as bytes
(binaries too: droppers carry their URLs as plain strings), extracts
candidates with bounded regular expressions and looks each up in the
configured lists. A hit is a ``malware``-kind finding (rule id
``reputation:<list>``, the scanner family is ``malware`` so
``--scanners malware`` runs it) whose fingerprint is the indicator, not the
line. Lists are read once, lazily; a list that cannot be read is a scan
warning, never a silent pass.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from shieldwall.analyze.base import AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.reputation.lists import IndicatorList, ScanListError, load_indicator_list
from shieldwall.model import Evidence, Finding, FindingKind, Severity

BASE_VERSION = 1
_VERSION_SPAN = 1_000_000_000
MAX_FINDINGS_PER_FILE = 50

URL_RE = re.compile(rb"(?i)\b(?:https?|ftp)://([a-z0-9_.-]{1,253})(?::\d{1,5})?(/[^\s\"'<>`\\)]{0,2000})?")
DOMAIN_RE = re.compile(
    rb"(?i)(?<![\w.@/-])((?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.){1,10}[a-z][a-z0-9-]{1,62})(?![\w-])"
)
IPV4_RE = re.compile(
    rb"(?<![\d.])((?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})(?![\d.])"
)

_KIND_TITLES = {"url": "URL", "domain": "domain", "ip": "IP address"}
_FIX = "Remove the reference, find out how it got there, and check whether the host or image reached it."


@dataclass(frozen=True, slots=True)
class ReputationScanConfig:
    """Which lists to use and how much of a file to read."""

    lists: tuple[Path, ...] = ()
    max_file_bytes: int = 4 * 1024 * 1024
    severity: Severity = Severity.HIGH


@dataclass(frozen=True, slots=True)
class _Hit:
    kind: str  # url | domain | ip
    indicator: str
    entry: str
    offset: int


def defang(text: str) -> str:
    """``http://evil.example`` -> ``hxxp://evil[.]example``: safe to show, never clickable."""
    return text.replace("http", "hxxp").replace(".", "[.]")


class ReputationAnalyzer:
    """Finds listed URLs, domains and IPs in file contents (see the module docstring)."""

    name = "reputation"
    scanner = "malware"

    def __init__(self, config: ReputationScanConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._lists: list[IndicatorList] | None = None
        self._warnings: list[str] = []
        self._version = BASE_VERSION * _VERSION_SPAN

    @property
    def version(self) -> int:
        """Derived from the lists' contents, so new lists invalidate cached layers."""
        self.prepare()
        return self._version

    @version.setter
    def version(self, value: int) -> None:  # the Analyzer protocol declares a plain attribute
        raise AttributeError("ReputationAnalyzer.version is derived from its lists")

    def prepare(self) -> list[IndicatorList]:
        """Load the lists once; problems become warnings of the first analysed file."""
        with self._lock:
            if self._lists is None:
                lists: list[IndicatorList] = []
                for path in self.config.lists:
                    try:
                        loaded = load_indicator_list(path)
                    except ScanListError as exc:
                        self._warnings.append(f"reputation: {exc}")
                        continue
                    if loaded.bad_lines:
                        self._warnings.append(f"reputation: {path}: {loaded.bad_lines} unparsable line(s) skipped")
                    lists.append(loaded)
                digest = hashlib.sha256("\0".join(x.digest for x in lists).encode()).hexdigest()
                self._version = BASE_VERSION * _VERSION_SPAN + int(digest[:7], 16)
                self._lists = lists
            return self._lists

    def take_setup_warnings(self) -> tuple[str, ...]:
        """Lists that could not be read, once (see ``SetupWarnings``); ``analyze`` then omits them."""
        self.prepare()
        with self._lock:
            warnings, self._warnings = tuple(self._warnings), []
        return warnings

    def required(self, path: str, info: FileInfo) -> bool:
        """Every non-empty file when lists are configured (none configured: the detector is off)."""
        return bool(self.config.lists) and info.size > 0

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """Look up every URL, domain and IPv4 address of the file in every list."""
        lists = self.prepare()
        with self._lock:
            warnings, self._warnings = tuple(self._warnings), []
        limit = self.config.max_file_bytes
        if input.info.size > limit:
            raise AnalyzerError(f"{input.info.size} bytes, over the {limit}-byte reputation scan limit; not scanned")
        data = input.read()[:limit]
        findings: list[Finding] = []
        seen: set[tuple[str, str]] = set()
        for listing in lists:
            for hit in _hits(data, listing):
                if (listing.name, hit.indicator) in seen or len(findings) >= MAX_FINDINGS_PER_FILE:
                    continue
                seen.add((listing.name, hit.indicator))
                findings.append(self._finding(input, listing, hit, data))
        return AnalysisResult(findings=tuple(findings), warnings=warnings)

    def _finding(self, input: AnalysisInput, listing: IndicatorList, hit: _Hit, data: bytes) -> Finding:
        line = data.count(b"\n", 0, hit.offset) + 1
        shown = defang(hit.indicator)
        return Finding(
            kind=FindingKind.MALWARE,
            rule_id=f"reputation:{listing.name}",
            title=f"Known-malicious {_KIND_TITLES[hit.kind]} ({listing.name})",
            severity=self.config.severity,
            location=input.location(line),
            message=f"{shown} is on the reputation list {listing.name} (entry {defang(hit.entry)})",
            fix=_FIX,
            evidence=(
                Evidence(
                    detector=self.name,
                    searched=f"URLs, domains and IPv4 addresses against {listing.name} ({listing.size} entries)",
                    found=shown,
                    source=listing.source,
                    details=(("indicator_kind", hit.kind), ("list_entry", defang(hit.entry))),
                ),
            ),
            fingerprint_material=hit.indicator,
        )


def _hits(data: bytes, listing: IndicatorList) -> list[_Hit]:
    hits: list[_Hit] = []
    url_spans: list[tuple[int, int]] = []
    for match in URL_RE.finditer(data):
        host = match.group(1).decode("ascii", errors="replace").lower().rstrip(".")
        path = (match.group(2) or b"/").decode("ascii", errors="replace")
        url_spans.append(match.span())
        url = match.group(0).decode("ascii", errors="replace")
        entry = listing.match_url(host, path)
        if entry:
            hits.append(_Hit("url", url, entry, match.start()))
            continue
        entry = listing.match_host(host) or listing.match_ip(host)
        if entry:
            hits.append(_Hit("url", url, entry, match.start()))
    for match in DOMAIN_RE.finditer(data):
        if any(start <= match.start() < end for start, end in url_spans):
            continue
        host = match.group(1).decode("ascii", errors="replace").lower()
        entry = listing.match_host(host)
        if entry:
            hits.append(_Hit("domain", host, entry, match.start()))
    if listing.ips or listing.v4_starts:
        for match in IPV4_RE.finditer(data):
            if any(start <= match.start() < end for start, end in url_spans):
                continue
            address = match.group(1).decode("ascii")
            entry = listing.match_ip(address)
            if entry:
                hits.append(_Hit("ip", address, entry, match.start()))
    return hits
