"""One package, however many places declare it: duplicates merged into one package with several locations.

A package seen in two places of one target -- a lock file and ``node_modules``,
``requirements.txt`` and a ``dist-info`` directory, two applications sharing a
version -- is one package: the same type, name (normalised as its ecosystem
compares names), version and architecture. The first occurrence keeps its
identity (``Package.id``); the others' locations, licences, dependencies and
metadata are added to it, and every dependency edge that pointed at a merged
package points at the kept one. Vulnerability matching then runs once per
package, so each advisory is one finding, in every output, the store and the
dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable

from shieldwall.model import Package, PackageType
from shieldwall.vulndb.model import normalize_name

_ECOSYSTEM = {
    PackageType.PYPI: "PyPI",
    PackageType.NPM: "npm",
    PackageType.MAVEN: "Maven",
    PackageType.CARGO: "crates.io",
    PackageType.GEM: "RubyGems",
    PackageType.COMPOSER: "Packagist",
    PackageType.NUGET: "NuGet",
    PackageType.GOLANG: "Go",
}


def identity(package: Package) -> tuple[str, str, str, str]:
    """What makes two declarations the same package: type, normalised name, version, architecture."""
    ecosystem = _ECOSYSTEM.get(package.type, "")
    name = normalize_name(ecosystem, package.name) if ecosystem else package.name
    return (str(package.type), name, package.version, package.arch)


def _union(*parts: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for part in parts for item in part))


def merge_duplicates(packages: Iterable[Package]) -> tuple[Package, ...]:
    """The packages with duplicates merged (order of first occurrence kept)."""
    kept: dict[tuple[str, str, str, str], Package] = {}
    renamed: dict[str, str] = {}
    for package in packages:
        key = identity(package) if package.version else ("", package.id, "", "")
        first = kept.get(key)
        if first is None:
            kept[key] = package
            continue
        renamed[package.id] = first.id
        locations = tuple(dict.fromkeys((*first.locations, *package.locations)))
        metadata = tuple(dict.fromkeys((*first.metadata, *package.metadata)))
        kept[key] = first.evolve(
            locations=locations,
            licenses=_union(first.licenses, package.licenses),
            depends_on=_union(first.depends_on, package.depends_on),
            dependency_ids=_union(first.dependency_ids, package.dependency_ids),
            metadata=metadata,
            source_name=first.source_name or package.source_name,
            source_version=first.source_version or package.source_version,
        )
    if not renamed:
        return tuple(kept.values())
    out = []
    for package in kept.values():
        if package.dependency_ids:
            ids = tuple(
                dict.fromkeys(renamed.get(i, i) for i in package.dependency_ids if renamed.get(i, i) != package.id)
            )
            package = package.evolve(dependency_ids=ids)
        out.append(package)
    return tuple(out)
