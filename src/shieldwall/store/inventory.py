"""Inventories in the store: packages as rows with their advisory lookup keys, and back again.

A row keeps what the matcher needs to rebuild the ``Package`` exactly (type,
name, version, PURL, the declaring file and its layer, the source package,
the architecture), so a rematch produces the same package IDs and finding
fingerprints as the scan did, without pulling or walking the image again.

The lookup keys come from the matcher's own query plan
(``match.ecosystems.plan_queries``): the OSV base ecosystem (``Debian`` for
``Debian:12``) and the normalised names its advisories use. The advisory
database reports changes as (ecosystem, normalised name); ``changed_keys``
turns those into the same base-ecosystem keys, so one indexed lookup finds
every package a change can touch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shieldwall.match.ecosystems import plan_queries
from shieldwall.model import LayerRef, Location, OSInfo, Package, PackageType
from shieldwall.model.image import EolStatus
from shieldwall.vulndb.model import normalize_name

MAX_FIELD = 512


def ecosystem_base(ecosystem: str) -> str:
    """``Debian:12`` -> ``Debian`` (the key the inventory index uses)."""
    return ecosystem.split(":", 1)[0].strip()


@dataclass(frozen=True, slots=True)
class LookupKeys:
    """The indexed keys of one package: base ecosystem, primary and secondary normalised names."""

    ecosystem: str = ""
    name: str = ""
    alt_name: str = ""


def lookup_keys(package: Package, os: OSInfo | None) -> LookupKeys:
    """The keys a change to the advisory database must hit to concern ``package`` (empty: never matched)."""
    plan = plan_queries(package, os)
    if not plan.queries:
        return LookupKeys()
    eco = ecosystem_base(plan.queries[0].ecosystem)
    names: list[str] = []
    for query in plan.queries:
        key = normalize_name(query.ecosystem, query.name)
        if key not in names:
            names.append(key)
    return LookupKeys(eco, names[0][:MAX_FIELD], names[1][:MAX_FIELD] if len(names) > 1 else "")


def changed_keys(changed: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """The advisory database's changed (ecosystem, name) pairs grouped as base ecosystem -> names."""
    grouped: dict[str, set[str]] = {}
    for ecosystem, name in changed:
        base = ecosystem_base(ecosystem)
        if base and name:
            grouped.setdefault(base, set()).add(normalize_name(base, name))
    return grouped


def package_row(package: Package, os: OSInfo | None, inventory_id: int) -> dict[str, Any]:
    """The ``inventory_packages`` row of one package (a dict for bulk inserts)."""
    keys = lookup_keys(package, os)
    first = package.locations[0] if package.locations else None
    layer = first.layer if first is not None and first.layer is not None else package.introduced_by
    return {
        "inventory_id": inventory_id,
        "ecosystem": keys.ecosystem,
        "lookup_name": keys.name,
        "alt_lookup_name": keys.alt_name,
        "type": str(package.type),
        "name": package.name[:MAX_FIELD],
        "version": package.version[:256],
        "purl": package.purl,
        "path": first.path if first is not None else "",
        "layer_index": layer.index if layer is not None else None,
        "source_name": package.source_name[:MAX_FIELD],
        "source_version": package.source_version[:256],
        "arch": package.arch[:32],
        "found_by": package.found_by[:64],
        "licenses": json.dumps(list(package.licenses)) if package.licenses else "",
    }


def _package_type(text: str) -> PackageType:
    try:
        return PackageType(text)
    except ValueError:
        return PackageType.GENERIC


def row_package(row: Any, layers: Sequence[LayerRef]) -> Package:
    """Rebuild the ``Package`` a row was made from (``row`` has the ``inventory_packages`` columns)."""
    layer = None
    if row.layer_index is not None:
        layer = next((item for item in layers if item.index == row.layer_index), LayerRef(int(row.layer_index)))
    locations = (Location(row.path, layer),) if row.path else ()
    licenses = tuple(json.loads(row.licenses)) if row.licenses else ()
    return Package(
        type=_package_type(row.type),
        name=row.name,
        version=row.version,
        purl=row.purl,
        locations=locations,
        licenses=licenses,
        source_name=row.source_name,
        source_version=row.source_version,
        arch=row.arch,
        found_by=row.found_by,
        introduced_by=layer,
    )


def os_to_json(os: OSInfo | None) -> str:
    """An ``OSInfo`` as JSON text ('' for none)."""
    if os is None:
        return ""
    return json.dumps(
        {
            "family": os.family,
            "name": os.name,
            "version": os.version,
            "version_codename": os.version_codename,
            "pretty_name": os.pretty_name,
            "eol_date": os.eol_date,
            "eol_status": str(os.eol_status),
        },
        sort_keys=True,
    )


def os_from_json(text: str) -> OSInfo | None:
    """The inverse of ``os_to_json``."""
    if not text:
        return None
    doc = json.loads(text)
    try:
        status = EolStatus(doc.get("eol_status", "unknown"))
    except ValueError:
        status = EolStatus.UNKNOWN
    return OSInfo(
        family=doc.get("family", ""),
        name=doc.get("name", ""),
        version=doc.get("version", ""),
        version_codename=doc.get("version_codename", ""),
        pretty_name=doc.get("pretty_name", ""),
        eol_date=doc.get("eol_date", ""),
        eol_status=status,
    )


def layers_to_json(layers: Sequence[LayerRef]) -> str:
    """Layer references as JSON text."""
    return json.dumps(
        [{"index": x.index, "digest": x.digest, "created_by": x.created_by[:1000], "size": x.size} for x in layers]
    )


def layers_from_json(text: str) -> list[LayerRef]:
    """The inverse of ``layers_to_json``."""
    if not text:
        return []
    return [
        LayerRef(int(d["index"]), d.get("digest", ""), d.get("created_by", ""), int(d.get("size", 0)))
        for d in json.loads(text)
    ]
