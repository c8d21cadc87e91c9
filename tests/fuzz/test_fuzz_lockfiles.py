"""Fuzz the language catalogers' lock-file parsers through their analyzers' ``analyze()``.

Seeds are the committed fixtures; JSON and YAML seeds are mutated structurally
(fields dropped or replaced by any type), every seed also line- and byte-wise.
The only acceptable failures are ``AnalyzerError`` (a warning for that file)
and ``FileTooLargeError`` (the same, for a file above a limit).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.fuzzkit import FUZZ, deep, junk_lines, mutated, mutated_bytes
from shieldwall.analyze.base import AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.lang.dotnet import DotnetDepsAnalyzer, NugetLockAnalyzer
from shieldwall.analyze.lang.golang import GoModAnalyzer
from shieldwall.analyze.lang.java import JavaBuildAnalyzer
from shieldwall.analyze.lang.javascript import NpmLockAnalyzer
from shieldwall.analyze.lang.php import ComposerLockAnalyzer
from shieldwall.analyze.lang.python import PythonLockAnalyzer
from shieldwall.analyze.lang.ruby import GemfileLockAnalyzer
from shieldwall.analyze.lang.rust import CargoLockAnalyzer
from shieldwall.errors import FileTooLargeError

pytestmark = pytest.mark.slow  # bounded (150 examples per property) and run by `make test`

LANG = Path(__file__).parents[1] / "fixtures" / "lang"

Analyzer = Callable[[], Any]
# (fixture, path inside the target, analyzer factory)
SEEDS: list[tuple[str, str, Analyzer]] = [
    ("javascript/npm-v1/package-lock.json", "/app/package-lock.json", NpmLockAnalyzer),
    ("javascript/npm-v3/package-lock.json", "/app/package-lock.json", NpmLockAnalyzer),
    ("javascript/yarn-classic/yarn.lock", "/app/yarn.lock", NpmLockAnalyzer),
    ("javascript/yarn-berry/yarn.lock", "/app/yarn.lock", NpmLockAnalyzer),
    ("javascript/pnpm-v5/pnpm-lock.yaml", "/app/pnpm-lock.yaml", NpmLockAnalyzer),
    ("javascript/pnpm-v6/pnpm-lock.yaml", "/app/pnpm-lock.yaml", NpmLockAnalyzer),
    ("javascript/pnpm-v9/pnpm-lock.yaml", "/app/pnpm-lock.yaml", NpmLockAnalyzer),
    ("python/poetry.lock", "/app/poetry.lock", PythonLockAnalyzer),
    ("python/Pipfile.lock", "/app/Pipfile.lock", PythonLockAnalyzer),
    ("python/uv.lock", "/app/uv.lock", PythonLockAnalyzer),
    ("python/requirements.txt", "/app/requirements.txt", PythonLockAnalyzer),
    ("go/go.mod", "/app/go.mod", GoModAnalyzer),
    ("rust/Cargo.lock", "/app/Cargo.lock", CargoLockAnalyzer),
    ("php/composer.lock", "/app/composer.lock", ComposerLockAnalyzer),
    ("ruby/Gemfile.lock", "/app/Gemfile.lock", GemfileLockAnalyzer),
    ("dotnet/packages.lock.json", "/app/packages.lock.json", NugetLockAnalyzer),
    ("dotnet/MyApp.deps.json", "/app/MyApp.deps.json", DotnetDepsAnalyzer),
    ("java/pom.xml", "/app/pom.xml", JavaBuildAnalyzer),
    ("java/gradle.lockfile", "/app/gradle.lockfile", JavaBuildAnalyzer),
]
TEXT = {fixture: (LANG / fixture).read_text() for fixture, _, _ in SEEDS}
BY_PATH = {fixture: (path, factory) for fixture, path, factory in SEEDS}
JSON_SEEDS = sorted(f for f in TEXT if f.endswith(".json"))
YAML_SEEDS = sorted(f for f in TEXT if f.endswith(".yaml"))


def analyze(fixture: str, data: bytes) -> AnalysisResult | None:
    """Run the fixture's analyzer on ``data``; ``None`` when it refused the file the documented way."""
    path, factory = BY_PATH[fixture]
    analyzer = factory()
    info = FileInfo(path, len(data))
    if not analyzer.required(path, info):
        return None
    try:
        result: AnalysisResult = analyzer.analyze(AnalysisInput(path, info, lambda: data))
    except (AnalyzerError, FileTooLargeError):
        return None
    assert all(p.name is not None for p in result.packages)
    return result


def test_seeds_yield_packages() -> None:
    """Every seed is parsed into at least one package (so mutations start from working input)."""
    for fixture in TEXT:
        result = analyze(fixture, TEXT[fixture].encode())
        assert result is not None and result.packages, fixture


def _dumps(doc: Any) -> bytes:
    try:
        return json.dumps(doc).encode()
    except (ValueError, RecursionError):
        return b"{}"


@FUZZ
@given(st.sampled_from(JSON_SEEDS).flatmap(lambda f: st.tuples(st.just(f), mutated(json.loads(TEXT[f]), budget=4))))
@example(("javascript/npm-v3/package-lock.json", {"lockfileVersion": 3, "packages": []}))
@example(("javascript/npm-v1/package-lock.json", {"lockfileVersion": "1", "dependencies": {"a": {"version": 5}}}))
@example(("python/Pipfile.lock", {"default": {"a": {"version": ["==1"]}}}))
@example(("php/composer.lock", {"packages": [{"name": {}, "version": 1}]}))
def test_json_lock_files(case: tuple[str, Any]) -> None:
    """package-lock.json, Pipfile.lock, composer.lock, NuGet lock and deps.json with wrong types and missing keys."""
    fixture, doc = case
    analyze(fixture, _dumps(doc))


@FUZZ
@given(st.sampled_from(YAML_SEEDS).flatmap(lambda f: st.tuples(st.just(f), mutated(yaml.safe_load(TEXT[f]), budget=4))))
@example(("javascript/pnpm-v9/pnpm-lock.yaml", {"lockfileVersion": 9.0, "packages": [1, 2]}))
@example(("javascript/pnpm-v6/pnpm-lock.yaml", {"lockfileVersion": {}, "packages": {"/a/1": None}}))
def test_yaml_lock_files(case: tuple[str, Any]) -> None:
    """pnpm-lock.yaml (v5, v6, v9) with wrong types and missing keys."""
    fixture, doc = case
    try:
        text = yaml.safe_dump(doc)
    except (yaml.YAMLError, RecursionError):
        return
    analyze(fixture, text.encode())


@FUZZ
@given(st.sampled_from(sorted(TEXT)).flatmap(lambda f: st.tuples(st.just(f), junk_lines(TEXT[f]))))
def test_lock_files_junk_lines(case: tuple[str, str]) -> None:
    """Every lock file with lines dropped, cut, duplicated or replaced by junk."""
    fixture, text = case
    analyze(fixture, text.encode())


@FUZZ
@given(st.sampled_from(sorted(TEXT)).flatmap(lambda f: st.tuples(st.just(f), mutated_bytes(TEXT[f].encode()))))
def test_lock_files_byte_flips(case: tuple[str, bytes]) -> None:
    """Every lock file with bytes flipped, cut or inserted (invalid UTF-8 included)."""
    fixture, data = case
    analyze(fixture, data)


def test_deep_nesting() -> None:
    """Documents nested 100,000 deep in each structured format."""
    nested = deep(100_000)
    for fixture in TEXT:
        analyze(fixture, nested)
        analyze(fixture, b"a:\n  " + b"[" * 100_000 + b"\n")
        analyze(fixture, b"a = " + b"[" * 100_000 + b"\n")
        analyze(fixture, b"<project>" + b"<a>" * 100_000)


def test_regression_cargo_lock_deep_toml_is_a_warning() -> None:
    """Found by this harness: a Cargo.lock nested deeper than tomllib's recursion crashed the analyzer."""
    data = b"a = " + b"[" * 100_000 + b"\n"
    analyzer = CargoLockAnalyzer()
    try:
        analyzer.analyze(AnalysisInput("/app/Cargo.lock", FileInfo("/app/Cargo.lock", len(data)), lambda: data))
    except AnalyzerError as exc:
        assert "not valid TOML" in str(exc)
    else:
        raise AssertionError("a 100,000-deep TOML array was accepted")


def test_regression_go_mod_path_without_last_element_is_a_warning() -> None:
    """Found by this harness: ``require g/ v1.0.0`` crashed the go.mod analyzer in packageurl (empty name).

    The bad requirement is a warning naming its line; the other requirements are still listed.
    """
    data = b"module example.com/app\n\ngo 1.21\n\nrequire (\n\tg/ v1.0.0\n\texample.com/ok v1.2.3\n)\n"
    result = GoModAnalyzer().analyze(AnalysisInput("/app/go.mod", FileInfo("/app/go.mod", len(data)), lambda: data))
    assert [p.purl for p in result.packages] == ["pkg:golang/example.com/ok@v1.2.3"]
    assert any("'g/' is not a module path" in w for w in result.warnings)
