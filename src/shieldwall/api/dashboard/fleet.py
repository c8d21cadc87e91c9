"""Dashboard pages for the agent fleet: the fleet, one host, policies (editing for admins).

Same style as the other pages: server-rendered, autoescaped, every form with
the session's CSRF token and a same-origin check; the pages read the same
service functions as the API (``service.fleet``), so their numbers are the API's.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from shieldwall.api.context import context
from shieldwall.api.dashboard.views import SEVERITIES, _check_post, _render, _viewer
from shieldwall.api.routes.agent_protocol import fleet_settings
from shieldwall.api.tokens import Role
from shieldwall.service.fleet import enroll as enrollment
from shieldwall.service.fleet import policy as policies
from shieldwall.service.fleet import views
from shieldwall.service.fleet.errors import FleetError, FleetNotFoundError

router = APIRouter(include_in_schema=False)
AgentId = Annotated[str, Path(pattern=r"^agt_[0-9a-f]{24}$")]
PolicyName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
MAX_POLICY_TEXT = 256 * 1024


def _admin(viewer: Any) -> None:
    if not viewer.token.role.allows(Role.ADMIN):
        raise HTTPException(403, "this action needs the admin role")


@router.get("/fleet")
def fleet_page(request: Request, status: str = "") -> Response:
    """Every agent: status, version, last seen, policy, findings by severity."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    agents = views.list_agents(ctx.store, thresholds=fleet_settings(request).thresholds)
    counts: dict[str, int] = {}
    for agent in agents:
        counts[agent["status"]] = counts.get(agent["status"], 0) + 1
    shown = [a for a in agents if not status or a["status"] == status]
    return _render(request, "fleet.html.j2", viewer, agents=shown, counts=counts, status=status, order=SEVERITIES)


@router.get("/fleet/agents/{agent_id}")
def host_page(request: Request, agent_id: AgentId, error: str = "") -> Response:
    """One host: module states, spool and resources, inventory, findings, recent events."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    thresholds = fleet_settings(request).thresholds
    try:
        agent = views.agent_detail(ctx.store, agent_id, thresholds)
        inventory = views.host_inventory(ctx.store, agent_id, max_packages=2000)
    except FleetNotFoundError:
        raise HTTPException(404, "no such agent") from None
    events, _ = views.page_events(ctx.store, views.EventFilter(agent=agent_id), limit=50)
    return _render(
        request,
        "host.html.j2",
        viewer,
        agent=agent,
        inventory=inventory,
        events=events,
        policies=[p.name for p in policies.list_policies(ctx.store)],
        is_admin=viewer.token.role.allows(Role.ADMIN),
        order=SEVERITIES,
        error=error[:200],
    )


@router.post("/fleet/agents/{agent_id}/revoke")
def revoke_agent(request: Request, agent_id: AgentId, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Revoke an agent (admin)."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    _check_post(request, viewer, csrf)
    _admin(viewer)
    try:
        enrollment.revoke(ctx.store, agent_id, actor=viewer.token.actor)
    except FleetNotFoundError:
        raise HTTPException(404, "no such agent") from None
    return RedirectResponse(f"/fleet/agents/{agent_id}", status_code=303)


@router.post("/fleet/agents/{agent_id}/policy")
def assign_policy(
    request: Request,
    agent_id: AgentId,
    csrf: Annotated[str, Form(max_length=200)] = "",
    policy: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Assign a policy to an agent (admin; empty: none)."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    _check_post(request, viewer, csrf)
    _admin(viewer)
    try:
        policies.assign_policy(ctx.store, agent_id, policy or None, actor=viewer.token.actor)
    except FleetNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse(f"/fleet/agents/{agent_id}", status_code=303)


@router.get("/fleet/policies")
def policies_page(request: Request, error: str = "") -> Response:
    """Every policy at its current version; a form to create one (admin)."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    return _render(
        request,
        "fleet_policies.html.j2",
        viewer,
        policies=policies.list_policies(ctx.store),
        is_admin=viewer.token.role.allows(Role.ADMIN),
        error=error[:300],
    )


@router.get("/fleet/policies/{name}")
def policy_page(request: Request, name: PolicyName, error: str = "") -> Response:
    """A policy: its current document (editable by admins) and every version."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    try:
        versions = policies.policy_versions(ctx.store, name)
    except FleetNotFoundError:
        raise HTTPException(404, "no such policy") from None
    return _render(
        request,
        "fleet_policy.html.j2",
        viewer,
        policy=versions[0],
        versions=versions,
        document=json.dumps(versions[0].document, indent=2, sort_keys=True),
        is_admin=viewer.token.role.allows(Role.ADMIN),
        error=error[:300],
    )


def _document(text: str) -> Any:
    if len(text) > MAX_POLICY_TEXT:
        raise FleetError("the document is too large")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise FleetError(f"not JSON: {exc}") from None


@router.post("/fleet/policies")
def create_policy(
    request: Request,
    csrf: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")] = "",
    document: Annotated[str, Form(max_length=MAX_POLICY_TEXT)] = '{"modules": {}}',
) -> Response:
    """Create a policy (admin)."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    _check_post(request, viewer, csrf)
    _admin(viewer)
    try:
        policies.create_policy(ctx.store, name, _document(document), actor=viewer.token.actor)
    except FleetError as exc:
        return RedirectResponse("/fleet/policies?" + _query(error=str(exc)), status_code=303)
    return RedirectResponse(f"/fleet/policies/{name}", status_code=303)


@router.post("/fleet/policies/{name}")
def update_policy(
    request: Request,
    name: PolicyName,
    csrf: Annotated[str, Form(max_length=200)] = "",
    document: Annotated[str, Form(max_length=MAX_POLICY_TEXT)] = "",
) -> Response:
    """Save a new version of a policy (admin)."""
    ctx = context(request)
    viewer = _viewer(request, ctx)
    _check_post(request, viewer, csrf)
    _admin(viewer)
    try:
        policies.update_policy(ctx.store, name, _document(document), actor=viewer.token.actor)
    except FleetNotFoundError:
        raise HTTPException(404, "no such policy") from None
    except FleetError as exc:
        return RedirectResponse(f"/fleet/policies/{name}?" + _query(error=str(exc)), status_code=303)
    return RedirectResponse(f"/fleet/policies/{name}", status_code=303)


def _query(**values: str) -> str:
    import urllib.parse

    return urllib.parse.urlencode(values)


def install(app: FastAPI) -> None:
    """Add the fleet pages to ``app`` (after ``views.install``: the log-in redirect is shared)."""
    app.include_router(router)
