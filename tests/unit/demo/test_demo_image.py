"""The bundled demo image: what ``make demo`` scans must be complete and attributed to its layers."""

from __future__ import annotations

import pytest

from shieldwall.demo import build_demo_image
from shieldwall.model import FindingKind, PackageType, ScanResult
from shieldwall.report.json_report import render_json
from shieldwall.service.scan import ScanOptions, scan_target


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    archive = build_demo_image(tmp_path_factory.mktemp("demo"))
    return scan_target(f"docker-archive:{archive}", ScanOptions(use_cache=False))


def test_demo_image_identity(demo: ScanResult) -> None:
    assert demo.target.tags == ("shieldwall/demo:1.0",)
    assert demo.os is not None and (demo.os.family, demo.os.version) == ("debian", "12")
    assert demo.image is not None and demo.image.exposed_ports == ("8080/tcp",)
    assert len(demo.layers) == 5 and demo.layers[4].created_by == "RUN rm /app/web/.npmrc /root/.ssh/id_rsa"


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
    # requirements.txt and the installed dist-info declare Flask: one package with both locations
    (flask,) = [p for p in demo.packages if p.name.lower() == "flask"]
    assert any("dist-info" in location.path for location in flask.locations)
    names = {q.name for q in demo.packages if q.id in flask.dependency_ids}
    assert {"Werkzeug", "Jinja2", "itsdangerous", "click"} <= names


@pytest.fixture(scope="module")
def demo_full(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    """The demo as ``make demo`` runs it: every scanner, the bundled sample advisories."""
    from shieldwall.vulndb.samples import import_bundled_samples

    data = tmp_path_factory.mktemp("data")
    import_bundled_samples(data / "vulndb" / "vulndb.sqlite")
    archive = build_demo_image(tmp_path_factory.mktemp("demo-full"))
    return scan_target(f"docker-archive:{archive}", ScanOptions(use_cache=False, data_dir=data))


def test_demo_reports_real_vulnerabilities(demo_full: ScanResult) -> None:
    vulns = [f for f in demo_full.findings if f.kind is FindingKind.VULNERABILITY]
    ids = {f.rule_id for f in vulns} | {a for f in vulns for a in f.aliases}
    assert "CVE-2021-23337" in ids  # lodash 4.17.15 command injection, fixed in 4.17.21
    assert "CVE-2020-14343" in ids  # PyYAML 5.3.1 full_load, fixed in 5.4
    lodash = next(f for f in vulns if f.rule_id == "CVE-2021-23337")
    assert lodash.vuln is not None and lodash.vuln.fixed_version == "4.17.21"
    assert lodash.location is not None and lodash.location.layer is not None and lodash.location.layer.index == 2


def test_demo_reports_planted_secret_deleted_key_and_eicar(demo_full: ScanResult) -> None:
    secrets = [f for f in demo_full.findings if f.kind is FindingKind.SECRET]
    aws = [f for f in secrets if f.location and f.location.path == "/app/config/settings.py"]
    assert aws and all(f.location and f.location.line for f in aws)
    key = [f for f in secrets if f.location and f.location.path == "/root/.ssh/id_rsa"]
    assert key and all(f.deleted_in is not None and f.deleted_in.index == 4 for f in key)
    (eicar,) = [f for f in demo_full.findings if f.kind is FindingKind.MALWARE]
    assert eicar.location is not None and eicar.location.path.endswith("invoice.pdf.com")
    assert eicar.location.layer is not None and eicar.location.layer.index == 2
    assert "r9Xk2Vb7Lq0pWz8Yt3Nc6Hd1Fj5Sg4Ua2Ee7Ri9O" not in render_json(demo_full)
