"""The agents' own endpoints (``/api/v1/agent/...``): enroll, then signed requests only.

Agents authenticate with Ed25519-signed requests (see ``agent.signing`` and
``service.fleet.auth``), not with API tokens. Every handler acts on the
authenticated agent's own rows only: no endpoint takes another agent's ID.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.signing import key_fingerprint
from shieldwall.api.agent_schemas import (
    AgentPolicyOut,
    EnrollIn,
    EnrollOut,
    EventBatchIn,
    EventBatchOut,
    HeartbeatIn,
    HeartbeatOut,
    InventoryIn,
    InventoryOut,
    RotateKeyIn,
    RotateKeyOut,
)
from shieldwall.api.context import context
from shieldwall.api.schemas import ErrorOut
from shieldwall.model import Severity
from shieldwall.service.dispatch import TaskDispatch, remote_dispatch
from shieldwall.service.fleet import enroll as enrollment
from shieldwall.service.fleet.auth import AuthenticatedAgent, verify_request
from shieldwall.service.fleet.errors import FleetError
from shieldwall.service.fleet.hosts import record_host_inventory
from shieldwall.service.fleet.ingest import ingest_batch
from shieldwall.service.fleet.policy import policy_for_agent
from shieldwall.service.fleet.queued import QueueUnavailable, Requeuer, queue_batch
from shieldwall.service.fleet.settings import FleetSettings
from shieldwall.service.fleet.status import (
    monitor_alert_settings,
    record_heartbeat,
)

T = TypeVar("T")

AGENT_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "The request cannot be carried out as given",
        401: "Not a valid signed request of a current agent (or a bad enrollment token)",
        413: "The request body is larger than the limit",
        422: "The body is invalid",
    }.items()
}
MAX_LONG_POLL_SECONDS = 60


def fleet_settings(request: Request) -> FleetSettings:
    """The app's fleet settings (read once, kept on the app's state)."""
    settings = getattr(request.app.state, "fleet", None)
    if not isinstance(settings, FleetSettings):
        settings = FleetSettings.from_environ()
        request.app.state.fleet = settings
    return settings


def ingest_queue(request: Request) -> tuple[TaskDispatch, Requeuer] | None:
    """The broker the agent route queues batches on (None without ``SHIELDWALL_BROKER_URL``), kept on the app."""
    state = request.app.state
    if not hasattr(state, "ingest_queue"):
        dispatch = remote_dispatch()
        state.ingest_queue = (dispatch, Requeuer()) if dispatch is not None else None
    queue = state.ingest_queue
    return queue if isinstance(queue, tuple) else None


def _call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return function(*args, **kwargs)
    except FleetError as exc:
        raise HTTPException(exc.status, str(exc)) from None


signature_header = APIKeyHeader(
    name="X-Shieldwall-Signature",
    scheme_name="AgentSignature",
    auto_error=False,
    description="Ed25519 request signature with X-Shieldwall-Agent, -Timestamp and -Nonce (see docs/agent.md)",
)


async def signed_agent(
    request: Request, _signature: Annotated[str | None, Depends(signature_header)] = None
) -> AuthenticatedAgent:
    """The agent that signed this request (401 otherwise)."""
    body = await request.body()
    raw_path = bytes(request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    query = bytes(request.scope.get("query_string") or b"").decode("latin-1")
    path_query = raw_path + ("?" + query if query else "")
    settings = fleet_settings(request)
    store = context(request).store
    agent = await run_in_threadpool(
        _call,
        verify_request,
        store,
        request.method,
        path_query,
        dict(request.headers),
        body,
        skew_seconds=settings.skew_seconds,
    )
    return agent


Signed = Annotated[AuthenticatedAgent, Depends(signed_agent)]
router = APIRouter(prefix="/agent", tags=["agent protocol"], responses=AGENT_ERRORS)


@router.post("/enroll", response_model=EnrollOut, status_code=201)
def enroll(body: EnrollIn, request: Request) -> EnrollOut:
    """Enroll a new agent with an enrollment token and its Ed25519 public key (no API token needed)."""
    agent = _call(enrollment.enroll, context(request).store, body.token, body.public_key, body.hostname, body.facts)
    settings = fleet_settings(request)
    return EnrollOut(
        agent_id=agent.uid,
        heartbeat_seconds=settings.heartbeat_seconds,
        poll_seconds=settings.poll_seconds,
        skew_seconds=settings.skew_seconds,
    )


@router.post("/rotate-key", response_model=RotateKeyOut)
def rotate_key(body: RotateKeyIn, request: Request, agent: Signed) -> RotateKeyOut:
    """Replace the agent's key (signed with the current key); the old key is refused from now on."""
    _call(enrollment.rotate_key, context(request).store, agent.id, body.public_key)
    return RotateKeyOut(agent_id=agent.uid, key=key_fingerprint(body.public_key))


@router.post("/heartbeat", response_model=HeartbeatOut)
def heartbeat(body: HeartbeatIn, request: Request, agent: Signed) -> HeartbeatOut:
    """Record the agent's state; answer with the policy revision it should run."""
    store = context(request).store
    revision = record_heartbeat(store, agent.id, body.model_dump(mode="json"))
    return HeartbeatOut(policy_revision=revision, server_time=time.time())


@router.get("/policy", response_model=AgentPolicyOut)
async def get_policy(
    request: Request,
    agent: Signed,
    known: Annotated[int, Query(ge=-1, le=2**62, description="The revision the agent runs")] = -1,
    wait: Annotated[int, Query(ge=0, le=MAX_LONG_POLL_SECONDS, description="Long-poll: seconds to wait")] = 0,
) -> AgentPolicyOut:
    """The agent's policy; with ``wait``, answer as soon as the revision differs from ``known`` (long-poll)."""
    store = context(request).store
    deadline = time.monotonic() + wait
    while True:
        doc = await run_in_threadpool(policy_for_agent, store, agent.id)
        if doc.revision != known or time.monotonic() >= deadline or await request.is_disconnected():
            return AgentPolicyOut(
                revision=doc.revision, name=doc.name, version=doc.version, document=dict(doc.document)
            )
        await asyncio.sleep(1.0)


QUEUE_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorOut, "description": "Events stored but the task queue is unavailable: send them again later"}
}


@router.post("/events", response_model=EventBatchOut, responses=QUEUE_UNAVAILABLE)
def post_events(body: EventBatchIn, request: Request, agent: Signed) -> EventBatchOut:
    """Store a batch of events idempotently (a retried batch is a no-op); acknowledge every key.

    With a broker configured, ``accepted`` keys are stored durably and queued for a worker
    (processed shortly after); 503 means "send it again later" (nothing is lost either way).
    """
    events = [
        AgentEvent(
            module=e.module,
            kind=e.kind,
            severity=Severity(e.severity),
            summary=e.summary,
            attributes=e.attributes,
            observed_at=e.observed_at,
            key=e.key,
        )
        for e in body.events
    ]
    store = context(request).store
    queue = ingest_queue(request)
    if queue is None:  # no broker: processed here, as before
        result = ingest_batch(store, agent.id, events, dropped=body.dropped)
    else:  # stored durably, then queued for a worker: "accepted" means both happened
        dispatch, requeuer = queue
        requeuer.maybe_run(store, dispatch)
        try:
            result = queue_batch(store, dispatch, agent.id, events, dropped=body.dropped)
        except QueueUnavailable as exc:
            raise HTTPException(503, str(exc)) from None
    return EventBatchOut(accepted=list(result.accepted), duplicates=list(result.duplicates))


@router.post("/inventory", response_model=InventoryOut)
def post_inventory(body: InventoryIn, request: Request, agent: Signed) -> InventoryOut:
    """Record the host's inventory as a scan of its host asset, matched against the advisory database."""
    ctx = context(request)
    store = ctx.store
    recorded = record_host_inventory(
        store,
        agent.id,
        body.model_dump(mode="json"),
        vulndb_path=ctx.vulndb_path,
        alerts=monitor_alert_settings(store),
    )
    return InventoryOut(scan_id=recorded.scan_id, asset_id=recorded.asset_id, findings=recorded.findings)
