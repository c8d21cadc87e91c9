"""go.mod and Go binary build-info catalogers."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from helpers.binaries import (
    BASE_VADDR,
    FIRST_SECTION_OFFSET,
    GO_MAGIC,
    build_elf,
    go_buildinfo,
    go_buildinfo_pointers,
    uvarint,
)
from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.lang.golang import (
    GoBinaryAnalyzer,
    GoModAnalyzer,
    parse_go_mod,
    parse_modinfo,
    pseudo_version,
    stdlib_version,
    version_from_ldflags,
)
from shieldwall.model import Package, PackageType

FIXTURES = Path(__file__).parents[3] / "fixtures" / "lang" / "go"


def run(analyzer: GoModAnalyzer | GoBinaryAnalyzer, path: str, data: bytes, mode: int = 0o755) -> AnalysisResult:
    return analyzer.analyze(AnalysisInput(path, FileInfo(path, len(data), mode), lambda: data))


def purls(result: AnalysisResult) -> set[str]:
    return {p.purl for p in result.packages}


def by_name(result: AnalysisResult) -> dict[str, Package]:
    return {p.name: p for p in result.packages}


# --------------------------------------------------------------------------- go.mod


@pytest.fixture(scope="module")
def gomod() -> AnalysisResult:
    data = (FIXTURES / "go.mod").read_bytes()
    return run(GoModAnalyzer(), "/src/go.mod", data, 0o644)


def test_go_mod_purls_follow_require_replace_and_exclude(gomod: AnalysisResult) -> None:
    assert purls(gomod) == {
        "pkg:golang/github.com/sirupsen/logrus@v1.9.3",
        "pkg:golang/github.com/google/uuid@v1.6.0",
        "pkg:golang/golang.org/x/sys@v0.16.0",
        "pkg:golang/github.com/quoted/path@v0.1.0",
        "pkg:golang/github.com/anchore/archiver/v3@v3.5.2",
        "pkg:golang/github.com/new/module@v1.1.0",
        "pkg:golang/example.com/local/lib",
    }
    assert gomod.warnings == ()


def test_go_mod_package_details(gomod: AnalysisResult) -> None:
    pkgs = by_name(gomod)
    assert "github.com/old/module" not in pkgs
    assert "github.com/excluded/one" not in pkgs
    sys_pkg = pkgs["golang.org/x/sys"]
    assert sys_pkg.version == "v0.16.0"
    assert dict(sys_pkg.metadata)["indirect"] == "true"
    assert dict(sys_pkg.metadata)["replaces"] == "golang.org/x/sys v0.15.0"
    assert dict(pkgs["github.com/google/uuid"].metadata)["indirect"] == "false"
    local = pkgs["example.com/local/lib"]
    assert local.version == ""
    assert dict(local.metadata)["replaced_by"] == "../lib"
    logrus = pkgs["github.com/sirupsen/logrus"]
    assert logrus.type is PackageType.GOLANG
    assert logrus.found_by == "go-mod"
    assert logrus.locations[0].path == "/src/go.mod"
    assert logrus.locations[0].line == 8
    assert dict(logrus.metadata)["main_module"] == "example.com/shieldwall/fixture"


def test_go_mod_parser_reads_blocks_and_comments() -> None:
    mod = parse_go_mod(
        'module "example.com/m" // the module\n'
        "require (\n  a.example/x v1.0.0 // indirect\n\n  b.example/y v2.0.0+incompatible\n)\n"
        "replace a.example/x v1.0.0 => ./x\n"
    )
    assert mod.module == "example.com/m"
    assert [(r.path, r.version, r.indirect) for r in mod.requires] == [
        ("a.example/x", "v1.0.0", True),
        ("b.example/y", "v2.0.0+incompatible", False),
    ]
    assert [(r.old_path, r.old_version, r.new_path, r.new_version) for r in mod.replaces] == [
        ("a.example/x", "v1.0.0", "./x", "")
    ]


def test_go_mod_malformed_lines_become_warnings() -> None:
    data = b"module m\nrequire only-a-path\nreplace nonsense\nrequire (\n  ok.example/z v1.0.0\n"
    result = run(GoModAnalyzer(), "/go.mod", data, 0o644)
    assert purls(result) == {"pkg:golang/ok.example/z@v1.0.0"}
    assert len(result.warnings) == 3
    assert any("unterminated require block" in w for w in result.warnings)


def test_go_mod_binary_content_is_an_error() -> None:
    with pytest.raises(AnalyzerError):
        run(GoModAnalyzer(), "/go.mod", b"module m\x00\x01", 0o644)


def test_go_mod_required() -> None:
    analyzer = GoModAnalyzer()
    assert analyzer.required("/src/go.mod", FileInfo("/src/go.mod", 100))
    assert not analyzer.required("/src/go.sum", FileInfo("/src/go.sum", 100))
    assert not analyzer.required("/src/go.mod.bak", FileInfo("/src/go.mod.bak", 100))
    assert not analyzer.required("/src/go.mod", FileInfo("/src/go.mod", 64 * 1024 * 1024))


# --------------------------------------------------------------------------- binaries

APP_LINES = [
    "path\texample.com/app/cmd/app",
    "mod\texample.com/app\tv1.2.3\th1:main=",
    "dep\tgithub.com/google/uuid\tv1.6.0\th1:uuid=",
    "dep\tgolang.org/x/net\tv0.17.0\th1:old=",
    "=>\tgolang.org/x/net\tv0.19.0\th1:new=",
    "dep\tgithub.com/forked/lib\tv1.0.0\t",
    "=>\tgithub.com/me/lib\tv1.0.1-fork\th1:fork=",
    "dep\texample.com/local\tv0.0.0",
    "=>\t../local\t(devel)\t",
    "build\t-compiler=gc",
    "build\tGOARCH=arm64",
    "build\tGOOS=linux",
]


def go_elf(version: str, lines: list[str]) -> bytes:
    return build_elf([(".text", b"\x90" * 64), (".go.buildinfo", go_buildinfo(version, lines))])


def test_go_binary_modules_and_stdlib() -> None:
    result = run(GoBinaryAnalyzer(), "/usr/local/bin/app", go_elf("go1.21.5", APP_LINES))
    assert purls(result) == {
        "pkg:golang/example.com/app@v1.2.3",
        "pkg:golang/github.com/google/uuid@v1.6.0",
        "pkg:golang/golang.org/x/net@v0.19.0",
        "pkg:golang/github.com/me/lib@v1.0.1-fork",
        "pkg:golang/example.com/local@%28devel%29",
        "pkg:golang/stdlib@1.21.5",
    }
    pkgs = by_name(result)
    stdlib = pkgs["stdlib"]
    assert stdlib.version == "go1.21.5"
    assert stdlib.licenses == ("BSD-3-Clause",)
    main = dict(pkgs["example.com/app"].metadata)
    assert main["main"] == "true"
    assert main["architecture"] == "arm64"
    assert main["go_version"] == "go1.21.5"
    net = dict(pkgs["golang.org/x/net"].metadata)
    assert net["h1_digest"] == "h1:new="
    assert net["replaces"] == "golang.org/x/net v0.17.0"
    assert dict(pkgs["example.com/local"].metadata)["version_raw"] == "(devel)"
    assert all(p.found_by == "go-binary" and p.locations[0].path == "/usr/local/bin/app" for p in result.packages)
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (['build\t-ldflags="-s -w -X main.version=1.4.0"'], "v1.4.0"),
        (['build\t-ldflags="-X example.com/app/internal/buildinfo.Version=v2.0.1-rc1"'], "v2.0.1-rc1"),
        (
            ["build\tvcs=git", "build\tvcs.revision=0123456789abcdef0123", "build\tvcs.time=2023-05-04T03:02:01Z"],
            "v0.0.0-20230504030201-0123456789ab",
        ),
        ([], "(devel)"),
    ],
)
def test_go_binary_devel_main_version(settings: list[str], expected: str) -> None:
    lines = ["path\texample.com/app", "mod\texample.com/app\t(devel)\t", *settings]
    result = run(GoBinaryAnalyzer(), "/app", go_elf("go1.22.1", lines))
    main = by_name(result)["example.com/app"]
    assert main.version == expected
    assert main.purl == "pkg:golang/example.com/app@" + expected.replace("(", "%28").replace(")", "%29")
    assert dict(main.metadata)["version_raw"] == "(devel)"


def test_go_binary_command_line_arguments_main() -> None:
    lines = ["path\tcommand-line-arguments", "mod\tcommand-line-arguments\t\t", "dep\tgithub.com/x/y\tv1.0.0\t"]
    result = run(GoBinaryAnalyzer(), "/app", go_elf("go1.20.1", lines))
    assert purls(result) == {"pkg:golang/github.com/x/y@v1.0.0", "pkg:golang/stdlib@1.20.1"}


def test_go_binary_found_by_scan_outside_elf() -> None:
    # a PE-looking file: no ELF headers, build info at a 16-byte aligned offset
    blob = b"MZ" + b"\0" * 510 + go_buildinfo("go1.21.0", APP_LINES[:3]) + b"\0" * 100
    result = run(GoBinaryAnalyzer(), "/app.exe", blob)
    assert purls(result) == {
        "pkg:golang/example.com/app@v1.2.3",
        "pkg:golang/github.com/google/uuid@v1.6.0",
        "pkg:golang/stdlib@1.21.0",
    }


def test_go_binary_pre_118_pointer_layout_in_elf() -> None:
    section = go_buildinfo_pointers("go1.16.15", APP_LINES[:3], BASE_VADDR + FIRST_SECTION_OFFSET)
    data = build_elf([(".go.buildinfo", section)])
    result = run(GoBinaryAnalyzer(), "/old", data)
    assert purls(result) == {
        "pkg:golang/example.com/app@v1.2.3",
        "pkg:golang/github.com/google/uuid@v1.6.0",
        "pkg:golang/stdlib@1.16.15",
    }


def test_go_binary_pre_118_layout_outside_elf_is_a_warning() -> None:
    blob = b"MZ" + b"\0" * 14 + go_buildinfo_pointers("go1.16.15", APP_LINES[:3], 0x1000)
    result = run(GoBinaryAnalyzer(), "/old.exe", blob)
    assert result.packages == ()
    assert len(result.warnings) == 1
    assert "pre-Go 1.18" in result.warnings[0]


def test_go_binary_truncated_build_info_is_a_warning() -> None:
    truncated = GO_MAGIC + bytes([8, 2]) + b"\0" * 16 + uvarint(9) + b"go1.2"
    data = build_elf([(".go.buildinfo", truncated)])
    result = run(GoBinaryAnalyzer(), "/broken", data)
    assert result.packages == ()
    assert len(result.warnings) == 1
    assert "runs past" in result.warnings[0]


def test_go_binary_corrupt_elf_headers_fall_back_to_scan() -> None:
    data = b"\x7fELF\x02\x01\x01" + b"\xff" * 57 + b"\0" * 64 + go_buildinfo("go1.21.5", APP_LINES[:2])
    result = run(GoBinaryAnalyzer(), "/corrupt", data)
    assert purls(result) == {"pkg:golang/example.com/app@v1.2.3", "pkg:golang/stdlib@1.21.5"}
    assert any("scanning for Go build info" in w for w in result.warnings)


def test_non_go_executables_are_empty() -> None:
    assert run(GoBinaryAnalyzer(), "/bin/true", build_elf([(".text", b"\xc3" * 128)])) is EMPTY
    assert run(GoBinaryAnalyzer(), "/bin/blob", os.urandom(0) + b"\x00" * 4096) is EMPTY


def test_elf_with_sections_is_read_only_at_the_buildinfo_section() -> None:
    # the magic elsewhere in an ELF that has section headers is not build info (Go 1.13+ writes the section)
    data = build_elf([(".rodata", go_buildinfo("go1.21.5", APP_LINES))])
    assert run(GoBinaryAnalyzer(), "/bin/c-program", data) is EMPTY


def test_elf_without_section_headers_is_scanned() -> None:
    data = bytearray(go_elf("go1.21.5", APP_LINES[:2]))
    struct.pack_into("<Q", data, 40, 0)  # e_shoff
    struct.pack_into("<HHH", data, 58, 64, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    result = run(GoBinaryAnalyzer(), "/sstripped", bytes(data))
    assert purls(result) == {"pkg:golang/example.com/app@v1.2.3", "pkg:golang/stdlib@1.21.5"}
    assert result.warnings == ()


def test_go_binary_without_module_info_reports_only_stdlib() -> None:
    data = build_elf([(".go.buildinfo", go_buildinfo("go1.21.5", []))])
    result = run(GoBinaryAnalyzer(), "/gopath-built", data)
    assert purls(result) == {"pkg:golang/stdlib@1.21.5"}


def test_go_binary_required_is_cheap_and_selective() -> None:
    analyzer = GoBinaryAnalyzer()
    assert analyzer.required("/usr/bin/app", FileInfo("/usr/bin/app", 2_000_000, 0o755))
    assert analyzer.required("/usr/lib/libx.so.1", FileInfo("/usr/lib/libx.so.1", 2_000_000, 0o755))
    assert not analyzer.required("/usr/bin/app", FileInfo("/usr/bin/app", 2_000_000, 0o644))
    assert not analyzer.required("/usr/bin/run.sh", FileInfo("/usr/bin/run.sh", 2_000, 0o755))
    assert not analyzer.required("/usr/bin/tool.py", FileInfo("/usr/bin/tool.py", 2_000, 0o755))
    assert not analyzer.required("/usr/bin/huge", FileInfo("/usr/bin/huge", 600 * 1024 * 1024, 0o755))
    assert not analyzer.required("/usr/bin/tiny", FileInfo("/usr/bin/tiny", 10, 0o755))


def test_go_binary_size_lies_are_refused() -> None:
    data = go_elf("go1.21.5", APP_LINES)
    liar = AnalysisInput("/app", FileInfo("/app", 100, 0o755), lambda: data + b"\0" * (600 * 1024 * 1024))
    with pytest.raises(AnalyzerError):
        GoBinaryAnalyzer().analyze(liar)


# --------------------------------------------------------------------------- helpers


def test_parse_modinfo_quoted_build_settings() -> None:
    info = parse_modinfo(
        "go1.21.5",
        'path\tp\nmod\tp\t(devel)\t\nbuild\t"-tags"=a,b\nbuild\t-ldflags="-X \\"main.version=1.0.0\\""\n',
    )
    assert info.setting("-tags") == "a,b"
    assert info.setting("-ldflags") == '-X "main.version=1.0.0"'
    assert info.main is not None and info.main.version == "(devel)"


def test_version_helpers() -> None:
    assert stdlib_version("go1.22.0 X:boringcrypto") == "go1.22.0"
    assert stdlib_version("go1.21rc2") == "go1.21rc2"
    assert stdlib_version("devel go1.23-1234abcd Tue Aug 1") == ""
    assert version_from_ldflags("-X main.gitTag=v3.4.5", "m") == "v3.4.5"
    assert version_from_ldflags("-X other/pkg.version=1.0.0", "m") == ""
    assert pseudo_version("abcdef0123456789", "not a time") == "v0.0.0-00010101000000-abcdef012345"


# --------------------------------------------------------------------------- real toolchain


@pytest.mark.integration
def test_real_go_binary(tmp_path: Path) -> None:
    go = shutil.which("go")
    if go is None:
        pytest.skip("the go toolchain is not installed")
    lib = tmp_path / "lib"
    app = tmp_path / "app"
    lib.mkdir()
    app.mkdir()
    (lib / "go.mod").write_text("module example.com/lib\n\ngo 1.18\n")
    (lib / "lib.go").write_text('package lib\n\nfunc Hello() string { return "hi" }\n')
    (app / "go.mod").write_text(
        "module example.com/app\n\ngo 1.18\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../lib\n"
    )
    (app / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\t"example.com/lib"\n)\n\nvar version = "dev"\n\n'
        "func main() { fmt.Println(lib.Hello(), version) }\n"
    )
    env = {
        **os.environ,
        "GOCACHE": str(tmp_path / "cache"),
        "GOPATH": str(tmp_path / "gopath"),
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
    }
    out = tmp_path / "app.bin"
    subprocess.run(
        [go, "build", "-ldflags", "-X main.version=1.4.2", "-o", str(out), "."],
        cwd=app,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    go_version = subprocess.run([go, "env", "GOVERSION"], env=env, capture_output=True, text=True, check=True)
    stdlib = go_version.stdout.strip().split(" ")[0]
    data = out.read_bytes()
    result = run(GoBinaryAnalyzer(), "/app", data)
    assert purls(result) == {
        "pkg:golang/example.com/app@v1.4.2",
        "pkg:golang/example.com/lib@%28devel%29",
        f"pkg:golang/stdlib@{stdlib.removeprefix('go')}",
    }
    assert by_name(result)["stdlib"].version == stdlib
