"""Which advisories speak about a package: its OSV ecosystem, lookup name and version.

Distribution advisories are release-specific and name SOURCE packages:
``Debian:12`` is not ``Debian:11``, and a Debian advisory for ``openssl``
covers the binaries ``libssl3`` and ``openssl`` through their dpkg
``Source`` field and the source version. Alpine advisories name the
``origin``. Because the distribution's own advisories carry the
distribution's own fixed versions (``1.1.1n-0+deb11u5``), a package the
vendor patched by backport compares as fixed without any special case.

Language packages map one to one (``pypi`` -> ``PyPI``, ``cargo`` ->
``crates.io``...). The Go toolchain's standard library is the ``stdlib``
module of the ``Go`` ecosystem, versioned ``1.21.5`` (from ``go1.21.5``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shieldwall.model import OSInfo, Package, PackageType

OWNER_KEY = "os-owner"
"""Package metadata naming the distro package that installed a language package (see ``merge.os_owned``)."""


@dataclass(frozen=True, slots=True)
class Query:
    """One lookup: an OSV ecosystem, the name its advisories use, the version to compare."""

    ecosystem: str
    name: str
    version: str
    matcher: str

    def describe(self) -> str:
        """``Debian:12 openssl 3.0.11-1~deb12u2`` for the evidence's "searched" field."""
        return f"{self.ecosystem} {self.name} {self.version}"


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """The lookups for one package, or why there are none."""

    queries: tuple[Query, ...] = ()
    skipped: str = ""


_LANGUAGE = {
    PackageType.PYPI: ("PyPI", "python-matcher"),
    PackageType.NPM: ("npm", "javascript-matcher"),
    PackageType.MAVEN: ("Maven", "java-matcher"),
    PackageType.CARGO: ("crates.io", "rust-matcher"),
    PackageType.GEM: ("RubyGems", "ruby-matcher"),
    PackageType.COMPOSER: ("Packagist", "php-matcher"),
    PackageType.NUGET: ("NuGet", "dotnet-matcher"),
}

_RPM_FAMILIES: dict[str, tuple[str, ...]] = {
    "rocky": ("Rocky Linux:{major}",),
    "almalinux": ("AlmaLinux:{major}",),
    "rhel": ("Red Hat:enterprise_linux:{major}::baseos", "Red Hat:enterprise_linux:{major}::appstream"),
    "mageia": ("Mageia:{version}",),
    "openeuler": ("openEuler:{version}",),
    "photon": ("Photon OS:{version}",),
    "azurelinux": ("Azure Linux:{version}",),
    "mariner": ("Mariner:{version}",),
}

_GO_RELEASE = re.compile(r"^go(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?$")


def go_stdlib_version(version: str) -> str:
    """OSV's spelling of a Go toolchain version: ``go1.21.5`` -> ``1.21.5``, ``go1.21rc2`` -> ``1.21.0-rc.2``.

    Empty when the text is not a Go release (a development toolchain).
    """
    text = version if version.startswith("go") else f"go{version}"
    match = _GO_RELEASE.match(text.split(" ", 1)[0].partition("+")[0])
    if not match:
        return ""
    major, minor, patch, pre, pre_number = match.groups()
    base = f"{major}.{minor}.{patch or 0}"
    return f"{base}-{pre}.{pre_number}" if pre else base


def _major(version: str) -> str:
    return version.split(".", 1)[0].strip()


def _debian_release(version: str) -> str:
    """OSV's Debian release name: ``12`` from 12.5; releases before 7 were ``major.minor`` (``6.0`` squeeze)."""
    major = _major(version)
    parts = version.split(".")
    if int(major) < 7 and len(parts) >= 2 and parts[1].strip().isdigit():
        return f"{major}.{parts[1].strip()}"
    return major


def _distro_ecosystems(os: OSInfo | None, kind: PackageType) -> tuple[tuple[str, ...], str]:
    """The release-specific ecosystems of the scanned OS for an OS package type, or why there are none."""
    if os is None or not os.family:
        return (), f"{kind} package on an unidentified OS: no release-specific advisories"
    family, version = os.family.lower(), os.version.strip()
    if kind is PackageType.DEB:
        if family == "debian" and _major(version).isdigit():
            return (f"Debian:{_debian_release(version)}",), ""
        if family == "ubuntu" and version:
            return (f"Ubuntu:{version}:LTS", f"Ubuntu:{version}"), ""
    elif kind is PackageType.APK:
        if family == "alpine":
            parts = version.split(".")
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                return (f"Alpine:v{parts[0]}.{parts[1]}",), ""
        if family == "wolfi":
            return ("Wolfi",), ""
        if family == "chainguard":
            return ("Chainguard",), ""
    elif kind is PackageType.RPM and family in _RPM_FAMILIES and version:
        templates = _RPM_FAMILIES[family]
        return tuple(t.format(major=_major(version), version=version) for t in templates), ""
    return (), f"no advisory source for {kind} packages of {os.family} {version}".rstrip()


def plan_queries(package: Package, os: OSInfo | None) -> QueryPlan:
    """The lookups that find advisories for ``package`` on ``os`` (or a reason why there are none)."""
    if not package.version:
        return QueryPlan(skipped="no version")
    kind = package.type
    owner = next((value for key, value in package.metadata if key == OWNER_KEY), "")
    if owner and kind is not PackageType.DEB and kind is not PackageType.APK and kind is not PackageType.RPM:
        # the distro's backported fixes do not change the upstream version: its advisories decide
        return QueryPlan(skipped=f"installed by the distro package {owner}: matched through it, not upstream ranges")
    if kind in _LANGUAGE:
        ecosystem, matcher = _LANGUAGE[kind]
        return QueryPlan((Query(ecosystem, package.name, package.version, matcher),))
    if kind is PackageType.GOLANG:
        if package.name == "stdlib":
            version = go_stdlib_version(package.version)
            if not version:
                return QueryPlan(skipped=f"Go toolchain {package.version} is not a release")
            return QueryPlan((Query("Go", "stdlib", version, "go-stdlib-matcher"),))
        if package.version in ("(devel)", "devel"):
            return QueryPlan(skipped="Go module built from a working tree (devel)")
        return QueryPlan((Query("Go", package.name, package.version, "go-module-matcher"),))
    if kind in (PackageType.DEB, PackageType.APK, PackageType.RPM):
        ecosystems, reason = _distro_ecosystems(os, kind)
        if not ecosystems:
            return QueryPlan(skipped=reason)
        return QueryPlan(tuple(q for eco in ecosystems for q in _os_queries(package, eco)))
    return QueryPlan(skipped=f"no advisories for {kind} packages")


def _os_queries(package: Package, ecosystem: str) -> list[Query]:
    if package.type is PackageType.DEB:
        if package.source_name:
            version = package.source_version or package.version
            return [Query(ecosystem, package.source_name, version, "dpkg-source-matcher")]
        return [Query(ecosystem, package.name, package.version, "dpkg-matcher")]
    if package.type is PackageType.APK:
        name = package.source_name or package.name
        return [Query(ecosystem, name, package.version, "apk-origin-matcher" if package.source_name else "apk-matcher")]
    # RPM advisories name binary packages in some feeds and source packages in others: ask for both.
    queries = [Query(ecosystem, package.name, package.version, "rpm-matcher")]
    if package.source_name and package.source_name != package.name:
        queries.append(Query(ecosystem, package.source_name, package.version, "rpm-source-matcher"))
    return queries
