"""Language packages that an OS package installed (``python3-setuptools`` -> ``setuptools`` in dist-packages).

Debian, Alpine and other distributions fix vulnerabilities by backporting
patches without changing the upstream version, so PyPI's or npm's ranges
would call a patched ``setuptools 66.1.1`` from ``python3-setuptools
66.1.1-1+deb12u1`` vulnerable. When the metadata file of a language package
(its ``*.dist-info``/``*.egg-info``, ``package.json``, jar...) is listed in an
installed OS package's file list, the language package is marked with its
owner; the matcher then matches it through the distro package (whose
advisories carry the distro's fixed versions) and says so in the finding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shieldwall.analyze.base import FileRecord
from shieldwall.match.ecosystems import OWNER_KEY
from shieldwall.model import Package, PackageType

_OS_TYPES = {"dpkg": PackageType.DEB, "apk": PackageType.APK, "rpm": PackageType.RPM}
_OS_PACKAGE_TYPES = frozenset(_OS_TYPES.values())


def os_owner(package: Package) -> str:
    """The ``os-owner`` mark of ``package`` ("" when no OS package installed it)."""
    return next((value for key, value in package.metadata if key == OWNER_KEY), "")


def mark_os_owned(packages: Sequence[Package], records: Mapping[str, Sequence[FileRecord]]) -> tuple[Package, ...]:
    """Mark every language package whose metadata file an installed OS package lists as its own.

    ``records`` maps a path to the package-database records that name it. A
    package is marked only when the owning OS package is in the inventory
    (its advisories can then be matched) and every location of the package
    is owned (a copy of the same version elsewhere, merged into one package,
    keeps the upstream ranges); otherwise it keeps its own ranges.
    """
    installed = {(p.type, p.name): p for p in packages if p.type in _OS_PACKAGE_TYPES}
    out: list[Package] = []
    for package in packages:
        if package.type in _OS_PACKAGE_TYPES or os_owner(package):
            out.append(package)
            continue
        owners = [_owner(location.path, records, installed) for location in package.locations]
        owner = owners[0] if owners else None
        # one copy of the same version outside the distro (merged into this package) keeps upstream ranges
        if owner is None or any(o is None for o in owners):
            out.append(package)
            continue
        mark = f"{owner.type}:{owner.name}@{owner.version}"
        out.append(package.evolve(metadata=(*package.metadata, (OWNER_KEY, mark))))
    return tuple(out)


def _owner(
    path: str, records: Mapping[str, Sequence[FileRecord]], installed: Mapping[tuple[PackageType, str], Package]
) -> Package | None:
    for record in records.get(path, ()):
        kind = _OS_TYPES.get(record.manager)
        if kind is not None and (kind, record.package) in installed:
            return installed[(kind, record.package)]
    return None
