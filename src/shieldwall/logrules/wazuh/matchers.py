"""Text matchers built from rule and decoder elements (OS_Match, OS_Regex, PCRE2)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Protocol

from shieldwall.logrules.osregex import OsMatch, alternatives
from shieldwall.logrules.saferegex import RegexStats, SafeMatch, SafeRegex, from_pcre2


class TextMatcher(Protocol):
    """Anything a rule uses to test one text value."""

    def matches(self, text: str) -> bool:
        """Whether ``text`` matches."""


@dataclass(slots=True)
class Pattern:
    """An OS_Regex (alternatives tried in order, case-insensitive) or a PCRE2 regex."""

    source: str
    kind: str
    alts: tuple[SafeRegex, ...]
    negate: bool = False

    @classmethod
    def compile(cls, source: str, kind: str, stats: RegexStats, negate: bool = False) -> Pattern:
        """Compile ``source`` as ``osregex`` or ``pcre2``."""
        if kind == "pcre2":
            return cls(source, kind, (SafeRegex(from_pcre2(source), False, stats),), negate)
        alts = tuple(SafeRegex(a, True, stats) for a in alternatives(source))
        return cls(source, "osregex", alts, negate)

    def search(self, text: str, pos: int = 0) -> SafeMatch | None:
        """The first alternative's match at or after ``pos``."""
        for alt in self.alts:
            m = alt.search(text, pos)
            if m is not None:
                return m
        return None

    def matches(self, text: str) -> bool:
        """Whether any alternative matches (after negation)."""
        return (self.search(text) is not None) != self.negate


def build_matcher(source: str, kind: str, default: str, stats: RegexStats, negate: bool = False) -> TextMatcher:
    """A matcher for ``source``; ``kind`` is the element's ``type`` attribute or empty."""
    kind = (kind or default).lower()
    if kind == "osmatch":
        return OsMatch.compile(source, negate)
    if kind in ("osregex", "pcre2"):
        return Pattern.compile(source, kind, stats, negate)
    raise ValueError(f"unknown pattern type {kind!r}")


@dataclass(frozen=True, slots=True)
class IpMatcher:
    """``<srcip>``/``<dstip>``: addresses or networks, ``!`` negates."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    negate: bool

    @classmethod
    def compile(cls, source: str) -> IpMatcher:
        """Parse ``1.2.3.4``, ``10.0.0.0/8`` or ``!192.168.0.0/16`` (comma or space lists)."""
        negate = source.startswith("!")
        body = source[1:] if negate else source
        nets = tuple(ipaddress.ip_network(p.strip(), strict=False) for p in body.replace(",", " ").split())
        return cls(nets, negate)

    def matches(self, text: str) -> bool:
        """Whether ``text`` is an address inside one of the networks (after negation)."""
        try:
            addr = ipaddress.ip_address(text.strip().removeprefix("::ffff:"))
        except ValueError:
            return False
        inside = any(addr in net for net in self.networks)
        return inside != self.negate
