"""composer.lock and vendor/composer/installed.json catalogers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.lang.php import (
    ComposerInstalledAnalyzer,
    ComposerLockAnalyzer,
    composer_purl,
    is_platform_package,
)
from shieldwall.model import Package, PackageType

FIXTURES = Path(__file__).parents[3] / "fixtures" / "lang" / "php"


def run(analyzer: ComposerLockAnalyzer | ComposerInstalledAnalyzer, path: str, data: bytes) -> AnalysisResult:
    return analyzer.analyze(AnalysisInput(path, FileInfo(path, len(data)), lambda: data))


def by_name(result: AnalysisResult) -> dict[str, Package]:
    return {p.name: p for p in result.packages}


def lock(include_dev: bool = True) -> AnalysisResult:
    data = (FIXTURES / "composer.lock").read_bytes()
    return run(ComposerLockAnalyzer(include_dev=include_dev), "/app/composer.lock", data)


# --- composer.lock ------------------------------------------------------------------------------


def test_lock_purls_keep_leading_v() -> None:
    assert sorted(p.purl for p in lock().packages) == [
        "pkg:composer/guzzlehttp/guzzle@7.8.1",
        "pkg:composer/guzzlehttp/promises@2.0.2",
        "pkg:composer/phpunit/phpunit@10.5.3",
        "pkg:composer/psr/http-client@1.0.3",
        "pkg:composer/symfony/console@v6.4.1",
        "pkg:composer/symfony/polyfill-mbstring@v1.28.0",
    ]
    console = by_name(lock())["symfony/console"]
    assert console.version == "v6.4.1"
    assert console.type is PackageType.COMPOSER


def test_lock_requires_exclude_platform_packages() -> None:
    names = by_name(lock())
    assert names["guzzlehttp/guzzle"].depends_on == ("guzzlehttp/promises", "psr/http-client")
    assert names["psr/http-client"].depends_on == ()  # php, lib-pcre, composer-plugin-api
    assert names["phpunit/phpunit"].depends_on == ("sebastian/diff",)
    assert names["symfony/console"].depends_on == ("symfony/polyfill-mbstring",)


def test_lock_licences_as_list_or_string() -> None:
    names = by_name(lock())
    assert names["symfony/console"].licenses == ("MIT", "Apache-2.0")
    assert names["symfony/polyfill-mbstring"].licenses == ("MIT",)


def test_lock_dev_packages_are_marked_and_can_be_excluded() -> None:
    names = by_name(lock())
    assert dict(names["phpunit/phpunit"].metadata)["dev"] == "true"
    assert "dev" not in dict(names["guzzlehttp/guzzle"].metadata)
    assert "phpunit/phpunit" not in by_name(lock(include_dev=False))
    assert len(lock(include_dev=False).packages) == 5


def test_lock_metadata_and_location() -> None:
    guzzle = by_name(lock())["guzzlehttp/guzzle"]
    meta = dict(guzzle.metadata)
    assert meta["type"] == "library"
    assert meta["source_reference"] == "41042bc7ab002487b876a0683fc8dce04ddce104"
    assert guzzle.found_by == "php-composer-lock"
    assert guzzle.locations[0].path == "/app/composer.lock"


def test_lock_bad_entries_are_warnings() -> None:
    doc = {
        "packages": [
            "not-an-object",
            {"name": "acme/no-version"},
            {"name": 42, "version": "1.0"},
            {"name": "acme/ok", "version": "1.0.0", "require": ["not", "a", "map"], "license": 7},
        ],
        "packages-dev": None,
    }
    result = run(ComposerLockAnalyzer(), "/composer.lock", json.dumps(doc).encode())
    assert [p.purl for p in result.packages] == ["pkg:composer/acme/ok@1.0.0"]
    assert result.packages[0].depends_on == () and result.packages[0].licenses == ()
    assert len(result.warnings) == 3


def test_lock_without_packages_is_empty() -> None:
    assert run(ComposerLockAnalyzer(), "/composer.lock", b'{"packages": [], "packages-dev": []}') is EMPTY


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"packages": [', "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"packages": {"a": 1}}', "not a list"),
        (b"\xff\xfe\x00garbage", "JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON"),
    ],
)
def test_lock_malformed_is_one_line_error(data: bytes, message: str) -> None:
    with pytest.raises(AnalyzerError, match=message) as err:
        run(ComposerLockAnalyzer(), "/composer.lock", data)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "platform"),
    [
        ("php", True),
        ("php-64bit", True),
        ("ext-json", True),
        ("ext-mongodb", True),
        ("lib-pcre", True),
        ("composer-plugin-api", True),
        ("composer-runtime-api", True),
        ("composer/composer", False),
        ("phpunit/phpunit", False),
        ("psr/log", False),
    ],
)
def test_platform_packages(name: str, platform: bool) -> None:
    assert is_platform_package(name) is platform


def test_composer_purl_shapes() -> None:
    assert composer_purl("psr/log", "1.1.4") == "pkg:composer/psr/log@1.1.4"
    assert composer_purl("standalone", "1.0") == "pkg:composer/standalone@1.0"
    assert composer_purl("a/b/c", "2.0") == "pkg:composer/a/b-c@2.0"  # as syft joins extra parts


# --- installed.json -----------------------------------------------------------------------------


def test_installed_v1_list_format() -> None:
    data = (FIXTURES / "v1" / "installed.json").read_bytes()
    result = run(ComposerInstalledAnalyzer(), "/app/vendor/composer/installed.json", data)
    assert [p.purl for p in result.packages] == [
        "pkg:composer/monolog/monolog@1.27.1",
        "pkg:composer/psr/log@1.1.4",
    ]
    monolog = result.packages[0]
    assert monolog.depends_on == ("psr/log",)
    assert monolog.found_by == "php-composer-installed"


def test_installed_v2_object_format_marks_dev_packages() -> None:
    data = (FIXTURES / "v2" / "installed.json").read_bytes()
    result = run(ComposerInstalledAnalyzer(), "/app/vendor/composer/installed.json", data)
    assert [p.purl for p in result.packages] == [
        "pkg:composer/doctrine/instantiator@2.0.0",
        "pkg:composer/laminas/laminas-diactoros@3.3.0",
        "pkg:composer/psr/http-message@2.0",
    ]
    names = by_name(result)
    assert dict(names["doctrine/instantiator"].metadata)["dev"] == "true"
    assert "dev" not in dict(names["psr/http-message"].metadata)
    assert names["laminas/laminas-diactoros"].depends_on == ("psr/http-factory", "psr/http-message")
    assert names["laminas/laminas-diactoros"].licenses == ("BSD-3-Clause",)


@pytest.mark.parametrize("data", [b"[]", b'{"packages": [], "dev": false, "dev-package-names": []}'])
def test_installed_empty(data: bytes) -> None:
    assert run(ComposerInstalledAnalyzer(), "/v/composer/installed.json", data) is EMPTY


@pytest.mark.parametrize("data", [b'"just a string"', b"42", b'{"packages": "nope"}', b"{not json"])
def test_installed_malformed(data: bytes) -> None:
    with pytest.raises(AnalyzerError) as err:
        run(ComposerInstalledAnalyzer(), "/v/composer/installed.json", data)
    assert "\n" not in str(err.value)


def test_size_is_bounded() -> None:
    info = FileInfo("/composer.lock", 1 << 40)
    with pytest.raises(AnalyzerError, match="limit"):
        ComposerLockAnalyzer().analyze(AnalysisInput("/composer.lock", info, lambda: b"{}"))


@pytest.mark.parametrize(
    ("analyzer", "path", "wanted"),
    [
        (ComposerLockAnalyzer(), "/app/composer.lock", True),
        (ComposerLockAnalyzer(), "/app/composer.json", False),
        (ComposerInstalledAnalyzer(), "/app/vendor/composer/installed.json", True),
        (ComposerInstalledAnalyzer(), "/srv/lib/composer/installed.json", True),
        (ComposerInstalledAnalyzer(), "/app/installed.json", False),
        (ComposerInstalledAnalyzer(), "/app/vendor/composer/installed.php", False),
    ],
)
def test_required(analyzer: ComposerLockAnalyzer | ComposerInstalledAnalyzer, path: str, wanted: bool) -> None:
    assert analyzer.required(path, FileInfo(path, 10)) is wanted


def test_registered_as_builtins() -> None:
    from shieldwall.analyze.base import Analyzer
    from shieldwall.analyze.registry import builtin_factories

    factories = builtin_factories()
    for cls in (ComposerLockAnalyzer, ComposerInstalledAnalyzer):
        assert cls in factories
        assert isinstance(cls(), Analyzer)
