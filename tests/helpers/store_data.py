"""Small hand-made scan results and advisories for the store, rematch and monitor tests."""

from __future__ import annotations

from typing import Any

from shieldwall.match.matcher import InMemoryAdvisories, match_inventory
from shieldwall.model import (
    ImageConfig,
    LayerRef,
    Location,
    OSInfo,
    Package,
    PackageType,
    ScanResult,
    Target,
    TargetKind,
    TargetRef,
)
from shieldwall.vulndb.model import Advisory
from shieldwall.vulndb.osv import parse_osv

DEBIAN_12 = OSInfo("debian", "Debian GNU/Linux", "12", "bookworm")
LAYERS = (LayerRef(0, "sha256:" + "0a" * 32, "ADD rootfs"), LayerRef(1, "sha256:" + "1b" * 32, "RUN pip install"))


def deb(name: str, version: str, source: str = "", source_version: str = "") -> Package:
    """A Debian binary package from the dpkg status file of layer 0."""
    return Package(
        PackageType.DEB,
        name,
        version,
        f"pkg:deb/debian/{name}@{version}?arch=amd64",
        locations=(Location("/var/lib/dpkg/status", LAYERS[0]),),
        source_name=source,
        source_version=source_version,
        arch="amd64",
        found_by="dpkg",
        introduced_by=LAYERS[0],
    )


def pypi(name: str, version: str) -> Package:
    """A Python distribution installed in layer 1."""
    path = f"/app/venv/lib/python3.11/site-packages/{name}-{version}.dist-info/METADATA"
    return Package(
        PackageType.PYPI,
        name,
        version,
        f"pkg:pypi/{name.lower()}@{version}",
        locations=(Location(path, LAYERS[1]),),
        licenses=("BSD-3-Clause",),
        found_by="python",
        introduced_by=LAYERS[1],
    )


def npm(name: str, version: str) -> Package:
    """An npm package of layer 1."""
    return Package(
        PackageType.NPM,
        name,
        version,
        f"pkg:npm/{name}@{version}",
        locations=(Location(f"/app/node_modules/{name}/package.json", LAYERS[1]),),
        introduced_by=LAYERS[1],
    )


def image_result(
    digest_byte: str,
    packages: tuple[Package, ...],
    *,
    repository: str = "registry.test/app",
    tag: str = "1.0",
    config: ImageConfig | None = None,
    findings: tuple[Any, ...] = (),
) -> ScanResult:
    """A scan result of an image ``sha256:<digest_byte * 32>`` tagged ``repository:tag``."""
    digest = "sha256:" + digest_byte * 32
    ref = TargetRef(TargetKind.REGISTRY, f"{repository}:{tag}")
    target = Target(ref, f"{repository}:{tag}", digest=digest, tags=(tag,) if tag else (), repository=repository)
    return ScanResult(
        target=target,
        layers=LAYERS,
        image=config or ImageConfig(os="linux", architecture="amd64", user="app", env=("PATH=/usr/bin",)),
        os=DEBIAN_12,
        packages=packages,
        findings=findings,
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:00:01+00:00",
        tool_version="test",
    )


def osv(
    ident: str, ecosystem: str, name: str, fixed: str, *, cvss: str = "", aliases: tuple[str, ...] = ()
) -> Advisory:
    """An OSV advisory: ``name`` in ``ecosystem`` affected from 0 until ``fixed``."""
    doc: dict[str, Any] = {
        "id": ident,
        "modified": "2026-01-01T00:00:00Z",
        "summary": f"{name} is vulnerable ({ident})",
        "aliases": list(aliases),
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }
        ],
    }
    if cvss:
        doc["severity"] = [{"type": "CVSS_V3", "score": cvss}]
    return parse_osv(doc, source="test")


CRITICAL_VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
MEDIUM_VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"


def with_matches(result: ScanResult, advisories: list[Advisory]) -> ScanResult:
    """``result`` with the vulnerability findings the matcher reports against ``advisories``."""
    from dataclasses import replace

    found = match_inventory(result, InMemoryAdvisories(advisories))
    return replace(result, findings=tuple(result.findings) + tuple(found))
