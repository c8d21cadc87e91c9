""".NET NuGet packages: ``packages.lock.json`` (restore lock) and ``*.deps.json`` (what an app loads)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo, basename
from shieldwall.analyze.common import make_package
from shieldwall.analyze.lang._bounded import MiB, load_json
from shieldwall.model import Package, PackageType

MAX_LOCK_BYTES = 32 * MiB
MAX_DEPS_BYTES = 64 * MiB

# The strongest dependency type wins when a package appears under several target frameworks.
_TYPE_RANK = {"Direct": 3, "CentralTransitive": 2, "Transitive": 1}

# Tools that merge dependencies into one assembly (so their DLLs are not listed);
# when one is present, packages without assets are kept, as syft does.
_BUNDLERS = frozenset(
    {
        "ILRepack.Lib.MSBuild.Task",
        "ILRepack.Lib",
        "ILRepack.Lib.MSBuild",
        "ILRepack.Lib.NET",
        "ILRepack.NETStandard",
        "ILRepack.FullAuto",
        "ILMerge",
        "JetBrains.Build.ILRepack",
        "PostSharp.Community.Packer",
        "Brokenevent.ILStrip",
        "Brokenevent.ILStrip.CLI",
        "Costura.Fody",
        "Fody",
    }
)
_ASSET_KINDS = ("runtime", "resources", "compile", "native")


def _object(value: object, what: str) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AnalyzerError(f"{what} is not a JSON object")
    return value


def _str_pairs(value: object) -> list[tuple[str, str]]:
    """``{"name": "version"}`` maps as pairs; non-string entries dropped."""
    if not isinstance(value, dict):
        return []
    return [(k, v) for k, v in value.items() if isinstance(k, str) and isinstance(v, str)]


@dataclass(frozen=True, slots=True)
class _LockEntry:
    """One package merged over the target frameworks of a lock file."""

    name: str
    version: str
    type: str
    frameworks: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()


class NugetLockAnalyzer:
    """NuGet packages pinned in ``packages.lock.json``, merged over every target framework."""

    name = "dotnet-packages-lock"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        """Every ``packages.lock.json``."""
        return basename(path) == "packages.lock.json"

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """One package per name and resolved version; ``Project`` references are skipped."""
        doc = load_json(input, MAX_LOCK_BYTES, "packages.lock.json")
        if not isinstance(doc, dict):
            raise AnalyzerError("packages.lock.json is not a JSON object")
        frameworks = _object(doc.get("dependencies"), "packages.lock.json 'dependencies'")
        entries: dict[tuple[str, str], _LockEntry] = {}
        warnings: list[str] = []
        for framework in sorted(frameworks):
            packages = frameworks[framework]
            if not isinstance(packages, dict):
                warnings.append(f"target framework {framework!r} is not an object, skipped")
                continue
            for name, item in packages.items():
                if not isinstance(item, dict):
                    warnings.append(f"{framework}: entry {name!r} is not an object, skipped")
                    continue
                kind = item.get("type")
                kind = kind if isinstance(kind, str) else ""
                if kind.lower() == "project":
                    continue
                version = item.get("resolved")
                if not name or not isinstance(version, str) or not version:
                    warnings.append(f"{framework}: entry {name!r} has no resolved version, skipped")
                    continue
                key = (name.lower(), version)
                entry = entries.get(key) or _LockEntry(name, version, kind)
                deps = [dep for dep, _ in _str_pairs(item.get("dependencies"))]
                entries[key] = replace(
                    entry,
                    type=kind if _TYPE_RANK.get(kind, 0) > _TYPE_RANK.get(entry.type, 0) else entry.type,
                    frameworks=tuple(dict.fromkeys((*entry.frameworks, framework))),
                    depends_on=tuple(dict.fromkeys((*entry.depends_on, *deps))),
                )
        if not entries and not warnings:
            return EMPTY
        packages = tuple(self._package(entries[key], input.path) for key in sorted(entries))
        return AnalysisResult(packages=packages, warnings=tuple(warnings))

    def _package(self, entry: _LockEntry, path: str) -> Package:
        metadata = {"frameworks": ",".join(entry.frameworks)}
        if entry.type:
            metadata["type"] = entry.type
        return make_package(
            PackageType.NUGET,
            entry.name,
            entry.version,
            path,
            self.name,
            depends_on=entry.depends_on,
            metadata=metadata,
        )


def split_name_version(key: str) -> tuple[str, str]:
    """``Newtonsoft.Json/13.0.3`` -> ``("Newtonsoft.Json", "13.0.3")``, split on the last ``/``."""
    name, _, version = key.rpartition("/")
    return name, version


@dataclass(frozen=True, slots=True)
class _DepsLibrary:
    key: str
    type: str
    sha512: str
    has_assets: bool
    dependencies: tuple[str, ...]


def _deps_libraries(doc: dict[str, object]) -> list[_DepsLibrary]:
    """Libraries of a deps.json, each with its target entries (all runtime targets) merged."""
    targets = _object(doc.get("targets"), "deps.json 'targets'")
    libraries = _object(doc.get("libraries"), "deps.json 'libraries'")
    assets: dict[str, bool] = {}
    dependencies: dict[str, list[str]] = {}
    for target_name in sorted(targets):
        target = targets[target_name]
        if not isinstance(target, dict):
            continue
        for key, item in target.items():
            if not isinstance(item, dict):
                continue
            assets[key] = assets.get(key, False) or any(bool(item.get(kind)) for kind in _ASSET_KINDS)
            deps = dependencies.setdefault(key, [])
            for name, version in _str_pairs(item.get("dependencies")):
                dep_key = f"{name}/{version}"
                if dep_key not in deps:
                    deps.append(dep_key)
    keys = list(assets) if targets else list(libraries)
    result: list[_DepsLibrary] = []
    for key in keys:
        library = libraries.get(key)
        library = library if isinstance(library, dict) else {}
        lib_type, sha512 = library.get("type"), library.get("sha512")
        result.append(
            _DepsLibrary(
                key=key,
                type=lib_type if isinstance(lib_type, str) else "",
                sha512=sha512 if isinstance(sha512, str) else "",
                has_assets=assets.get(key, False),
                dependencies=tuple(dependencies.get(key, ())),
            )
        )
    return result


def _claims_assets(libraries: list[_DepsLibrary]) -> set[str]:
    """Keys of libraries that ship an asset themselves or through any transitive dependency.

    Computed backwards from the asset holders over reversed dependency edges,
    so it stays linear in the size of the graph.
    """
    parents: dict[str, list[str]] = {}
    for library in libraries:
        for dep in library.dependencies:
            parents.setdefault(dep, []).append(library.key)
    claimed = {library.key for library in libraries if library.has_assets}
    queue = deque(claimed)
    while queue:
        for parent in parents.get(queue.popleft(), ()):
            if parent not in claimed:
                claimed.add(parent)
                queue.append(parent)
    return claimed


class DotnetDepsAnalyzer:
    """NuGet packages an application depends on, from its ``*.deps.json``.

    Libraries of type ``package`` (and the ``runtimepack`` of self-contained
    apps) become packages; ``project`` entries (the app and its sibling
    projects) and reference assemblies are not NuGet packages and are
    skipped. As in syft's default configuration, a package that ships no
    runtime, resource, compile or native asset, directly or through a
    dependency, is dropped unless an IL bundler (ILRepack, Costura...) is
    present: nothing of it is deployed.
    """

    name = "dotnet-deps"
    version = 1

    def __init__(self, require_assets: bool = True) -> None:
        self.require_assets = require_assets

    def required(self, path: str, info: FileInfo) -> bool:
        """Every ``*.deps.json``."""
        return path.endswith(".deps.json")

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """Packages with their dependency names from the ``targets`` section."""
        doc = load_json(input, MAX_DEPS_BYTES, "deps.json")
        if not isinstance(doc, dict):
            raise AnalyzerError("deps.json is not a JSON object")
        libraries = _deps_libraries(doc)
        if not libraries:
            return EMPTY
        bundled = any(split_name_version(lib.key)[0] in _BUNDLERS for lib in libraries)
        filter_assets = self.require_assets and bool(doc.get("targets")) and not bundled
        claimed = _claims_assets(libraries) if filter_assets else None
        packages: list[Package] = []
        for library in sorted(libraries, key=lambda lib: lib.key):
            if not self._is_nuget(library):
                continue
            if claimed is not None and library.key not in claimed:
                continue
            name, version = split_name_version(library.key)
            if not name or not version:
                continue
            metadata = {"library_type": library.type}
            if library.sha512:
                metadata["sha512"] = library.sha512
            packages.append(
                make_package(
                    PackageType.NUGET,
                    name,
                    version,
                    input.path,
                    self.name,
                    depends_on=[split_name_version(dep)[0] for dep in library.dependencies],
                    metadata=metadata,
                )
            )
        return AnalysisResult(packages=tuple(packages)) if packages else EMPTY

    @staticmethod
    def _is_nuget(library: _DepsLibrary) -> bool:
        kind = library.type.lower()
        if kind in ("package", "runtimepack"):
            return True
        # A reference assembly with a hash came from a real package; one without is a framework facade.
        return kind == "referenceassembly" and bool(library.sha512)


ANALYZERS = (NugetLockAnalyzer, DotnetDepsAnalyzer)
