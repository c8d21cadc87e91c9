"""The bundled demo image: what ``make demo`` scans must be complete and attributed to its layers."""

from __future__ import annotations

import pytest

from shieldwall.demo import build_demo_image
from shieldwall.model import PackageType, ScanResult
from shieldwall.service.scan import ScanOptions, scan_target


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    archive = build_demo_image(tmp_path_factory.mktemp("demo"))
    return scan_target(f"docker-archive:{archive}", ScanOptions(use_cache=False))


def test_demo_image_identity(demo: ScanResult) -> None:
    assert demo.target.tags == ("shieldwall/demo:1.0",)
    assert demo.os is not None and (demo.os.family, demo.os.version) == ("debian", "12")
    assert demo.image is not None and demo.image.exposed_ports == ("8080/tcp",)
    assert len(demo.layers) == 5 and demo.layers[4].created_by == "RUN rm /app/web/.npmrc"


def test_demo_inventory_by_layer(demo: ScanResult) -> None:
    layer_of: dict[PackageType, set[int]] = {}
    for package in demo.packages:
        assert package.introduced_by is not None
        layer_of.setdefault(package.type, set()).add(package.introduced_by.index)
    assert layer_of[PackageType.DEB] == {0}
    assert layer_of[PackageType.PYPI] == {1}
    assert layer_of[PackageType.NPM] == {2}
    assert layer_of[PackageType.GOLANG] == {3}


def test_demo_packages(demo: ScanResult) -> None:
    purls = {p.purl.split("?")[0] for p in demo.packages}
    assert len([p for p in demo.packages if p.type is PackageType.DEB]) == 30
    assert "pkg:pypi/requests@2.25.1" in purls and "pkg:pypi/markupsafe@1.1.1" in purls
    assert {"pkg:npm/lodash@4.17.15", "pkg:npm/follow-redirects@1.16.3", "pkg:npm/axios@0.21.0"} <= purls
    assert "pkg:golang/github.com/gin-gonic/gin@v1.7.0" in purls
    libssl = next(p for p in demo.packages if p.name == "libssl3")
    assert libssl.source_name == "openssl" and "distro=debian-12" in libssl.purl
    assert libssl.licenses, "dpkg copyright licences must be attached"
    flask = next(p for p in demo.packages if p.name == "Flask" and "dist-info" in p.locations[0].path)
    names = {q.name for q in demo.packages if q.id in flask.dependency_ids}
    assert {"Werkzeug", "Jinja2", "itsdangerous", "click"} <= names
