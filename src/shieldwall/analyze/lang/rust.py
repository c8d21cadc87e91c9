"""Rust crates: ``Cargo.lock`` and the dependency list cargo-auditable embeds in binaries.

As in syft's rust catalogers, every ``[[package]]`` of a Cargo.lock is a
package (workspace members without ``source`` included), and a binary built
with ``cargo auditable`` reports its runtime crates (build-only ones are
skipped) from the ``.dep-v0`` ELF section: zlib-compressed JSON of the form
``{"packages": [{"name", "version", "source", "kind", "dependencies": [indexes], "root"}]}``.
PURLs are ``pkg:cargo/<name>@<version>``.
"""

from __future__ import annotations

import json
import tomllib
import zlib

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo, basename
from shieldwall.analyze.common import make_package
from shieldwall.analyze.lang.executable import (
    BinaryFormatError,
    is_executable_candidate,
    read_elf,
    read_executable,
)
from shieldwall.model import Package, PackageType

MiB = 1024 * 1024
MAX_CARGO_LOCK_SIZE = 16 * MiB
MAX_AUDIT_JSON = 16 * MiB
DEP_SECTION = ".dep-v0"


def _dependency_name(entry: object) -> str:
    # "name", "name version" or "name version (source)"
    return entry.split(" ", 1)[0] if isinstance(entry, str) else ""


class CargoLockAnalyzer:
    """Every crate pinned by a ``Cargo.lock``."""

    name = "cargo-lock"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return basename(path) == "Cargo.lock" and info.size <= MAX_CARGO_LOCK_SIZE

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        data = input.read()
        if len(data) > MAX_CARGO_LOCK_SIZE:
            raise AnalyzerError(f"Cargo.lock is {len(data)} bytes, over {MAX_CARGO_LOCK_SIZE}")
        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise AnalyzerError("Cargo.lock is not UTF-8") from None
        except (tomllib.TOMLDecodeError, RecursionError) as exc:  # tomllib recurses once per nesting level
            raise AnalyzerError(f"Cargo.lock is not valid TOML: {exc}") from None
        entries = doc.get("package", [])
        if not isinstance(entries, list):
            raise AnalyzerError("Cargo.lock 'package' is not an array of tables")
        packages: list[Package] = []
        warnings: list[str] = []
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            name, version = entry.get("name"), entry.get("version")
            if not isinstance(name, str) or not isinstance(version, str) or not name:
                warnings.append("a [[package]] entry lacks a string name or version")
                continue
            meta: dict[str, str] = {}
            for key in ("source", "checksum"):
                value = entry.get(key)
                if isinstance(value, str) and value:
                    meta[key] = value
            deps = entry.get("dependencies", [])
            depends_on = [d for d in map(_dependency_name, deps if isinstance(deps, list) else []) if d]
            packages.append(
                make_package(
                    PackageType.CARGO, name, version, input.path, self.name, depends_on=depends_on, metadata=meta
                )
            )
        return AnalysisResult(packages=tuple(packages), warnings=tuple(warnings))


def decode_dep_section(blob: bytes, limit: int = MAX_AUDIT_JSON) -> list[dict[str, object]]:
    """Inflate and decode a ``.dep-v0`` section; ``AnalyzerError`` on anything malformed or too big."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(blob, limit + 1)
    except zlib.error as exc:
        raise AnalyzerError(f"{DEP_SECTION} is not zlib data: {exc}") from None
    if len(raw) > limit or inflater.unconsumed_tail:
        raise AnalyzerError(f"{DEP_SECTION} inflates to more than {limit} bytes")
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise AnalyzerError(f"{DEP_SECTION} is not valid JSON: {exc}") from None
    packages = doc.get("packages") if isinstance(doc, dict) else None
    if not isinstance(packages, list):
        raise AnalyzerError(f"{DEP_SECTION} has no 'packages' list")
    return [p for p in packages if isinstance(p, dict)]


class CargoAuditableAnalyzer:
    """Runtime crates of a Rust executable built with ``cargo auditable`` (ELF ``.dep-v0`` section)."""

    name = "cargo-auditable"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return is_executable_candidate(path, info)

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        data = read_executable(input)
        if DEP_SECTION.encode() not in data:
            return EMPTY  # the section name is in the string table of every cargo-auditable ELF
        try:
            elf = read_elf(data)
        except BinaryFormatError:
            return EMPTY  # corrupt ELF headers: the Go analyzer reports those, one warning is enough
        if elf is None:
            return EMPTY
        if DEP_SECTION not in elf.sections:
            return EMPTY
        blob = elf.section_bytes(data, DEP_SECTION)
        if blob is None:
            raise AnalyzerError(f"{DEP_SECTION} section lies outside the file")
        entries = decode_dep_section(blob)
        names = [e.get("name") if isinstance(e.get("name"), str) else "" for e in entries]
        packages: list[Package] = []
        warnings: list[str] = []
        for entry in entries:
            name, version = entry.get("name"), entry.get("version")
            if not isinstance(name, str) or not isinstance(version, str) or not name:
                warnings.append(f"{DEP_SECTION}: an entry lacks a string name or version")
                continue
            if entry.get("kind", "runtime") != "runtime":
                continue
            meta: dict[str, str] = {}
            source = entry.get("source")
            if isinstance(source, str) and source:
                meta["source"] = source
            if entry.get("root") is True:
                meta["root"] = "true"
            deps = entry.get("dependencies", [])
            depends_on = [
                str(names[i])
                for i in (deps if isinstance(deps, list) else [])
                if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(names) and names[i]
            ]
            packages.append(
                make_package(
                    PackageType.CARGO, name, version, input.path, self.name, depends_on=depends_on, metadata=meta
                )
            )
        return AnalysisResult(packages=tuple(packages), warnings=tuple(warnings))


ANALYZERS = (CargoLockAnalyzer, CargoAuditableAnalyzer)
