"""Small helpers every cataloger shares: building packages and PURLs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from packageurl import PackageURL

from shieldwall.model import Location, Package, PackageType


def purl_for(
    type_: PackageType,
    name: str,
    version: str,
    *,
    namespace: str | None = None,
    qualifiers: Mapping[str, str] | None = None,
    subpath: str | None = None,
) -> str:
    """Canonical PURL string built with packageurl-python (escaping done there)."""
    quals = {k: v for k, v in (qualifiers or {}).items() if v}
    return PackageURL(
        type=str(type_),
        namespace=namespace or None,
        name=name,
        version=version or None,
        qualifiers=quals or None,
        subpath=subpath,
    ).to_string()


def npm_purl(name: str, version: str) -> str:
    """``@scope/name`` becomes namespace ``@scope``."""
    if name.startswith("@") and "/" in name:
        scope, _, short = name.partition("/")
        return purl_for(PackageType.NPM, short, version, namespace=scope)
    return purl_for(PackageType.NPM, name, version)


def golang_purl(module: str, version: str) -> str:
    """Go module path split into namespace and last element, as syft does."""
    namespace, _, name = module.rpartition("/")
    return purl_for(PackageType.GOLANG, name, version, namespace=namespace or None)


def maven_purl(group: str, artifact: str, version: str) -> str:
    """``pkg:maven/group/artifact@version``."""
    return purl_for(PackageType.MAVEN, artifact, version, namespace=group or None)


def pypi_name(name: str) -> str:
    """PEP 503 normalised project name (the PURL spec requires it for pypi)."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def make_package(
    type_: PackageType,
    name: str,
    version: str,
    path: str,
    found_by: str,
    *,
    purl: str | None = None,
    licenses: Iterable[str] = (),
    source_name: str = "",
    source_version: str = "",
    arch: str = "",
    depends_on: Iterable[str] = (),
    metadata: Mapping[str, str] | None = None,
    line: int | None = None,
) -> Package:
    """Build a ``Package`` with a default PURL and one location."""
    if purl is None:
        if type_ is PackageType.NPM:
            purl = npm_purl(name, version)
        elif type_ is PackageType.GOLANG:
            purl = golang_purl(name, version)
        elif type_ is PackageType.PYPI:
            purl = purl_for(type_, pypi_name(name), version)
        elif type_ is PackageType.MAVEN and ":" in name:
            group, _, artifact = name.partition(":")
            purl = maven_purl(group, artifact, version)
        else:
            purl = purl_for(type_, name, version)
    return Package(
        type=type_,
        name=name,
        version=version,
        purl=purl,
        locations=(Location(path, None, line),),
        licenses=tuple(dict.fromkeys(x for x in licenses if x)),
        source_name=source_name,
        source_version=source_version,
        arch=arch,
        found_by=found_by,
        depends_on=tuple(dict.fromkeys(depends_on)),
        metadata=tuple(sorted((metadata or {}).items())),
    )
