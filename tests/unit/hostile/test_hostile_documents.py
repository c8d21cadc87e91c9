"""Hostile documents (deep nesting, wrong types, empty lists) are exit 2 with one line, never an internal error.

Every case is built here, in the test: JSON nested 100,000 levels deep in a
docker-archive manifest, an image config, an OCI index, SBOMs and a lock
file; ``RepoTags: 5``; an OCI index with no manifests; an OSV zip whose only
member is not an advisory (an import that would empty a source).
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

DEPTH = 100_000
DEEP_ARRAY = "[" * DEPTH + "]" * DEPTH
DEEP_OBJECT = '{"a":' * DEPTH + "1" + "}" * DEPTH


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shieldwall", *args], capture_output=True, text=True, timeout=120)


def _tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _empty_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w"):
        pass
    return buf.getvalue()


def _archive(tmp_path: Path, manifest: object, config: bytes | None = None) -> Path:
    layer = _empty_layer()
    if config is None:
        diff = "sha256:" + hashlib.sha256(layer).hexdigest()
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"diff_ids": [diff]}}).encode()
    return _tar(
        tmp_path / "img.tar",
        [("c.json", config), ("l.tar", layer), ("manifest.json", json.dumps(manifest).encode())],
    )


def _assert_input_error(proc: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    err = proc.stderr.strip()
    assert err.startswith("error:") and "Traceback" not in err and "internal error" not in err, err
    assert len(err.splitlines()) <= 2, err
    for text in expected:
        assert text in err, err


def test_deep_docker_archive_manifest(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "img.tar", [("manifest.json", DEEP_ARRAY.encode())])
    _assert_input_error(run("scan", f"docker-archive:{archive}", "-q"), "manifest.json")


def test_deep_image_config(tmp_path: Path) -> None:
    layer = _empty_layer()
    diff = hashlib.sha256(layer).hexdigest()
    config = f'{{"os":"linux","rootfs":{{"diff_ids":["sha256:{diff}"]}},"config":{DEEP_OBJECT}}}'.encode()
    archive = _archive(tmp_path, [{"Config": "c.json", "Layers": ["l.tar"], "RepoTags": ["x:1"]}], config)
    _assert_input_error(run("scan", f"docker-archive:{archive}", "-q"), "config")


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"Config": "c.json", "Layers": ["l.tar"], "RepoTags": 5}, "RepoTags"),
        ({"Config": "c.json", "Layers": [7], "RepoTags": ["x:1"]}, "Layers"),
        ({"Config": "c.json", "Layers": "l.tar"}, "Layers"),
    ],
)
def test_wrong_types_in_a_docker_archive_manifest(tmp_path: Path, entry: dict[str, object], field: str) -> None:
    _assert_input_error(run("scan", f"docker-archive:{_archive(tmp_path, [entry])}", "-q"), field)


def test_deep_and_empty_oci_index(tmp_path: Path) -> None:
    for name, index in (("deep", '{"schemaVersion":2,"manifests":' + DEEP_ARRAY + "}"), ("empty", '{"manifests":[]}')):
        layout = tmp_path / name
        (layout / "blobs" / "sha256").mkdir(parents=True)
        (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        (layout / "index.json").write_text(index)
        _assert_input_error(run("scan", f"oci:{layout}", "-q"), "index.json")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("bom.cdx.json", '{"bomFormat":"CycloneDX","specVersion":"1.5","components":' + DEEP_ARRAY + "}"),
        ("bom.spdx.json", '{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","packages":' + DEEP_ARRAY + "}"),
        (
            "bom.cdx.xml",
            '<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>'
            + "<component>" * 20_000
            + "</component>" * 20_000
            + "</components></bom>",
        ),
    ],
)
def test_deep_sboms(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    _assert_input_error(run("scan", f"sbom:{path}", "-q"), name)


def test_deep_lock_file_is_a_warning_and_the_scan_goes_on(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "package-lock.json").write_text('{"lockfileVersion":3,"packages":' + DEEP_OBJECT + "}")
    (tmp_path / "app" / "requirements.txt").write_text("requests==2.31.0\n")
    proc = run("scan", f"dir:{tmp_path / 'app'}", "-q", "--format", "json", "--scanners", "license")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert any("package-lock.json" in w["path"] for w in doc["warnings"]), doc["warnings"]
    assert any(p["name"] == "requests" for p in doc["packages"])


def test_an_osv_import_that_yields_nothing_is_refused_and_keeps_the_source(tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr(
            "GHSA-aaaa.json",
            json.dumps(
                {
                    "id": "GHSA-aaaa",
                    "modified": "2024-01-01T00:00:00Z",
                    "affected": [{"package": {"ecosystem": "PyPI", "name": "x"}, "versions": ["1.0"]}],
                }
            ),
        )
        z.writestr("GHSA-deep.json", '{"id":"GHSA-deep","affected":' + DEEP_ARRAY + "}")
    first = run("db", "import", str(good), "--source", "mirror", "-q")
    assert first.returncode == 0, first.stderr
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("README.txt", "an error page, not advisories")
    refused = run("db", "import", str(empty), "--source", "mirror", "-q")
    _assert_input_error(refused, "no records")
    status = run("db", "status")
    assert "Advisories: 1" in status.stdout, status.stdout
    allowed = run("db", "import", str(empty), "--source", "mirror", "-q", "--allow-empty")
    assert allowed.returncode == 0, allowed.stderr
    assert "Advisories: 0" in run("db", "status").stdout


def _record_layer(kind: bytes, size: int) -> bytes:
    """A layer tar whose first member carries a PAX header or GNU long name record of ``size`` bytes."""
    info = tarfile.TarInfo("././@LongLink" if kind == tarfile.GNUTYPE_LONGNAME else "././@PaxHeader")
    info.type = kind
    info.size = size
    header = info.tobuf(tarfile.GNU_FORMAT if kind == tarfile.GNUTYPE_LONGNAME else tarfile.USTAR_FORMAT)
    body = b"a" * size + b"\0" * (-size % 512)
    if kind == tarfile.XHDTYPE:
        record = b"path=" + b"a" * (size - 16) + b"\n"
        record = f"{len(record) + len(str(len(record))) + 1} ".encode() + record
        body = record.ljust(size, b"\n") + b"\0" * (-size % 512)
    member = tarfile.TarInfo("etc/hostname")
    member.size = 2
    tail = member.tobuf(tarfile.USTAR_FORMAT) + b"x\n" + b"\0" * 510 + b"\0" * 1024
    return header + body + tail


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_huge_pax_headers_and_long_names_are_refused_before_reading(tmp_path: Path, kind: bytes) -> None:
    layer = _record_layer(kind, 2 * 1024 * 1024)
    diff = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"diff_ids": [diff]}}).encode()
    archive = _tar(
        tmp_path / "img.tar",
        [
            ("c.json", config),
            ("l.tar", layer),
            ("manifest.json", json.dumps([{"Config": "c.json", "Layers": ["l.tar"]}]).encode()),
        ],
    )
    _assert_input_error(run("scan", f"docker-archive:{archive}", "-q", "--no-cache"), "above the")


def test_an_sbom_with_too_many_components_is_refused(tmp_path: Path) -> None:
    from shieldwall.target.sbom import MAX_PACKAGES

    count = MAX_PACKAGES + 1
    components = ",".join(f'{{"type":"library","name":"p{i}","version":"1"}}' for i in range(count))
    path = tmp_path / "big.cdx.json"
    path.write_text('{"bomFormat":"CycloneDX","specVersion":"1.5","components":[' + components + "]}")
    _assert_input_error(run("scan", f"sbom:{path}", "-q"), "more than")
    xml_path = tmp_path / "big.cdx.xml"
    xml_path.write_text(
        '<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>'
        + '<component type="library"><name>p</name></component>' * count
        + "</components></bom>"
    )
    _assert_input_error(run("scan", f"sbom:{xml_path}", "-q"), "more than")


def test_junk_tag_value_is_refused_in_one_pass(tmp_path: Path) -> None:
    import random
    import string

    rnd = random.Random(3)
    path = tmp_path / "junk.spdx"
    path.write_text("SPDXVersion: SPDX-2.3\n" + "".join(rnd.choice(string.printable) for _ in range(2_000_000)))
    _assert_input_error(run("scan", f"sbom:{path}", "-q"), "not SPDX tag-value")
