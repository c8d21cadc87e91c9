"""Frozen core types shared by every part of Shieldwall."""

from shieldwall.model.finding import Evidence, Finding, FindingKind, Severity, Suppression, VulnDetails
from shieldwall.model.image import EolStatus, HistoryEntry, ImageConfig, OSInfo
from shieldwall.model.location import LayerRef, Location
from shieldwall.model.package import Package, PackageType
from shieldwall.model.result import SCHEMA_VERSION, ScanResult, ScanWarning
from shieldwall.model.target import Target, TargetKind, TargetRef

__all__ = [
    "SCHEMA_VERSION",
    "EolStatus",
    "Evidence",
    "Finding",
    "FindingKind",
    "HistoryEntry",
    "ImageConfig",
    "LayerRef",
    "Location",
    "OSInfo",
    "Package",
    "PackageType",
    "ScanResult",
    "ScanWarning",
    "Severity",
    "Suppression",
    "Target",
    "TargetKind",
    "TargetRef",
    "VulnDetails",
]
