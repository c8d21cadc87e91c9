"""Fleet administration: enrollment tokens, agents (list, detail, revoke, policy), policies, events, hosts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from shieldwall.api.agent_schemas import (
    AgentDetailOut,
    AgentEventOut,
    AgentEventPage,
    AgentOut,
    AssignPolicyIn,
    EnrollmentTokenCreate,
    EnrollmentTokenCreated,
    EnrollmentTokenOut,
    HostInventoryOut,
    PolicyIn,
    PolicyOut,
    PolicyUpdate,
    SeverityName,
)
from shieldwall.api.auth import Admin, Viewer
from shieldwall.api.context import context
from shieldwall.api.routes.agent_protocol import _call, fleet_settings
from shieldwall.api.routes.common import BAD_REQUEST, NOT_FOUND, IdPath
from shieldwall.api.schemas import ErrorOut
from shieldwall.errors import InputError
from shieldwall.service.fleet import enroll as enrollment
from shieldwall.service.fleet import policy as policies
from shieldwall.service.fleet import tokens as enrollment_tokens
from shieldwall.service.fleet import views
from shieldwall.service.fleet.policy import PolicyView
from shieldwall.store.core import utcnow
from shieldwall.store.schema import AgentEnrollmentToken, AgentPolicy

router = APIRouter(tags=["agents"])
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorOut, "description": "The name is taken"}}
AgentId = Annotated[str, Path(pattern=r"^agt_[0-9a-f]{24}$", description="An agent ID")]
PolicyName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]


def _token_out(row: AgentEnrollmentToken, policy: str | None, now: dt.datetime) -> EnrollmentTokenOut:
    return EnrollmentTokenOut(
        id=row.id,
        prefix=row.prefix,
        name=row.name,
        environment=row.environment,
        policy=policy,
        max_uses=row.max_uses,
        uses=row.uses,
        expires_at=row.expires_at,
        created_at=row.created_at,
        created_by=row.created_by,
        status=enrollment_tokens.token_status(row, now),  # type: ignore[arg-type]
    )


def _policy_names(request: Request) -> dict[int, str]:
    with context(request).store.session() as session:
        return {p.id: p.name for p in session.query(AgentPolicy).all()}


@router.post(
    "/enrollment-tokens", status_code=201, response_model=EnrollmentTokenCreated, responses={**BAD_REQUEST, **NOT_FOUND}
)
def create_enrollment_token(body: EnrollmentTokenCreate, request: Request, who: Admin) -> EnrollmentTokenCreated:
    """A new enrollment token (expiring, single- or multi-use, scoped to an environment and a policy); shown once."""
    created = _call(
        enrollment_tokens.create_token,
        context(request).store,
        name=body.name,
        environment=body.environment,
        policy=body.policy,
        max_uses=body.max_uses,
        ttl=dt.timedelta(hours=body.ttl_hours),
        actor=who.actor,
    )
    return EnrollmentTokenCreated(token=created.token, record=_token_out(created.row, body.policy, utcnow()))


@router.get("/enrollment-tokens", response_model=list[EnrollmentTokenOut])
def list_enrollment_tokens(request: Request, who: Admin) -> list[EnrollmentTokenOut]:
    """Every enrollment token (never the secret), newest first."""
    names = _policy_names(request)
    now = utcnow()
    return [
        _token_out(row, names.get(row.policy_id) if row.policy_id else None, now)
        for row in enrollment_tokens.list_tokens(context(request).store)
    ]


@router.post("/enrollment-tokens/{token_id}/revoke", response_model=EnrollmentTokenOut, responses={**NOT_FOUND})
def revoke_enrollment_token(token_id: IdPath, request: Request, who: Admin) -> EnrollmentTokenOut:
    """Refuse further enrollments with this token (agents already enrolled stay)."""
    row = _call(enrollment_tokens.revoke_token, context(request).store, token_id, actor=who.actor)
    names = _policy_names(request)
    return _token_out(row, names.get(row.policy_id) if row.policy_id else None, utcnow())


@router.get("/agents", response_model=list[AgentOut])
def list_agents(
    request: Request,
    who: Viewer,
    status: Annotated[str, Query(pattern=r"^(|online|offline|stale|revoked|never)$")] = "",
    environment: Annotated[str, Query(max_length=128)] = "",
) -> list[AgentOut]:
    """The fleet: every agent with its status, version, last contact, policy and active findings by severity."""
    rows = views.list_agents(
        context(request).store, status=status, environment=environment, thresholds=fleet_settings(request).thresholds
    )
    return [AgentOut.model_validate(r) for r in rows]


@router.get("/agents/{agent_id}", response_model=AgentDetailOut, responses={**NOT_FOUND})
def get_agent(agent_id: AgentId, request: Request, who: Viewer) -> AgentDetailOut:
    """One agent: host facts, module states, spool depth, drops, resource use from its last heartbeat."""
    data = _call(views.agent_detail, context(request).store, agent_id, fleet_settings(request).thresholds)
    return AgentDetailOut.model_validate(data)


@router.post("/agents/{agent_id}/revoke", response_model=AgentDetailOut, responses={**NOT_FOUND})
def revoke_agent(agent_id: AgentId, request: Request, who: Admin) -> AgentDetailOut:
    """Revoke an agent: every further request it signs is refused (it must re-enroll with a new token)."""
    store = context(request).store
    _call(enrollment.revoke, store, agent_id, actor=who.actor)
    return AgentDetailOut.model_validate(_call(views.agent_detail, store, agent_id, fleet_settings(request).thresholds))


@router.put("/agents/{agent_id}/policy", response_model=AgentDetailOut, responses={**NOT_FOUND})
def assign_policy(agent_id: AgentId, body: AssignPolicyIn, request: Request, who: Admin) -> AgentDetailOut:
    """Assign a policy to an agent (null: none); the agent applies it at its next poll."""
    store = context(request).store
    _call(policies.assign_policy, store, agent_id, body.policy, actor=who.actor)
    return AgentDetailOut.model_validate(_call(views.agent_detail, store, agent_id, fleet_settings(request).thresholds))


@router.get("/agents/{agent_id}/inventory", response_model=HostInventoryOut, responses={**NOT_FOUND})
def get_inventory(agent_id: AgentId, request: Request, who: Viewer) -> HostInventoryOut:
    """The host's last inventory: packages, processes, listening sockets, users, groups, sudoers, SUID files..."""
    return HostInventoryOut.model_validate(_call(views.host_inventory, context(request).store, agent_id))


def _policy_out(view: PolicyView) -> PolicyOut:
    return PolicyOut(
        name=view.name,
        description=view.description,
        version=view.version,
        revision=view.revision,
        document=dict(view.document),
        updated_at=view.updated_at,
        author=view.author,
    )


@router.get("/policies", response_model=list[PolicyOut])
def list_policies(request: Request, who: Viewer) -> list[PolicyOut]:
    """Every agent policy at its current version."""
    return [_policy_out(v) for v in policies.list_policies(context(request).store)]


@router.post("/policies", status_code=201, response_model=PolicyOut, responses={**BAD_REQUEST, **CONFLICT})
def create_policy(body: PolicyIn, request: Request, who: Admin) -> PolicyOut:
    """A new policy (version 1), audited."""
    view = _call(
        policies.create_policy,
        context(request).store,
        body.name,
        body.document,
        description=body.description,
        actor=who.actor,
    )
    return _policy_out(view)


@router.get("/policies/{name}", response_model=PolicyOut, responses={**NOT_FOUND})
def get_policy(name: PolicyName, request: Request, who: Viewer) -> PolicyOut:
    """A policy at its current version."""
    return _policy_out(_call(policies.get_policy, context(request).store, name))


@router.put("/policies/{name}", response_model=PolicyOut, responses={**BAD_REQUEST, **NOT_FOUND})
def update_policy(name: PolicyName, body: PolicyUpdate, request: Request, who: Admin) -> PolicyOut:
    """A new version of a policy, audited with the previous document."""
    view = _call(
        policies.update_policy,
        context(request).store,
        name,
        body.document,
        description=body.description,
        actor=who.actor,
    )
    return _policy_out(view)


@router.delete("/policies/{name}", status_code=204, responses={**NOT_FOUND})
def delete_policy(name: PolicyName, request: Request, who: Admin) -> Response:
    """Delete a policy; its agents fall back to the empty policy."""
    _call(policies.delete_policy, context(request).store, name, actor=who.actor)
    return Response(status_code=204)


@router.get("/policies/{name}/versions", response_model=list[PolicyOut], responses={**NOT_FOUND})
def list_policy_versions(name: PolicyName, request: Request, who: Viewer) -> list[PolicyOut]:
    """Every version of a policy, newest first."""
    return [_policy_out(v) for v in _call(policies.policy_versions, context(request).store, name)]


@router.get("/agent-events", response_model=AgentEventPage, responses={**BAD_REQUEST})
def list_agent_events(
    request: Request,
    who: Viewer,
    agent: Annotated[str, Query(pattern=r"^(|agt_[0-9a-f]{24})$")] = "",
    module: Annotated[str, Query(max_length=64)] = "",
    kind: Annotated[str, Query(max_length=128)] = "",
    severity: Annotated[list[SeverityName], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str, Query(max_length=128, description="next_cursor of the previous page")] = "",
) -> AgentEventPage:
    """Agent events, newest first, filtered, in cursor pages."""
    filt = views.EventFilter(agent=agent, module=module, kind=kind, severities=tuple(sorted(set(severity))))
    try:
        items, nxt = views.page_events(context(request).store, filt, limit=limit, cursor=cursor)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    return AgentEventPage(items=[AgentEventOut.model_validate(i) for i in items], next_cursor=nxt)
