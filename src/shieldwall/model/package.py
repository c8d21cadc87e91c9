"""A package found in a target, with everything matching and SBOMs need."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum

from shieldwall.model.location import LayerRef, Location


class PackageType(StrEnum):
    """Ecosystem of a package; values are the PURL types."""

    DEB = "deb"
    APK = "apk"
    RPM = "rpm"
    PYPI = "pypi"
    NPM = "npm"
    GOLANG = "golang"
    MAVEN = "maven"
    CARGO = "cargo"
    GEM = "gem"
    COMPOSER = "composer"
    NUGET = "nuget"
    GENERIC = "generic"


@dataclass(frozen=True, slots=True)
class Package:
    """One installed or declared package.

    ``name`` is the ecosystem's own spelling (``@scope/pkg`` for npm,
    ``group:artifact`` for Maven, the module path for Go). ``source_name`` and
    ``source_version`` hold the distribution source package (dpkg Source,
    apk origin, rpm SRPM) that distro advisories name. ``depends_on`` lists
    the names of direct dependencies as the source file states them;
    ``dependency_ids`` is filled by the merger once names are resolved to
    packages of the same target.
    """

    type: PackageType
    name: str
    version: str
    purl: str
    locations: tuple[Location, ...] = ()
    licenses: tuple[str, ...] = ()
    source_name: str = ""
    source_version: str = ""
    arch: str = ""
    found_by: str = ""
    depends_on: tuple[str, ...] = ()
    dependency_ids: tuple[str, ...] = ()
    introduced_by: LayerRef | None = None
    metadata: tuple[tuple[str, str], ...] = field(default=())

    @property
    def id(self) -> str:
        """Stable identity: the PURL plus the file that declares the package."""
        first = self.locations[0].path if self.locations else ""
        digest = hashlib.sha256(f"{self.purl}\x00{first}".encode()).hexdigest()
        return digest[:16]

    def evolve(self, **changes: object) -> Package:
        """Return a copy with ``changes`` applied (frozen values are never mutated)."""
        return replace(self, **changes)  # type: ignore[arg-type]
