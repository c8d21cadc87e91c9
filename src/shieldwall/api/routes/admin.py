"""The rest: who am I, the overview, the advisory database (status, update), watched registries, tokens."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi import Path as PathParam
from sqlalchemy.exc import IntegrityError

from shieldwall.api import queries
from shieldwall.api.auth import Admin, Viewer
from shieldwall.api.context import AppContext, context
from shieldwall.api.routes.common import BAD_REQUEST, NOT_FOUND
from shieldwall.api.schemas import (
    DbStatusOut,
    JobOut,
    OverviewOut,
    RegistryIn,
    RegistryOut,
    TokenCreated,
    TokenIn,
    TokenOut,
    WhoAmIOut,
)
from shieldwall.api.tokens import create_token, list_tokens, revoke_token
from shieldwall.errors import ConfigError, InputError, ShieldwallError
from shieldwall.service.monitor import CONFIG_SETTING
from shieldwall.service.monitor_config import parse_config
from shieldwall.store import audit
from shieldwall.store.schema import Setting

router = APIRouter()


@router.get("/whoami", response_model=WhoAmIOut, tags=["tokens"])
def whoami(who: Viewer) -> WhoAmIOut:
    """The token this request was made with."""
    token = who.token
    return WhoAmIOut(id=token.id, name=token.name, role=token.role, actor=token.actor)


def db_status(ctx: AppContext) -> dict[str, Any]:
    """The advisory database's status as plain data (``present: false`` when there is none)."""
    from shieldwall.vulndb.store import VulnDB

    path = ctx.vulndb_path
    if not path.is_file():
        return {"present": False, "path": str(path)}
    try:
        with VulnDB.open(path) as db:
            status = db.status()
            generation = db.generation()
    except (ShieldwallError, OSError) as exc:
        return {"present": False, "path": str(path), "error": str(exc)}
    return {
        "present": True,
        "path": status.path,
        "advisories": status.advisories,
        "kev_entries": status.kev_entries,
        "epss_entries": status.epss_entries,
        "last_update": status.last_update,
        "age_seconds": status.age_seconds,
        "generation": generation,
        "sources": [
            {"name": s.name, "kind": s.kind, "url": s.url, "imported_at": s.imported_at, "count": s.count}
            for s in status.sources
        ],
        "ecosystems": dict(status.ecosystems),
    }


@router.get("/overview", response_model=OverviewOut, tags=["overview"])
def get_overview(request: Request, who: Viewer) -> OverviewOut:
    """The dashboard's numbers: assets by environment, open findings by severity and kind, trend, rematches, alerts."""
    ctx = context(request)
    status = db_status(ctx)
    status.pop("sources", None)
    status.pop("ecosystems", None)
    return OverviewOut.model_validate(queries.overview(ctx.store, status).to_dict())


@router.get("/db/status", response_model=DbStatusOut, tags=["database"])
def get_db_status(request: Request, who: Viewer) -> DbStatusOut:
    """The advisory database: sources, advisory counts, last update and age, build generation."""
    data = db_status(context(request))
    data.pop("error", None)
    return DbStatusOut.model_validate(data)


@router.post("/db/update", status_code=202, response_model=JobOut, tags=["database"])
def post_db_update(request: Request, who: Admin) -> JobOut:
    """Update the advisory database from the configured OSV base URL in the background, then rematch."""
    return JobOut.model_validate(context(request).jobs.submit_db_update(who.actor).to_dict())


# -- registries: the monitor configuration kept in the store --------------------------------------


def _monitor_raw(ctx: AppContext) -> dict[str, Any]:
    raw = ctx.store.get_setting(CONFIG_SETTING)
    return dict(raw) if isinstance(raw, dict) else {}


def _registry_out(item: Any) -> RegistryOut:
    return RegistryOut(
        name=item.label,
        url=item.url,
        repositories=list(item.repositories),
        tags=list(item.tags),
        environment=item.environment,
        insecure=item.insecure,
        anonymous=item.anonymous,
    )


def _update_monitor(ctx: AppContext, change: Callable[[dict[str, Any]], dict[str, Any]], actor: str) -> dict[str, Any]:
    """Change the monitor configuration in one transaction (row locked), validate it, audit it.

    ``change`` gets the current mapping and returns the audit details (it may
    raise ``HTTPException``). Two admins adding the first registry at the same
    moment race on inserting the row: the loser retries on the winner's copy.
    """
    for attempt in range(3):
        try:
            with ctx.store.session() as session:
                row = session.get(Setting, CONFIG_SETTING, with_for_update=True)
                loaded = json.loads(row.value) if row is not None else {}
                raw: dict[str, Any] = dict(loaded) if isinstance(loaded, dict) else {}
                details = change(raw)
                try:
                    parse_config(raw, "the monitor configuration")
                except ConfigError as exc:
                    raise HTTPException(400, str(exc)) from None
                ctx.store.put_setting(CONFIG_SETTING, raw, session)
                audit.append_event(
                    ctx.store, session, audit.AuditAction.CONFIG_CHANGED, "monitor", details, actor=actor
                )
            return raw
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@router.get("/registries", response_model=list[RegistryOut], tags=["registries"])
def get_registries(request: Request, who: Viewer) -> list[RegistryOut]:
    """Registries the monitor watches (from the monitor configuration kept in the store)."""
    raw = _monitor_raw(context(request))
    try:
        config = parse_config(raw, "the monitor configuration kept in the store")
    except ConfigError as exc:
        raise HTTPException(500, str(exc)) from None
    return [_registry_out(r) for r in config.registries]


@router.post("/registries", status_code=201, response_model=RegistryOut, responses={**BAD_REQUEST}, tags=["registries"])
def post_registry(body: RegistryIn, request: Request, who: Admin) -> RegistryOut:
    """Watch another registry (the monitor picks it up on its next start); audited as a configuration change."""
    label = body.name or body.url
    entry = body.model_dump()
    if not entry["name"]:
        entry.pop("name")

    def add(raw: dict[str, Any]) -> dict[str, Any]:
        registries = list(raw.get("registries") or [])
        if any(isinstance(r, dict) and label in (r.get("name"), r.get("url")) for r in registries):
            raise HTTPException(400, f"registry {label!r} is already watched")
        raw["registries"] = [*registries, entry]
        return {"registry_added": entry}

    raw = _update_monitor(context(request), add, who.actor)
    found = parse_config(raw, "monitor").registry(label)
    assert found is not None
    return _registry_out(found)


@router.delete("/registries/{name}", status_code=204, responses={**NOT_FOUND}, tags=["registries"])
def delete_registry(
    name: Annotated[str, PathParam(min_length=1, max_length=255)], request: Request, who: Admin
) -> Response:
    """Stop watching a registry (by name or URL); audited."""

    def remove(raw: dict[str, Any]) -> dict[str, Any]:
        registries = list(raw.get("registries") or [])
        kept = [r for r in registries if not (isinstance(r, dict) and name in (r.get("name"), r.get("url")))]
        if len(kept) == len(registries):
            raise HTTPException(404, f"no watched registry {name!r}")
        raw["registries"] = kept
        return {"registry_removed": name}

    _update_monitor(context(request), remove, who.actor)
    return Response(status_code=204)


# -- tokens ---------------------------------------------------------------------------------------


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
def get_tokens(request: Request, who: Admin) -> list[TokenOut]:
    """Every token (never its secret), revoked ones included."""
    return [TokenOut.model_validate(t.to_dict()) for t in list_tokens(context(request).store)]


@router.post("/tokens", status_code=201, response_model=TokenCreated, responses={**BAD_REQUEST}, tags=["tokens"])
def post_token(body: TokenIn, request: Request, who: Admin) -> TokenCreated:
    """Create a token; the response is the only time its secret is shown. Audited."""
    try:
        created = create_token(context(request).store, body.name, body.role, actor=who.actor)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    return TokenCreated(token=created.token, record=TokenOut.model_validate(created.record.to_dict()))


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut, responses={**NOT_FOUND}, tags=["tokens"])
def post_revoke_token(
    token_id: Annotated[str, PathParam(min_length=1, max_length=32)], request: Request, who: Admin
) -> TokenOut:
    """Revoke a token: it stops working at once (dashboard sessions made with it too). Audited."""
    try:
        record = revoke_token(context(request).store, token_id, actor=who.actor)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None
    return TokenOut.model_validate(record.to_dict())
