"""packages.lock.json and *.deps.json catalogers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.lang.dotnet import DotnetDepsAnalyzer, NugetLockAnalyzer, split_name_version
from shieldwall.model import Package, PackageType

FIXTURES = Path(__file__).parents[3] / "fixtures" / "lang" / "dotnet"


def run(analyzer: NugetLockAnalyzer | DotnetDepsAnalyzer, path: str, data: bytes) -> AnalysisResult:
    return analyzer.analyze(AnalysisInput(path, FileInfo(path, len(data)), lambda: data))


def by_purl(result: AnalysisResult) -> dict[str, Package]:
    return {p.purl: p for p in result.packages}


# --- packages.lock.json -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lock_result() -> AnalysisResult:
    data = (FIXTURES / "packages.lock.json").read_bytes()
    return run(NugetLockAnalyzer(), "/src/app/packages.lock.json", data)


def test_lock_merges_every_target_framework(lock_result: AnalysisResult) -> None:
    assert sorted(by_purl(lock_result)) == [
        "pkg:nuget/Newtonsoft.Json@13.0.3",
        "pkg:nuget/Serilog@2.12.0",
        "pkg:nuget/Serilog@3.1.1",
        "pkg:nuget/System.Diagnostics.DiagnosticSource@4.7.1",
        "pkg:nuget/System.Text.Encodings.Web@8.0.0",
        "pkg:nuget/System.Text.Json@8.0.0",
    ]
    assert lock_result.warnings == ()


def test_lock_skips_project_references(lock_result: AnalysisResult) -> None:
    assert all("shieldwall.shared" not in p.name for p in lock_result.packages)


def test_lock_same_package_in_two_frameworks_is_one_package(lock_result: AnalysisResult) -> None:
    newtonsoft = [p for p in lock_result.packages if p.name == "Newtonsoft.Json"]
    assert len(newtonsoft) == 1
    meta = dict(newtonsoft[0].metadata)
    assert meta["type"] == "Direct"  # Direct under net8.0 beats Transitive under netstandard2.0
    assert meta["frameworks"] == "net8.0,netstandard2.0"


def test_lock_type_does_not_depend_on_framework_order() -> None:
    doc = {
        "version": 1,
        "dependencies": {
            "a-first": {"Pkg": {"type": "Transitive", "resolved": "1.0.0"}},
            "z-last": {"Pkg": {"type": "Direct", "requested": "[1.0.0, )", "resolved": "1.0.0"}},
        },
    }
    (pkg,) = run(NugetLockAnalyzer(), "/packages.lock.json", json.dumps(doc).encode()).packages
    assert dict(pkg.metadata)["type"] == "Direct"


def test_lock_types_and_dependencies(lock_result: AnalysisResult) -> None:
    pkgs = by_purl(lock_result)
    stj = pkgs["pkg:nuget/System.Text.Json@8.0.0"]
    assert dict(stj.metadata)["type"] == "CentralTransitive"
    assert stj.depends_on == ("System.Text.Encodings.Web",)
    old_serilog = pkgs["pkg:nuget/Serilog@2.12.0"]
    assert old_serilog.depends_on == ("System.Diagnostics.DiagnosticSource",)
    assert dict(old_serilog.metadata)["frameworks"] == "netstandard2.0"
    assert old_serilog.type is PackageType.NUGET
    assert old_serilog.found_by == "dotnet-packages-lock"


def test_lock_entry_without_resolved_version_is_a_warning() -> None:
    doc = {
        "dependencies": {
            "net8.0": {"Broken": {"type": "Direct"}, "Fine": {"type": "Direct", "resolved": "2.0.0"}},
            "net6.0": ["not", "an", "object"],
        }
    }
    result = run(NugetLockAnalyzer(), "/packages.lock.json", json.dumps(doc).encode())
    assert [p.purl for p in result.packages] == ["pkg:nuget/Fine@2.0.0"]
    assert len(result.warnings) == 2


def test_lock_without_dependencies_is_empty() -> None:
    assert run(NugetLockAnalyzer(), "/packages.lock.json", b'{"version": 1, "dependencies": {}}') is EMPTY
    assert run(NugetLockAnalyzer(), "/packages.lock.json", b'{"version": 1}') is EMPTY


@pytest.mark.parametrize("data", [b"[]", b'{"dependencies": []}', b'{"dependencies": ', b""])
def test_lock_malformed(data: bytes) -> None:
    with pytest.raises(AnalyzerError) as err:
        run(NugetLockAnalyzer(), "/packages.lock.json", data)
    assert "\n" not in str(err.value)


# --- deps.json ----------------------------------------------------------------------------------


def deps(analyzer: DotnetDepsAnalyzer | None = None) -> AnalysisResult:
    data = (FIXTURES / "MyApp.deps.json").read_bytes()
    return run(analyzer or DotnetDepsAnalyzer(), "/app/MyApp.deps.json", data)


def test_deps_packages_and_runtime_pack() -> None:
    assert sorted(by_purl(deps())) == [
        "pkg:nuget/Microsoft.Extensions.Logging.Abstractions@8.0.0",
        "pkg:nuget/Microsoft.Extensions.Logging@8.0.0",  # no asset itself, but its dependency has one
        "pkg:nuget/Newtonsoft.Json@13.0.3",
        "pkg:nuget/SQLitePCLRaw.lib.e_sqlite3@2.1.6",  # native asset, only in the RID target
        "pkg:nuget/runtimepack.Microsoft.NETCore.App.Runtime.linux-x64@8.0.1",
    ]


def test_deps_skips_projects_reference_assemblies_and_assetless_packages() -> None:
    names = {p.name for p in deps().packages}
    assert "MyApp" not in names and "MyLib" not in names  # type "project"
    assert "Microsoft.AspNetCore.DataProtection" not in names  # referenceassembly without hash
    assert "Microsoft.NETCore.Platforms" not in names  # ships nothing


def test_deps_without_asset_filter_keeps_assetless_packages() -> None:
    purls = by_purl(deps(DotnetDepsAnalyzer(require_assets=False)))
    assert "pkg:nuget/Microsoft.NETCore.Platforms@1.1.0" in purls
    assert len(purls) == 6


def test_deps_dependencies_and_metadata() -> None:
    pkgs = by_purl(deps())
    logging = pkgs["pkg:nuget/Microsoft.Extensions.Logging@8.0.0"]
    assert logging.depends_on == ("Microsoft.Extensions.Logging.Abstractions",)
    meta = dict(logging.metadata)
    assert meta["library_type"] == "package"
    assert meta["sha512"].startswith("sha512-tvRkov9")
    runtime = pkgs["pkg:nuget/runtimepack.Microsoft.NETCore.App.Runtime.linux-x64@8.0.1"]
    assert dict(runtime.metadata) == {"library_type": "runtimepack"}
    assert logging.found_by == "dotnet-deps"
    assert logging.locations[0].path == "/app/MyApp.deps.json"


def _deps_doc(targets: dict[str, object], libraries: dict[str, object]) -> bytes:
    return json.dumps({"targets": {".NETCoreApp,Version=v8.0": targets}, "libraries": libraries}).encode()


def _lib(kind: str = "package", sha: str = "sha512-x") -> dict[str, object]:
    return {"type": kind, "sha512": sha}


def test_deps_bundler_disables_the_asset_filter() -> None:
    data = _deps_doc(
        {"Empty/1.0.0": {}, "ILRepack.Lib.MSBuild.Task/2.0.18": {}},
        {"Empty/1.0.0": _lib(), "ILRepack.Lib.MSBuild.Task/2.0.18": _lib()},
    )
    assert {p.name for p in run(DotnetDepsAnalyzer(), "/a.deps.json", data).packages} == {
        "Empty",
        "ILRepack.Lib.MSBuild.Task",
    }


def test_deps_dependency_cycles_terminate() -> None:
    data = _deps_doc(
        {
            "A/1.0.0": {"dependencies": {"B": "1.0.0"}},
            "B/1.0.0": {"dependencies": {"A": "1.0.0", "C": "1.0.0"}},
            "C/1.0.0": {"runtime": {"lib/net8.0/C.dll": {}}},
            "X/1.0.0": {"dependencies": {"Y": "1.0.0"}},
            "Y/1.0.0": {"dependencies": {"X": "1.0.0"}},
        },
        {k: _lib() for k in ("A/1.0.0", "B/1.0.0", "C/1.0.0", "X/1.0.0", "Y/1.0.0")},
    )
    assert sorted(p.name for p in run(DotnetDepsAnalyzer(), "/a.deps.json", data).packages) == ["A", "B", "C"]


def test_deps_reference_assembly_with_hash_is_kept() -> None:
    data = _deps_doc(
        {"Kept/3.0.0": {"compile": {"Kept.dll": {}}}, "Phantom/10.0.0.0": {"compile": {"P.dll": {}}}},
        {"Kept/3.0.0": _lib("referenceassembly"), "Phantom/10.0.0.0": _lib("referenceassembly", "")},
    )
    assert [p.purl for p in run(DotnetDepsAnalyzer(), "/a.deps.json", data).packages] == ["pkg:nuget/Kept@3.0.0"]


def test_deps_without_targets_falls_back_to_libraries() -> None:
    data = json.dumps({"libraries": {"Only.Lib/1.2.3": _lib(), "App/1.0.0": _lib("project", "")}}).encode()
    assert [p.purl for p in run(DotnetDepsAnalyzer(), "/a.deps.json", data).packages] == ["pkg:nuget/Only.Lib@1.2.3"]


def test_deps_empty_document_is_empty() -> None:
    assert run(DotnetDepsAnalyzer(), "/a.deps.json", b"{}") is EMPTY
    only_project = _deps_doc({"App/1.0.0": {"runtime": {"App.dll": {}}}}, {"App/1.0.0": _lib("project", "")})
    assert run(DotnetDepsAnalyzer(), "/App.deps.json", only_project) is EMPTY


@pytest.mark.parametrize("data", [b"[]", b'{"targets": []}', b'{"libraries": "x"}', b"{,}"])
def test_deps_malformed(data: bytes) -> None:
    with pytest.raises(AnalyzerError) as err:
        run(DotnetDepsAnalyzer(), "/a.deps.json", data)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("Newtonsoft.Json/13.0.3", ("Newtonsoft.Json", "13.0.3")),
        ("odd/name/1.0.0", ("odd/name", "1.0.0")),
        ("noversion", ("", "noversion")),
    ],
)
def test_split_name_version(key: str, expected: tuple[str, str]) -> None:
    assert split_name_version(key) == expected


@pytest.mark.parametrize(
    ("analyzer", "path", "wanted"),
    [
        (NugetLockAnalyzer(), "/src/packages.lock.json", True),
        (NugetLockAnalyzer(), "/src/package-lock.json", False),
        (DotnetDepsAnalyzer(), "/app/MyApp.deps.json", True),
        (DotnetDepsAnalyzer(), "/usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.1/x.deps.json", True),
        (DotnetDepsAnalyzer(), "/app/MyApp.runtimeconfig.json", False),
    ],
)
def test_required(analyzer: NugetLockAnalyzer | DotnetDepsAnalyzer, path: str, wanted: bool) -> None:
    assert analyzer.required(path, FileInfo(path, 10)) is wanted


def test_registered_as_builtins() -> None:
    from shieldwall.analyze.base import Analyzer
    from shieldwall.analyze.registry import builtin_factories

    factories = builtin_factories()
    for cls in (NugetLockAnalyzer, DotnetDepsAnalyzer):
        assert cls in factories
        assert isinstance(cls(), Analyzer)
