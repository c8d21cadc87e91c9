"""fail2ban filters (``filter.d/*.conf``) translated into Shieldwall matchers.

A filter is an INI file: ``[INCLUDES] before=common.conf``, ``[DEFAULT]``,
``[Definition]`` (``failregex``, ``ignoreregex``, ``prefregex``,
``datepattern``, ``maxlines``) and ``[Init]`` (option defaults such as
``mode``). Values refer to each other as ``%(name)s`` and ``<name>`` (also
``<section/name>``), which are substituted innermost first. fail2ban's own
tags become named groups: ``<HOST>``/``<ADDR>``/``<IP4>``/``<IP6>``/``<DNS>``
and ``<F-NAME>...</F-NAME>`` (``F-NOFAIL`` marks helper matches that are not
failures). As in fail2ban, the timestamp is found (``datepattern`` or the
default templates), cut out of the line, the ``prefregex`` must match and its
``F-CONTENT`` is what ``failregex`` sees; ``ignoreregex`` vetoes. Patterns
are Python regexes (look-arounds, conditionals), so they run on the ``regex``
package with a per-line timeout. Multi-line filters (``maxlines`` > 1) are
refused with a reason.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass, field
from pathlib import Path

import regex  # type: ignore[import-untyped]

from shieldwall.logrules.common import LogMatch
from shieldwall.logrules.saferegex import FALLBACK_TIMEOUT, MAX_LINE

IP4 = r"(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})"
IP6 = r"(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):))"
DNS = r"(?P<dns>[\w\-.^_]*\w)"
ADDR = rf"(?:{IP4}|\[?{IP6}\]?)"
HOST = rf"(?:{ADDR}|{DNS})"
BUILTIN_TAGS = {
    "HOST": HOST,
    "ADDR": ADDR,
    "IP4": IP4,
    "IP6": IP6,
    "DNS": DNS,
    "CIDR": r"(?P<cidr>\d{1,3})",
    "SUBNET": rf"(?:{ADDR}(?:/(?P<cidr>\d{{1,3}}))?)",
    "SKIPLINES": r"(?:\n.*){0,20}?",
}
_DATE_PARTS = {
    "%Y": r"\d{4}",
    "%ExY": r"\d{4}",
    "%y": r"\d{2}",
    "%Exy": r"\d{2}",
    "%m": r"\d{1,2}",
    "%Exm": r"\d{1,2}",
    "%d": r"\d{1,2}",
    "%Exd": r"\d{1,2}",
    "%e": r"[ \d]?\d",
    "%H": r"\d{1,2}",
    "%ExH": r"\d{1,2}",
    "%k": r"[ \d]?\d",
    "%I": r"\d{1,2}",
    "%M": r"\d{1,2}",
    "%ExM": r"\d{1,2}",
    "%S": r"\d{1,2}",
    "%ExS": r"\d{1,2}",
    "%f": r"\d+",
    "%z": r"(?:Z|[+-]\d{2}(?::?\d{2})?)",
    "%Z": r"[A-Z]{3,5}",
    "%b": r"[A-Za-z]{3,9}",
    "%B": r"[A-Za-z]{3,9}",
    "%a": r"[A-Za-z]{3,9}",
    "%A": r"[A-Za-z]{3,9}",
    "%p": r"[AaPp][Mm]",
    "%j": r"\d{1,3}",
    "%s": r"\d{9,11}",
    "%%": "%",
}
DEFAULT_DATES = [
    r"(?:[A-Za-z]{3} )?[A-Za-z]{3} {1,2}\d{1,2},? (?:\d{4} )?\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?: \d{4})?",
    r"\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:\s*(?:Z|[+-]\d{2}:?\d{2}))?",
    r"\d{4}/\d{1,2}/\d{1,2}[T -]\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?",
    r"\d{1,2}/[A-Za-z]{3}/\d{4}[: ]\d{1,2}:\d{2}:\d{2}(?: ?[+-]\d{4})?",
    r"\d{1,2}[-/][A-Za-z]{3}[-/]\d{2,4} \d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?",
    r"\d{1,2}/\d{1,2}/\d{2,4} \d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?",
    r"\d{1,2}\.\d{1,2}\.\d{2,4} \d{1,2}:\d{2}:\d{2}",
    r"\d{4}\d{2}\d{2} ?\d{2}:?\d{2}:?\d{2}",
    r"\d{2}\d{2}\d{2} +\d{1,2}:\d{2}:\d{2}",
    r"[A-Za-z]{3} [A-Za-z]{3} \d{1,2} \d{1,2}:\d{2}:\d{2} (?:[A-Z]{3,5} )?\d{4}",
    r"@[0-9a-f]{24}",
    r"\d{10}(?:\.\d{1,6})?",
]
_TAG = re.compile(r"<([^<>\s]+)>")
_PCT = re.compile(r"%\(([^)]+)\)s")
_FTAG = re.compile(r"<(/?)F-([A-Za-z0-9_-]+)>")


class FilterError(ValueError):
    """A filter that cannot be loaded or translated."""


def _read_ini(path: Path, seen: set[Path]) -> list[configparser.RawConfigParser]:
    if path in seen or len(seen) > 16:
        return []
    seen.add(path)
    cp = configparser.RawConfigParser(
        strict=False, interpolation=None, inline_comment_prefixes=None, default_section="\0none"
    )
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        cp.read_string(path.read_text(encoding="utf-8", errors="replace"), str(path))
    except configparser.Error as exc:
        raise FilterError(f"{path.name}: {exc}") from exc
    before: list[configparser.RawConfigParser] = []
    after: list[configparser.RawConfigParser] = []
    if cp.has_section("INCLUDES"):
        for key, target in (("before", before), ("after", after)):
            for name in cp.get("INCLUDES", key, fallback="").split():
                inc = (path.parent / name).resolve()
                if inc.parent == path.parent.resolve() and inc.is_file():
                    target.extend(_read_ini(inc, seen))
    return [*before, cp, *after]


@dataclass(slots=True)
class Fail2banFilter:
    """One translated filter."""

    name: str
    failregex: list[regex.Pattern[str]]
    ignoreregex: list[regex.Pattern[str]]
    prefregex: regex.Pattern[str] | None
    dates: list[regex.Pattern[str]]
    maxlines: int = 1
    timeouts: int = 0

    def check(self, line: str) -> tuple[bool, str | None]:
        """``(failure, host)`` for one line."""
        line = line.rstrip("\r\n")[:MAX_LINE]
        try:
            text = self._cut_date(line)
            pref: dict[str, str | None] = {}
            if self.prefregex is not None:
                m = self.prefregex.search(text, timeout=FALLBACK_TIMEOUT)
                if m is None:
                    return False, None
                pref = m.groupdict()
                content = pref.get("content")
                if content is not None:
                    text = content
            for rx in self.failregex:
                m = rx.search(text, timeout=FALLBACK_TIMEOUT)
                if m is None:
                    continue
                if any(ig.search(text, timeout=FALLBACK_TIMEOUT) for ig in self.ignoreregex):
                    return False, None
                groups = {k: v for k, v in pref.items() if v is not None}
                groups.update({k: v for k, v in m.groupdict().items() if v is not None})
                if groups.get("nofail") is not None:
                    return False, None
                host = groups.get("ip4") or groups.get("ip6") or groups.get("dns") or groups.get("fid")
                # like fail2ban, a match that identifies nobody (no host, no F-ID) is not a failure
                return (host is not None), host
        except TimeoutError:
            self.timeouts += 1
        return False, None

    def _cut_date(self, line: str) -> str:
        for rx in self.dates:
            m = rx.search(line, timeout=FALLBACK_TIMEOUT)
            if m is None:
                continue
            start, end = m.span(1) if m.re.groups >= 1 and m.group(1) is not None else m.span()
            return line[:start] + line[end:]
        return line


@dataclass(slots=True)
class _Values:
    sections: dict[str, dict[str, str]] = field(default_factory=dict)

    def lookup(self, name: str, options: dict[str, str]) -> str | None:
        if name in options:
            return options[name]
        if name.startswith("known/"):
            # the value the name had before this file or section overrode it
            key = name[len("known/") :]
            for sec in ("Definition", "Init", "DEFAULT"):
                value = self.sections.get(sec, {}).get(name)
                if value is not None:
                    return value
            return self.sections.get("DEFAULT", {}).get(key)
        if "/" in name:
            sec, _, opt = name.partition("/")
            section = self.sections.get(sec, {})
            value = section.get(opt)
            if value is None:
                return None
            # names inside a section's value resolve in that section first (and its known/ values)
            return _PCT.sub(lambda m: f"%({sec}/{m.group(1)})s" if m.group(1) in section else m.group(0), value)
        for sec in ("Init", "Definition", "DEFAULT"):
            value = self.sections.get(sec, {}).get(name)
            if value is not None:
                return value
        return None


def _expand(value: str, values: _Values, options: dict[str, str]) -> str:
    for _ in range(60):
        new = _PCT.sub(lambda m: values.lookup(m.group(1), options) or m.group(0), value)
        new = _TAG.sub(lambda m: _tag(m.group(1), values, options) or m.group(0), new)
        if new == value:
            return value
        value = new
    raise FilterError("substitution does not terminate")


def _tag(name: str, values: _Values, options: dict[str, str]) -> str | None:
    if name.startswith("F-") or name.startswith("/F-") or name in BUILTIN_TAGS:
        return None
    return values.lookup(name, options)


def _finish(pattern: str) -> str:
    def ftag(m: re.Match[str]) -> str:
        if m.group(1):
            return ")"
        return f"(?P<{m.group(2).lower().replace('-', '_')}>"

    pattern = _FTAG.sub(ftag, pattern)
    for tag, rx in BUILTIN_TAGS.items():
        pattern = pattern.replace(f"<{tag}>", rx)
    return pattern


def _date_patterns(spec: str) -> list[str]:
    if not spec.strip():
        return [rf"^\W{{0,2}}({d})" for d in DEFAULT_DATES] + [rf"({d})" for d in DEFAULT_DATES]
    out: list[str] = []
    for line in spec.splitlines():
        line = line.strip().replace("%%", "%")
        if not line:
            continue
        anchor = ""
        if line.startswith("{^LN-BEG}"):
            anchor = r"^\W{0,2}"
            line = line[len("{^LN-BEG}") :]
        if not line:
            out += [anchor + f"({d})" for d in DEFAULT_DATES]
            continue
        if line == "Epoch":
            out.append(anchor + r"(\d{10}(?:\.\d{1,6})?)")
            continue
        if line == "TAI64N":
            out.append(anchor + r"(@[0-9a-f]{24})")
            continue
        date_alt = "(?:" + "|".join(DEFAULT_DATES) + ")"
        line = line.replace("{DATE}", date_alt)
        for k in sorted(_DATE_PARTS, key=len, reverse=True):
            line = line.replace(k, _DATE_PARTS[k])
        # the date is group 1: with {^LN-BEG} the whole rest, otherwise the pattern's own first group
        out.append(anchor + f"({line})" if anchor else line)
    return out


def load_filter(path: Path, options: dict[str, str] | None = None) -> Fail2banFilter:
    """Translate ``path`` (a ``filter.d/*.conf``) with the given filter options (``mode`` ...)."""
    options = dict(options or {})
    values = _Values()
    for cp in _read_ini(path.resolve(), set()):
        for sec in cp.sections():
            target = values.sections.setdefault(sec, {})
            for key, value in cp.items(sec):
                if key in target:
                    target[f"known/{key}"] = target[key]
                target[key] = value
    definition = values.sections.get("Definition", {})

    def get(name: str) -> str:
        raw = definition.get(name, "")
        return _expand(raw, values, options) if raw else ""

    try:
        maxlines = int(get("maxlines") or "1")
    except ValueError:
        maxlines = 1
    if maxlines > 1:
        raise FilterError(f"{path.name}: multi-line filter (maxlines={maxlines}) is not supported")
    flags = regex.V0 | regex.MULTILINE

    def compile_all(text: str) -> list[regex.Pattern[str]]:
        out = []
        for line in text.splitlines():
            if line.strip():
                try:
                    out.append(regex.compile(_finish(line.strip()), flags))
                except regex.error as exc:
                    raise FilterError(f"{path.name}: {line.strip()[:80]!r}: {exc}") from exc
        return out

    fail = compile_all(get("failregex"))
    if not fail:
        raise FilterError(f"{path.name}: no failregex")
    pref = get("prefregex").strip()
    try:
        dates = [regex.compile(d) for d in _date_patterns(get("datepattern"))]
        prefregex = regex.compile(_finish(pref), flags) if pref else None
    except regex.error as exc:
        raise FilterError(f"{path.name}: {exc}") from exc
    return Fail2banFilter(path.stem, fail, compile_all(get("ignoreregex")), prefregex, dates, maxlines)


class Fail2banRules:
    """fail2ban filters as a rule engine: a failure line becomes a match with ``srcip``."""

    name = "fail2ban"

    def __init__(self, filters: list[Fail2banFilter], level: int = 5) -> None:
        self.filters = filters
        self.level = level

    def process(self, line: str, location: str, now: float) -> list[LogMatch]:
        """One match per filter that reports ``line`` as a failure."""
        out: list[LogMatch] = []
        for flt in self.filters:
            hit, host = flt.check(line)
            if hit and host is not None:
                out.append(
                    LogMatch(
                        engine="fail2ban",
                        rule_id=f"fail2ban:{flt.name}",
                        level=self.level,
                        description=f"fail2ban filter {flt.name}: failure from {host}",
                        groups=("fail2ban", flt.name),
                        fields={"srcip": host},
                    )
                )
        return out
