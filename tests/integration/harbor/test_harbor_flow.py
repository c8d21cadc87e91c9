"""Harbor's whole conversation with a real adapter process and a real registry.

A test image (Debian 12 dpkg status with a libc6 affected by CVE-2023-4911,
from the bundled sample advisories) is pushed with skopeo to Debian's
``docker-registry`` behind Basic auth. ``shieldwall harbor serve`` runs as a
subprocess; the test plays Harbor: metadata, a scan request carrying the
robot account's Basic credentials, polling the report (302 with
Refresh-After until ready), then the vulnerability report and both SBOMs,
each validated against the specification's schemas. The scan is also
recorded in the adapter's store.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from helpers import harbor_spec
from helpers.admission_server import free_port
from helpers.images import File, ImageSpec, build_oci_layout, oci_image
from helpers.registry_server import AuthRegistry
from shieldwall.harbor import mime
from shieldwall.store import Store
from shieldwall.store.schema import Asset
from shieldwall.vulndb.samples import import_bundled_samples
from shieldwall.vulndb.store import default_db_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCAN_REQUEST_TYPE = "application/vnd.scanner.adapter.scan.request+json; version=1.1"
SRC = Path(__file__).resolve().parents[3] / "src"
TOKEN = "harbor-registration-token"
OS_RELEASE = (
    b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
    b"ID=debian\nVERSION_CODENAME=bookworm\n"
)
DPKG_STATUS = (
    b"Package: libc6\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: 12000\n"
    b"Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nArchitecture: amd64\nMulti-Arch: same\n"
    b"Source: glibc\nVersion: 2.36-9+deb12u1\nDescription: GNU C Library: Shared libraries\n\n"
)


def _start_adapter(workdir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC), "SHIELDWALL_HARBOR_TOKEN": TOKEN,
           "SHIELDWALL_DATA_DIR": str(workdir / "data"), "SHIELDWALL_CACHE_DIR": str(workdir / "cache"),
           "SHIELDWALL_CONFIG_DIR": str(workdir / "config"),
           "SHIELDWALL_DATABASE_URL": f"sqlite:///{workdir / 'store.db'}",
           "SHIELDWALL_AUDIT_KEY": str(workdir / "audit.pem")}  # fmt: skip
    import_bundled_samples(default_db_path({"SHIELDWALL_DATA_DIR": str(workdir / "data")}))
    log = workdir / "adapter.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "shieldwall", "harbor", "serve", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(log.read_text(errors="replace")[-2000:])
        try:
            if httpx.get(url + "/probe/healthy", timeout=2).status_code == 200:
                return process, url, log
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the adapter did not start")
        time.sleep(0.1)


def _push(registry: AuthRegistry, tmp_path: Path) -> str:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.fail("skopeo is not installed (.ci/run installs it)", pytrace=False)
    layer = {
        "etc/os-release": OS_RELEASE,
        "var/lib/dpkg/status": File(DPKG_STATUS),
        "bin/true": File(b"\x7fELF", 0o755),
    }
    image = oci_image([layer], ImageSpec(created_by=["ADD rootfs"]))
    build_oci_layout(tmp_path / "layout", [image], ref_name="v1")
    creds = f"{registry.credentials.username}:{registry.credentials.password}"
    subprocess.run(
        [skopeo, "--insecure-policy", "copy", "--dest-tls-verify=false", "--dest-creds", creds,
         f"oci:{tmp_path / 'layout'}:v1", f"docker://{registry.host}/library/glibc-app:v1"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return image.manifest_digest


def _get_report(client: httpx.Client, job_id: str, accept: str, query: str = "") -> httpx.Response:
    for _ in range(600):
        response = client.get(f"/api/v1/scan/{job_id}/report{query}", headers={"Accept": accept})
        if response.status_code != 302:
            return response
        assert int(response.headers["Refresh-After"]) >= 1
        time.sleep(0.1)  # Harbor waits Refresh-After seconds; the test polls faster
    raise AssertionError("the report never became ready")


def _check(body: Any, schema: str) -> None:
    if harbor_spec.available():
        harbor_spec.validate(body, schema, "1.2")


def test_harbor_scans_an_image_from_a_private_registry(basic_registry: AuthRegistry, tmp_path: Path) -> None:
    digest = _push(basic_registry, tmp_path)
    process, url, log = _start_adapter(tmp_path)
    robot = base64.b64encode(
        f"{basic_registry.credentials.username}:{basic_registry.credentials.password}".encode()
    ).decode()
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
            metadata = client.get("/api/v1/metadata")
            assert metadata.status_code == 200
            _check(metadata.json(), "ScannerAdapterMetadata")
            assert "harbor.scanner-adapter/vulnerability-database-updated-at" in metadata.json()["properties"]
            request = {
                "registry": {"url": f"http://{basic_registry.host}", "authorization": f"Basic {robot}"},
                "artifact": {"repository": "library/glibc-app", "digest": digest, "tag": "v1",
                             "mime_type": mime.OCI_MANIFEST},
                "enabled_capabilities": [
                    {"type": "vulnerability", "produces_mime_types": [mime.VULN_REPORT_1_1]},
                    {"type": "sbom", "produces_mime_types": [mime.SBOM_REPORT],
                     "parameters": {"sbom_media_types": list(mime.SBOM_MEDIA_TYPES)}},
                ],
            }  # fmt: skip
            accepted = client.post("/api/v1/scan", content=json.dumps(request),
                                   headers={"Content-Type": SCAN_REQUEST_TYPE})  # fmt: skip
            assert accepted.status_code == 202, accepted.text
            _check(accepted.json(), "ScanResponse")
            job_id = accepted.json()["id"]
            report = _get_report(client, job_id, mime.VULN_REPORT_1_1)
            assert report.status_code == 200, report.text
            body = report.json()
            _check(body, "HarborVulnerabilityReport")
            assert body["artifact"] == request["artifact"]
            glibc = [
                v
                for v in body["vulnerabilities"]
                if "CVE-2023-4911" in (v["id"], *v["vendor_attributes"].get("aliases", []))
            ]
            assert glibc, body["vulnerabilities"]
            assert glibc[0]["package"] == "libc6" and glibc[0]["version"] == "2.36-9+deb12u1"
            assert glibc[0]["fix_version"] == "2.36-9+deb12u3"
            assert body["severity"] in ("High", "Critical")
            for media in mime.SBOM_MEDIA_TYPES:
                sbom = _get_report(client, job_id, mime.SBOM_REPORT, f"?sbom_media_type={quote(media, safe='')}")
                assert sbom.status_code == 200
                _check(sbom.json(), "HarborSbomReport")
                assert "libc6" in json.dumps(sbom.json()["sbom"])
            wrong = {**request, "registry": {**request["registry"], "authorization": "Basic " +
                     base64.b64encode(b"basic-user:wrong").decode()}}  # fmt: skip
            failed_id = client.post("/api/v1/scan", content=json.dumps(wrong)).json()["id"]
            failed = _get_report(client, failed_id, mime.VULN_REPORT_1_1)
            assert failed.status_code == 500
            assert "authentication" in failed.json()["error"]["message"]
            assert "wrong" not in failed.text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}", audit_key_path=tmp_path / "audit.pem")
    try:
        with store.session() as session:
            identifiers = [a.identifier for a in session.query(Asset)]
        assert digest in identifiers
    finally:
        store.close()
    assert "wrong" not in log.read_text(errors="replace")
