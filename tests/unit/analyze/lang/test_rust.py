"""Cargo.lock and cargo-auditable catalogers."""

from __future__ import annotations

import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from helpers.binaries import build_elf, cargo_dep_section
from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.lang.rust import CargoAuditableAnalyzer, CargoLockAnalyzer, decode_dep_section
from shieldwall.model import Package, PackageType

FIXTURES = Path(__file__).parents[3] / "fixtures" / "lang" / "rust"

AUDIT_PACKAGES: list[dict[str, object]] = [
    {"name": "fixture-app", "version": "0.1.0", "source": "local", "dependencies": [1, 2, 3], "root": True},
    {"name": "serde", "version": "1.0.193", "source": "crates.io", "dependencies": [4]},
    {"name": "cc", "version": "1.0.83", "source": "crates.io", "kind": "build"},
    {"name": "memchr", "version": "2.6.4", "source": "crates.io", "kind": "runtime", "dependencies": [99]},
    {"name": "serde_derive", "version": "1.0.193", "source": "crates.io"},
]


def run(
    analyzer: CargoLockAnalyzer | CargoAuditableAnalyzer, path: str, data: bytes, mode: int = 0o755
) -> AnalysisResult:
    return analyzer.analyze(AnalysisInput(path, FileInfo(path, len(data), mode), lambda: data))


def by_name(result: AnalysisResult) -> dict[str, Package]:
    return {p.name: p for p in result.packages}


def test_cargo_lock() -> None:
    data = (FIXTURES / "Cargo.lock").read_bytes()
    result = run(CargoLockAnalyzer(), "/src/Cargo.lock", data, 0o644)
    assert {p.purl for p in result.packages} == {
        "pkg:cargo/ansi_term@0.12.1",
        "pkg:cargo/fixture-app@0.1.0",
        "pkg:cargo/memchr@2.6.4",
        "pkg:cargo/serde@1.0.193",
        "pkg:cargo/winapi@0.3.9",
    }
    pkgs = by_name(result)
    app = pkgs["fixture-app"]
    assert app.depends_on == ("ansi_term", "memchr", "serde")
    assert "source" not in dict(app.metadata)
    assert dict(pkgs["memchr"].metadata)["checksum"].startswith("f665ee40")
    assert dict(pkgs["serde"].metadata)["source"].startswith("git+https://")
    assert app.type is PackageType.CARGO
    assert app.found_by == "cargo-lock"
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[[package]\nname = 1", "not valid TOML"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"package = 3\n", "not an array"),
    ],
)
def test_bad_cargo_lock_is_an_error(data: bytes, message: str) -> None:
    with pytest.raises(AnalyzerError, match=message):
        run(CargoLockAnalyzer(), "/Cargo.lock", data, 0o644)


def test_cargo_lock_entries_without_name_are_warnings() -> None:
    data = b'[[package]]\nname = "ok"\nversion = "1.0.0"\n\n[[package]]\nversion = "2.0.0"\n'
    result = run(CargoLockAnalyzer(), "/Cargo.lock", data, 0o644)
    assert [p.purl for p in result.packages] == ["pkg:cargo/ok@1.0.0"]
    assert len(result.warnings) == 1


def test_cargo_auditable_binary() -> None:
    data = build_elf([(".text", b"\x90" * 64), (".dep-v0", cargo_dep_section(AUDIT_PACKAGES))])
    result = run(CargoAuditableAnalyzer(), "/usr/bin/fixture-app", data)
    assert {p.purl for p in result.packages} == {
        "pkg:cargo/fixture-app@0.1.0",
        "pkg:cargo/serde@1.0.193",
        "pkg:cargo/memchr@2.6.4",
        "pkg:cargo/serde_derive@1.0.193",
    }
    pkgs = by_name(result)
    assert pkgs["fixture-app"].depends_on == ("serde", "cc", "memchr")
    assert dict(pkgs["fixture-app"].metadata) == {"source": "local", "root": "true"}
    assert pkgs["memchr"].depends_on == ()
    assert pkgs["serde"].locations[0].path == "/usr/bin/fixture-app"
    assert pkgs["serde"].found_by == "cargo-auditable"


def test_binaries_without_the_section_are_empty() -> None:
    assert run(CargoAuditableAnalyzer(), "/bin/x", build_elf([(".text", b"\xc3" * 64)])) is EMPTY
    assert run(CargoAuditableAnalyzer(), "/bin/y", b"MZ" + b"\0" * 200) is EMPTY
    assert run(CargoAuditableAnalyzer(), "/bin/z", b"\x7fELF" + b"\xff" * 200) is EMPTY


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not zlib at all", "not zlib"),
        (zlib.compress(b"{not json"), "not valid JSON"),
        (zlib.compress(b'{"crates": []}'), "no 'packages' list"),
    ],
)
def test_malformed_dep_section_is_an_error(payload: bytes, message: str) -> None:
    data = build_elf([(".dep-v0", payload)])
    with pytest.raises(AnalyzerError, match=message):
        run(CargoAuditableAnalyzer(), "/bin/bad", data)


def test_dep_section_inflation_is_bounded() -> None:
    bomb = zlib.compress(b'{"packages": [' + b" " * (4 * 1024 * 1024) + b"]}")
    assert len(bomb) < 16 * 1024
    with pytest.raises(AnalyzerError, match="inflates to more than"):
        decode_dep_section(bomb, limit=1024 * 1024)


def test_cargo_auditable_required() -> None:
    analyzer = CargoAuditableAnalyzer()
    assert analyzer.required("/usr/bin/rg", FileInfo("/usr/bin/rg", 5_000_000, 0o755))
    assert not analyzer.required("/usr/bin/rg", FileInfo("/usr/bin/rg", 5_000_000, 0o644))
    assert not analyzer.required("/usr/bin/rg.sh", FileInfo("/usr/bin/rg.sh", 5_000, 0o755))
    lock = CargoLockAnalyzer()
    assert lock.required("/src/Cargo.lock", FileInfo("/src/Cargo.lock", 100))
    assert not lock.required("/src/Cargo.toml", FileInfo("/src/Cargo.toml", 100))


@pytest.mark.integration
def test_real_elf_with_objcopy_section(tmp_path: Path) -> None:
    gcc, objcopy = shutil.which("gcc"), shutil.which("objcopy")
    if gcc is None or objcopy is None:
        pytest.skip("gcc and objcopy are needed")
    source = tmp_path / "main.c"
    source.write_text("int main(void) { return 0; }\n")
    exe = tmp_path / "app"
    subprocess.run([gcc, "-o", str(exe), str(source)], check=True, capture_output=True, timeout=120)
    section = tmp_path / "dep-v0.bin"
    section.write_bytes(cargo_dep_section(AUDIT_PACKAGES))
    audited = tmp_path / "app-audited"
    subprocess.run(
        [objcopy, "--add-section", f".dep-v0={section}", str(exe), str(audited)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = run(CargoAuditableAnalyzer(), "/app", audited.read_bytes())
    assert {p.name for p in result.packages} == {"fixture-app", "serde", "memchr", "serde_derive"}
    assert run(CargoAuditableAnalyzer(), "/app", exe.read_bytes()) is EMPTY
