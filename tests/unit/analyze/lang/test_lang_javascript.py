"""JavaScript catalogers: package.json manifests and npm, yarn and pnpm lock files."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.analyze.base import AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.lang.javascript import (
    NpmInstalledAnalyzer,
    NpmLockAnalyzer,
    is_installed_manifest,
    parse_pnpm_key,
    parse_yarn_classic,
    split_spec,
)
from shieldwall.model import Package, PackageType

FIXTURES = Path(__file__).parents[3] / "fixtures" / "lang" / "javascript"


def analyze_bytes(analyzer: NpmLockAnalyzer | NpmInstalledAnalyzer, path: str, data: bytes) -> AnalysisResult:
    return analyzer.analyze(AnalysisInput(path, FileInfo(path, len(data)), lambda: data))


def analyze_fixture(analyzer: NpmLockAnalyzer | NpmInstalledAnalyzer, fixture: str, path: str) -> AnalysisResult:
    return analyze_bytes(analyzer, path, (FIXTURES / fixture).read_bytes())


def purls(result: AnalysisResult) -> set[str]:
    return {p.purl for p in result.packages}


def by_purl(result: AnalysisResult) -> dict[str, Package]:
    return {p.purl: p for p in result.packages}


# --- helpers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("lodash@^4.17.0", ("lodash", "^4.17.0")),
        ("@babel/core@npm:7.0.0", ("@babel/core", "npm:7.0.0")),
        ("string-width-cjs@npm:string-width@^4", ("string-width-cjs", "npm:string-width@^4")),
        ("@scope/bare", ("@scope/bare", "")),
    ],
)
def test_split_spec(spec: str, expected: tuple[str, str]) -> None:
    assert split_spec(spec) == expected


@pytest.mark.parametrize(
    ("key", "major", "expected"),
    [
        ("/lodash/4.17.21", 5, ("lodash", "4.17.21")),
        ("/@babel/plugin-syntax-jsx/7.22.5_@babel+core@7.22.9", 5, ("@babel/plugin-syntax-jsx", "7.22.5")),
        ("/react-dom/18.2.0_react@18.2.0", 5, ("react-dom", "18.2.0")),
        ("/is-glob@4.0.3", 6, ("is-glob", "4.0.3")),
        ("/@tanstack/react-query@4.32.0(react@18.2.0)", 6, ("@tanstack/react-query", "4.32.0")),
        ("/@a/b@1.0.0(@c/d@2.0.0)(e@3.0.0)", 6, ("@a/b", "1.0.0")),
        ("@babel/helper-plugin-utils@7.24.7", 9, ("@babel/helper-plugin-utils", "7.24.7")),
        ("react-dom@18.3.1(react@18.3.1)", 9, ("react-dom", "18.3.1")),
        ("github.com/example/forked/0123", 5, ("", "")),
    ],
)
def test_parse_pnpm_key(key: str, major: int, expected: tuple[str, str]) -> None:
    assert parse_pnpm_key(key, major) == expected


# --- package-lock.json -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/app/package-lock.json", True),
        ("/app/npm-shrinkwrap.json", True),
        ("/app/yarn.lock", True),
        ("/app/pnpm-lock.yaml", True),
        ("/app/node_modules/.package-lock.json", False),
        ("/app/package.json", False),
    ],
)
def test_lock_required(path: str, wanted: bool) -> None:
    assert NpmLockAnalyzer().required(path, FileInfo(path, 10)) is wanted


def test_package_lock_v1_nested_and_aliases() -> None:
    result = analyze_fixture(NpmLockAnalyzer(), "npm-v1/package-lock.json", "/app/package-lock.json")
    assert purls(result) == {
        "pkg:npm/%40babel/code-frame@7.10.4",
        "pkg:npm/%40babel/highlight@7.10.4",
        "pkg:npm/chalk@2.4.2",  # nested under @babel/highlight
        "pkg:npm/supports-color@5.5.0",  # nested two levels deep
        "pkg:npm/chalk@4.1.2",
        "pkg:npm/js-tokens@4.0.0",
        "pkg:npm/string-width@4.2.3",  # "npm:string-width@4.2.3" alias
    }  # file: and git dependencies have no registry version
    pkgs = by_purl(result)
    assert pkgs["pkg:npm/%40babel/highlight@7.10.4"].depends_on == ("chalk", "js-tokens")
    assert dict(pkgs["pkg:npm/chalk@4.1.2"].metadata) == {"dev": "true"}
    assert dict(pkgs["pkg:npm/chalk@2.4.2"].metadata) == {}
    assert all(p.type is PackageType.NPM and p.found_by == "javascript-lock" for p in result.packages)


def test_package_lock_v3() -> None:
    result = analyze_fixture(NpmLockAnalyzer(), "npm-v3/package-lock.json", "/app/package-lock.json")
    assert purls(result) == {
        "pkg:npm/my-app@2.0.0",  # the root entry, as syft lists it
        "pkg:npm/%40types/node@20.4.5",
        "pkg:npm/lodash@4.17.21",
        "pkg:npm/jest@29.6.2",
        "pkg:npm/%40jest/core@29.6.2",
        "pkg:npm/ansi-styles@5.2.0",
        "pkg:npm/ansi-styles@4.3.0",
        "pkg:npm/string-width@4.2.3",  # aliased under node_modules/string-width-cjs
        "pkg:npm/workspace-a@0.1.0",  # the workspace member, not its link
    }
    pkgs = by_purl(result)
    jest = pkgs["pkg:npm/jest@29.6.2"]
    assert jest.depends_on == ("@jest/core", "import-local", "fsevents")
    assert jest.licenses == ("MIT", "Apache-2.0")
    assert dict(jest.metadata) == {"dev": "true"}
    # ansi-styles@4.3.0 is dev at one path and a runtime dependency at another: not dev
    assert dict(pkgs["pkg:npm/ansi-styles@4.3.0"].metadata) == {}
    assert dict(pkgs["pkg:npm/my-app@2.0.0"].metadata) == {"project": "true"}
    assert pkgs["pkg:npm/my-app@2.0.0"].depends_on == ("@types/node", "lodash")
    assert len(result.packages) == len(purls(result))  # one package per name@version


def test_package_lock_without_projects() -> None:
    result = analyze_fixture(
        NpmLockAnalyzer(include_projects=False), "npm-v3/package-lock.json", "/app/package-lock.json"
    )
    assert "pkg:npm/my-app@2.0.0" not in purls(result)
    assert "pkg:npm/workspace-a@0.1.0" not in purls(result)
    assert "pkg:npm/lodash@4.17.21" in purls(result)


def test_lock_files_inside_node_modules_are_skipped() -> None:
    path = "/app/node_modules/some-lib/package-lock.json"
    assert analyze_fixture(NpmLockAnalyzer(), "npm-v3/package-lock.json", path).empty
    path = "/app/node_modules/some-lib/yarn.lock"
    assert analyze_fixture(NpmLockAnalyzer(), "yarn-classic/yarn.lock", path).empty


# --- yarn.lock -------------------------------------------------------------------------------


def test_yarn_classic() -> None:
    result = analyze_fixture(NpmLockAnalyzer(), "yarn-classic/yarn.lock", "/app/yarn.lock")
    assert purls(result) == {
        "pkg:npm/%40babel/code-frame@7.10.4",
        "pkg:npm/ajv@6.12.3",  # two blocks, one package
        "pkg:npm/asn1.js@4.10.1",
        "pkg:npm/string-width@4.2.3",  # npm: alias resolved to the real package
        "pkg:npm/should-type@1.3.0",
    }  # file: and link: entries are local
    pkgs = by_purl(result)
    assert pkgs["pkg:npm/ajv@6.12.3"].depends_on == ("fast-deep-equal", "uri-js", "fsevents")
    assert pkgs["pkg:npm/%40babel/code-frame@7.10.4"].depends_on == ("@babel/highlight",)
    assert pkgs["pkg:npm/%40babel/code-frame@7.10.4"].locations[0].line == 5


def test_yarn_classic_takes_the_name_from_the_registry_url() -> None:
    text = (
        "c0n-fab_u.laTION@^7.0.0:\n"
        '  version "7.7.7"\n'
        '  resolved "https://registry.yarnpkg.com/something-i-made-up/-/c0n-fab_u.laTION-7.7.7.tgz#b9c2"\n'
    )
    (entry,) = parse_yarn_classic(text)
    assert (entry.name, entry.version) == ("something-i-made-up", "7.7.7")


def test_yarn_classic_tolerates_junk() -> None:
    assert parse_yarn_classic('  orphan "1"\nnot-a-header\nfoo@^1:\n  dependencies:\n') == []


def test_yarn_berry() -> None:
    result = analyze_fixture(NpmLockAnalyzer(), "yarn-berry/yarn.lock", "/app/yarn.lock")
    assert purls(result) == {
        "pkg:npm/%40babel/code-frame@7.10.4",
        "pkg:npm/my-app@0.0.0-use.local",  # the workspace, as syft lists it
        "pkg:npm/resolve@1.22.1",  # the patch: entry collapses into it
        "pkg:npm/string-width@4.2.3",
        "pkg:npm/semver@1.10.0",  # a YAML scalar that looks like a float stays a string
    }  # link: entries are local
    pkgs = by_purl(result)
    assert len(result.packages) == 5
    assert pkgs["pkg:npm/my-app@0.0.0-use.local"].depends_on == ("@babel/code-frame", "resolve")
    assert dict(pkgs["pkg:npm/my-app@0.0.0-use.local"].metadata) == {"project": "true"}
    assert pkgs["pkg:npm/resolve@1.22.1"].depends_on == ("is-core-module",)


def test_yarn_berry_without_projects() -> None:
    result = analyze_fixture(NpmLockAnalyzer(include_projects=False), "yarn-berry/yarn.lock", "/app/yarn.lock")
    assert "pkg:npm/my-app@0.0.0-use.local" not in purls(result)
    assert len(result.packages) == 4


# --- pnpm-lock.yaml --------------------------------------------------------------------------


def test_pnpm_v5() -> None:
    result = analyze_fixture(NpmLockAnalyzer(), "pnpm-v5/pnpm-lock.yaml", "/app/pnpm-lock.yaml")
    assert purls(result) == {
        "pkg:npm/%40babel/core@7.22.9",
        "pkg:npm/%40babel/code-frame@7.22.5",
        "pkg:npm/%40babel/plugin-syntax-jsx@7.22.5",  # "_@babel+core@7.22.9" peer suffix stripped
        "pkg:npm/react-dom@18.2.0",
        "pkg:npm/react@18.2.0",
        "pkg:npm/loose-envify@1.4.0",
        "pkg:npm/scheduler@0.23.0",
        "pkg:npm/forked@2.0.1",  # a git package names itself
    }
    pkgs = by_purl(result)
    assert pkgs["pkg:npm/react-dom@18.2.0"].depends_on == ("loose-envify", "react", "scheduler")
    assert dict(pkgs["pkg:npm/%40babel/core@7.22.9"].metadata) == {"dev": "true"}
    assert dict(pkgs["pkg:npm/react@18.2.0"].metadata) == {}


def test_pnpm_v6() -> None:
    result = analyze_fixture(NpmLockAnalyzer(), "pnpm-v6/pnpm-lock.yaml", "/app/pnpm-lock.yaml")
    assert purls(result) == {
        "pkg:npm/%40tanstack/react-query@4.32.0",
        "pkg:npm/%40tanstack/query-core@4.32.0",
        "pkg:npm/is-glob@4.0.3",
        "pkg:npm/is-extglob@2.1.1",
        "pkg:npm/react@18.2.0",
        "pkg:npm/use-sync-external-store@1.2.0",
    }
    pkgs = by_purl(result)
    assert pkgs["pkg:npm/%40tanstack/react-query@4.32.0"].depends_on == (
        "@tanstack/query-core",
        "react",
        "use-sync-external-store",
    )


def test_pnpm_v9_dependencies_from_snapshots() -> None:
    result = analyze_fixture(NpmLockAnalyzer(), "pnpm-v9/pnpm-lock.yaml", "/app/pnpm-lock.yaml")
    assert purls(result) == {
        "pkg:npm/%40babel/helper-plugin-utils@7.24.7",
        "pkg:npm/js-tokens@4.0.0",
        "pkg:npm/loose-envify@1.4.0",
        "pkg:npm/react-dom@18.3.1",
        "pkg:npm/react@18.3.1",
        "pkg:npm/forked@2.0.1",  # tarball key, version from the entry
    }
    pkgs = by_purl(result)
    assert pkgs["pkg:npm/react-dom@18.3.1"].depends_on == ("loose-envify", "react", "scheduler")
    assert pkgs["pkg:npm/loose-envify@1.4.0"].depends_on == ("js-tokens",)


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("/app/package-lock.json", b'{"packages": ', "not valid JSON"),
        ("/app/package-lock.json", b'["a"]', "JSON object"),
        ("/app/pnpm-lock.yaml", b"packages: [unclosed\n", "malformed YAML"),
        ("/app/pnpm-lock.yaml", b"- a\n- b\n", "YAML mapping"),
        ("/app/yarn.lock", b'__metadata:\n  version: 6\n"a@npm:1": [\n', "malformed YAML"),
        ("/app/pnpm-lock.yaml", b"a: &x {b: 1}\nc: *x\n", "aliases"),
    ],
)
def test_malformed_lock_files(path: str, data: bytes, message: str) -> None:
    with pytest.raises(AnalyzerError, match=message) as info:
        analyze_bytes(NpmLockAnalyzer(), path, data)
    assert "\n" not in str(info.value)


def test_oversized_lock_refused_before_reading() -> None:
    def boom() -> bytes:
        raise AssertionError("must not read")

    path = "/app/yarn.lock"
    with pytest.raises(AnalyzerError, match="limit"):
        NpmLockAnalyzer().analyze(AnalysisInput(path, FileInfo(path, (64 << 20) + 1), boom))


def test_empty_pnpm_lock() -> None:
    assert analyze_bytes(NpmLockAnalyzer(), "/app/pnpm-lock.yaml", b"").empty


# --- installed package.json ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "installed"),
    [
        ("/app/node_modules/lodash/package.json", True),
        ("/app/node_modules/@babel/core/package.json", True),
        ("/app/node_modules/a/node_modules/b/package.json", True),
        ("/app/node_modules/lodash/lib/package.json", False),
        ("/app/node_modules/@babel/package.json", False),
        ("/app/package.json", False),
        ("/node_modules/package.json", False),
    ],
)
def test_installed_manifest_positions(path: str, installed: bool) -> None:
    assert is_installed_manifest(path) is installed
    assert NpmInstalledAnalyzer(node_modules_only=True).required(path, FileInfo(path, 10)) is installed
    assert NpmInstalledAnalyzer().required(path, FileInfo(path, 10))  # syft reads every package.json


def test_installed_package_with_string_license() -> None:
    result = analyze_fixture(
        NpmInstalledAnalyzer(), "installed/node_modules/lodash/package.json", "/app/node_modules/lodash/package.json"
    )
    (pkg,) = result.packages
    assert (pkg.name, pkg.version, pkg.purl) == ("lodash", "4.17.21", "pkg:npm/lodash@4.17.21")
    assert pkg.licenses == ("MIT",)
    assert pkg.depends_on == ()
    assert pkg.found_by == "javascript-installed"
    assert dict(pkg.metadata) == {}


def test_installed_scoped_package_with_object_license() -> None:
    path = "/usr/lib/node_modules/@babel/core/package.json"
    (pkg,) = analyze_fixture(NpmInstalledAnalyzer(), "installed/node_modules/@babel/core/package.json", path).packages
    assert pkg.purl == "pkg:npm/%40babel/core@7.22.9"
    assert pkg.licenses == ("MIT",)
    assert pkg.depends_on == ("@babel/code-frame", "semver", "fsevents")  # devDependencies are not
    assert pkg.locations[0].path == path


def test_installed_legacy_licenses_array() -> None:
    path = "/app/node_modules/legacy/package.json"
    (pkg,) = analyze_fixture(NpmInstalledAnalyzer(), "installed/node_modules/legacy/package.json", path).packages
    assert pkg.licenses == ("MIT", "Apache-2.0")


def test_manifests_without_name_or_version_are_skipped() -> None:
    analyzer = NpmInstalledAnalyzer()
    path = "/app/node_modules/nover/package.json"
    assert analyze_fixture(analyzer, "installed/node_modules/nover/package.json", path).empty
    path = "/app/node_modules/lodash/lib/package.json"
    assert analyze_fixture(analyzer, "installed/node_modules/lodash/lib/package.json", path).empty
    assert analyze_bytes(analyzer, "/a/node_modules/x/package.json", b'{"name": "x", "version": 1}').empty


def test_application_manifest_is_listed_like_syft_and_marked() -> None:
    (pkg,) = analyze_fixture(NpmInstalledAnalyzer(), "installed/app/package.json", "/srv/app/package.json").packages
    assert pkg.purl == "pkg:npm/my-app@1.0.0"
    assert dict(pkg.metadata) == {"outside_node_modules": "true", "private": "true"}
    assert pkg.depends_on == ("lodash",)


def test_malformed_manifest() -> None:
    with pytest.raises(AnalyzerError, match="not valid JSON"):
        analyze_bytes(NpmInstalledAnalyzer(), "/a/node_modules/x/package.json", b'{"name": "x",')


def test_manifest_with_bom() -> None:
    data = b'\xef\xbb\xbf{"name": "bom", "version": "1.0.0"}'
    (pkg,) = analyze_bytes(NpmInstalledAnalyzer(), "/a/node_modules/bom/package.json", data).packages
    assert pkg.purl == "pkg:npm/bom@1.0.0"


def test_registered_as_builtins() -> None:
    from shieldwall.analyze.base import Analyzer
    from shieldwall.analyze.registry import builtin_factories

    factories = builtin_factories()
    for cls in (NpmLockAnalyzer, NpmInstalledAnalyzer):
        assert cls in factories
        assert isinstance(cls(), Analyzer)
