"""The adapter's HTTP behaviour: the reference adapter's cases, spec schemas, 302 while running.

The scanner is injected: a function that waits on an event and then returns
a known result, so the job states (queued/running/finished/failed) can be
held still. The full pull-and-scan flow against a real registry is in
tests/integration/harbor.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from helpers import harbor_spec
from helpers.sample_result import sample_result
from shieldwall.errors import InputError
from shieldwall.harbor import mime
from shieldwall.harbor.app import create_app
from shieldwall.harbor.jobs import HarborJobs
from shieldwall.harbor.request import ScanRequest
from shieldwall.model import ScanResult
from shieldwall.service.scan import ScanOptions

needs_spec = pytest.mark.skipif(not harbor_spec.available(), reason="../shared/data/harbor is not present")
SCAN_REQUEST_TYPE = "application/vnd.scanner.adapter.scan.request+json; version=1.1"
ERROR_TYPES = {mime.ERROR, "application/vnd.scanner.adapter.error; version=1.0"}
VALID = {
    "registry": {"url": "https://core.harbor.domain", "authorization": "Bearer JWTTOKENGOESHERE"},
    "artifact": {"repository": "library/mongo", "tag": "3.14-xenial",
                 "digest": "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"},
}  # fmt: skip


class HeldScanner:
    """Returns ``sample_result()`` (or raises) once ``release`` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.fail: str = ""
        self.seen: list[ScanRequest] = []

    def __call__(self, request: ScanRequest) -> ScanResult:
        self.seen.append(request)
        self.release.wait(30)
        if self.fail:
            raise InputError(self.fail)
        return sample_result()


@pytest.fixture
def adapter() -> Iterator[tuple[TestClient, HeldScanner, HarborJobs]]:
    scanner = HeldScanner()
    jobs = HarborJobs(ScanOptions(), scanner=scanner, max_jobs=3)
    with TestClient(create_app(jobs)) as client:
        yield client, scanner, jobs
    scanner.release.set()
    jobs.shutdown()


def wait_done(client: TestClient, job_id: str, accept: str = mime.VULN_REPORT_1_1, query: str = "") -> Any:
    for _ in range(300):
        response = client.get(f"/api/v1/scan/{job_id}/report{query}", headers={"Accept": accept},
                              follow_redirects=False)  # fmt: skip
        if response.status_code != 302:
            return response
        threading.Event().wait(0.05)
    raise AssertionError("the job never finished")


def test_scan_is_302_with_refresh_after_until_done_then_reports(
    adapter: tuple[TestClient, HeldScanner, HarborJobs],
) -> None:
    client, scanner, _jobs = adapter
    accepted = client.post("/api/v1/scan", content=json.dumps(VALID),
                           headers={"Content-Type": SCAN_REQUEST_TYPE})  # fmt: skip
    assert accepted.status_code == 202
    assert accepted.headers["content-type"] == mime.SCAN_RESPONSE
    job_id = accepted.json()["id"]
    running = client.get(f"/api/v1/scan/{job_id}/report", headers={"Accept": mime.VULN_REPORT_1_1},
                         follow_redirects=False)  # fmt: skip
    assert running.status_code == 302 and int(running.headers["Refresh-After"]) > 0
    scanner.release.set()
    report = wait_done(client, job_id)
    assert report.status_code == 200 and report.headers["content-type"] == mime.VULN_REPORT_1_1
    body = report.json()
    assert body["artifact"]["digest"] == VALID["artifact"]["digest"]
    expected = [f for f in sample_result().findings if f.kind == "vulnerability" and f.active]
    assert sorted(v["id"] for v in body["vulnerabilities"]) == sorted(f.rule_id for f in expected)
    assert body["severity"] == max(expected, key=lambda f: f.severity.rank).severity.title()
    harbor_spec_ok(body, "HarborVulnerabilityReport")
    assert scanner.seen[0].authorization == "Bearer JWTTOKENGOESHERE"
    harbor = wait_done(client, job_id, mime.VULN_REPORT_HARBOR)
    assert harbor.headers["content-type"] == mime.VULN_REPORT_HARBOR
    for media in mime.SBOM_MEDIA_TYPES:
        sbom = wait_done(client, job_id, mime.SBOM_REPORT, f"?sbom_media_type={quote(media, safe='')}")
        assert sbom.status_code == 200 and sbom.headers["content-type"] == mime.SBOM_REPORT
        doc = sbom.json()
        assert doc["media_type"] == media
        assert ("spdxVersion" in doc["sbom"]) is (media == mime.SPDX_JSON)
        assert ("bomFormat" in doc["sbom"]) is (media == mime.CYCLONEDX_JSON)
        harbor_spec_ok(doc, "HarborSbomReport")


def harbor_spec_ok(body: Any, schema: str) -> None:
    if harbor_spec.available():
        for version in ("1.1", "1.2") if schema != "HarborSbomReport" else ("1.2",):
            harbor_spec.validate(body, schema, version)


def test_failed_scan_is_500_with_its_error(adapter: tuple[TestClient, HeldScanner, HarborJobs]) -> None:
    client, scanner, _jobs = adapter
    scanner.fail = "registry core.harbor.domain: authentication required"
    job_id = client.post("/api/v1/scan", content=json.dumps(VALID)).json()["id"]
    scanner.release.set()
    report = wait_done(client, job_id)
    assert report.status_code == 500 and report.headers["content-type"] in ERROR_TYPES
    assert report.json() == {"error": {"message": "registry core.harbor.domain: authentication required"}}


def test_job_table_is_bounded(adapter: tuple[TestClient, HeldScanner, HarborJobs]) -> None:
    client, _scanner, _jobs = adapter
    statuses = [client.post("/api/v1/scan", content=json.dumps(VALID)).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 500]


def test_api_token_is_required_when_configured() -> None:
    jobs = HarborJobs(ScanOptions(), scanner=HeldScanner())
    with TestClient(create_app(jobs, api_token="s3cret-token")) as client:
        assert client.get("/api/v1/metadata").status_code == 401
        assert client.get("/api/v1/metadata", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/v1/metadata", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert client.get("/probe/healthy").status_code == 200
    jobs.shutdown()


@needs_spec
def test_metadata_matches_the_spec(adapter: tuple[TestClient, HeldScanner, HarborJobs]) -> None:
    client, _scanner, _jobs = adapter
    response = client.get("/api/v1/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"] in harbor_spec.response_media_types("/metadata", "get", 200)
    for version in ("1.1", "1.2"):
        harbor_spec.validate(response.json(), "ScannerAdapterMetadata", version)
    kinds = {c["type"]: c for c in response.json()["capabilities"]}
    assert kinds["sbom"]["additional_attributes"]["sbom_media_types"] == list(mime.SBOM_MEDIA_TYPES)


def _reference_cases() -> list[dict[str, Any]]:
    if not harbor_spec.API_CASES.is_file():
        return []
    cases: list[dict[str, Any]] = json.loads(harbor_spec.API_CASES.read_text(encoding="utf-8"))["http_cases"]
    # The cases whose adapter state is "no such job" or none at all: reproducible without the Go test doubles.
    return [c for c in cases if c.get("adapter_state") in (None, "no such job") and c["expected_status"] != 202]


@needs_spec
@pytest.mark.parametrize("case", _reference_cases(), ids=lambda c: c["name"])
def test_reference_adapter_cases(case: dict[str, Any], adapter: tuple[TestClient, HeldScanner, HarborJobs]) -> None:
    client, _scanner, _jobs = adapter
    if case["method"] == "POST":
        raw = case.get("request_body_raw")
        body = raw.encode() if raw is not None else json.dumps(case["request_body"]).encode()
        response = client.post(case["path"], content=body, headers=case.get("request_headers") or {})
    else:
        response = client.get(case["path"], headers=case.get("request_headers") or {}, follow_redirects=False)
    assert response.status_code == case["expected_status"]
    if "expected_body" in case:
        assert response.headers["content-type"] in ERROR_TYPES
        message = response.json()["error"]["message"]
        expected = case["expected_body"]["error"]["message"]
        if expected.startswith("unmarshalling scan request:"):  # Go's JSON error text differs from Python's
            assert message.startswith("unmarshalling scan request:")
        else:
            assert message == expected
        harbor_spec.validate(response.json(), "ErrorResponse")


def _validation_cases() -> list[dict[str, Any]]:
    if not harbor_spec.API_CASES.is_file():
        return []
    cases: list[dict[str, Any]] = json.loads(harbor_spec.API_CASES.read_text(encoding="utf-8"))[
        "scan_request_validation"
    ]
    return cases


@needs_spec
@pytest.mark.parametrize("case", _validation_cases(), ids=lambda c: c["name"])
def test_reference_validation_cases(case: dict[str, Any], adapter: tuple[TestClient, HeldScanner, HarborJobs]) -> None:
    client, _scanner, _jobs = adapter
    response = client.post("/api/v1/scan", content=json.dumps(case["request"]))
    assert response.status_code == case["expected_status"]
    assert response.json() == {"error": {"message": case["expected_message"]}}


def test_hostile_scan_requests(adapter: tuple[TestClient, HeldScanner, HarborJobs]) -> None:
    client, _scanner, _jobs = adapter
    too_big = client.post("/api/v1/scan", content=b"{" + b" " * (300 * 1024) + b"}")
    assert too_big.status_code == 413
    deep = client.post("/api/v1/scan", content=b"[" * 100_000)
    assert deep.status_code == 400
    traversal = {**VALID, "artifact": {**VALID["artifact"], "repository": "../../etc"}}
    assert client.post("/api/v1/scan", content=json.dumps(traversal)).json() == {
        "error": {"message": "invalid artifact.repository"}
    }
    userinfo = {**VALID, "registry": {"url": "https://user:pw@core.harbor.domain"}}
    assert client.post("/api/v1/scan", content=json.dumps(userinfo)).status_code == 422


def test_finished_jobs_expire() -> None:
    now = [1000.0]
    scanner = HeldScanner()
    scanner.release.set()
    jobs = HarborJobs(ScanOptions(), scanner=scanner, ttl_seconds=60, clock=lambda: now[0])
    with TestClient(create_app(jobs)) as client:
        job_id = client.post("/api/v1/scan", content=json.dumps(VALID)).json()["id"]
        assert wait_done(client, job_id).status_code == 200
        now[0] += 61
        assert client.get(f"/api/v1/scan/{job_id}/report").status_code == 404
    jobs.shutdown()
