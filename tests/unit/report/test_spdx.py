"""SPDX 2.3 JSON output: passes spdx-tools' validator, one package per Package, relationships kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from spdx_tools.spdx.model.document import Document
from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.writer.write_anything import write_file

from shieldwall.analyze.common import make_package
from shieldwall.model import OSInfo, Package, PackageType, ScanResult, Target, TargetKind, TargetRef
from shieldwall.report.spdx import DOCUMENT_ID, OS_ID, ROOT_ID, render_spdx

DIGEST = "sha256:" + "ab" * 32


def _packages() -> tuple[Package, ...]:
    zlib = make_package(
        PackageType.DEB,
        "zlib1g",
        "1:1.2.13.dfsg-1",
        "/var/lib/dpkg/status",
        "dpkg",
        purl="pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&epoch=1&upstream=zlib",
        licenses=["Zlib"],
        source_name="zlib",
    )
    openssl = make_package(
        PackageType.DEB,
        "libssl3",
        "3.0.11-1",
        "/var/lib/dpkg/status",
        "dpkg",
        purl="pkg:deb/debian/libssl3@3.0.11-1?arch=amd64",
        licenses=["Apache-2.0", "GPL-2.0+"],
    ).evolve(dependency_ids=("0" * 16,))
    lodash = make_package(
        PackageType.NPM, "lodash", "4.17.21", "/app/package-lock.json", "npm", licenses=["MIT OR CC0-1.0"]
    )
    express = make_package(PackageType.NPM, "express", "4.18.2", "/app/package-lock.json", "npm").evolve(
        dependency_ids=(lodash.id,)
    )
    artistic = make_package(PackageType.GEM, "old-gem", "0.1", "/gems/old.gemspec", "ruby", licenses=["Artistic"])
    weird = make_package(
        PackageType.PYPI, "weird", "1.0", "/app/requirements.txt", "python", licenses=["MIT License / X11 (((", ""]
    )
    mixed = make_package(
        PackageType.CARGO,
        "mixed",
        "0.2.0",
        "/app/Cargo.lock",
        "rust",
        # "((" is an ExpressionError, the other two make license-expression raise AssertionError / IndexError
        licenses=["MIT", "((", "( OR GPL-2.0++", "())and", "Foo OR BSD-3-Clause"],
    )
    ref = make_package(
        PackageType.GOLANG, "github.com/acme/x", "v1.0.0", "/app/go.mod", "go", licenses=["LicenseRef-acme"]
    )
    return (zlib, openssl, lodash, express, artistic, weird, mixed, ref)


def _result(**changes: Any) -> ScanResult:
    fields: dict[str, Any] = {
        "target": Target(
            ref=TargetRef(TargetKind.OCI, "./layout"),
            name="shop/api:1.4",
            digest=DIGEST,
            repository="registry.example.com/shop/api",
        ),
        "os": OSInfo("debian", "Debian GNU/Linux", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)"),
        "packages": _packages(),
        "tool_version": "9.9.9",
        "finished_at": "2024-05-01T10:00:00.123456+00:00",
    }
    fields.update(changes)
    return ScanResult(**fields)


def _parse(text: str) -> Document:
    document: Document = JsonLikeDictParser().parse(json.loads(text))  # type: ignore[no-untyped-call]
    return document


def _by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["SPDXID"]: p for p in doc["packages"]}


def _spdx_id(package: Package) -> str:
    return f"SPDXRef-Package-{package.id}"


@pytest.mark.parametrize(
    "result",
    [
        _result(),
        _result(os=None, packages=()),
        ScanResult(target=Target(ref=TargetRef(TargetKind.DIRECTORY, "/srv/app"), name="/srv/app")),
    ],
    ids=["image", "empty-image", "empty-directory"],
)
def test_output_passes_spdx_tools_validation(result: ScanResult) -> None:
    document = _parse(render_spdx(result))
    assert validate_full_spdx_document(document) == []


def test_output_survives_a_round_trip_through_other_spdx_formats(tmp_path: Path) -> None:
    source = tmp_path / "scan.spdx.json"
    source.write_text(render_spdx(_result()))
    document = parse_file(str(source))
    for name in ("scan.spdx", "scan.spdx.yaml", "scan.spdx.rdf.xml"):
        write_file(document, str(tmp_path / name), validate=True)
        again = parse_file(str(tmp_path / name))
        assert validate_full_spdx_document(again) == []
        assert {p.spdx_id for p in again.packages} == {p.spdx_id for p in document.packages}


def test_document_header() -> None:
    doc = json.loads(render_spdx(_result()))
    assert doc["spdxVersion"] == "SPDX-2.3"
    assert doc["SPDXID"] == DOCUMENT_ID
    assert doc["dataLicense"] == "CC0-1.0"
    assert doc["name"] == "shop/api:1.4"
    assert doc["creationInfo"]["creators"] == ["Tool: shieldwall-9.9.9"]
    assert doc["creationInfo"]["created"] == "2024-05-01T10:00:00Z"
    assert doc["documentNamespace"].startswith("https://")


def test_namespace_is_unique_per_run() -> None:
    result = _result()
    first = json.loads(render_spdx(result))["documentNamespace"]
    second = json.loads(render_spdx(result))["documentNamespace"]
    assert first != second


def test_one_spdx_package_per_package() -> None:
    packages = _packages()
    by_id = _by_id(json.loads(render_spdx(_result())))
    assert set(by_id) == {_spdx_id(p) for p in packages} | {ROOT_ID, OS_ID}
    for package in packages:
        entry = by_id[_spdx_id(package)]
        assert entry["name"] == package.name
        assert entry["versionInfo"] == package.version
        assert entry["downloadLocation"] == "NOASSERTION"
        assert entry["filesAnalyzed"] is False
        assert entry["externalRefs"] == [
            {"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl", "referenceLocator": package.purl}
        ]


def test_root_and_os_packages() -> None:
    by_id = _by_id(json.loads(render_spdx(_result())))
    root = by_id[ROOT_ID]
    assert (root["name"], root["versionInfo"], root["primaryPackagePurpose"]) == (
        "registry.example.com/shop/api",
        DIGEST,
        "CONTAINER",
    )
    os_package = by_id[OS_ID]
    assert (os_package["name"], os_package["versionInfo"]) == ("debian", "12")
    assert os_package["primaryPackagePurpose"] == "OPERATING_SYSTEM"


def test_licences_parse_fall_back_and_never_break_the_document() -> None:
    zlib, openssl, lodash, express, artistic, weird, mixed, ref = _packages()
    doc = json.loads(render_spdx(_result()))
    by_id = _by_id(doc)

    def declared(package: Package) -> str:
        value: str = by_id[_spdx_id(package)]["licenseDeclared"]
        return value

    assert declared(zlib) == "Zlib"
    assert declared(openssl) == "Apache-2.0 AND GPL-2.0-or-later"
    assert declared(lodash) == "MIT OR CC0-1.0"
    assert declared(express) == "NOASSERTION"
    # a well-formed expression naming an unknown licence becomes a LicenseRef with the text kept
    assert declared(artistic) == "LicenseRef-Artistic"
    # text that does not parse is NOASSERTION
    assert declared(weird) == "NOASSERTION"
    # what parses is kept, what does not is dropped
    assert declared(mixed) == "MIT AND LicenseRef-Foo-OR-BSD-3-Clause"
    assert declared(ref) == "LicenseRef-acme"
    extracted = {e["licenseId"]: e["extractedText"] for e in doc["hasExtractedLicensingInfos"]}
    assert extracted == {
        "LicenseRef-Artistic": "Artistic",
        "LicenseRef-Foo-OR-BSD-3-Clause": "Foo OR BSD-3-Clause",
        "LicenseRef-acme": "LicenseRef-acme",
    }


def test_relationships_describe_contain_and_depend() -> None:
    packages = _packages()
    lodash, express = packages[2:4]
    doc = json.loads(render_spdx(_result()))
    relationships = {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in doc["relationships"]}
    assert (DOCUMENT_ID, "DESCRIBES", ROOT_ID) in relationships
    assert (ROOT_ID, "CONTAINS", OS_ID) in relationships
    for package in packages:
        assert (ROOT_ID, "CONTAINS", _spdx_id(package)) in relationships
    depends = {r for r in relationships if r[1] == "DEPENDS_ON"}
    # the dangling dependency id of libssl3 is dropped
    assert depends == {(_spdx_id(express), "DEPENDS_ON", _spdx_id(lodash))}


def test_duplicate_packages_get_one_spdx_id() -> None:
    first = _packages()[2]
    text = render_spdx(_result(packages=(first, first.evolve(found_by="again"))))
    assert validate_full_spdx_document(_parse(text)) == []
    ids = [p["SPDXID"] for p in json.loads(text)["packages"]]
    assert ids.count(_spdx_id(first)) == 1
