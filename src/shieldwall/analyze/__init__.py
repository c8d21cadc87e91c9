"""Analyzers: catalogers and detectors that read files of a layer or directory."""

from shieldwall.analyze.base import (
    EMPTY,
    AnalysisInput,
    AnalysisResult,
    Analyzer,
    AnalyzerError,
    FileInfo,
    LicenseHint,
)

__all__ = [
    "EMPTY",
    "AnalysisInput",
    "AnalysisResult",
    "Analyzer",
    "AnalyzerError",
    "FileInfo",
    "LicenseHint",
]
