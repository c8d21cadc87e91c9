"""Gemfile.lock and installed gemspec catalogers."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.lang.ruby import (
    GemfileLockAnalyzer,
    GemspecAnalyzer,
    parse_gemspec,
    split_platform,
)
from shieldwall.model import Package, PackageType

FIXTURES = Path(__file__).parents[3] / "fixtures" / "lang" / "ruby"


def run(analyzer: GemfileLockAnalyzer | GemspecAnalyzer, path: str, data: bytes) -> AnalysisResult:
    return analyzer.analyze(AnalysisInput(path, FileInfo(path, len(data)), lambda: data))


def by_name(result: AnalysisResult) -> dict[str, Package]:
    return {p.name: p for p in result.packages}


@pytest.fixture(scope="module")
def lock_result() -> AnalysisResult:
    data = (FIXTURES / "Gemfile.lock").read_bytes()
    return run(GemfileLockAnalyzer(), "/app/Gemfile.lock", data)


# --- Gemfile.lock -------------------------------------------------------------------------------


def test_lock_purls_cover_gem_git_and_path_sections(lock_result: AnalysisResult) -> None:
    assert sorted(p.purl for p in lock_result.packages) == [
        "pkg:gem/coffee-rails@5.0.0",
        "pkg:gem/mini_portile2@2.8.5",
        "pkg:gem/nokogiri@1.16.0",
        "pkg:gem/racc@1.7.3",
        "pkg:gem/rack@3.0.8",
        "pkg:gem/railties@7.1.2",
        "pkg:gem/shieldwall-demo@0.1.0",
        "pkg:gem/thor@1.3.0",
        "pkg:gem/treetop@1.6.12",
        "pkg:gem/turbo-widgets@3.0.0",
    ]
    assert lock_result.warnings == ()


def test_lock_ignores_unknown_and_checksum_sections(lock_result: AnalysisResult) -> None:
    names = by_name(lock_result)
    assert "not-a-gem" not in names
    assert "checksum-only" not in names


def test_platform_variants_merge_into_one_package(lock_result: AnalysisResult) -> None:
    nokogiri = [p for p in lock_result.packages if p.name == "nokogiri"]
    assert len(nokogiri) == 1
    pkg = nokogiri[0]
    assert pkg.version == "1.16.0"
    assert dict(pkg.metadata)["platforms"] == "arm64-darwin,x86_64-linux"
    assert pkg.depends_on == ("mini_portile2", "racc")


def test_lock_dependencies_are_six_space_lines(lock_result: AnalysisResult) -> None:
    names = by_name(lock_result)
    assert names["railties"].depends_on == ("rack", "thor")
    assert names["treetop"].depends_on == ("polyglot",)  # listed twice, kept once
    assert names["racc"].depends_on == ()
    assert names["shieldwall-demo"].depends_on == ("rack",)


def test_lock_records_source_sections(lock_result: AnalysisResult) -> None:
    names = by_name(lock_result)
    git = dict(names["turbo-widgets"].metadata)
    assert git["source"] == "git"
    assert git["remote"] == "https://github.com/example/turbo-widgets.git"
    assert git["revision"] == "4f2c9d1e0b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d"
    path = dict(names["shieldwall-demo"].metadata)
    assert path == {"source": "path", "remote": "."}
    assert dict(names["rack"].metadata)["source"] == "gem"


def test_lock_package_fields(lock_result: AnalysisResult) -> None:
    rack = by_name(lock_result)["rack"]
    assert rack.type is PackageType.GEM
    assert rack.found_by == "ruby-gemfile-lock"
    assert rack.locations[0].path == "/app/Gemfile.lock"
    assert rack.locations[0].line == 29


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.16.0", ("1.16.0", "")),
        ("1.16.0-x86_64-linux", ("1.16.0", "x86_64-linux")),
        ("0.3.2-java", ("0.3.2", "java")),
        ("3.5.1-arm64-darwin-22", ("3.5.1", "arm64-darwin-22")),
        ("2.0.0.pre.1", ("2.0.0.pre.1", "")),
    ],
)
def test_split_platform(version: str, expected: tuple[str, str]) -> None:
    assert split_platform(version) == expected


def test_lock_with_only_platform_gem_strips_suffix_from_purl() -> None:
    data = b"GEM\n  remote: https://rubygems.org/\n  specs:\n    grpc (1.60.0-x86_64-linux)\n"
    (pkg,) = run(GemfileLockAnalyzer(), "/Gemfile.lock", data).packages
    assert (pkg.version, pkg.purl) == ("1.60.0", "pkg:gem/grpc@1.60.0")
    assert dict(pkg.metadata)["platforms"] == "x86_64-linux"


def test_lock_with_crlf_line_endings() -> None:
    data = b"GEM\r\n  specs:\r\n    rake (13.1.0)\r\n    rspec (3.12.0)\r\n      rake\r\n"
    names = by_name(run(GemfileLockAnalyzer(), "/Gemfile.lock", data))
    assert sorted(names) == ["rake", "rspec"]
    assert names["rspec"].depends_on == ("rake",)


def test_lock_malformed_spec_line_is_a_warning_not_a_failure() -> None:
    data = b"GEM\n  specs:\n    rake 13.1.0\n      ignored-dep\n    rspec (3.12.0)\n"
    result = run(GemfileLockAnalyzer(), "/Gemfile.lock", data)
    assert [p.name for p in result.packages] == ["rspec"]
    assert result.packages[0].depends_on == ()
    assert len(result.warnings) == 1 and "line 3" in result.warnings[0]


def test_empty_lock_is_empty() -> None:
    assert run(GemfileLockAnalyzer(), "/Gemfile.lock", b"") is EMPTY
    assert run(GemfileLockAnalyzer(), "/Gemfile.lock", b"GEM\n  specs:\n\nPLATFORMS\n  ruby\n") is EMPTY


@pytest.mark.parametrize(
    "data",
    [
        b"<html><body>Not Found</body></html>\n",
        b"\x7fELF\x02\x01\x01\x00\x00\x00GEM\n",
    ],
)
def test_lock_garbage_is_an_analyzer_error(data: bytes) -> None:
    with pytest.raises(AnalyzerError) as err:
        run(GemfileLockAnalyzer(), "/Gemfile.lock", data)
    assert "\n" not in str(err.value)


def test_lock_size_is_bounded_before_reading() -> None:
    def explode() -> bytes:
        raise AssertionError("an oversized file must not be read")

    info = FileInfo("/Gemfile.lock", 1 << 30)
    with pytest.raises(AnalyzerError, match="limit"):
        GemfileLockAnalyzer().analyze(AnalysisInput("/Gemfile.lock", info, explode))


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/app/Gemfile.lock", True),
        ("/srv/gems.locked", True),
        ("/app/Gemfile", False),
        ("/app/Gemfile.lock.orig", False),
        ("/app/gemfile.lock", False),
    ],
)
def test_lock_required(path: str, wanted: bool) -> None:
    assert GemfileLockAnalyzer().required(path, FileInfo(path, 10)) is wanted


# --- gemspec ------------------------------------------------------------------------------------


def spec_result(filename: str) -> AnalysisResult:
    data = (FIXTURES / "specifications" / filename).read_bytes()
    return run(GemspecAnalyzer(), f"/usr/local/bundle/specifications/{filename}", data)


def test_modern_gemspec_with_freeze_and_platform() -> None:
    (pkg,) = spec_result("nokogiri-1.16.0-x86_64-linux.gemspec").packages
    assert (pkg.name, pkg.version, pkg.purl) == ("nokogiri", "1.16.0", "pkg:gem/nokogiri@1.16.0")
    assert pkg.licenses == ("MIT",)
    assert pkg.depends_on == ("racc",)
    assert dict(pkg.metadata) == {"platform": "x86_64-linux"}
    assert pkg.found_by == "ruby-gemspec"
    assert pkg.locations[0].path.endswith("nokogiri-1.16.0-x86_64-linux.gemspec")


def test_old_gemspec_with_percent_q_and_legacy_else_branch() -> None:
    (pkg,) = spec_result("rake-0.8.7.gemspec").packages
    assert (pkg.name, pkg.version) == ("rake", "0.8.7")
    assert pkg.licenses == ()
    # minitest is a development dependency; the legacy else branch repeats it as add_dependency
    assert pkg.depends_on == ("rubyforge",)


def test_gemspec_with_gem_version_new_and_singular_license() -> None:
    (pkg,) = spec_result("bundler-2.4.10.gemspec").packages
    assert (pkg.name, pkg.version, pkg.purl) == ("bundler", "2.4.10", "pkg:gem/bundler@2.4.10")
    assert pkg.licenses == ("MIT",)
    assert pkg.depends_on == ("thor",)
    assert pkg.metadata == ()  # platform "ruby" is the default, not recorded


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('  s.licenses = ["MIT".freeze, "Ruby".freeze]', ("MIT", "Ruby")),
        ('  s.licenses = ["Apache-2.0".freeze,\n    "BSD-2-Clause".freeze]', ("Apache-2.0", "BSD-2-Clause")),
        ("  s.licenses = %w[MIT GPL-2.0]", ("MIT", "GPL-2.0")),
        ("  s.license = 'BSD-3-Clause'", ("BSD-3-Clause",)),
        ("  s.licenses = []", ()),
    ],
)
def test_gemspec_license_forms(line: str, expected: tuple[str, ...]) -> None:
    text = f's.name = "x".freeze\ns.version = "1.0".freeze\n{line}\n'
    assert parse_gemspec(text).licenses == expected


def test_gemspec_never_confuses_other_version_fields() -> None:
    text = (
        's.required_ruby_version = Gem::Requirement.new(">= 2.7".freeze)\n'
        's.rubygems_version = "3.4.1".freeze\n'
        's.name = "demo".freeze\n'
        's.version = "0.4.2".freeze\n'
    )
    spec = parse_gemspec(text)
    assert (spec.name, spec.version) == ("demo", "0.4.2")


@pytest.mark.parametrize(
    "text",
    [
        's.name = "demo"\ns.version = Demo::VERSION\n',
        's.version = "1.0"\n',
        "",
    ],
)
def test_gemspec_without_literal_name_or_version_is_an_error(text: str) -> None:
    with pytest.raises(AnalyzerError, match="no literal") as err:
        run(GemspecAnalyzer(), "/specifications/demo.gemspec", text.encode())
    assert "\n" not in str(err.value)


def test_gemspec_binary_is_an_error() -> None:
    with pytest.raises(AnalyzerError):
        run(GemspecAnalyzer(), "/specifications/demo.gemspec", b"\x00\x01s.name = 'x'")


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/usr/local/bundle/specifications/rack-3.0.8.gemspec", True),
        ("/usr/lib/ruby/gems/3.2.0/specifications/default/json-2.6.3.gemspec", True),
        ("/specifications/x.gemspec", True),
        ("/src/app/demo.gemspec", False),
        ("/usr/local/bundle/specifications/rack-3.0.8.gemspec.bak", False),
    ],
)
def test_gemspec_required(path: str, wanted: bool) -> None:
    assert GemspecAnalyzer().required(path, FileInfo(path, 10)) is wanted


def test_registered_as_builtins() -> None:
    from shieldwall.analyze.base import Analyzer
    from shieldwall.analyze.registry import builtin_factories

    factories = builtin_factories()
    for cls in (GemfileLockAnalyzer, GemspecAnalyzer):
        assert cls in factories
        assert isinstance(cls(), Analyzer)
