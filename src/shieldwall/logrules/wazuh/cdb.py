"""Wazuh CDB lists (``key:value`` text files) and the rule ``<list>`` lookups."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shieldwall.logrules.wazuh.matchers import TextMatcher

MAX_LIST_BYTES = 32 * 1024 * 1024


def read_cdb(path: Path) -> dict[str, str]:
    """The keys and values of a CDB source list (quoted keys allowed)."""
    if path.stat().st_size > MAX_LIST_BYTES:
        raise ValueError(f"{path}: list larger than {MAX_LIST_BYTES} bytes")
    out: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith('"'):
            end = line.find('"', 1)
            key, rest = line[1:end], line[end + 1 :]
            value = rest[1:] if rest.startswith(":") else ""
        else:
            key, _, value = line.partition(":")
        out[key] = value.strip().strip('"')
    return out


def _address_keys(value: str) -> list[str]:
    parts = value.strip().split(".")
    keys = [value.strip()]
    for n in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:n])
        keys.extend((prefix + ".", prefix))
    return keys


@dataclass(slots=True)
class ListLookup:
    """One ``<list field=... lookup=...>`` condition."""

    field: str
    lookup: str
    table: dict[str, str]
    check_value: TextMatcher | None = None

    def matches(self, value: str | None) -> bool:
        """Whether the field's value passes this lookup."""
        if value is None:
            return self.lookup.startswith("not_")
        lookup = self.lookup
        if lookup in ("match_key", "not_match_key"):
            found = value in self.table
            return found if lookup == "match_key" else not found
        if lookup in ("address_match_key", "not_address_match_key"):
            found = any(k in self.table for k in _address_keys(value))
            return found if lookup == "address_match_key" else not found
        if lookup == "match_key_value":
            stored = self.table.get(value)
            return stored is not None and (self.check_value is None or self.check_value.matches(stored))
        if lookup == "address_match_key_value":
            for k in _address_keys(value):
                if k in self.table:
                    return self.check_value is None or self.check_value.matches(self.table[k])
            return False
        raise ValueError(f"unknown list lookup {lookup!r}")
