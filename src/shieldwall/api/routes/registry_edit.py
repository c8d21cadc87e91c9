"""Edit a watched registry in place (``PUT /registries/{name}``): the monitor configuration, validated and audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam

from shieldwall.api.auth import Admin, Principal
from shieldwall.api.context import AppContext, context
from shieldwall.api.routes.admin import _registry_out, _update_monitor
from shieldwall.api.routes.common import BAD_REQUEST, NOT_FOUND
from shieldwall.api.schemas import RegistryIn, RegistryOut
from shieldwall.service.monitor_config import parse_config

router = APIRouter(tags=["registries"])


def replace_registry(ctx: AppContext, name: str, body: RegistryIn, who: Principal) -> RegistryOut:
    """Replace the watched registry called ``name`` (by name or URL) with ``body``; 404 when none, 400 on a clash."""
    entry = body.model_dump()
    if not entry["name"]:
        entry.pop("name")
    label = body.name or body.url

    def change(raw: dict[str, Any]) -> dict[str, Any]:
        registries = list(raw.get("registries") or [])
        index = next(
            (i for i, r in enumerate(registries) if isinstance(r, dict) and name in (r.get("name"), r.get("url"))),
            None,
        )
        if index is None:
            raise HTTPException(404, f"no watched registry {name!r}")
        others = registries[:index] + registries[index + 1 :]
        if any(isinstance(r, dict) and label in (r.get("name"), r.get("url")) for r in others):
            raise HTTPException(400, f"registry {label!r} is already watched")
        before = registries[index]
        registries[index] = entry
        raw["registries"] = registries
        return {"registry_changed": name, "before": before, "after": entry}

    raw = _update_monitor(ctx, change, who.actor)
    found = parse_config(raw, "monitor").registry(label)
    assert found is not None
    return _registry_out(found)


@router.put("/registries/{name}", response_model=RegistryOut, responses={**BAD_REQUEST, **NOT_FOUND})
def put_registry(
    name: Annotated[str, PathParam(min_length=1, max_length=255)], body: RegistryIn, request: Request, who: Admin
) -> RegistryOut:
    """Change a watched registry (by name or URL); audited as a configuration change with before and after."""
    return replace_registry(context(request), name, body, who)
