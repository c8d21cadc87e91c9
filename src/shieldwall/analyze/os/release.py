"""OS identity from os-release and the older release files, with end-of-life status."""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from functools import lru_cache
from importlib import resources

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, FileInfo
from shieldwall.model import EolStatus, OSInfo

_OS_RELEASE = {"/etc/os-release", "/usr/lib/os-release"}
_ALPINE = "/etc/alpine-release"
_DEBIAN = "/etc/debian_version"
_REDHAT = {"/etc/redhat-release", "/etc/centos-release", "/etc/rocky-release", "/etc/almalinux-release"}


@lru_cache(maxsize=1)
def eol_table() -> dict[str, dict[str, str]]:
    """family -> {version prefix -> EOL date}, from the bundled ``eol.json``."""
    raw = resources.files("shieldwall.data").joinpath("eol.json").read_text()
    table: dict[str, dict[str, str]] = json.loads(raw)
    return table


def eol_for(family: str, version: str, today: dt.date | None = None) -> tuple[str, EolStatus]:
    """End-of-life date and status for a release, matching the longest known prefix."""
    releases = eol_table().get(family, {})
    best = ""
    for prefix in releases:
        if (version == prefix or version.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    if not best:
        return "", EolStatus.UNKNOWN
    date = releases[best]
    today = today or dt.date.today()
    status = EolStatus.EOL if dt.date.fromisoformat(date) < today else EolStatus.SUPPORTED
    return date, status


def parse_os_release(text: str) -> dict[str, str]:
    """Parse the shell-like KEY=value lines of os-release without executing anything."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw, comments=False, posix=True)
        except ValueError:
            parts = [raw.strip("\"'")]
        values[key.strip()] = " ".join(parts)
    return values


def _make(family: str, version: str, name: str = "", codename: str = "", pretty: str = "") -> OSInfo:
    eol_date, status = eol_for(family, version)
    return OSInfo(
        family=family,
        name=name or family,
        version=version,
        version_codename=codename,
        pretty_name=pretty or f"{name or family} {version}".strip(),
        eol_date=eol_date,
        eol_status=status,
    )


class OSReleaseAnalyzer:
    """Reads ``/etc/os-release`` (preferred), ``alpine-release``, ``debian_version``, ``redhat-release``."""

    name = "os-release"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return path in _OS_RELEASE or path in (_ALPINE, _DEBIAN) or path in _REDHAT

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        text = input.read()[:65536].decode("utf-8", errors="replace")
        if input.path in _OS_RELEASE:
            values = parse_os_release(text)
            family = values.get("ID", "").lower()
            if not family:
                return EMPTY
            version = values.get("VERSION_ID", "")
            return AnalysisResult(
                os=_make(
                    family,
                    version,
                    values.get("NAME", ""),
                    values.get("VERSION_CODENAME", ""),
                    values.get("PRETTY_NAME", ""),
                )
            )
        first = text.strip().splitlines()[0] if text.strip() else ""
        if input.path == _ALPINE and first:
            return AnalysisResult(os=_make("alpine", first, "Alpine Linux"))
        if input.path == _DEBIAN and first:
            match = re.match(r"(\d+)(\.\d+)?", first)
            if match:
                return AnalysisResult(os=_make("debian", match.group(1), "Debian GNU/Linux"))
            return EMPTY
        match = re.search(r"^(.*?) release (\d+(?:\.\d+)*)", first)
        if match:
            name = match.group(1)
            low = name.lower()
            family = next(
                (f for f in ("rocky", "almalinux", "centos", "fedora") if f in low.replace(" ", "")),
                "rhel",
            )
            return AnalysisResult(os=_make(family, match.group(2), name))
        return EMPTY
