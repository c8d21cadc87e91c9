"""apk installed database analyzer."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.analyze.base import AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.os import apk
from shieldwall.analyze.os.apk import ApkAnalyzer, dependency_names, license_names
from shieldwall.model import PackageType

FIXTURES = Path(__file__).parents[3] / "fixtures" / "os" / "apk"
DB = "/lib/apk/db/installed"


def run(data: bytes, path: str = DB) -> AnalysisResult:
    return ApkAnalyzer().analyze(AnalysisInput(path, FileInfo(path, len(data)), lambda: data))


def fixture_result() -> AnalysisResult:
    return run((FIXTURES / "installed").read_bytes())


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/lib/apk/db/installed", True),
        ("/lib/apk/db/triggers", False),
        ("/usr/lib/apk/db/installed", False),
    ],
)
def test_required(path: str, wanted: bool) -> None:
    assert ApkAnalyzer().required(path, FileInfo(path, 1)) is wanted


def test_valid_entries_become_packages() -> None:
    result = fixture_result()
    assert [(p.name, p.version) for p in result.packages] == [
        ("musl", "1.2.4-r2"),
        ("libcrypto3", "3.1.4-r5"),
        ("busybox-binsh", "1.36.1-r15"),
        ("ada-libs", "2.7.4-r0"),
    ]


def test_invalid_entries_are_warnings() -> None:
    warnings = fixture_result().warnings
    assert len(warnings) == 2
    assert "broken-without-version" in warnings[0] and "no version" in warnings[0]
    assert "no name" in warnings[1]


def test_package_fields_and_purl() -> None:
    musl, libcrypto, binsh, ada = fixture_result().packages
    assert musl.type is PackageType.APK
    assert musl.purl == "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"
    assert musl.licenses == ("MIT",)
    assert musl.source_name == "musl"
    assert musl.arch == "x86_64"
    assert musl.found_by == "apk"
    assert musl.locations[0].path == DB
    assert musl.locations[0].line == 1
    assert dict(musl.metadata) == {
        "description": "the musl c library (libc) implementation",
        "url": "https://musl.libc.org/",
    }
    assert libcrypto.purl == "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&upstream=openssl"
    assert (libcrypto.source_name, libcrypto.source_version) == ("openssl", "3.1.4-r5")
    assert libcrypto.depends_on == ()
    assert binsh.depends_on == ("busybox",)
    assert ada.depends_on == ("libstdc++", "libgcc")
    assert ada.licenses == ("(Apache-2.0 OR MIT) AND MPL-2.0",)
    assert ada.arch == "aarch64"


def test_dependency_names() -> None:
    field = "!uclibc-utils scanelf musl=1.1.14-r10 so:libc.musl-x86_64.so.1 cmd:sh pc:zlib>=1 foo<2 foo~1"
    assert dependency_names(field) == ["scanelf", "musl", "foo"]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("MIT", ["MIT"]),
        ("MIT BSD GPL2+", ["MIT", "BSD", "GPL2+"]),
        ("MIT AND BSD-3-Clause", ["MIT AND BSD-3-Clause"]),
        ("GPL-2.0-or-later WITH Linux-syscall-note", ["GPL-2.0-or-later WITH Linux-syscall-note"]),
        ("", []),
    ],
)
def test_license_names(field: str, expected: list[str]) -> None:
    assert license_names(field) == expected


def test_garbage_lines_do_not_crash() -> None:
    data = b"P:ok\nV:1-r0\nthis is not a field\n\xff\xfe\n\n\n:\n"
    result = run(data)
    assert [(p.name, p.version) for p in result.packages] == [("ok", "1-r0")]
    assert any("not a 'X:value' line" in w for w in result.warnings)


def test_empty_database() -> None:
    assert run(b"").empty
    assert run(b"\n\n").empty


def test_too_large_is_an_analyzer_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apk, "MAX_DB_BYTES", 10)
    with pytest.raises(AnalyzerError):
        run((FIXTURES / "installed").read_bytes())


def test_real_trivy_testdata(shared_data: Path) -> None:
    db = shared_data / "pkgdb" / "alpine-apk" / "trivy-testdata-apk-installed"
    result = run(db.read_bytes())
    names = [p.name for p in result.packages]
    assert len(names) == 10
    assert "invalidPackageWithoutAVersion" not in names
    assert len(result.warnings) == 1
    assert "invalidPackageWithoutAVersion" in result.warnings[0]
    utils = next(p for p in result.packages if p.name == "musl-utils")
    assert utils.purl == "pkg:apk/alpine/musl-utils@1.1.14-r10?arch=x86_64&upstream=musl"
    assert utils.licenses == ("MIT", "BSD", "GPL2+")
    assert utils.depends_on == ("scanelf", "musl")
