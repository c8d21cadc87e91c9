"""The result of a scan: one value that every reporter, the store and the API read."""

from __future__ import annotations

from dataclasses import dataclass

from shieldwall.model.finding import Finding
from shieldwall.model.image import ImageConfig, OSInfo
from shieldwall.model.location import LayerRef
from shieldwall.model.package import Package
from shieldwall.model.target import Target

SCHEMA_VERSION = "1.0"


@dataclass(frozen=True, slots=True)
class ScanWarning:
    """Something skipped or crashed, with a reason; counted, never silent."""

    source: str
    message: str
    path: str = ""


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything one scan learned about one target."""

    target: Target
    layers: tuple[LayerRef, ...] = ()
    image: ImageConfig | None = None
    os: OSInfo | None = None
    packages: tuple[Package, ...] = ()
    findings: tuple[Finding, ...] = ()
    warnings: tuple[ScanWarning, ...] = ()
    analyzers: tuple[tuple[str, int], ...] = ()
    started_at: str = ""
    finished_at: str = ""
    tool_version: str = ""
    schema_version: str = SCHEMA_VERSION
