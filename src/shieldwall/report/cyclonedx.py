"""CycloneDX 1.6 JSON: the scan's inventory as an SBOM other tools can read.

The document is built with cyclonedx-python-lib, so the library keeps the
output in line with the schema. Each ``Package`` becomes one component whose
``bom-ref`` is the package id, so the dependency graph (``dependency_ids``)
maps one to one; where a package was found (path, layer, analyzer) travels as
``shieldwall:*`` properties.
"""

from __future__ import annotations

import re

from cyclonedx.contrib.license.exceptions import InvalidLicenseExpressionException
from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

import shieldwall
from shieldwall.model import LayerRef, OSInfo, Package, PackageType, ScanResult, Target, TargetKind
from shieldwall.report.sbom_common import document_time, unique_packages

PROPERTY_PREFIX = "shieldwall"
ROOT_REF = "shieldwall-target"
OS_REF = "shieldwall-os"

_IMAGE_KINDS = {TargetKind.DOCKER_ARCHIVE, TargetKind.OCI, TargetKind.REGISTRY}
_SHA256 = re.compile(r"^sha256:([0-9a-f]{64})$")


def render_cyclonedx(result: ScanResult) -> str:
    """Serialise ``result``'s target, OS and packages as a CycloneDX 1.6 JSON document."""
    packages = unique_packages(result.packages)
    known = {p.id for p in packages}
    root = _target_component(result)
    components = [_package_component(p) for p in packages]
    os_component = _os_component(result.os) if result.os else None
    if os_component is not None:
        components.append(os_component)

    bom = Bom(
        metadata=BomMetaData(
            timestamp=document_time(result),
            tools=ToolRepository(
                components=[
                    Component(
                        type=ComponentType.APPLICATION,
                        name="shieldwall",
                        version=result.tool_version or shieldwall.__version__,
                    )
                ]
            ),
            component=root,
        ),
        components=components,
    )
    by_ref = {c.bom_ref.value: c for c in components}
    dependencies: list[Dependency] = []
    depended_on: set[str] = set()
    for package in packages:
        children = [d for d in dict.fromkeys(package.dependency_ids) if d in known and d != package.id]
        depended_on.update(children)
        dependencies.append(
            Dependency(ref=by_ref[package.id].bom_ref, dependencies=[Dependency(by_ref[c].bom_ref) for c in children])
        )
    top = [by_ref[p.id] for p in packages if p.id not in depended_on]
    if os_component is not None:
        top.insert(0, os_component)
        dependencies.append(Dependency(ref=os_component.bom_ref))
    dependencies.append(Dependency(ref=root.bom_ref, dependencies=[Dependency(c.bom_ref) for c in top]))
    bom.dependencies = dependencies
    # The library's pre-output check registers every component's dependency entry with a linear
    # search each (quadratic: ~30 s for 5,000 packages). Every component already has its entry,
    # so registration is a no-op here; the check's other tests (unknown refs...) still run.
    bom.register_dependency = _already_registered  # type: ignore[method-assign]
    text: str = JsonV1Dot6(bom).output_as_string(indent=2)
    return text


def _already_registered(target: object, depends_on: object = None) -> None:
    """Stand-in for ``Bom.register_dependency`` once the full dependency list is set."""


def _target_component(result: ScanResult) -> Component:
    target = result.target
    if target.ref.kind in _IMAGE_KINDS:
        return _image_component(result, target)
    kind = ComponentType.FILE if target.ref.kind is TargetKind.DIRECTORY else ComponentType.APPLICATION
    return Component(
        type=kind,
        name=target.name or target.ref.value,
        bom_ref=ROOT_REF,
        properties=[_prop("target:kind", str(target.ref.kind)), _prop("target:ref", str(target.ref))],
    )


def _image_component(result: ScanResult, target: Target) -> Component:
    properties = [_prop("target:kind", str(target.ref.kind)), _prop("target:ref", str(target.ref))]
    properties += [_prop("image:tag", tag) for tag in target.tags]
    if target.image_id:
        properties.append(_prop("image:id", target.image_id))
    if target.digest:
        properties.append(_prop("image:digest", target.digest))
    if result.image and result.image.platform:
        properties.append(_prop("image:platform", result.image.platform))
    hashes = []
    match = _SHA256.match(target.digest)
    if match:
        hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=match.group(1)))
    return Component(
        type=ComponentType.CONTAINER,
        name=target.repository or target.name or target.ref.value,
        version=target.digest or None,
        bom_ref=ROOT_REF,
        purl=_oci_purl(result, target),
        hashes=hashes,
        properties=properties,
    )


def _oci_purl(result: ScanResult, target: Target) -> PackageURL | None:
    """``pkg:oci/name@sha256:...?repository_url=...`` as the PURL spec describes for images."""
    if not _SHA256.match(target.digest):
        return None
    repository = target.repository or ""
    name = repository.rsplit("/", 1)[-1] or target.name.rsplit("/", 1)[-1].split(":", 1)[0]
    if not name:
        return None
    qualifiers = {}
    if repository:
        qualifiers["repository_url"] = repository
    if result.image and result.image.architecture:
        qualifiers["arch"] = result.image.architecture
    if target.tags:
        qualifiers["tag"] = target.tags[0].rsplit(":", 1)[-1] if ":" in target.tags[0] else target.tags[0]
    return PackageURL(type="oci", name=name.lower(), version=target.digest, qualifiers=qualifiers or None)


def _os_component(os: OSInfo) -> Component:
    properties = [
        _prop(f"os:{key}", value)
        for key, value in (
            ("name", os.name),
            ("codename", os.version_codename),
            ("eol-date", os.eol_date),
            ("eol-status", str(os.eol_status)),
        )
        if value
    ]
    return Component(
        type=ComponentType.OPERATING_SYSTEM,
        name=os.family,
        version=os.version or None,
        description=os.pretty_name or None,
        bom_ref=OS_REF,
        properties=properties,
    )


def _package_component(package: Package) -> Component:
    group: str | None = None
    name = package.name
    if package.type is PackageType.MAVEN and ":" in name:
        group, _, name = name.partition(":")
    return Component(
        type=ComponentType.LIBRARY,
        name=name,
        group=group,
        version=package.version or None,
        bom_ref=package.id,
        purl=_parse_purl(package.purl),
        licenses=_licenses(package.licenses),
        properties=_package_properties(package),
    )


def _parse_purl(purl: str) -> PackageURL | None:
    try:
        return PackageURL.from_string(purl) if purl else None
    except ValueError:
        return None


def _licenses(licenses: tuple[str, ...]) -> list[License]:
    """SPDX ids and names as separate entries, an expression as the only entry.

    The schema allows either a list of ids/names or exactly one expression
    (the library would silently keep only the first expression of a mix), so
    a mix is joined with AND into one expression; texts that are neither an
    SPDX id nor a valid expression are then dropped from the join.
    """
    factory = LicenseFactory()
    texts = [t for t in dict.fromkeys(x.strip() for x in licenses) if t]
    made = [(text, factory.make_from_string(text)) for text in texts]
    if len(made) < 2 or not any(isinstance(m, LicenseExpression) for _, m in made):
        return [m for _, m in made]
    usable = [text for text, m in made if isinstance(m, LicenseExpression) or m.id is not None]
    try:
        return [factory.make_with_expression(" AND ".join(f"({t})" if " " in t else t for t in usable))]
    except InvalidLicenseExpressionException:
        return [m for _, m in made if isinstance(m, DisjunctiveLicense)]


def _layer(package: Package) -> LayerRef | None:
    if package.introduced_by is not None:
        return package.introduced_by
    return next((loc.layer for loc in package.locations if loc.layer is not None), None)


def _package_properties(package: Package) -> list[Property]:
    properties = [_prop("location:path", loc.path) for loc in package.locations if loc.path]
    layer = _layer(package)
    if layer is not None:
        if layer.digest:
            properties.append(_prop("layer:digest", layer.digest))
        properties.append(_prop("layer:index", str(layer.index)))
        if layer.created_by:
            properties.append(_prop("layer:created_by", layer.created_by))
    for key, value in (
        ("found-by", package.found_by),
        ("source-name", package.source_name),
        ("source-version", package.source_version),
    ):
        if value:
            properties.append(_prop(key, value))
    properties += [_prop(f"metadata:{key}", value) for key, value in package.metadata if value]
    return properties


def _prop(name: str, value: str) -> Property:
    return Property(name=f"{PROPERTY_PREFIX}:{name}", value=value)
