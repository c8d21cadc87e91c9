"""Scans: submit one (registry image, uploaded archive, uploaded SBOM), follow its job, read recorded scans."""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam

from shieldwall import paths
from shieldwall.api import queries
from shieldwall.api.auth import Operator, Viewer
from shieldwall.api.context import context
from shieldwall.api.guards import MESSAGE, has_nul
from shieldwall.api.jobs import JobKind, ScanRequest
from shieldwall.api.routes.common import BAD_REQUEST, NOT_FOUND, IdPath, IdQuery
from shieldwall.api.schemas import SCANNERS, JobOut, ScanDetailOut, ScanOut, ScanPage, ScanSubmit
from shieldwall.errors import InputError
from shieldwall.model import TargetKind
from shieldwall.target.reference import parse_reference
from shieldwall.target.resolve import parse_target

router = APIRouter(tags=["scans"])

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
COPY_CHUNK = 1024 * 1024


@router.post("/scans", status_code=202, response_model=JobOut, responses={**BAD_REQUEST})
def submit_scan(body: ScanSubmit, request: Request, who: Operator) -> JobOut:
    """Scan an image from a registry in the background; poll the job (or give a webhook URL)."""
    ctx = context(request)
    try:
        ref = parse_reference(body.image)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    if not ctx.settings.registry_allowed(ref.registry):
        raise HTTPException(400, f"scans of images on {ref.registry} are not allowed by this server")
    scan = ScanRequest(
        kind=JobKind.REGISTRY,
        target=f"registry:{ref}",
        display=f"registry:{ref}",
        environment=body.environment,
        scanners=frozenset(body.scanners or SCANNERS),
        webhook_url=body.webhook_url,
        webhook_secret=body.webhook_secret,
    )
    return JobOut.model_validate(ctx.jobs.submit_scan(scan, who.actor).to_dict())


@router.post("/scans/upload", status_code=202, response_model=JobOut, responses={**BAD_REQUEST})
def upload_scan(
    request: Request,
    who: Operator,
    file: Annotated[UploadFile, File(description="An image archive (docker save, OCI layout tar) or an SBOM")],
    kind: Annotated[Literal["image", "sbom"], Form()] = "image",
    environment: Annotated[str, Form(max_length=128)] = "",
    webhook_url: Annotated[str, Form(max_length=2048)] = "",
    webhook_secret: Annotated[str, Form(max_length=256)] = "",
) -> JobOut:
    """Scan an uploaded image tarball or SBOM (CycloneDX, SPDX, Syft JSON) in the background."""
    ctx = context(request)
    if has_nul([environment, webhook_url, webhook_secret, file.filename or ""]):
        raise HTTPException(400, MESSAGE)
    if webhook_url and not webhook_url.lower().startswith(("http://", "https://")):
        raise HTTPException(400, "the webhook must be an http:// or https:// URL")
    base = ctx.settings.upload_dir or paths.cache_dir() / "api-uploads"
    folder = base / secrets.token_hex(8)
    folder.mkdir(parents=True, exist_ok=True)
    name = _SAFE_NAME.sub("_", Path(file.filename or "upload").name)[:100].lstrip(".") or "upload"
    target = folder / name
    try:
        with target.open("wb") as out:
            shutil.copyfileobj(file.file, out, COPY_CHUNK)
        if target.stat().st_size == 0:
            raise InputError("the uploaded file is empty")
        sniffed = parse_target(str(target))
        if kind == "image" and sniffed.kind not in (TargetKind.DOCKER_ARCHIVE, TargetKind.OCI):
            raise InputError(f"{name}: not an image archive (docker save or OCI layout tar)")
        if kind == "sbom" and sniffed.kind is not TargetKind.SBOM:
            raise InputError(f"{name}: not an SBOM (CycloneDX, SPDX or Syft JSON)")
    except InputError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(400, str(exc)) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    prefix = {TargetKind.DOCKER_ARCHIVE: "docker-archive", TargetKind.OCI: "oci-archive"}.get(sniffed.kind, "sbom")
    scan = ScanRequest(
        kind=JobKind.SBOM if kind == "sbom" else JobKind.ARCHIVE,
        target=f"{prefix}:{target}",
        display=f"upload:{name}",
        environment=environment,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        cleanup=folder,
    )
    return JobOut.model_validate(ctx.jobs.submit_scan(scan, who.actor).to_dict())


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(request: Request, who: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[JobOut]:
    """Recent jobs, newest first."""
    return [JobOut.model_validate(j.to_dict()) for j in context(request).jobs.list(limit)]


@router.get("/jobs/{job_id}", response_model=JobOut, responses={**NOT_FOUND})
def get_job(job_id: Annotated[str, PathParam(min_length=1, max_length=64)], request: Request, who: Viewer) -> JobOut:
    """One job: queued, running, succeeded (with the scan and asset IDs) or failed (with the error)."""
    job = context(request).jobs.get(job_id) if re.fullmatch(r"[0-9a-f]{16}", job_id) else None
    if job is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return JobOut.model_validate(job.to_dict())


@router.get("/scans", response_model=ScanPage, responses={**BAD_REQUEST})
def list_scans(
    request: Request,
    who: Viewer,
    asset_id: IdQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str, Query(max_length=32, description="next_cursor of the previous page")] = "",
) -> ScanPage:
    """Recorded scans, newest first."""
    before = None
    if cursor:
        if not cursor.isdigit():
            raise HTTPException(400, "invalid cursor")
        before = int(cursor)
    page = queries.list_scans(context(request).store, asset_id=asset_id, limit=limit, before=before)
    return ScanPage(items=[ScanOut.model_validate(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/scans/{scan_id}", response_model=ScanDetailOut, responses={**NOT_FOUND})
def get_scan(scan_id: IdPath, request: Request, who: Viewer) -> ScanDetailOut:
    """A recorded scan with its summary and the stored findings it was the last to see."""
    view, findings = queries.scan_detail(context(request).store, scan_id)
    return ScanDetailOut.model_validate({"scan": view, "findings": findings})
