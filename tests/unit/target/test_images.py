"""Docker archives and OCI layouts: layers in order, whiteouts, attribution, platforms."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.analyzers import CrashingAnalyzer, MarkerAnalyzer, PkgListAnalyzer
from helpers.images import DIR, OPAQUE, WHITEOUT, File, ImageSpec, build_docker_archive, build_oci_layout, oci_image
from shieldwall.errors import InputError
from shieldwall.model import ScanResult
from shieldwall.service.scan import ScanOptions, scan_target

OS_RELEASE = b'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'

LAYERS = [
    {"/etc": DIR, "/etc/os-release": OS_RELEASE, "/var/lib/base.pkglist": b"libc 1.0\nbash 5.2\n"},
    {"/app": DIR, "/app/app.pkglist": b"flask 3.0\n", "/app/secret.txt": b"x\nMARKER here\n"},
    {"/var/lib/base.pkglist": b"libc 1.0\nbash 5.2\ncurl 8.0\n", "/app/secret.txt": WHITEOUT},
]
SPEC = ImageSpec(
    created_by=["ADD rootfs.tar /", "COPY app /app", "RUN apt-get install curl && rm /app/secret.txt"],
    user="app",
    exposed_ports=["8080/tcp"],
    labels={"org.opencontainers.image.source": "https://example.com/app"},
)


def _scan(target: str, **kw: object) -> ScanResult:
    pkg = PkgListAnalyzer()
    options = ScanOptions(
        analyzers=("os-release",),
        extra_analyzers=(pkg, MarkerAnalyzer(), CrashingAnalyzer()),
        scanners=frozenset(),  # the engine alone: no post-scanners
        **kw,
    )  # type: ignore[arg-type]
    return scan_target(target, options)


def _check_image(result: ScanResult) -> None:
    by_name = {p.name: p for p in result.packages}
    assert set(by_name) == {"libc", "bash", "curl", "flask"}
    # libc was introduced by layer 0 even though layer 2 rewrote the file that lists it
    assert by_name["libc"].introduced_by is not None and by_name["libc"].introduced_by.index == 0
    assert by_name["libc"].introduced_by.created_by == "ADD rootfs.tar /"
    assert by_name["libc"].locations[0].layer is not None and by_name["libc"].locations[0].layer.index == 2
    assert by_name["curl"].introduced_by is not None and by_name["curl"].introduced_by.index == 2
    assert by_name["flask"].introduced_by is not None and by_name["flask"].introduced_by.index == 1
    assert result.os is not None and result.os.family == "debian" and result.os.version == "12"
    # the secret's file was deleted in layer 2 but its finding is kept, attributed and marked
    (finding,) = result.findings
    assert finding.location is not None and finding.location.path == "/app/secret.txt" and finding.location.line == 2
    assert finding.location.layer is not None and finding.location.layer.index == 1
    assert finding.deleted_in is not None and finding.deleted_in.index == 2
    assert result.image is not None
    assert result.image.user == "app" and result.image.exposed_ports == ("8080/tcp",)
    assert dict(result.image.labels)["org.opencontainers.image.source"] == "https://example.com/app"
    assert [layer.created_by for layer in result.layers] == list(SPEC.created_by)


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_docker_archive(tmp_path: Path, compression: str) -> None:
    archive = build_docker_archive(tmp_path / "img.tar", LAYERS, SPEC, compression=compression)  # type: ignore[arg-type]
    result = _scan(f"docker-archive:{archive}")
    _check_image(result)
    assert result.target.tags == ("example/app:1.0",)
    assert result.target.image_id.startswith("sha256:")


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("as_tar", [False, True])
def test_oci_layout(tmp_path: Path, compression: str, as_tar: bool) -> None:
    path = tmp_path / ("layout.tar" if as_tar else "layout")
    build_oci_layout(path, layers=LAYERS, spec=SPEC, compression=compression, as_tar=as_tar)  # type: ignore[arg-type]
    result = _scan(f"oci:{path}")
    _check_image(result)
    assert result.target.digest.startswith("sha256:")


def test_plain_path_is_sniffed(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "img.tar", LAYERS, SPEC)
    layout = build_oci_layout(tmp_path / "layout", layers=LAYERS, spec=SPEC)
    assert _scan(str(archive)).target.ref.kind == "docker-archive"
    assert _scan(str(layout)).target.ref.kind == "oci"


def test_opaque_directory_hides_lower_content(tmp_path: Path) -> None:
    layers = [
        {"/opt/a.pkglist": b"old 1\n", "/opt/sub/b.pkglist": b"older 1\n"},
        {"/opt": OPAQUE, "/opt/c.pkglist": b"new 2\n"},
    ]
    result = _scan(str(build_docker_archive(tmp_path / "i.tar", layers)))
    assert {p.name for p in result.packages} == {"new"}


def test_whiteout_of_directory_removes_subtree(tmp_path: Path) -> None:
    layers = [{"/opt/x/a.pkglist": b"gone 1\n", "/keep.pkglist": b"kept 1\n"}, {"/opt/x": WHITEOUT}]
    result = _scan(str(build_docker_archive(tmp_path / "i.tar", layers)))
    assert {p.name for p in result.packages} == {"kept"}


def test_readded_file_gets_its_own_origin(tmp_path: Path) -> None:
    layers = [{"/a.pkglist": b"p 1\n"}, {"/a.pkglist": WHITEOUT}, {"/a.pkglist": b"p 1\n"}]
    result = _scan(str(build_docker_archive(tmp_path / "i.tar", layers)))
    (pkg,) = result.packages
    assert pkg.introduced_by is not None and pkg.introduced_by.index == 2


def test_crashed_analyzer_is_a_counted_warning(tmp_path: Path) -> None:
    layers = [{"/x.crash": b"1", "/a.pkglist": b"p 1\n"}]
    result = _scan(str(build_docker_archive(tmp_path / "i.tar", layers)))
    assert [p.name for p in result.packages] == ["p"]
    (warning,) = [w for w in result.warnings if w.source.startswith("test-")]
    assert warning.source == "test-crash" and "boom" in warning.message and warning.path == "/x.crash"


def test_multi_platform_index(tmp_path: Path) -> None:
    amd = oci_image([{"/a.pkglist": b"amd 1\n"}], ImageSpec(architecture="amd64"))
    arm = oci_image([{"/a.pkglist": b"arm 1\n"}], ImageSpec(architecture="arm64", variant="v8"))
    layout = build_oci_layout(tmp_path / "multi", [amd, arm])
    assert [p.name for p in _scan(f"oci:{layout}", platform="linux/amd64").packages] == ["amd"]
    assert [p.name for p in _scan(f"oci:{layout}", platform="linux/arm64").packages] == ["arm"]
    assert [p.name for p in _scan(f"oci:{layout}", platform="linux/arm64/v8").packages] == ["arm"]
    with pytest.raises(InputError, match="no manifest for platform linux/s390x"):
        _scan(f"oci:{layout}", platform="linux/s390x")


def test_directory_target(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_bytes(OS_RELEASE)
    (tmp_path / "lib.pkglist").write_bytes(b"zlib 1.3\n")
    (tmp_path / "link.pkglist").symlink_to("/etc/passwd")
    (tmp_path / "big.bin").write_bytes(File(b"x").data)
    result = _scan(f"dir:{tmp_path}")
    assert [p.name for p in result.packages] == ["zlib"]
    assert result.packages[0].locations[0].path == "/lib.pkglist"
    assert result.os is not None and result.os.pretty_name.startswith("Debian")
    assert result.layers == ()
