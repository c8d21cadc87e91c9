"""Regular expressions that cannot hang on attacker-controlled log lines.

Every pattern is compiled with google-re2 (linear time) when its syntax allows;
patterns re2 refuses (back-references, look-arounds) fall back to the ``regex``
package with a per-call timeout, so a catastrophic-backtracking rule costs at
most ``FALLBACK_TIMEOUT`` seconds per line and is counted, never fatal. Lines
are cut to ``MAX_LINE`` characters before any rule sees them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import re2  # type: ignore[import-untyped]
import regex  # type: ignore[import-untyped]

MAX_LINE = 16 * 1024
"""Longest log line evaluated; longer lines are truncated (and the truncation counted)."""

FALLBACK_TIMEOUT = 0.05
"""Seconds a non-re2 pattern may spend on one line before it is treated as no match."""


class PatternError(ValueError):
    """A pattern neither re2 nor the fallback engine accepts."""


_PCRE_VERBS = re.compile(r"^(?:\(\*(?:UTF8?|UCP|UTF32|UTF16)\))+")
_PCRE_CODEPOINT = re.compile(r"\\N\{U\+([0-9A-Fa-f]+)\}")


def from_pcre2(pattern: str) -> str:
    """A PCRE2 pattern in the dialect re2 and ``regex`` accept (verbs dropped, code points rewritten)."""
    pattern = _PCRE_VERBS.sub("", pattern)
    return _PCRE_CODEPOINT.sub(lambda m: "\\x{" + m.group(1) + "}", pattern)


@dataclass(slots=True)
class RegexStats:
    """Counters shared by every ``SafeRegex`` of one engine."""

    fallback_patterns: int = 0
    timeouts: int = 0
    truncated_lines: int = 0


@dataclass(slots=True)
class SafeMatch:
    """The part of a match the rule engines use: span and groups."""

    start: int
    end: int
    groups: tuple[str | None, ...]


@dataclass(slots=True)
class SafeRegex:
    """A compiled pattern: re2 when possible, time-boxed ``regex`` otherwise."""

    pattern: str
    ignore_case: bool = False
    stats: RegexStats = field(default_factory=RegexStats)
    _re2: Any = None
    _fallback: Any = None

    def __post_init__(self) -> None:
        try:
            options = re2.Options()
            options.case_sensitive = not self.ignore_case
            options.max_mem = 32 << 20
            options.log_errors = False
            self._re2 = re2.compile(self.pattern, options)
        except Exception:  # re2 raises several error types for syntax it does not support
            flags = regex.V0 | (regex.IGNORECASE if self.ignore_case else 0)
            try:
                self._fallback = regex.compile(self.pattern, flags)
            except regex.error as exc:
                raise PatternError(f"invalid pattern {self.pattern!r}: {exc}") from exc
            self.stats.fallback_patterns += 1

    def group_names(self) -> list[str | None]:
        """The name of each capture group in order (None for unnamed groups)."""
        rx = self._re2 if self._re2 is not None else self._fallback
        index = rx.groupindex
        names: list[str | None] = [None] * rx.groups
        for name, i in index.items():
            names[i - 1] = name
        return names

    @property
    def uses_re2(self) -> bool:
        """True when the linear-time engine runs this pattern."""
        return self._re2 is not None

    def search(self, text: str, pos: int = 0) -> SafeMatch | None:
        """The first match in ``text[pos:]`` (``^`` anchors at ``pos``), or None (also on timeout)."""
        sub = text[pos:] if pos else text
        if self._re2 is not None:
            m = self._re2.search(sub)
        else:
            try:
                m = self._fallback.search(sub, timeout=FALLBACK_TIMEOUT)
            except TimeoutError:
                self.stats.timeouts += 1
                return None
        if m is None:
            return None
        return SafeMatch(m.start() + pos, m.end() + pos, tuple(m.groups()))


def bound_line(line: str, stats: RegexStats | None = None) -> str:
    """``line`` cut to ``MAX_LINE`` characters (counted in ``stats`` when cut)."""
    if len(line) <= MAX_LINE:
        return line
    if stats is not None:
        stats.truncated_lines += 1
    return line[:MAX_LINE]
