"""The adapter's HTTP edge (``/api/v1``): metadata, scan requests, reports, errors as the spec shapes them.

Errors are ``{"error": {"message": ...}}`` with the specification's
``application/vnd.scanner.adapter.error+json; version=1.0``. A report that
is not ready is ``302`` with ``Refresh-After`` (seconds); an unknown job
``404``; a failed scan ``500`` with its error; an ``Accept`` the adapter
cannot produce ``415`` (as the reference adapter does). With an API token
configured, every ``/api/v1`` call needs ``Authorization: Bearer <token>``
(Harbor sends it as the scanner registration's credential).
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from shieldwall import __version__
from shieldwall.harbor import mime
from shieldwall.harbor.jobs import HarborJobs, JobLimitError, JobStatus
from shieldwall.harbor.report import SCANNER, sbom_report, vulnerability_report
from shieldwall.harbor.request import RequestError, parse_scan_request

MAX_BODY_BYTES = 256 * 1024
REFRESH_AFTER_SECONDS = 5


def error(status: int, message: str) -> Response:
    """An error response in the specification's shape."""
    body = json.dumps({"error": {"message": message}})
    return Response(body, status_code=status, media_type=mime.ERROR)


def _json(status: int, body: dict[str, Any], media_type: str) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=media_type)


def metadata(vulndb_path: Path | None) -> dict[str, Any]:
    """``ScannerAdapterMetadata``: scanner, capabilities, properties (database times when known)."""
    properties = {
        "harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
        "org.label-schema.version": __version__,
    }
    if vulndb_path is not None and vulndb_path.is_file():
        try:
            from shieldwall.vulndb.store import VulnDB

            with VulnDB.open(vulndb_path) as db:
                updated = db.meta("updated_at")
            if updated:
                properties["harbor.scanner-adapter/vulnerability-database-updated-at"] = updated
        except Exception as exc:  # metadata still answers; the property says why it is missing
            properties["shieldwall.io/vulnerability-database-error"] = f"{type(exc).__name__}"
    return {
        "scanner": dict(SCANNER),
        "capabilities": [
            {
                "type": "vulnerability",
                "consumes_mime_types": list(mime.CONSUMES),
                "produces_mime_types": [mime.VULN_REPORT_1_1, mime.VULN_REPORT_HARBOR],
            },
            {
                "type": "sbom",
                "consumes_mime_types": list(mime.CONSUMES),
                "produces_mime_types": [mime.SBOM_REPORT],
                "additional_attributes": {"sbom_media_types": list(mime.SBOM_MEDIA_TYPES)},
            },
        ],
        "properties": properties,
    }


def create_app(jobs: HarborJobs, *, api_token: str = "", vulndb_path: Path | None = None) -> FastAPI:
    """The Harbor scanner adapter application."""
    app = FastAPI(title="Shieldwall Harbor scanner adapter", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Any) -> Response:
        if api_token and request.url.path.startswith("/api/v1/"):
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {api_token}".encode()):
                return error(401, "unauthorized")
        response: Response = await call_next(request)
        return response

    @app.get("/api/v1/metadata")
    def get_metadata() -> Response:
        """Scanner metadata and capabilities."""
        return _json(200, metadata(vulndb_path), mime.METADATA)

    @app.post("/api/v1/scan")
    async def accept_scan(request: Request) -> Response:
        """Validate, queue, answer 202 with the job ID."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return error(413, f"scan request is over {MAX_BODY_BYTES} bytes")
        try:
            scan = parse_scan_request(body)
        except RequestError as exc:
            return error(exc.status, str(exc))
        try:
            job = jobs.submit(scan)
        except JobLimitError as exc:
            return error(500, f"enqueuing scan job: {exc}")
        return _json(202, {"id": job.id}, mime.SCAN_RESPONSE)

    @app.get("/api/v1/scan/{scan_request_id}/report")
    def get_report(scan_request_id: str, request: Request) -> Response:
        """The report in the negotiated MIME type, 302 while the scan runs."""
        accept = request.headers.get("accept", "")
        negotiated = mime.negotiate(accept)
        if negotiated is None:
            return error(415, f"unsupported media type: {json.dumps(accept[:200])}")
        kind, media_type = negotiated
        sbom_type = request.query_params.get("sbom_media_type", "")
        if kind is mime.ReportKind.SBOM:
            if not sbom_type:
                return error(400, "missing SBOM media type")
            if sbom_type not in mime.SBOM_MEDIA_TYPES:
                return error(400, f"unsupported SBOM media type: {json.dumps(sbom_type[:200])}")
        job = jobs.get(scan_request_id[:128])
        if job is None:
            return error(404, f"cannot find scan job: {scan_request_id[:128]}")
        if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            return Response(status_code=302, headers={"Refresh-After": str(REFRESH_AFTER_SECONDS)})
        if job.status is JobStatus.FAILED or job.result is None:
            return error(500, job.error or f"unexpected status {job.status} of scan job {job.id}")
        generated = job.finished_at
        if kind is mime.ReportKind.SBOM:
            if "sbom" not in job.request.capabilities:
                return error(501, "the scan request did not enable the sbom capability")
            return _json(200, sbom_report(job.result, job.request.artifact(), generated, sbom_type), media_type)
        if "vulnerability" not in job.request.capabilities:
            return error(501, "the scan request did not enable the vulnerability capability")
        return _json(200, vulnerability_report(job.result, job.request.artifact(), generated), media_type)

    @app.get("/probe/healthy")
    def healthy() -> Response:
        """Liveness."""
        return Response(status_code=200)

    @app.get("/probe/ready")
    def ready() -> Response:
        """Readiness."""
        return Response(status_code=200)

    return app
