"""Apply layer results in order: what survives, what was deleted, who introduced each package.

The final filesystem view honours whiteouts and opaque directories, and a
later layer that writes a path replaces an earlier one. Packages come only
from files that survive; findings (secrets, malware) are kept for every
file, with ``deleted_in`` set when a later layer removed it — the bytes are
still in the image.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, replace

from packageurl import PackageURL

from shieldwall.analyze.runner import FileResult, LayerResult
from shieldwall.model import Finding, LayerRef, Location, OSInfo, Package, PackageType, ScanWarning

_OS_PATH_PRIORITY = {"/etc/os-release": 0, "/usr/lib/os-release": 1}
_OS_TYPES = frozenset({PackageType.DEB, PackageType.APK, PackageType.RPM})
_RPM_VENDORS = {
    "rhel": "redhat",
    "centos": "centos",
    "rocky": "rocky",
    "almalinux": "almalinux",
    "fedora": "fedora",
    "amzn": "amazon",
    "ol": "oracle",
    "opensuse-leap": "opensuse",
    "sles": "suse",
}


@dataclass(frozen=True, slots=True)
class Inventory:
    """The merged view of a target."""

    packages: tuple[Package, ...]
    os: OSInfo | None
    findings: tuple[Finding, ...]
    warnings: tuple[ScanWarning, ...]


def _ancestors(path: str) -> list[str]:
    out = []
    current = posixpath.dirname(path)
    while current and current != "/":
        out.append(current)
        current = posixpath.dirname(current)
    return out


class _LayerIndex:
    def __init__(self, result: LayerResult) -> None:
        self.paths = frozenset(result.paths)
        self.whiteouts = frozenset(result.whiteouts)
        self.opaque = frozenset(result.opaque_dirs)

    def removes(self, path: str) -> bool:
        """True when this layer deletes ``path`` from lower layers."""
        if path in self.whiteouts:
            return True
        return any(parent in self.whiteouts or parent in self.opaque for parent in _ancestors(path))


def _fate(path: str, index: int, indexes: Sequence[_LayerIndex]) -> tuple[str, int]:
    """('alive'|'replaced'|'deleted', layer index that ended it)."""
    for later in range(index + 1, len(indexes)):
        idx = indexes[later]
        if path in idx.paths:
            return "replaced", later
        if idx.removes(path):
            return "deleted", later
    return "alive", -1


def merge_layers(layers: Sequence[tuple[LayerRef, LayerResult]]) -> Inventory:
    """Merge per-layer results (in image order) into one inventory."""
    indexes = [_LayerIndex(result) for _, result in layers]
    refs = [ref for ref, _ in layers]
    packages: list[Package] = []
    findings: list[Finding] = []
    warnings: list[ScanWarning] = []
    os_candidates: list[tuple[int, int, OSInfo]] = []
    hints: dict[tuple[PackageType, str], tuple[str, ...]] = {}
    # history[path] = list of (layer index, file result) for origin attribution
    history: dict[tuple[str, str], list[tuple[int, FileResult]]] = {}

    for layer_index, (ref, result) in enumerate(layers):
        warnings.extend(result.warnings)
        for fr in result.files:
            history.setdefault((fr.path, fr.analyzer), []).append((layer_index, fr))
            fate, ended_by = _fate(fr.path, layer_index, indexes)
            deleted = refs[ended_by] if fate != "alive" else None
            for finding in fr.result.findings:
                findings.append(_attribute_finding(finding, ref, deleted))
            warnings.extend(ScanWarning(fr.analyzer, w, fr.path) for w in fr.result.warnings)
            if fate != "alive":
                continue
            if fr.result.os is not None:
                os_candidates.append((_OS_PATH_PRIORITY.get(fr.path, 2), -layer_index, fr.result.os))
            for hint in fr.result.license_hints:
                hints[(hint.package_type, hint.package_name)] = hint.licenses
            for package in fr.result.packages:
                origin = _origin_layer(package, fr, layer_index, history, indexes, refs)
                packages.append(_attribute_package(package, ref, origin))

    os_info = min(os_candidates, key=lambda c: (c[0], c[1]))[2] if os_candidates else None
    packages = _apply_hints(packages, hints)
    if os_info is not None:
        packages = [qualify_os_purl(p, os_info) for p in packages]
    packages = _dedupe(packages)
    packages = resolve_dependencies(packages)
    return Inventory(tuple(packages), os_info, tuple(findings), tuple(warnings))


def _attribute_finding(finding: Finding, ref: LayerRef, deleted: LayerRef | None) -> Finding:
    location = finding.location.with_layer(ref) if finding.location else Location("", ref)
    return replace(finding, location=location, deleted_in=deleted)


def _attribute_package(package: Package, ref: LayerRef, origin: LayerRef) -> Package:
    locations = tuple(loc.with_layer(ref) for loc in package.locations)
    return replace(package, locations=locations, introduced_by=origin)


def _origin_layer(
    package: Package,
    fr: FileResult,
    layer_index: int,
    history: dict[tuple[str, str], list[tuple[int, FileResult]]],
    indexes: Sequence[_LayerIndex],
    refs: Sequence[LayerRef],
) -> LayerRef:
    """Earliest layer in the unbroken chain of versions of this file that already had the package."""
    chain = [item for item in history.get((fr.path, fr.analyzer), []) if item[0] <= layer_index]
    origin = layer_index
    for position in range(len(chain) - 2, -1, -1):
        earlier_index, earlier = chain[position]
        later_index = chain[position + 1][0]
        if any(
            indexes[k].removes(fr.path) and fr.path not in indexes[k].paths
            for k in range(earlier_index + 1, later_index + 1)
        ):
            break
        if any(p.purl == package.purl for p in earlier.result.packages):
            origin = earlier_index
        else:
            break
    return refs[origin]


def _apply_hints(packages: list[Package], hints: dict[tuple[PackageType, str], tuple[str, ...]]) -> list[Package]:
    if not hints:
        return packages
    out = []
    for package in packages:
        extra = hints.get((package.type, package.name))
        if extra and not package.licenses:
            package = replace(package, licenses=extra)
        out.append(package)
    return out


def qualify_os_purl(package: Package, os_info: OSInfo) -> Package:
    """Give OS packages the vendor namespace and ``distro=<id>-<version>`` qualifier syft and trivy use."""
    if package.type not in _OS_TYPES:
        return package
    try:
        purl = PackageURL.from_string(package.purl)
    except ValueError:
        return package
    qualifiers = dict(purl.qualifiers) if isinstance(purl.qualifiers, dict) else {}
    if os_info.version:
        qualifiers["distro"] = f"{os_info.family}-{os_info.version}"
    namespace = purl.namespace
    if package.type is PackageType.DEB:
        namespace = os_info.family or namespace
    elif package.type is PackageType.RPM:
        namespace = _RPM_VENDORS.get(os_info.family, os_info.family) or namespace
    elif package.type is PackageType.APK:
        namespace = os_info.family or namespace
    new = PackageURL(purl.type, namespace, purl.name, purl.version, qualifiers or None, purl.subpath).to_string()
    return replace(package, purl=new)


def _dedupe(packages: list[Package]) -> list[Package]:
    seen: dict[tuple[str, str], Package] = {}
    for package in packages:
        key = (package.purl, package.locations[0].path if package.locations else "")
        seen.setdefault(key, package)
    return list(seen.values())


def resolve_dependencies(packages: list[Package]) -> list[Package]:
    """Turn ``depends_on`` names into package IDs of the same ecosystem, preferring the same file."""
    by_name: dict[tuple[PackageType, str], list[Package]] = {}
    for package in packages:
        by_name.setdefault((package.type, package.name), []).append(package)
        if package.type is PackageType.PYPI:
            by_name.setdefault((package.type, package.name.lower().replace("_", "-")), []).append(package)
    out = []
    for package in packages:
        if not package.depends_on:
            out.append(package)
            continue
        here = package.locations[0].path if package.locations else ""
        ids: list[str] = []
        for name in package.depends_on:
            key_name = name.lower().replace("_", "-") if package.type is PackageType.PYPI else name
            candidates = by_name.get((package.type, key_name), [])
            if not candidates:
                continue
            same = [c for c in candidates if c.locations and c.locations[0].path == here]
            chosen = (same or candidates)[0]
            if chosen.id != package.id:
                ids.append(chosen.id)
        out.append(replace(package, dependency_ids=tuple(dict.fromkeys(ids))))
    return out
