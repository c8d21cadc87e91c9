"""CVE -> IPS rules: ET Open (``cve-map.json`` plus the rules' own metadata) and Shieldwall's pack.

The catalog is what the recommender searches: every rule whose ``metadata: cve``
or ``reference: cve`` names a CVE. ET Open rules come from an agent-side copy
of the ruleset directory (``SHIELDWALL_IPS_ET_OPEN`` or an explicit path);
without one, only Shieldwall's own pack is searched.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shieldwall.agent.modules.ips.rules import normalise_cve
from shieldwall.agent.modules.ips.sources import directory_index, pack_index

MAX_CVE_MAP = 32 * 1024 * 1024
_CVE_RE = re.compile(r"^CVE-\d{4}-\d{4,7}$")


@dataclass(frozen=True, slots=True, order=True)
class RuleRef:
    """A rule that names a CVE."""

    sid: int
    source: str  # "shieldwall" | "et_open"
    msg: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class Catalog:
    """Rules by CVE."""

    by_cve: Mapping[str, tuple[RuleRef, ...]]

    def rules_for(self, cve: str) -> tuple[RuleRef, ...]:
        """The rules naming ``cve`` (own pack first)."""
        return self.by_cve.get(cve.upper(), ())


def is_cve(text: str) -> bool:
    """Is ``text`` a CVE ID?"""
    return bool(_CVE_RE.match(text.upper()))


def build_catalog(et_open_dir: Path | None) -> Catalog:
    """Merge the pack, the ET rules' parsed metadata and ``cve-map.json`` (next to the rules dir)."""
    found: dict[str, set[RuleRef]] = {}

    def add(cve: str, ref: RuleRef) -> None:
        cve = normalise_cve(cve)
        if is_cve(cve):
            found.setdefault(cve, set()).add(ref)

    for rule in pack_index().by_sid.values():
        for cve in rule.cves:
            add(cve, RuleRef(rule.sid, "shieldwall", rule.msg, rule.enabled))
    if et_open_dir is not None:
        index = directory_index(et_open_dir)
        for rule in index.by_sid.values():
            for cve in rule.cves:
                add(cve, RuleRef(rule.sid, "et_open", rule.msg, rule.enabled))
        cve_map = et_open_dir.parent / "cve-map.json"
        if cve_map.is_file() and not cve_map.is_symlink() and cve_map.stat().st_size <= MAX_CVE_MAP:
            data = json.loads(cve_map.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                for cve, refs in data.items():
                    for ref in refs if isinstance(refs, list) else ():
                        if isinstance(ref, dict) and isinstance(ref.get("sid"), int):
                            known = index.by_sid.get(ref["sid"])
                            add(
                                str(cve),
                                RuleRef(
                                    ref["sid"],
                                    "et_open",
                                    known.msg if known else str(ref.get("msg", ""))[:512],
                                    known.enabled if known else bool(ref.get("enabled")),
                                ),
                            )
    ordered = {
        cve: tuple(sorted(refs, key=lambda r: (r.source != "shieldwall", not r.enabled, r.sid)))
        for cve, refs in found.items()
    }
    return Catalog(by_cve=ordered)


@lru_cache(maxsize=4)
def _cached(path: str | None) -> Catalog:
    return build_catalog(Path(path) if path else None)


def default_catalog() -> Catalog:
    """The catalog for this process (``SHIELDWALL_IPS_ET_OPEN`` names the ET Open rules directory)."""
    path = os.environ.get("SHIELDWALL_IPS_ET_OPEN") or None
    return _cached(path)
