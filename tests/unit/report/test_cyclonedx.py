"""CycloneDX 1.6 JSON output: schema-valid, one component per package, graph and provenance kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from shieldwall.analyze.common import make_package
from shieldwall.model import (
    EolStatus,
    ImageConfig,
    LayerRef,
    OSInfo,
    Package,
    PackageType,
    ScanResult,
    Target,
    TargetKind,
    TargetRef,
)
from shieldwall.report.cyclonedx import OS_REF, ROOT_REF, render_cyclonedx

DIGEST = "sha256:" + "ab" * 32
BASE_LAYER = LayerRef(0, "sha256:" + "11" * 32, "ADD rootfs.tar.xz /")
APP_LAYER = LayerRef(2, "sha256:" + "22" * 32, "RUN npm ci")


def _packages() -> tuple[Package, ...]:
    libc = make_package(
        PackageType.DEB,
        "libc6",
        "2.36-9+deb12u4",
        "/var/lib/dpkg/status",
        "dpkg",
        purl="pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc",
        licenses=["LGPL-2.1-only", "GPL-2.0+"],
        source_name="glibc",
        source_version="2.36-9+deb12u4",
        arch="amd64",
    ).evolve(introduced_by=BASE_LAYER)
    json5 = make_package(PackageType.NPM, "json5", "2.2.3", "/app/package-lock.json", "npm", licenses=["MIT"])
    babel = make_package(
        PackageType.NPM,
        "@babel/core",
        "7.24.0",
        "/app/package-lock.json",
        "npm",
        licenses=["MIT OR Apache-2.0", "ISC"],
        metadata={"integrity": "sha512-abc"},
    ).evolve(introduced_by=APP_LAYER, dependency_ids=(json5.id,))
    commons = make_package(
        PackageType.MAVEN,
        "org.apache.commons:commons-text",
        "1.9",
        "/app/lib/commons-text-1.9.jar",
        "java-archive",
        licenses=["Apache-2.0", "Custom Licence Text"],
    )
    odd = make_package(
        PackageType.GENERIC, "mystery", "", "/opt/mystery", "binary", licenses=["MIT", "GPL-2.0 OR (broken"]
    )
    return (libc, babel, json5, commons, odd)


def _image_result(**changes: Any) -> ScanResult:
    target = Target(
        ref=TargetRef(TargetKind.REGISTRY, "registry.example.com/shop/web:1.4"),
        name="registry.example.com/shop/web:1.4",
        digest=DIGEST,
        image_id="sha256:" + "cd" * 32,
        tags=("registry.example.com/shop/web:1.4",),
        repository="registry.example.com/shop/web",
    )
    fields: dict[str, Any] = {
        "target": target,
        "image": ImageConfig(os="linux", architecture="amd64"),
        "os": OSInfo(
            "debian",
            "Debian GNU/Linux",
            "12",
            "bookworm",
            "Debian GNU/Linux 12 (bookworm)",
            "2028-06-30",
            EolStatus.SUPPORTED,
        ),
        "packages": _packages(),
        "tool_version": "9.9.9",
        "finished_at": "2024-05-01T10:00:00+00:00",
    }
    fields.update(changes)
    return ScanResult(**fields)


def _dir_result() -> ScanResult:
    return ScanResult(
        target=Target(ref=TargetRef(TargetKind.DIRECTORY, "./src"), name="./src"),
        packages=_packages()[1:3],
    )


def _validate(text: str) -> None:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)


def _components(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in doc["components"]}


def _props(component: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["name"], p["value"]) for p in component.get("properties", [])]


@pytest.mark.parametrize(
    "result",
    [
        _image_result(),
        _dir_result(),
        _image_result(packages=(), os=None),
        ScanResult(target=Target(ref=TargetRef(TargetKind.SBOM, "in.json"), name="in.json")),
    ],
    ids=["image", "directory", "empty-image", "empty-sbom"],
)
def test_output_is_valid_cyclonedx_1_6(result: ScanResult) -> None:
    text = render_cyclonedx(result)
    _validate(text)
    doc = json.loads(text)
    assert doc["bomFormat"] == "CycloneDX"
    assert doc["specVersion"] == "1.6"


def test_metadata_describes_image_target_tool_and_time() -> None:
    doc = json.loads(render_cyclonedx(_image_result()))
    meta = doc["metadata"]
    assert meta["timestamp"].startswith("2024-05-01T10:00:00")
    assert meta["tools"]["components"] == [{"type": "application", "name": "shieldwall", "version": "9.9.9"}]
    root = meta["component"]
    assert root["type"] == "container"
    assert root["bom-ref"] == ROOT_REF
    assert root["name"] == "registry.example.com/shop/web"
    assert root["version"] == DIGEST
    assert root["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert root["purl"].startswith("pkg:oci/web@sha256:")
    assert "repository_url=registry.example.com/shop/web" in root["purl"]
    props = _props(root)
    assert ("shieldwall:image:tag", "registry.example.com/shop/web:1.4") in props
    assert ("shieldwall:image:digest", DIGEST) in props
    assert ("shieldwall:image:platform", "linux/amd64") in props


def test_directory_target_is_a_file_component() -> None:
    doc = json.loads(render_cyclonedx(_dir_result()))
    root = doc["metadata"]["component"]
    assert root["type"] == "file"
    assert root["name"] == "./src"
    assert "purl" not in root


def test_one_component_per_package_with_ref_name_version_purl() -> None:
    packages = _packages()
    doc = json.loads(render_cyclonedx(_image_result()))
    components = _components(doc)
    assert set(components) == {p.id for p in packages} | {OS_REF}
    babel = components[packages[1].id]
    assert (babel["name"], babel["version"], babel["purl"]) == ("@babel/core", "7.24.0", "pkg:npm/%40babel/core@7.24.0")
    commons = components[packages[3].id]
    assert (commons["group"], commons["name"]) == ("org.apache.commons", "commons-text")
    assert commons["purl"] == "pkg:maven/org.apache.commons/commons-text@1.9"
    assert "version" not in components[packages[4].id]


def test_licences_become_ids_names_or_one_expression() -> None:
    packages = _packages()
    components = _components(json.loads(render_cyclonedx(_image_result())))
    # plain SPDX ids stay separate licence entries (the library fixes up the id's spelling)
    libc = components[packages[0].id]["licenses"]
    assert sorted(entry["license"]["id"] for entry in libc) == ["GPL-2.0+", "LGPL-2.1-only"]
    # an expression mixed with an id: the schema allows one expression only, so they are joined
    assert components[packages[1].id]["licenses"] == [{"expression": "(MIT OR Apache-2.0) AND ISC"}]
    assert components[packages[2].id]["licenses"] == [{"license": {"id": "MIT"}}]
    # free text is a licence name
    commons = components[packages[3].id]["licenses"]
    assert {"license": {"id": "Apache-2.0"}} in commons
    assert {"license": {"name": "Custom Licence Text"}} in commons


def test_unparsable_expression_does_not_break_the_document() -> None:
    packages = _packages()
    text = render_cyclonedx(_image_result())
    _validate(text)
    odd = _components(json.loads(text))[packages[4].id]["licenses"]
    assert {"license": {"id": "MIT"}} in odd
    assert all("expression" not in entry for entry in odd)


def test_properties_carry_location_layer_finder_and_source() -> None:
    packages = _packages()
    components = _components(json.loads(render_cyclonedx(_image_result())))
    libc = _props(components[packages[0].id])
    assert ("shieldwall:location:path", "/var/lib/dpkg/status") in libc
    assert ("shieldwall:layer:digest", BASE_LAYER.digest) in libc
    assert ("shieldwall:layer:index", "0") in libc
    assert ("shieldwall:layer:created_by", "ADD rootfs.tar.xz /") in libc
    assert ("shieldwall:found-by", "dpkg") in libc
    assert ("shieldwall:source-name", "glibc") in libc
    assert ("shieldwall:source-version", "2.36-9+deb12u4") in libc
    babel = _props(components[packages[1].id])
    assert ("shieldwall:layer:index", "2") in babel
    assert ("shieldwall:metadata:integrity", "sha512-abc") in babel
    assert not any(name.startswith("shieldwall:source-") for name, _ in babel)
    json5 = _props(components[packages[2].id])
    assert not any(name.startswith("shieldwall:layer:") for name, _ in json5)


def test_operating_system_component() -> None:
    os_component = _components(json.loads(render_cyclonedx(_image_result())))[OS_REF]
    assert os_component["type"] == "operating-system"
    assert (os_component["name"], os_component["version"]) == ("debian", "12")
    assert os_component["description"] == "Debian GNU/Linux 12 (bookworm)"
    assert ("shieldwall:os:codename", "bookworm") in _props(os_component)
    assert ("shieldwall:os:eol-status", "supported") in _props(os_component)


def test_dependency_graph_and_root_depends_on_top_level_packages() -> None:
    packages = _packages()
    doc = json.loads(render_cyclonedx(_image_result()))
    graph = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
    babel, json5 = packages[1], packages[2]
    assert graph[babel.id] == {json5.id}
    assert graph[json5.id] == set()
    top_level = {p.id for p in packages} - {json5.id}
    assert graph[ROOT_REF] == top_level | {OS_REF}
    # every component has an entry
    assert set(graph) == {p.id for p in packages} | {OS_REF, ROOT_REF}


def test_dangling_and_self_dependencies_are_dropped() -> None:
    lone = make_package(PackageType.PYPI, "requests", "2.31.0", "/app/requirements.txt", "python")
    lone = lone.evolve(dependency_ids=("0000000000000000", lone.id))
    text = render_cyclonedx(_image_result(packages=(lone,)))
    _validate(text)
    graph = {d["ref"]: d.get("dependsOn", []) for d in json.loads(text)["dependencies"]}
    assert graph[lone.id] == []


def test_duplicate_packages_become_one_component() -> None:
    first = _packages()[2]
    text = render_cyclonedx(_image_result(packages=(first, first.evolve(found_by="other"))))
    _validate(text)
    refs = [c["bom-ref"] for c in json.loads(text)["components"]]
    assert refs.count(first.id) == 1
