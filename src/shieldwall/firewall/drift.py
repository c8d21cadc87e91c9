"""Drift: compare what the kernel holds in our table with what Shieldwall applied.

Both sides are ``nft -j list table`` outputs (the baseline is read back right
after an apply, so nft's own normalisation of expressions is on both sides).
The canonical form drops what changes by itself: handles, counter values,
and the elements of timeout sets (active-response blocks expire, the kernel
adds addresses that hit a reputation list). Everything else (chains, hooks,
policies, rules in order, static set elements) must be identical.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shieldwall.firewall.compile import Json

MAX_DIFF_ITEMS = 20


def canonical(listing: Json | None, *, elements: bool = True) -> list[str]:
    """One sorted-key JSON string per object of our table, in nft's order, volatile parts removed.

    ``elements=False`` drops every set's elements (to compare with a terse
    listing, ``nft -t``, which is much cheaper on large sets).
    """
    if listing is None:
        return []
    out: list[str] = []
    for item in listing.get("nftables", []):
        if not isinstance(item, dict) or len(item) != 1:
            continue
        kind, body = next(iter(item.items()))
        if kind == "metainfo" or not isinstance(body, dict):
            continue
        clean = {k: v for k, v in body.items() if k != "handle"}
        if kind == "counter":
            clean.pop("packets", None)
            clean.pop("bytes", None)
        if kind == "set" and (not elements or "timeout" in clean.get("flags", [])):
            clean.pop("elem", None)
        if kind == "rule":
            clean["expr"] = [_strip_counter(e) for e in clean.get("expr", [])]
        out.append(json.dumps({kind: clean}, sort_keys=True))
    return out


def _strip_counter(expr: Any) -> Any:
    if isinstance(expr, dict) and isinstance(expr.get("counter"), dict):
        return {"counter": None}
    return expr


@dataclass(frozen=True, slots=True)
class Drift:
    """Objects missing from the kernel (``removed``) and objects nobody applied (``added``)."""

    removed: tuple[str, ...]
    added: tuple[str, ...]
    reordered: bool

    @property
    def changed(self) -> bool:
        """True when the kernel's table differs from the applied one."""
        return bool(self.removed or self.added or self.reordered)

    def summary(self) -> dict[str, Any]:
        """Bounded evidence for an event."""
        return {
            "removed": list(self.removed[:MAX_DIFF_ITEMS]),
            "added": list(self.added[:MAX_DIFF_ITEMS]),
            "removed_count": len(self.removed),
            "added_count": len(self.added),
            "reordered": self.reordered,
        }


def compare(applied: Json | None, current: Json | None, *, elements: bool = True) -> Drift:
    """The drift of ``current`` against ``applied`` (``elements=False``: structure only)."""
    want = canonical(applied, elements=elements)
    have = canonical(current, elements=elements)
    want_count, have_count = Counter(want), Counter(have)
    removed = tuple((want_count - have_count).elements())
    added = tuple((have_count - want_count).elements())
    reordered = not removed and not added and want != have
    return Drift(removed, added, reordered)


def rule_counters(listing: Json | None) -> dict[str, int]:
    """Packets per rule (``rule:<id>`` from the comment ``sw:<id>``, summed over its nft rules) and per
    named counter (``counter:<name>``)."""
    counters: dict[str, int] = {}
    if listing is None:
        return counters
    for item in listing.get("nftables", []):
        if not isinstance(item, dict):
            continue
        rule = item.get("rule")
        if isinstance(rule, Mapping):
            comment = str(rule.get("comment", ""))
            for expr in rule.get("expr", []):
                if isinstance(expr, dict) and isinstance(expr.get("counter"), dict) and comment.startswith("sw:"):
                    key = f"rule:{comment[3:]}"
                    counters[key] = counters.get(key, 0) + int(expr["counter"].get("packets", 0))
        counter = item.get("counter")
        if isinstance(counter, Mapping):
            counters[f"counter:{counter.get('name')}"] = int(counter.get("packets", 0))
    return counters


def set_elements(listing: Json | None, name: str) -> list[str]:
    """The values of one set's elements as strings (``a.b.c.d`` or ``a.b.c.d/len``)."""
    if listing is None:
        return []
    for item in listing.get("nftables", []):
        body = item.get("set") if isinstance(item, dict) else None
        if isinstance(body, Mapping) and body.get("name") == name:
            return [_elem_text(e) for e in body.get("elem", [])]
    return []


def timed_elements(listing: Json | None, name: str) -> list[tuple[str, int]]:
    """(value, seconds left) of a timeout set's elements (for recovering live blocks after a restart)."""
    out: list[tuple[str, int]] = []
    if listing is None:
        return out
    for item in listing.get("nftables", []):
        body = item.get("set") if isinstance(item, dict) else None
        if isinstance(body, Mapping) and body.get("name") == name:
            for elem in body.get("elem", []):
                if isinstance(elem, dict) and isinstance(elem.get("elem"), dict) and "expires" in elem["elem"]:
                    out.append((_elem_text(elem), int(elem["elem"]["expires"])))
    return out


def _elem_text(elem: Any) -> str:
    if isinstance(elem, dict) and "elem" in elem:
        elem = elem["elem"].get("val")
    if isinstance(elem, dict) and "prefix" in elem:
        return f"{elem['prefix']['addr']}/{elem['prefix']['len']}"
    if isinstance(elem, dict) and "range" in elem:
        return f"{elem['range'][0]}-{elem['range'][1]}"
    return str(elem)
