"""SBOM input: CycloneDX and SPDX documents read as a target's inventory."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from shieldwall.analyze.common import make_package
from shieldwall.errors import CorruptInputError, InputError, UnsafeInputError
from shieldwall.model import OSInfo, Package, PackageType, ScanResult, Target, TargetKind, TargetRef
from shieldwall.report.cyclonedx import render_cyclonedx
from shieldwall.report.spdx import render_spdx
from shieldwall.target.sbom import FOUND_BY_CYCLONEDX, FOUND_BY_SPDX, looks_like_sbom, read_sbom

FIXTURES = Path(__file__).parents[2] / "fixtures" / "sbom"
SHARED = Path(__file__).parents[3] / ".." / "shared" / "data" / "sbom"


def _shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


def _by_name(packages: tuple[Package, ...]) -> dict[str, Package]:
    return {p.name: p for p in packages}


# --- CycloneDX -------------------------------------------------------------------------------------


def test_cyclonedx_json_fixture() -> None:
    name, packages, os = read_sbom(FIXTURES / "cyclonedx-small.json")
    assert name == "registry.example.com/shop/web"
    by_name = _by_name(packages)
    # the file component without a PURL and the OS component are not packages; the nested one is
    assert set(by_name) == {
        "libc6",
        "libssl3",
        "openssl-libs",
        "busybox",
        "@babel/core",
        "json5",
        "org.apache.commons:commons-text",
        "golang.org/x/net",
        "requests",
        "actions/checkout",
        "vendored-lib",
    }
    assert os is not None
    assert (os.family, os.version, os.pretty_name) == ("debian", "12", "Debian GNU/Linux 12 (bookworm)")
    for package in packages:
        assert package.found_by == FOUND_BY_CYCLONEDX
        assert [loc.path for loc in package.locations] == ["/cyclonedx-small.json"]


def test_cyclonedx_types_names_and_source_packages_come_from_the_purl() -> None:
    by_name = _by_name(read_sbom(FIXTURES / "cyclonedx-small.json")[1])
    libc = by_name["libc6"]
    assert (libc.type, libc.version, libc.arch) == (PackageType.DEB, "2.36-9+deb12u4", "amd64")
    assert (libc.source_name, libc.source_version) == ("glibc", "")
    assert libc.licenses == ("LGPL-2.1-only", "GPL with exceptions")
    ssl = by_name["libssl3"]
    assert (ssl.source_name, ssl.source_version) == ("openssl", "3.0.11-1~deb12u2")
    rpm = by_name["openssl-libs"]
    assert (rpm.type, rpm.source_name, rpm.source_version) == (PackageType.RPM, "openssl", "3.0.7-24.el9")
    assert by_name["busybox"].type is PackageType.APK
    babel = by_name["@babel/core"]
    assert (babel.type, babel.purl, babel.licenses) == (
        PackageType.NPM,
        "pkg:npm/%40babel/core@7.24.0",
        ("MIT OR Apache-2.0",),
    )
    assert by_name["org.apache.commons:commons-text"].type is PackageType.MAVEN
    assert by_name["golang.org/x/net"].type is PackageType.GOLANG
    assert by_name["requests"].type is PackageType.PYPI
    # an unknown PURL type keeps its PURL but is generic
    checkout = by_name["actions/checkout"]
    assert (checkout.type, checkout.purl) == (PackageType.GENERIC, "pkg:github/actions/checkout@v4")
    # no PURL at all: a generic one is made from group, name and version
    assert by_name["vendored-lib"].purl == "pkg:generic/acme/vendored-lib@0.3"


def test_cyclonedx_dependencies_become_names() -> None:
    by_name = _by_name(read_sbom(FIXTURES / "cyclonedx-small.json")[1])
    assert by_name["@babel/core"].depends_on == ("json5", "requests")
    assert by_name["libssl3"].depends_on == ("libc6",)
    assert by_name["org.apache.commons:commons-text"].depends_on == ()


def test_cyclonedx_xml_fixture() -> None:
    name, packages, os = read_sbom(FIXTURES / "cyclonedx-small.xml")
    assert name == "billing-service"
    assert os is None
    by_name = _by_name(packages)
    assert set(by_name) == {
        "com.fasterxml.jackson.core:jackson-databind",
        "com.fasterxml.jackson.core:jackson-core",
        "lodash",
    }
    assert by_name["com.fasterxml.jackson.core:jackson-databind"].depends_on == (
        "com.fasterxml.jackson.core:jackson-core",
    )
    assert by_name["lodash"].licenses == ("MIT",)


def test_os_is_taken_from_distro_qualifiers_when_no_os_component(tmp_path: Path) -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "components": [
            {"type": "library", "name": "musl", "purl": "pkg:apk/alpine/musl@1.2.4-r2?distro=alpine-3.18.4"},
            {"type": "library", "name": "zlib", "purl": "pkg:apk/alpine/zlib@1.3-r0?distro=alpine-3.18.4"},
        ],
    }
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(doc))
    name, packages, os = read_sbom(path)
    assert name == "bom.json"
    assert len(packages) == 2
    assert os is not None
    assert (os.family, os.version) == ("alpine", "3.18.4")


# --- SPDX ------------------------------------------------------------------------------------------


def test_spdx_json_fixture() -> None:
    name, packages, os = read_sbom(FIXTURES / "spdx-small.spdx.json")
    assert name == "registry.example.com/shop/api:1.4"
    assert os is not None
    assert (os.family, os.version) == ("alpine", "3.19.1")
    by_name = _by_name(packages)
    # the described image package that contains the others is the target, not a package
    assert set(by_name) == {"musl", "libssl3", "express", "body-parser", "@types/node", "in-house-tool"}
    assert by_name["libssl3"].type is PackageType.APK
    assert (by_name["libssl3"].source_name, by_name["libssl3"].arch) == ("openssl", "x86_64")
    assert by_name["body-parser"].licenses == ("MIT OR Apache-2.0",)
    # licenseDeclared NOASSERTION: the concluded licence is used
    assert by_name["@types/node"].licenses == ("MIT",)
    assert by_name["@types/node"].purl == "pkg:npm/%40types/node@20.11.5"
    assert by_name["in-house-tool"].type is PackageType.GENERIC
    assert by_name["in-house-tool"].purl == "pkg:generic/in-house-tool@7"
    # DEPENDS_ON and the inverse DEPENDENCY_OF
    assert by_name["express"].depends_on == ("body-parser", "@types/node")
    assert by_name["libssl3"].depends_on == ("musl",)
    assert {p.found_by for p in packages} == {FOUND_BY_SPDX}
    assert {loc.path for p in packages for loc in p.locations} == {"/spdx-small.spdx.json"}


def test_spdx_tag_value_fixture() -> None:
    name, packages, os = read_sbom(FIXTURES / "spdx-small.spdx")
    assert name == "rootfs-scan"
    by_name = _by_name(packages)
    assert set(by_name) == {"bash", "libtinfo6", "github.com/spf13/cobra"}
    bash = by_name["bash"]
    assert (bash.type, bash.version, bash.source_name, bash.source_version) == (
        PackageType.DEB,
        "5.2.15-2+b2",
        "bash",
        "5.2.15-2",
    )
    assert bash.licenses == ("GPL-3.0-or-later",)
    assert bash.depends_on == ("libtinfo6",)
    assert by_name["github.com/spf13/cobra"].type is PackageType.GOLANG
    # no OS package: the distro qualifier of the deb PURLs names it
    assert os is not None
    assert (os.family, os.version) == ("debian", "12")


def test_spdx_yaml_fixture() -> None:
    name, packages, os = read_sbom(FIXTURES / "spdx-small.spdx.yaml")
    assert name == "python-app"
    assert os is None
    by_name = _by_name(packages)
    # the document's spelling of a PyPI name is kept; the PURL has the normalised one
    assert set(by_name) == {"Flask", "Werkzeug"}
    assert by_name["Flask"].purl == "pkg:pypi/flask@3.0.0"
    assert by_name["Flask"].type is PackageType.PYPI
    assert by_name["Flask"].depends_on == ("Werkzeug",)
    assert by_name["Flask"].licenses == ("BSD-3-Clause",)


def test_spdx_document_that_spdx_tools_rejects_is_read_leniently() -> None:
    name, packages, os = read_sbom(FIXTURES / "spdx-lenient.json")
    assert name == "legacy-scanner-output"
    assert os is not None
    assert (os.family, os.version) == ("debian", "10.8")
    by_name = _by_name(packages)
    assert set(by_name) == {"zlib1g", "rack"}
    assert by_name["zlib1g"].licenses == ("Zlib",)
    assert by_name["rack"].licenses == ("MIT",)
    assert by_name["rack"].type is PackageType.GEM
    assert by_name["rack"].depends_on == ("zlib1g",)


def test_utf16_document_with_crlf_line_ends(tmp_path: Path) -> None:
    text = (FIXTURES / "spdx-small.spdx").read_text().replace("\n", "\r\n")
    path = tmp_path / "utf16.spdx"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert looks_like_sbom(path)
    _, packages, _ = read_sbom(path)
    assert {p.name for p in packages} == {"bash", "libtinfo6", "github.com/spf13/cobra"}


# --- round trip -------------------------------------------------------------------------------------


def _scan_result() -> ScanResult:
    libc = make_package(
        PackageType.DEB,
        "libc6",
        "2.36-9",
        "/var/lib/dpkg/status",
        "dpkg",
        purl="pkg:deb/debian/libc6@2.36-9?arch=amd64&upstream=glibc",
        licenses=["LGPL-2.1-only"],
        source_name="glibc",
    )
    apk = make_package(
        PackageType.APK,
        "ssl_client",
        "1.36.1-r5",
        "/lib/apk/db/installed",
        "apk",
        purl="pkg:apk/alpine/ssl_client@1.36.1-r5?arch=x86_64&upstream=busybox",
        licenses=["GPL-2.0-only"],
    )
    rpm = make_package(
        PackageType.RPM,
        "bash",
        "5.1.8-6.el9",
        "/var/lib/rpm/rpmdb.sqlite",
        "rpm",
        purl="pkg:rpm/redhat/bash@5.1.8-6.el9?arch=x86_64&upstream=bash-5.1.8-6.el9.src.rpm",
        licenses=["GPLv3+"],
    )
    scoped = make_package(PackageType.NPM, "@angular/core", "17.0.0", "/app/package-lock.json", "npm", licenses=["MIT"])
    rxjs = make_package(PackageType.NPM, "rxjs", "7.8.1", "/app/package-lock.json", "npm", licenses=["Apache-2.0"])
    scoped = scoped.evolve(depends_on=("rxjs",), dependency_ids=(rxjs.id,))
    maven = make_package(
        PackageType.MAVEN, "org.yaml:snakeyaml", "1.33", "/app/app.jar", "java", licenses=["Apache-2.0"]
    )
    go = make_package(PackageType.GOLANG, "github.com/gin-gonic/gin", "v1.9.1", "/app/go.mod", "go", licenses=["MIT"])
    py = make_package(
        PackageType.PYPI, "PyYAML", "6.0.1", "/app/requirements.txt", "python", licenses=["MIT OR Apache-2.0"]
    )
    cargo = make_package(PackageType.CARGO, "serde", "1.0.193", "/app/Cargo.lock", "rust")
    gem = make_package(PackageType.GEM, "rack", "2.2.8", "/app/Gemfile.lock", "ruby", licenses=["MIT License"])
    return ScanResult(
        target=Target(
            ref=TargetRef(TargetKind.DOCKER_ARCHIVE, "app.tar"),
            name="shop/app:2",
            digest="sha256:" + "ef" * 32,
            repository="shop/app",
        ),
        os=OSInfo("debian", "Debian GNU/Linux", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)"),
        packages=(libc, apk, rpm, scoped, rxjs, maven, go, py, cargo, gem),
        tool_version="9.9.9",
    )


@pytest.mark.parametrize(
    ("render", "file_name"),
    [(render_cyclonedx, "scan.cdx.json"), (render_spdx, "scan.spdx.json")],
    ids=["cyclonedx", "spdx"],
)
def test_round_trip_keeps_purls_names_types_and_graph(render: object, file_name: str, tmp_path: Path) -> None:
    result = _scan_result()
    path = tmp_path / file_name
    assert callable(render)
    path.write_text(render(result))
    assert looks_like_sbom(path)
    _, packages, os = read_sbom(path)
    assert {p.purl for p in packages} == {p.purl for p in result.packages}
    assert {(p.type, p.name, p.version) for p in packages} == {(p.type, p.name, p.version) for p in result.packages}
    by_name = _by_name(packages)
    assert by_name["@angular/core"].depends_on == ("rxjs",)
    assert by_name["libc6"].source_name == "glibc"
    assert (by_name["bash"].source_name, by_name["bash"].source_version) == ("bash", "5.1.8-6.el9")
    assert by_name["libc6"].licenses == ("LGPL-2.1-only",)
    assert by_name["PyYAML"].licenses == ("MIT OR Apache-2.0",)
    assert os is not None
    assert (os.family, os.version) == ("debian", "12")


# --- detection and refusal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["cyclonedx-small.json", "cyclonedx-small.xml", "spdx-small.spdx.json", "spdx-small.spdx", "spdx-small.spdx.yaml"],
)
def test_fixtures_look_like_sboms(name: str) -> None:
    assert looks_like_sbom(FIXTURES / name)


def test_sniff_finds_markers_at_the_end_of_large_sorted_documents(tmp_path: Path) -> None:
    # cyclonedx-python-lib sorts keys: "bomFormat" and "specVersion" come after the components
    packages = tuple(
        make_package(PackageType.NPM, f"package-{i}", "1.0.0", "/app/package-lock.json", "npm") for i in range(200)
    )
    text = render_cyclonedx(ScanResult(target=Target(TargetRef(TargetKind.DIRECTORY, "."), "."), packages=packages))
    assert text.index('"bomFormat"') > 16384
    path = tmp_path / "big.json"
    path.write_text(text.replace('"bom-ref"', '"bom_ref"'))  # leave only the trailing markers
    assert looks_like_sbom(path)


@pytest.mark.parametrize(
    "content",
    [
        b'{"name": "my-app", "version": "1.0.0", "dependencies": {}}',
        b"# README\n\nNothing to see.\n",
        b"",
        b"\x1f\x8b\x08\x00" + b'"bomFormat"' * 10,
        b"\x00" * 300 + b'"spdxVersion"',
    ],
    ids=["package-json", "markdown", "empty", "gzip", "binary"],
)
def test_other_files_do_not_look_like_sboms(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(content)
    assert not looks_like_sbom(path)


def test_tar_archive_containing_an_sbom_is_not_an_sbom(tmp_path: Path) -> None:
    import tarfile

    path = tmp_path / "image.tar"
    with tarfile.open(path, "w") as archive:
        archive.add(FIXTURES / "cyclonedx-small.json", arcname="sbom.json")
    assert not looks_like_sbom(path)


def test_missing_file_does_not_look_like_an_sbom(tmp_path: Path) -> None:
    assert not looks_like_sbom(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b'{"name": "my-app", "dependencies": {}}', InputError),
        (b"[1, 2, 3]", InputError),
        (b"hello: world\n", InputError),
        (b"plain text", InputError),
        (b"<html><body>hi</body></html>", InputError),
        (b'{"bomFormat": "CycloneDX", "components": [', CorruptInputError),
        (b'{"spdxVersion": "SPDX-2.3", ', CorruptInputError),
        (b"[" * 100000 + b"]" * 100000, InputError),
        (b"\xff\xfe\xfa\xfb not utf8", CorruptInputError),
        (b"spdxVersion: SPDX-2.3\npackages: [\n", CorruptInputError),
        (b"|\nspdxVersion: SPDX-2.3\n", InputError),
    ],
    ids=[
        "other-json",
        "json-array",
        "other-yaml",
        "text",
        "html",
        "truncated-cyclonedx",
        "truncated-spdx",
        "deeply-nested",
        "not-utf8",
        "broken-yaml",
        "yaml-string-doc",
    ],
)
def test_unreadable_documents_raise_input_errors(content: bytes, error: type[InputError], tmp_path: Path) -> None:
    path = tmp_path / "input"
    path.write_bytes(content)
    with pytest.raises(error) as caught:
        read_sbom(path)
    assert "\n" not in str(caught.value)


def test_deeply_nested_json_object_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "nested.json"
    path.write_text('{"a":' * 100000 + "1" + "}" * 100000)
    with pytest.raises(CorruptInputError):
        read_sbom(path)


def test_oversized_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes((FIXTURES / "cyclonedx-small.json").read_bytes())
    with pytest.raises(UnsafeInputError, match="limit"):
        read_sbom(path, max_bytes=1024)
    assert read_sbom(path, max_bytes=1024 * 1024)[1]


def test_directory_and_missing_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_sbom(tmp_path)
    with pytest.raises(InputError):
        read_sbom(tmp_path / "absent.json")


def test_xml_with_entities_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bom.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE bom [<!ENTITY x "xxxxxxxx">]>\n'
        '<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components/></bom>\n'
    )
    with pytest.raises(UnsafeInputError):
        read_sbom(path)


def test_malformed_cyclonedx_xml_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "bom.xml"
    path.write_text('<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components><component>')
    with pytest.raises(CorruptInputError):
        read_sbom(path)


def test_malformed_spdx_tag_value_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "doc.spdx"
    path.write_text("SPDXVersion: SPDX-2.3\nPackageName: x\nRelationship: nonsense\n")
    with pytest.raises(InputError):
        read_sbom(path)


def test_wrongly_typed_cyclonedx_fields_are_skipped(tmp_path: Path) -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "metadata": "not an object",
        "components": [
            "not a component",
            {"type": "library", "name": ["x"], "purl": ["x"]},
            {"type": "library", "name": "ok", "version": 3, "purl": "pkg:npm/ok@3", "licenses": [{"license": "MIT"}]},
            {"type": "library", "name": "bad-purl", "version": "1", "purl": "not a purl"},
        ],
        "dependencies": [{"ref": 1}, "x", {"ref": "y", "dependsOn": "z"}],
    }
    path = tmp_path / "weird.json"
    path.write_text(json.dumps(doc))
    _, packages, _ = read_sbom(path)
    by_name = _by_name(packages)
    assert set(by_name) == {"ok", "bad-purl"}
    assert by_name["ok"].version == "3"
    assert by_name["bad-purl"].purl == "pkg:generic/bad-purl@1"


# --- real documents from ../shared/data -----------------------------------------------------------


def test_keycloak_cyclonedx_json_has_903_components() -> None:
    path = _shared("cyclonedx-bom-examples", "SBOM", "keycloak-10.0.2", "bom.json")
    name, packages, os = read_sbom(path)
    assert name == "keycloak-parent"
    assert len(packages) == 903
    assert os is None
    assert all(p.type is PackageType.MAVEN for p in packages)
    assert sum(1 for p in packages if p.depends_on) > 100
    assert all(":" in p.name for p in packages)


@pytest.mark.slow
def test_keycloak_cyclonedx_xml_matches_json() -> None:
    folder = _shared("cyclonedx-bom-examples", "SBOM", "keycloak-10.0.2")
    from_json = {p.purl for p in read_sbom(folder / "bom.json")[1]}
    from_xml = {p.purl for p in read_sbom(folder / "bom.xml")[1]}
    assert from_xml == from_json


def test_spdx_examples_in_every_format_agree() -> None:
    folder = _shared("spdx-examples", "data")
    names = [
        "SPDXJSONExample-v2.3.spdx.json",
        "SPDXTagExample-v2.3.spdx",
        "SPDXYAMLExample-v2.3.spdx.yaml",
        "SPDXRdfExample-v2.3.spdx.rdf.xml",
        "SPDXXMLExample-v2.3.spdx.xml",
        "SPDXJSONExample-UTF-16.spdx.json",
    ]
    seen = []
    for file_name in names:
        name, packages, _ = read_sbom(folder / file_name)
        assert name == "SPDX-Tools-v2.0"
        seen.append({p.purl for p in packages})
    assert "pkg:maven/org.apache.jena/apache-jena@3.12.0" in seen[0]
    assert len(seen[0]) == 4
    assert all(s == seen[0] for s in seen)


def test_invalid_trivy_spdx_is_read_leniently() -> None:
    folder = _shared("spdx-examples", "data", "invalid")
    path = next(folder.glob("spdx-trivy-*.json"))
    _, packages, os = read_sbom(path)
    assert len(packages) > 100
    assert os is not None
    assert os.family == "debian"
    assert any(p.type is PackageType.GEM for p in packages)


def test_every_spdx_example_reads_or_raises_input_error() -> None:
    folder = _shared("spdx-examples", "data")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert files
    for path in files:
        try:
            _, packages, _ = read_sbom(path)
        except InputError:
            continue
        assert all(p.purl for p in packages)


@pytest.mark.slow
def test_cyclonedx_schema_tests_never_crash() -> None:
    folder = _shared("cyclonedx-schema-tests", "_data", "schemaTestData")
    files = sorted(p for p in folder.rglob("*") if p.suffix in {".json", ".xml"})
    assert len(files) > 500
    valid_json_read = 0
    for path in files:
        try:
            read_sbom(path)
        except InputError:
            # invalid documents, and XML the library cannot deserialise, must fail this way only
            assert not (path.name.startswith("valid-") and path.suffix == ".json"), path
            continue
        if path.name.startswith("valid-") and path.suffix == ".json":
            valid_json_read += 1
    assert valid_json_read > 200


def _trivy_component(name: str, version: str, purl: str, src: dict[str, str]) -> dict[str, object]:
    props = [{"name": "aquasecurity:trivy:PkgType", "value": "debian"}]
    props += [{"name": f"aquasecurity:trivy:{k}", "value": v} for k, v in src.items()]
    return {"bom-ref": purl, "type": "library", "name": name, "version": version, "purl": purl, "properties": props}


def test_trivy_source_package_properties_are_read(tmp_path: Path) -> None:
    """trivy writes the source package in aquasecurity:trivy:Src* properties, not the PURL (authored in its layout)."""
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "components": [
            _trivy_component(
                "libssl3",
                "3.0.11-1~deb12u2",
                "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12.4",
                {"SrcName": "openssl", "SrcVersion": "3.0.11", "SrcRelease": "1~deb12u2"},
            ),
            _trivy_component(
                "bash",
                "1:5.2.15-2+b2",
                "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12.4&epoch=1",
                {"SrcName": "bash", "SrcVersion": "5.2.15", "SrcRelease": "2", "SrcEpoch": "1"},
            ),
            _trivy_component(
                "libfoo",
                "1.0-1",
                "pkg:deb/debian/libfoo@1.0-1?arch=amd64&upstream=foo%401.0-1&distro=debian-12.4",
                {"SrcName": "other", "SrcVersion": "9"},
            ),
        ],
    }
    path = tmp_path / "trivy.cdx.json"
    path.write_text(json.dumps(doc))
    _, packages, _ = read_sbom(path)
    by_name = _by_name(packages)
    assert (by_name["libssl3"].source_name, by_name["libssl3"].source_version) == ("openssl", "3.0.11-1~deb12u2")
    assert (by_name["bash"].source_name, by_name["bash"].source_version) == ("bash", "1:5.2.15-2")
    assert (by_name["libfoo"].source_name, by_name["libfoo"].source_version) == ("foo", "1.0-1")  # the PURL wins


def test_spdx_yaml_is_detected_however_long_its_header(tmp_path: Path) -> None:
    """Sorted YAML keys put spdxVersion after every package; a long description pushes it past any sniff window."""
    packages = "".join(
        f"- SPDXID: SPDXRef-Package-{i}\n  name: pkg{i}\n  versionInfo: 1.0.{i}\n  downloadLocation: NOASSERTION\n"
        f"  externalRefs:\n  - referenceCategory: PACKAGE-MANAGER\n    referenceType: purl\n"
        f"    referenceLocator: pkg:pypi/pkg{i}@1.0.{i}\n"
        for i in range(400)
    )
    text = (
        "comment: |\n"
        + "".join(f"  line {i} of a long header written by some tool\n" for i in range(3000))
        + "creationInfo:\n  created: '2024-01-01T00:00:00Z'\n  creators:\n  - 'Tool: test'\n"
        "dataLicense: CC0-1.0\ndocumentNamespace: https://example.com/doc\nname: long\n"
        "packages:\n" + packages + "SPDXID: SPDXRef-DOCUMENT\nspdxVersion: SPDX-2.3\n"
    )
    path = tmp_path / "long.spdx.yaml"
    path.write_text(text + "\n" * 10 + "# " + "x" * 8000 + "\n")  # the tail is padding, too
    assert looks_like_sbom(path)
    _, found, _ = read_sbom(path)
    assert len(found) == 400 and {p.type for p in found} == {PackageType.PYPI}
