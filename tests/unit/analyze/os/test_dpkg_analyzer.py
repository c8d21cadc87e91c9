"""dpkg status database and copyright file analyzers."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.analyze.base import AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.os import dpkg
from shieldwall.analyze.os.dpkg import (
    DpkgCopyrightAnalyzer,
    DpkgStatusAnalyzer,
    copyright_licenses,
    dependency_names,
    expression_names,
    parse_stanzas,
    spdx_license_id,
    split_source,
)
from shieldwall.model import PackageType

FIXTURES = Path(__file__).parents[3] / "fixtures" / "os" / "dpkg"


def run(analyzer: DpkgStatusAnalyzer | DpkgCopyrightAnalyzer, path: str, data: bytes) -> AnalysisResult:
    return analyzer.analyze(AnalysisInput(path, FileInfo(path, len(data)), lambda: data))


def status_result() -> AnalysisResult:
    return run(DpkgStatusAnalyzer(), "/var/lib/dpkg/status", (FIXTURES / "status").read_bytes())


def by_name(result: AnalysisResult) -> dict[str, object]:
    return {p.name: p for p in result.packages}


# --- required ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/var/lib/dpkg/status", True),
        ("/var/lib/dpkg/status.d/base-files", True),
        ("/var/lib/dpkg/status.d/libssl3.md5sums", False),
        ("/var/lib/dpkg/status-old", False),
        ("/var/lib/dpkg/status.d/sub/x", False),
        ("/var/lib/dpkg/info/libc6.list", False),
        ("/usr/lib/dpkg/status.d/base-files", False),
    ],
)
def test_status_required(path: str, wanted: bool) -> None:
    assert DpkgStatusAnalyzer().required(path, FileInfo(path, 10)) is wanted


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/usr/share/doc/libc6/copyright", True),
        ("/usr/share/doc/libc6/changelog.gz", False),
        ("/usr/share/doc/copyright", False),
        ("/usr/share/doc/libc6/examples/copyright", False),
        ("/usr/local/share/doc/libc6/copyright", False),
    ],
)
def test_copyright_required(path: str, wanted: bool) -> None:
    assert DpkgCopyrightAnalyzer().required(path, FileInfo(path, 10)) is wanted


# --- status file -----------------------------------------------------------------------------


def test_status_keeps_only_installed_packages() -> None:
    result = status_result()
    # deinstall/config-files, purge/not-installed and half-installed are skipped; hold is installed.
    assert [p.name for p in result.packages] == ["libc6", "bsdutils", "held-tool"]


def test_status_package_without_version_is_a_warning() -> None:
    result = status_result()
    assert len(result.warnings) == 1
    assert "no-version" in result.warnings[0]
    assert "no Version" in result.warnings[0]


def test_status_source_without_version() -> None:
    libc = status_result().packages[0]
    assert libc.type is PackageType.DEB
    assert libc.version == "2.36-9+deb12u4"
    assert libc.arch == "amd64"
    assert libc.source_name == "glibc"
    assert libc.source_version == "2.36-9+deb12u4"
    assert libc.purl == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc"
    assert libc.found_by == "dpkg"
    assert libc.locations[0].path == "/var/lib/dpkg/status"
    assert libc.locations[0].line == 1


def test_status_multiline_description_does_not_leak_fields() -> None:
    libc = status_result().packages[0]
    # "Version: 9.9" inside the description is a continuation line, not a field.
    assert libc.version != "9.9"
    assert dict(libc.metadata)["description"] == "GNU C Library: Shared libraries"
    assert libc.depends_on == ("libgcc-s1",)


def test_status_source_with_version() -> None:
    bsdutils = status_result().packages[1]
    assert bsdutils.version == "1:2.38.1-5+b1"
    assert bsdutils.source_name == "util-linux"
    assert bsdutils.source_version == "2.38.1-5"
    assert bsdutils.purl == ("pkg:deb/debian/bsdutils@1:2.38.1-5%2Bb1?arch=amd64&upstream=util-linux%402.38.1-5")
    # Pre-Depends counts as a dependency.
    assert bsdutils.depends_on == ("libc6", "libsystemd0")


def test_status_without_source_field() -> None:
    held = status_result().packages[2]
    assert held.source_name == "held-tool"
    assert held.source_version == "0.9-1"
    # like syft: no upstream qualifier when the stanza has no Source field
    assert held.purl == "pkg:deb/debian/held-tool@0.9-1?arch=arm64"
    assert held.depends_on == ("perl", "mawk", "gawk", "original-awk", "libfoo1", "libc6")


def test_status_d_file_without_status_field() -> None:
    path = "/var/lib/dpkg/status.d/base-files"
    result = run(DpkgStatusAnalyzer(), path, (FIXTURES / "status.d" / "base-files").read_bytes())
    assert result.warnings == ()
    [package] = result.packages
    assert package.name == "base-files"
    assert package.version == "12.4+deb12u5"
    assert package.locations[0].path == path
    assert package.depends_on == ("awk",)
    assert package.purl == "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64"


def test_status_d_file_with_several_stanzas() -> None:
    path = "/var/lib/dpkg/status.d/multiple"
    result = run(DpkgStatusAnalyzer(), path, (FIXTURES / "status.d" / "multiple").read_bytes())
    assert [(p.name, p.version, p.source_name) for p in result.packages] == [
        ("libssl3", "3.0.15-1~deb12u1", "openssl"),
        ("tzdata", "2024a-0+deb12u1", "tzdata"),
    ]
    assert result.packages[1].depends_on == ("debconf", "debconf-2.0")
    assert result.packages[1].locations[0].line == 16


def test_status_d_file_with_status_field_is_still_filtered() -> None:
    data = b"Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n"
    result = run(DpkgStatusAnalyzer(), "/var/lib/dpkg/status.d/gone", data)
    assert result.packages == ()


def test_status_malformed_lines_are_warnings_not_errors() -> None:
    data = (
        b" orphan continuation\n"
        b"Package: ok-pkg\n"
        b"Status: install ok installed\n"
        b"this line has no colon\n"
        b"Version: 1.0\n"
        b"Version: 2.0\n"
        b"Architecture: all\n"
        b"\n\n\n"
        b"\xff\xfegarbage: \x00\n"
    )
    result = run(DpkgStatusAnalyzer(), "/var/lib/dpkg/status", data)
    [package] = result.packages
    assert (package.name, package.version) == ("ok-pkg", "1.0")
    joined = "\n".join(result.warnings)
    assert "continuation line without a field" in joined
    assert "not a 'Field: value' line" in joined
    assert "repeated field" in joined
    assert "no Package field" in joined


def test_status_warnings_are_capped() -> None:
    data = b"".join(b"Package: p%d\nStatus: install ok installed\n\n" % i for i in range(50))
    result = run(DpkgStatusAnalyzer(), "/var/lib/dpkg/status", data)
    assert result.packages == ()
    assert len(result.warnings) == dpkg.MAX_WARNINGS + 1
    assert result.warnings[-1] == "30 more warnings"


def test_status_empty_file_is_empty_result() -> None:
    assert run(DpkgStatusAnalyzer(), "/var/lib/dpkg/status", b"").empty


def test_status_too_large_is_an_analyzer_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dpkg, "MAX_STATUS_BYTES", 100)
    with pytest.raises(AnalyzerError, match="larger than"):
        run(DpkgStatusAnalyzer(), "/var/lib/dpkg/status", (FIXTURES / "status").read_bytes())


def test_real_debian12_status_file(shared_data: Path) -> None:
    status = shared_data / "pkgdb" / "debian12-dpkg" / "status"
    readme = (shared_data / "pkgdb" / "README.md").read_text()
    assert "727 packages" in readme
    result = run(DpkgStatusAnalyzer(), "/var/lib/dpkg/status", status.read_bytes())
    assert result.warnings == ()
    assert len(result.packages) == 727
    assert len({p.purl for p in result.packages}) == 727
    bash = next(p for p in result.packages if p.name == "bash")
    assert bash.purl.startswith("pkg:deb/debian/bash@5.2.15-2")
    assert "upstream=bash%405.2.15-2" in bash.purl


# --- helpers ---------------------------------------------------------------------------------


def test_parse_stanzas_continuations_and_comments() -> None:
    stanzas, warnings = parse_stanzas("# comment\nA: 1\nB: first\n second\n\tthird\n\n\nC: x\n")
    assert warnings == []
    assert [s.line for s in stanzas] == [2, 8]
    assert stanzas[0].get("b") == "first\nsecond\nthird"
    assert stanzas[0].get("A") == "1"
    assert stanzas[1].get("C") == "x"
    assert stanzas[1].get("missing", "dflt") == "dflt"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("glibc", ("glibc", "")),
        ("util-linux (2.38.1-5)", ("util-linux", "2.38.1-5")),
        ("pcre3 (2:8.39-15)", ("pcre3", "2:8.39-15")),
        ("", ("", "")),
    ],
)
def test_split_source(field: str, expected: tuple[str, str]) -> None:
    assert split_source(field) == expected


def test_dependency_names_keeps_alternatives_and_drops_constraints() -> None:
    assert dependency_names("a (>= 1), b:any | c [amd64 i386] <!nocheck>, a", "d (<< 2)") == [
        "a",
        "b",
        "c",
        "d",
    ]
    assert dependency_names("", " , | ") == []


# --- copyright -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "spdx"),
    [
        ("GPL-2+", "GPL-2.0-or-later"),
        ("GPL-2", "GPL-2.0-only"),
        ("GPL-3.0+", "GPL-3.0-or-later"),
        ("LGPL-2.1+", "LGPL-2.1-or-later"),
        ("LGPL-2", "LGPL-2.0-only"),
        ("AGPL-3+", "AGPL-3.0-or-later"),
        ("GFDL-1.3", "GFDL-1.3-only"),
        ("GPL-2.0-or-later", "GPL-2.0-or-later"),
        ("Expat", "MIT"),
        ("BSD-3-clause", "BSD-3-Clause"),
        ("BSD-2", "BSD-2-Clause"),
        ("Apache-2", "Apache-2.0"),
        ("zlib", "Zlib"),
        ("public-domain", "public-domain"),
        ("GPL", "GPL"),
    ],
)
def test_spdx_license_id(name: str, spdx: str) -> None:
    assert spdx_license_id(name) == spdx


def test_expression_names() -> None:
    assert expression_names("GPL-2+ or AFL-2.1, and Expat and Tcl-BSDish") == [
        "GPL-2.0-or-later",
        "AFL-2.1",
        "MIT",
        "Tcl-BSDish",
    ]
    assert expression_names("GPL-3+ with OpenSSL exception") == ["GPL-3.0-or-later"]
    assert expression_names("none") == []


def test_copyright_dep5() -> None:
    path = "/usr/share/doc/exampletool/copyright"
    result = run(DpkgCopyrightAnalyzer(), path, (FIXTURES / "copyright" / "dep5").read_bytes())
    [hint] = result.license_hints
    assert hint.package_type is PackageType.DEB
    assert hint.package_name == "exampletool"
    assert hint.licenses == (
        "GPL-2.0-or-later",
        "LGPL-2.1-or-later",
        "Artistic",
        "GPL-3.0-or-later",
        "BSD-3-Clause",
        "MIT",
    )
    assert result.packages == ()


def test_copyright_free_text_gnu() -> None:
    text = (FIXTURES / "copyright" / "freetext-gpl").read_text()
    assert set(copyright_licenses(text)) == {"GPL-2.0-or-later", "LGPL-2.1-only"}


def test_copyright_free_text_permissive() -> None:
    text = (FIXTURES / "copyright" / "freetext-permissive").read_text()
    assert set(copyright_licenses(text)) == {"Apache-2.0", "BSD-3-Clause", "MIT"}


def test_copyright_without_known_licence_is_empty() -> None:
    path = "/usr/share/doc/mystery/copyright"
    assert run(DpkgCopyrightAnalyzer(), path, (FIXTURES / "copyright" / "unknown").read_bytes()).empty


def test_copyright_read_is_bounded() -> None:
    path = "/usr/share/doc/big/copyright"
    data = b"x" * (dpkg.MAX_COPYRIGHT_BYTES + 10) + b"\nLicensed under the Apache License, Version 2.0\n"
    assert run(DpkgCopyrightAnalyzer(), path, data).empty
