"""Python catalogers: installed dist-info/egg-info metadata and lock files."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.analyze.base import AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.lang.python import (
    PythonInstalledAnalyzer,
    PythonLockAnalyzer,
    classifier_licenses,
    parse_requirements,
    pypi_purl,
)
from shieldwall.model import Package, PackageType

FIXTURES = Path(__file__).parents[3] / "fixtures" / "lang" / "python"


def analyze_bytes(analyzer: PythonInstalledAnalyzer | PythonLockAnalyzer, path: str, data: bytes) -> AnalysisResult:
    return analyzer.analyze(AnalysisInput(path, FileInfo(path, len(data)), lambda: data))


def analyze_fixture(
    analyzer: PythonInstalledAnalyzer | PythonLockAnalyzer, fixture: str, path: str | None = None
) -> AnalysisResult:
    data = (FIXTURES / fixture).read_bytes()
    return analyze_bytes(analyzer, path or "/usr/lib/python3/" + fixture, data)


def by_name(result: AnalysisResult) -> dict[str, Package]:
    return {p.name: p for p in result.packages}


# --- installed -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA", True),
        ("/usr/lib/python3.11/site-packages/FOO-1.0.DIST-INFO/METADATA", True),
        ("/usr/lib/python3.11/site-packages/six-1.16.0.egg-info/PKG-INFO", True),
        ("/usr/lib/python3/dist-packages/python_apt-2.4.0.egg-info", True),
        ("/opt/eggs/foo-1.0-py3.11.egg/EGG-INFO/PKG-INFO", True),
        ("/usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/RECORD", False),
        ("/src/project/PKG-INFO", False),
        ("/src/project/METADATA", False),
    ],
)
def test_installed_required(path: str, wanted: bool) -> None:
    assert PythonInstalledAnalyzer().required(path, FileInfo(path, 10)) is wanted


def test_dist_info_package_and_purl() -> None:
    result = analyze_fixture(PythonInstalledAnalyzer(), "site-packages/requests-2.31.0.dist-info/METADATA")
    (pkg,) = result.packages
    assert (pkg.type, pkg.name, pkg.version) == (PackageType.PYPI, "requests", "2.31.0")
    assert pkg.purl == "pkg:pypi/requests@2.31.0"
    assert pkg.licenses == ("Apache 2.0",)
    assert pkg.found_by == "python-installed"
    assert pkg.locations[0].path.endswith("requests-2.31.0.dist-info/METADATA")
    # extra-only requirements (PySocks, chardet, win-inet-pton) are not dependencies
    assert pkg.depends_on == ("charset-normalizer", "idna", "urllib3", "certifi")
    assert dict(pkg.metadata) == {"format": "dist-info"}


def test_purl_name_normalised_as_the_purl_spec_says() -> None:
    result = analyze_fixture(PythonInstalledAnalyzer(), "site-packages/typing_extensions-4.9.0.dist-info/METADATA")
    (pkg,) = result.packages
    assert pkg.name == "typing_extensions"
    assert pkg.purl == "pkg:pypi/typing-extensions@4.9.0"
    assert pkg.licenses == ("PSF-2.0",)  # from the classifier only
    assert pkg.depends_on == ("importlib-metadata",)  # a python_version marker is not an extra
    assert pypi_purl("Zope.Interface", "6.0") == "pkg:pypi/zope.interface@6.0"


def test_license_expression_wins() -> None:
    (pkg,) = analyze_fixture(PythonInstalledAnalyzer(), "site-packages/attrs-23.1.0.dist-info/METADATA").packages
    assert pkg.licenses == ("MIT",)
    assert pkg.depends_on == ("importlib-metadata",)


def test_full_license_text_falls_back_to_classifiers() -> None:
    (pkg,) = analyze_fixture(PythonInstalledAnalyzer(), "site-packages/zope.interface-6.0.dist-info/METADATA").packages
    assert pkg.purl == "pkg:pypi/zope.interface@6.0"
    assert pkg.licenses == ("Zope Public License", "MIT")


def test_egg_info_directory_and_file() -> None:
    (six,) = analyze_fixture(PythonInstalledAnalyzer(), "site-packages/six-1.16.0.egg-info/PKG-INFO").packages
    assert (six.name, six.version, six.licenses) == ("six", "1.16.0", ("MIT",))
    assert dict(six.metadata) == {"format": "egg-info"}
    (apt,) = analyze_fixture(PythonInstalledAnalyzer(), "dist-packages/python_apt-2.4.0.egg-info").packages
    assert apt.purl == "pkg:pypi/python-apt@2.4.0"
    assert apt.licenses == ("GPL-2.0-or-later",)  # License: UNKNOWN is ignored


def test_interpreter_egg_info_is_not_a_package() -> None:
    assert analyze_fixture(PythonInstalledAnalyzer(), "dist-packages/Python-2.7.egg-info").empty


def test_metadata_without_name_warns() -> None:
    result = analyze_fixture(PythonInstalledAnalyzer(), "site-packages/broken.dist-info/METADATA")
    assert not result.packages
    assert len(result.warnings) == 1 and "Name" in result.warnings[0]


def test_binary_garbage_is_not_a_crash() -> None:
    result = analyze_bytes(PythonInstalledAnalyzer(), "/x/a.dist-info/METADATA", b"\xff\xfe\x00garbage\n\n")
    assert not result.packages


def test_oversized_metadata_refused() -> None:
    path = "/x/a.dist-info/METADATA"
    analyzer = PythonInstalledAnalyzer()
    with pytest.raises(AnalyzerError, match="limit"):
        analyzer.analyze(AnalysisInput(path, FileInfo(path, 1 << 40), lambda: b"Name: a\n"))


def test_classifier_mapping() -> None:
    assert classifier_licenses(
        [
            "License :: OSI Approved :: BSD License",
            "License :: OSI Approved",
            "License :: Other/Proprietary License",
            "Programming Language :: Python",
            "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)",
        ]
    ) == ["BSD License", "LGPL-3.0-or-later"]


# --- requirements ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/app/requirements.txt", True),
        ("/app/requirements-dev.txt", True),
        ("/app/dev-requirements.txt", True),
        ("/app/requirements/base.txt", True),
        ("/app/poetry.lock", True),
        ("/app/Pipfile.lock", True),
        ("/app/uv.lock", True),
        ("/app/script.py.lock", True),
        ("/app/requirements.in", False),
        ("/app/notes.txt", False),
        ("/app/Pipfile", False),
    ],
)
def test_lock_required(path: str, wanted: bool) -> None:
    assert PythonLockAnalyzer().required(path, FileInfo(path, 10)) is wanted


def test_requirements_only_exact_pins() -> None:
    result = analyze_fixture(PythonLockAnalyzer(), "requirements.txt", "/app/requirements.txt")
    got = {p.name: p.version for p in result.packages}
    assert got == {
        "Flask": "2.3.2",
        "requests": "2.31.0",
        "zope.interface": "6.0",
        "typing_extensions": "4.9.0",
        "certifi": "2023.7.22",
        "urllib3": "2.0.4",
    }
    pkgs = by_name(result)
    assert pkgs["Flask"].purl == "pkg:pypi/flask@2.3.2"
    assert pkgs["requests"].purl == "pkg:pypi/requests@2.31.0"
    assert dict(pkgs["requests"].metadata) == {"extras": "security,socks", "markers": 'python_version >= "3.7"'}
    assert pkgs["certifi"].locations[0].line == 11  # the first physical line of a continued requirement
    assert all(p.found_by == "python-lock" for p in result.packages)


def test_requirements_edge_lines() -> None:
    text = "foo==1.0 --config-settings=x=y\nbar==2.0;python_version<'3'\n\\\n\nbaz== 3.0\nqux==1.0,==1.0\n"
    pins = parse_requirements(text)
    assert [(r.name, r.version) for r in pins] == [("foo", "1.0"), ("bar", "2.0"), ("baz", "3.0")]
    assert pins[1].markers == 'python_version < "3"'


def test_requirements_in_requirements_dir() -> None:
    result = analyze_fixture(PythonLockAnalyzer(), "requirements/dev.txt", "/app/requirements/dev.txt")
    assert [p.purl for p in result.packages] == ["pkg:pypi/pytest@7.4.0"]


# --- poetry / Pipfile / uv -------------------------------------------------------------------


def test_poetry_lock() -> None:
    pkgs = by_name(analyze_fixture(PythonLockAnalyzer(), "poetry.lock", "/app/poetry.lock"))
    assert sorted(p.purl for p in pkgs.values()) == [
        "pkg:pypi/certifi@2023.7.22",
        "pkg:pypi/pysocks@1.7.1",
        "pkg:pypi/pytest@7.4.0",
        "pkg:pypi/requests@2.31.0",
    ]
    # optional (extra-only) PySocks is not a dependency; multi-constraint urllib3 is
    assert pkgs["requests"].depends_on == ("certifi", "idna", "urllib3")
    assert pkgs["pytest"].depends_on == ("colorama", "iniconfig")
    assert dict(pkgs["pytest"].metadata) == {"dev": "true"}
    assert dict(pkgs["requests"].metadata) == {}


def test_pipfile_lock_default_and_develop() -> None:
    pkgs = by_name(analyze_fixture(PythonLockAnalyzer(), "Pipfile.lock", "/app/Pipfile.lock"))
    assert {p.purl for p in pkgs.values()} == {
        "pkg:pypi/flask@2.3.2",
        "pkg:pypi/werkzeug@2.3.6",
        "pkg:pypi/pytest@7.4.0",
    }
    assert dict(pkgs["pytest"].metadata) == {"dev": "true"}
    # werkzeug is in both sections: reported once, as a runtime dependency
    assert "Werkzeug" not in pkgs and dict(pkgs["werkzeug"].metadata) == {}


def test_uv_lock_keeps_project_like_syft() -> None:
    pkgs = by_name(analyze_fixture(PythonLockAnalyzer(), "uv.lock", "/app/uv.lock"))
    assert set(pkgs) == {"certifi", "idna", "pysocks", "requests", "testpkg", "urllib3"}  # member has no version
    assert pkgs["requests"].depends_on == ("certifi", "idna", "urllib3")
    assert pkgs["testpkg"].depends_on == ("requests",)  # the extra-only pysocks is skipped
    assert dict(pkgs["testpkg"].metadata) == {"project": "true", "source": "virtual"}


def test_uv_lock_without_projects() -> None:
    pkgs = by_name(analyze_fixture(PythonLockAnalyzer(include_projects=False), "uv.lock", "/app/uv.lock"))
    assert "testpkg" not in pkgs and "requests" in pkgs


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/app/poetry.lock", b"[[package]\nname = 'x'"),
        ("/app/uv.lock", b"version = = 1"),
        ("/app/Pipfile.lock", b"{not json"),
        ("/app/Pipfile.lock", b"[1, 2]"),
    ],
)
def test_malformed_lock_files(path: str, data: bytes) -> None:
    with pytest.raises(AnalyzerError) as info:
        analyze_bytes(PythonLockAnalyzer(), path, data)
    assert "\n" not in str(info.value) and path in str(info.value)


def test_oversized_lock_refused_before_reading() -> None:
    def boom() -> bytes:
        raise AssertionError("must not read")

    path = "/app/poetry.lock"
    with pytest.raises(AnalyzerError, match="limit"):
        PythonLockAnalyzer().analyze(AnalysisInput(path, FileInfo(path, 65 << 20), boom))


def test_duplicate_pins_reported_once() -> None:
    result = analyze_bytes(PythonLockAnalyzer(), "/app/requirements.txt", b"Foo_Bar==1.0\nfoo-bar==1.0\n")
    assert [p.name for p in result.packages] == ["Foo_Bar"]


def test_registered_as_builtins() -> None:
    from shieldwall.analyze.base import Analyzer
    from shieldwall.analyze.registry import builtin_factories

    factories = builtin_factories()
    for cls in (PythonInstalledAnalyzer, PythonLockAnalyzer):
        assert cls in factories
        assert isinstance(cls(), Analyzer)
