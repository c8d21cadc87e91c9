"""Scans through the API: upload an image archive or an SBOM, scan a registry image; jobs, webhooks, results."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.alert_receivers import WebhookReceiver
from helpers.api_server import Seeded, wait_job
from helpers.images import ImageSpec, build_oci_layout
from helpers.registry_server import RunningRegistry
from shieldwall.api.tokens import Role
from shieldwall.demo import build_demo_image
from shieldwall.target.registry_push import push_oci_layout

pytestmark = pytest.mark.integration

OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
JINJA_METADATA = b"Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.11.2\nSummary: templates\n"
SBOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "version": 1,
    "metadata": {"component": {"type": "application", "name": "uploaded-app", "version": "3.1"}},
    "components": [{"type": "library", "name": "Jinja2", "version": "2.11.2", "purl": "pkg:pypi/jinja2@2.11.2"}],
}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    got = WebhookReceiver()
    try:
        yield got
    finally:
        got.stop()


def _wait_for(condition: object, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_uploaded_archive_is_scanned_recorded_and_the_webhook_called(
    seeded: Seeded, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    archive = build_demo_image(tmp_path)
    with seeded.api.client(Role.OPERATOR) as operator:
        submitted = operator.post(
            "/api/v1/scans/upload",
            files={"file": ("demo image.tar", archive.read_bytes(), "application/x-tar")},
            data={"kind": "image", "webhook_url": f"{receiver.url}/hook?secret=abc", "webhook_secret": "s3cret"},
        )
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()
        assert job["status"] in ("queued", "running") and job["kind"] == "archive"
        assert job["webhook_url"] == f"{receiver.url}/hook"  # the query (a secret, maybe) is not shown
        done = wait_job(operator, job["id"])
        assert done["status"] == "succeeded", done
        assert done["actor"] == operator.get("/api/v1/whoami").json()["actor"]
        assert done["asset_id"] == seeded.seed.asset_id  # the same image: the same asset
        assert done["result"]["findings_new"] == 0 and done["result"]["findings_seen"] > 30

        _wait_for(lambda: len(receiver.raw) == 1)
        hook = receiver.raw[0]
        assert hook.path == "/hook?secret=abc"
        assert hook.body["job"]["id"] == job["id"] and hook.body["job"]["status"] == "succeeded"
        body = json.dumps(hook.body, sort_keys=True).encode()
        expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert hook.headers["x-shieldwall-signature"] == expected
        assert hook.headers["idempotency-key"] == f"job-{job['id']}"
        _wait_for(lambda: operator.get(f"/api/v1/jobs/{job['id']}").json()["webhook_status"].startswith("delivered"))

        scan = operator.get(f"/api/v1/scans/{done['scan_id']}").json()
        assert scan["scan"]["trigger"] == "api" and scan["scan"]["target"] == "upload:demo_image.tar"
        assert len(scan["findings"]) == scan["scan"]["finding_count"]
        assert sum(scan["scan"]["severity"].values()) == scan["scan"]["finding_count"]
        listed = operator.get("/api/v1/scans", params={"asset_id": seeded.seed.asset_id, "limit": 1}).json()
        assert listed["items"][0]["id"] == done["scan_id"] and listed["next_cursor"]
        older = operator.get(
            "/api/v1/scans", params={"asset_id": seeded.seed.asset_id, "cursor": listed["next_cursor"]}
        )
        assert all(s["id"] < done["scan_id"] for s in older.json()["items"])
        events = operator.get("/api/v1/audit/events", params={"action": "scan.submitted"}).json()["items"]
        assert any(e["target"] == f"job:{job['id']}" for e in events)


def test_uploaded_sbom_becomes_an_sbom_asset(seeded: Seeded) -> None:
    with seeded.api.client(Role.OPERATOR) as operator:
        submitted = operator.post(
            "/api/v1/scans/upload",
            files={"file": ("bom.json", json.dumps(SBOM).encode(), "application/json")},
            data={"kind": "sbom", "environment": "staging"},
        )
        assert submitted.status_code == 202, submitted.text
        done = wait_job(operator, submitted.json()["id"])
        assert done["status"] == "succeeded", done
        asset = operator.get(f"/api/v1/assets/{done['asset_id']}").json()
        assert asset["kind"] == "sbom" and asset["environment"] == "staging"
        packages = operator.get(f"/api/v1/assets/{done['asset_id']}/packages").json()
        assert [(p["name"], p["version"]) for p in packages] == [("Jinja2", "2.11.2")]
        findings = operator.get("/api/v1/findings", params={"asset_id": done["asset_id"], "kind": "vulnerability"})
        assert {f["package"] for f in findings.json()["items"]} == {"Jinja2"}
        # an SBOM is not an image archive, and the other way round
        wrong = operator.post("/api/v1/scans/upload", files={"file": ("bom.json", json.dumps(SBOM).encode())})
        assert wrong.status_code == 400 and "not an image archive" in wrong.json()["detail"]
        empty = operator.post("/api/v1/scans/upload", files={"file": ("e.json", b"")}, data={"kind": "sbom"})
        assert empty.status_code == 400


def test_a_registry_image_is_pulled_scanned_and_its_tag_recorded(
    seeded: Seeded, registry: RunningRegistry, clean_registry_env: Path, tmp_path: Path
) -> None:
    layout = build_oci_layout(
        tmp_path / "layout",
        layers=[
            {"etc/os-release": OS_RELEASE},
            {"usr/lib/python3/dist-packages/Jinja2-2.11.2.dist-info/METADATA": JINJA_METADATA},
        ],
        spec=ImageSpec(user="app"),
    )
    reference = f"{registry.host}/api-{seeded.backend}/app:1.0"
    digest = push_oci_layout(layout, reference)
    with seeded.api.client(Role.OPERATOR) as operator:
        submitted = operator.post("/api/v1/scans", json={"image": reference, "environment": "prod"})
        assert submitted.status_code == 202, submitted.text
        done = wait_job(operator, submitted.json()["id"])
        assert done["status"] == "succeeded", done
        asset = operator.get(f"/api/v1/assets/{done['asset_id']}").json()
        assert asset["identifier"] == digest and asset["environment"] == "prod"
        assert any(t["tag"] == "1.0" and t["current"] for t in asset["tags"])
        layers = operator.get(f"/api/v1/assets/{done['asset_id']}/layers").json()
        jinja_layer = next(layer for layer in layers if any(p["name"] == "Jinja2" for p in layer["packages"]))
        assert jinja_layer["index"] == 1 and any(f["package"] == "Jinja2" for f in jinja_layer["findings"])
        missing = operator.post("/api/v1/scans", json={"image": f"{registry.host}/api/nothing-here:1"})
        failed = wait_job(operator, missing.json()["id"])
        assert failed["status"] == "failed" and failed["error"]
        assert operator.post("/api/v1/scans", json={"image": "UPPER/Case:?"}).status_code == 400
        assert operator.post("/api/v1/scans", json={"image": "a/b", "webhook_url": "ftp://x"}).status_code == 422
        assert operator.get("/api/v1/jobs/ffffffffffffffff").status_code == 404


def test_results_by_asset_layer_and_finding(seeded: Seeded) -> None:
    asset_id = seeded.seed.asset_id
    with seeded.api.client(Role.VIEWER) as viewer:
        asset = viewer.get(f"/api/v1/assets/{asset_id}").json()
        assert asset["golden"] and asset["environment"] == "demo" and asset["packages"] > 40
        assert asset["layers"] and asset["scans"]
        layers = viewer.get(f"/api/v1/assets/{asset_id}/layers").json()
        packages = viewer.get(f"/api/v1/assets/{asset_id}/packages").json()
        assert sum(len(layer["packages"]) for layer in layers) == len(packages) == asset["packages"]
        # the rootfs layer brought the Debian packages, the pip layer the Python ones
        by_name = {p["name"]: p["layer_index"] for p in packages}
        assert by_name["zlib1g"] == 0 and by_name["PyYAML"] == 1
        detail = viewer.get("/api/v1/findings", params={"asset_id": asset_id, "q": "CVE-2020-14343"}).json()
        finding = viewer.get(f"/api/v1/findings/{detail['items'][0]['id']}").json()
        assert finding["layer"]["index"] == 1 and finding["package"] == "PyYAML"
        assert finding["evidence"] and finding["evidence"][0]["searched"]
        assert finding["fixed_version"] == "5.4" and finding["vuln"]["installed_version"] == "5.3.1"
        assert viewer.get(f"/api/v1/assets/{asset_id}/drift").json() == []
        report = viewer.get(f"/api/v1/assets/{asset_id}/report.html")
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
        assert "CVE-2020-14343" in report.text and "Content-Security-Policy" in report.text
        assert viewer.get("/api/v1/assets/999999").status_code == 404
        assert viewer.get("/api/v1/findings/999999").status_code == 404
        assert viewer.get("/api/v1/scans/999999").status_code == 404
