"""Tiny analyzers for engine tests: they make layer handling observable without real catalogers."""

from __future__ import annotations

from shieldwall.analyze.base import AnalysisInput, AnalysisResult, FileInfo
from shieldwall.analyze.common import make_package
from shieldwall.model import Finding, FindingKind, Location, PackageType, Severity


class PkgListAnalyzer:
    """Files named ``*.pkglist`` hold ``name version`` lines; each is a generic package."""

    name = "test-pkglist"

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.calls = 0

    def required(self, path: str, info: FileInfo) -> bool:
        return path.endswith(".pkglist")

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        self.calls += 1
        packages = []
        for line in input.text().splitlines():
            if line.strip():
                name, version = line.split()
                packages.append(make_package(PackageType.GENERIC, name, version, input.path, self.name))
        return AnalysisResult(packages=tuple(packages))


class MarkerAnalyzer:
    """Any file containing ``MARKER`` yields a finding (stands in for a secret detector)."""

    name = "test-marker"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return info.size < 1_000_000

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        data = input.read()
        if b"MARKER" not in data:
            return AnalysisResult()
        line = data[: data.index(b"MARKER")].count(b"\n") + 1
        finding = Finding(FindingKind.SECRET, "test-marker", "marker", Severity.HIGH, Location(input.path, None, line))
        return AnalysisResult(findings=(finding,))


class CrashingAnalyzer:
    """Raises on every file it asks for: the crash must surface as a warning."""

    name = "test-crash"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return path.endswith(".crash")

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        raise RuntimeError("boom")
