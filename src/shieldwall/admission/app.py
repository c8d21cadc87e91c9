"""The webhook's HTTPS edge: ``POST /validate`` (and ``/mutate``), health, metrics.

Every answer is an ``admission.k8s.io/v1`` AdmissionReview with HTTP 200, so
the API server always reads a verdict rather than falling back to its own
``failurePolicy``. The decision runs in a bounded thread pool under the
policy's deadline (``timeout_seconds``); when the store is unreachable or
slow, or the review is malformed, the answer is the policy's failure action
(deny by default) with the cause in the message, well before the API
server's own timeout. The app is separate from ``shieldwall serve``: it
needs no API token (the API server authenticates it by its TLS certificate)
and shares nothing but the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from shieldwall.admission.decide import Decision
from shieldwall.admission.patch import pin_digests_patch
from shieldwall.admission.policy import FailureAction
from shieldwall.admission.recorder import Recorder, decision_record
from shieldwall.admission.review import (
    DEFAULT_MAX_BYTES,
    AdmissionRequest,
    ReviewError,
    parse_review,
    response_document,
)
from shieldwall.admission.service import AdmissionService, Evaluation

log = logging.getLogger("shieldwall.admission")

DEFAULT_WORKERS = 8
DEFAULT_MAX_IN_FLIGHT = 64


@dataclass
class Counters:
    """Process-local counters shown on ``/metrics``."""

    decisions: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, table: dict[str, int], key: str) -> None:
        """Add one to ``table[key]``."""
        with self.lock:
            table[key] = table.get(key, 0) + 1


class _Gate:
    """Counts decisions in flight; refuses more than the limit (the store is stuck: answer now)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._now = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self._now >= self._limit:
                return False
            self._now += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._now -= 1


async def _read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ReviewError(f"admission review is {declared} bytes, over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ReviewError(f"admission review is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _violations(decision: Decision) -> list[dict[str, Any]]:
    return [
        {"code": v.code, "image": v.image, "rules": list(v.rules), "message": v.message} for v in decision.violations
    ]


def create_app(
    service: AdmissionService,
    recorder: Recorder,
    *,
    max_body_bytes: int = DEFAULT_MAX_BYTES,
    workers: int = DEFAULT_WORKERS,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    on_shutdown: Sequence[Callable[[], None]] = (),
) -> FastAPI:
    """The admission webhook application (serve it over TLS: the API server only speaks HTTPS)."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shieldwall-admission")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:  # answer nothing more, then write every queued audit record
            pool.shutdown(wait=False, cancel_futures=True)
            recorder.close()
            for action in on_shutdown:
                action()

    app = FastAPI(
        title="Shieldwall admission webhook", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    gate = _Gate(max_in_flight)
    counters = Counters()
    policy = service.policy

    def failure_answer(uid: str, cause: str, request: AdmissionRequest | None, started: float) -> dict[str, Any]:
        allowed = policy.failure_action is FailureAction.ALLOW
        counters.count(counters.failures, cause.split(":", 1)[0])
        counters.count(counters.decisions, "allowed" if allowed else "denied")
        message = f"shieldwall could not decide: {cause}; {'allowed' if allowed else 'denied'} by the failure policy"
        if request is None or not request.dryRun:
            recorder.put(
                decision_record(
                    uid=uid,
                    namespace=request.effective_namespace if request else "",
                    kind=request.kind.kind if request else "",
                    name=request.name if request else "",
                    operation=request.operation if request else "",
                    user=request.user if request else "",
                    allowed=allowed,
                    mode="failure",
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                    failure=cause,
                )
            )
        log.warning("admission %s: %s", uid or "(no uid)", message)
        return response_document(uid, allowed, message=message, warnings=[message] if allowed else [])

    async def judge(request: Request, mutate: bool) -> JSONResponse:
        started = time.perf_counter()
        review_request: AdmissionRequest | None = None
        try:
            body = await _read_bounded(request, max_body_bytes)
            review_request = parse_review(body, max_body_bytes).request
        except ReviewError as exc:
            return JSONResponse(failure_answer(exc.uid, f"malformed review: {exc}", None, started))
        if not gate.enter():
            return JSONResponse(failure_answer(review_request.uid, "overloaded: too many decisions in flight",
                                               review_request, started))  # fmt: skip
        try:
            future = pool.submit(service.evaluate, review_request)
            evaluation: Evaluation = await asyncio.wait_for(asyncio.wrap_future(future), policy.timeout_seconds)
        except TimeoutError:
            cause = f"timeout: no decision within {policy.timeout_seconds:g} s (store slow or unreachable)"
            return JSONResponse(failure_answer(review_request.uid, cause, review_request, started))
        except Exception as exc:  # the store is down or a part crashed: fail by policy, never with a 500
            log.exception("admission decision failed")
            cause = f"error: {type(exc).__name__}: {str(exc)[:300]}"
            return JSONResponse(failure_answer(review_request.uid, cause, review_request, started))
        finally:
            gate.leave()
        decision = evaluation.decision
        counters.count(counters.decisions, "allowed" if decision.allowed else "denied")
        if not review_request.dryRun:
            recorder.put(
                decision_record(
                    uid=review_request.uid,
                    namespace=decision.namespace,
                    kind=review_request.kind.kind,
                    name=review_request.name,
                    operation=review_request.operation,
                    user=review_request.user,
                    allowed=decision.allowed,
                    mode=str(decision.mode),
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                    violations=_violations(decision),
                    excepted=[
                        {"code": v.code, "rules": list(v.rules), "image": v.image, "reason": why}
                        for v, why in decision.excepted
                    ],
                    resolutions=[
                        {"image": r.image, "digest": r.digest, "resolved_from": r.resolved_from, "known": r.known}
                        for r in decision.resolutions
                    ],
                    scans=decision.scan_requests,
                )
            )
        patch = pin_digests_patch(evaluation) if mutate and decision.allowed else None
        annotations = {"shieldwall.io/decision": "allowed" if decision.allowed else "denied",
                       "shieldwall.io/mode": str(decision.mode)}  # fmt: skip
        if decision.violations:
            annotations["shieldwall.io/violations"] = json.dumps([v.code for v in decision.violations])
        document = response_document(
            review_request.uid,
            decision.allowed,
            message=decision.message if not decision.allowed else "",
            warnings=decision.warnings,
            annotations=annotations,
            patch=patch,
        )
        return JSONResponse(document)

    @app.post("/validate")
    async def validate(request: Request) -> JSONResponse:
        """Validating admission: allowed or denied with reasons (warnings in warn mode)."""
        return await judge(request, mutate=False)

    @app.post("/mutate")
    async def mutate(request: Request) -> JSONResponse:
        """Mutating admission: the same decision, plus a JSONPatch pinning tags to the scanned digests."""
        return await judge(request, mutate=True)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """Liveness and the audit writer's counters (dropped records are visible here)."""
        stats = recorder.stats
        with stats.lock:
            body = {
                "status": "ok",
                "audit_queue": recorder.depth(),
                "audit_recorded": stats.recorded,
                "audit_dropped": stats.dropped,
                "audit_failed": stats.failed,
                "scans_queued": stats.scans_queued,
            }
        return JSONResponse(body)

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        """Prometheus text: decisions by outcome, failures by cause, audit counters."""
        lines = ["# TYPE shieldwall_admission_decisions_total counter"]
        with counters.lock:
            for key, value in sorted(counters.decisions.items()):
                lines.append(f'shieldwall_admission_decisions_total{{outcome="{key}"}} {value}')
            lines.append("# TYPE shieldwall_admission_failures_total counter")
            for key, value in sorted(counters.failures.items()):
                lines.append(f'shieldwall_admission_failures_total{{cause="{key}"}} {value}')
        stats = recorder.stats
        with stats.lock:
            lines.append("# TYPE shieldwall_admission_audit_dropped_total counter")
            lines.append(f"shieldwall_admission_audit_dropped_total {stats.dropped}")
            lines.append(f"shieldwall_admission_audit_recorded_total {stats.recorded}")
        return PlainTextResponse("\n".join(lines) + "\n")

    return app
