"""Intrusion prevention and virtual patching: what is shielded, what is exposed, what was blocked."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from shieldwall.api.auth import Admin, Operator, Viewer
from shieldwall.api.context import context
from shieldwall.api.routes.common import NOT_FOUND, IdPath, IdQuery
from shieldwall.vpatch.events import list_events
from shieldwall.vpatch.recommend import SETTING, recommendation_pass, vpatch_settings
from shieldwall.vpatch.views import RecommendationNotFound, policy_section, set_assigned, shields

router = APIRouter(tags=["ips"])


class ShieldRuleOut(BaseModel):
    """A rule recommended for a finding."""

    id: int
    sid: int
    cve: str
    source: str
    msg: str
    mode: str
    assigned: bool


class ShieldOut(BaseModel):
    """An open vulnerability finding and its network shield."""

    finding_id: int
    asset_id: int
    asset: str
    advisory: str
    cves: list[str]
    package: str
    severity: str
    shielded: bool
    rules: list[ShieldRuleOut]
    summary: str


class IpsEventOut(BaseModel):
    """An IPS alert or drop reported by an agent."""

    id: int
    asset_id: int
    asset: str
    kind: str
    sid: int
    msg: str
    cves: list[str]
    src: str
    dest: str
    action: str
    observed_at: str


class AssignIn(BaseModel):
    """Assign a recommended rule, optionally choosing its mode."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["prevent", "detect"] | None = None


class PassOut(BaseModel):
    """What a recommendation pass changed."""

    findings: int
    created: int
    removed: int
    unassigned: int


class VpatchSettings(BaseModel):
    """Automatic assignment of recommendations and the mode new ones get."""

    model_config = ConfigDict(extra="forbid")
    auto_assign: bool = False
    mode: Literal["prevent", "detect"] = "prevent"


class IpsPolicyOut(BaseModel):
    """The virtual-patching part of an asset's agent ``ips`` policy section."""

    virtual_patches: list[int]
    rule_modes: dict[str, str] = Field(default_factory=dict)


Limit = Annotated[int, Query(ge=1, le=5000)]


@router.get("/ips/shields", response_model=list[ShieldOut])
def get_shields(request: Request, who: Viewer, asset_id: IdQuery = None, limit: Limit = 1000) -> list[ShieldOut]:
    """Per open vulnerability finding: "shielded by rules X, Y (Prevent)" or "no network shield"."""
    views = shields(context(request).store, asset_id=asset_id, limit=limit)
    return [ShieldOut.model_validate(v.to_dict()) for v in views]


@router.get("/ips/unshielded", response_model=list[ShieldOut])
def get_unshielded(request: Request, who: Viewer, asset_id: IdQuery = None, limit: Limit = 1000) -> list[ShieldOut]:
    """Exposed vulnerabilities: open findings with no assigned network shield."""
    views = shields(context(request).store, asset_id=asset_id, only_unshielded=True, limit=limit)
    return [ShieldOut.model_validate(v.to_dict()) for v in views]


@router.get("/ips/blocked", response_model=list[IpsEventOut])
def get_blocked(
    request: Request,
    who: Viewer,
    asset_id: IdQuery = None,
    kind: Literal["ips.drop", "ips.alert", ""] = "ips.drop",
    limit: Limit = 200,
) -> list[IpsEventOut]:
    """What the agents' IPS blocked (``ips.drop``), or alerted on (``kind=ips.alert``), newest first."""
    rows = list_events(context(request).store, asset_id=asset_id, kind=kind or None, limit=limit)
    return [IpsEventOut.model_validate(r) for r in rows]


@router.post("/ips/recommendations/run", response_model=PassOut)
def run_pass(request: Request, who: Operator, asset_id: IdQuery = None) -> PassOut:
    """Run a recommendation pass now (it also runs on inventory changes and database updates)."""
    result = recommendation_pass(context(request).store, asset_ids=None if asset_id is None else [asset_id])
    return PassOut(
        findings=result.findings, created=result.created, removed=result.removed, unassigned=result.unassigned
    )


def _assign(request: Request, recommendation_id: int, assigned: bool, actor: str, mode: str | None) -> dict[str, Any]:
    try:
        set_assigned(context(request).store, recommendation_id, assigned, actor, mode)
    except RecommendationNotFound:
        raise HTTPException(404, f"no recommendation #{recommendation_id}") from None
    return {"id": recommendation_id, "assigned": assigned}


@router.post("/ips/recommendations/{recommendation_id}/assign", responses={**NOT_FOUND})
def assign(recommendation_id: IdPath, body: AssignIn, request: Request, who: Operator) -> dict[str, Any]:
    """Put a recommended rule into its asset's IPS policy."""
    return _assign(request, recommendation_id, True, who.actor, body.mode)


@router.post("/ips/recommendations/{recommendation_id}/unassign", responses={**NOT_FOUND})
def unassign(recommendation_id: IdPath, request: Request, who: Operator) -> dict[str, Any]:
    """Take a recommended rule out of its asset's IPS policy."""
    return _assign(request, recommendation_id, False, who.actor, None)


@router.get("/ips/assets/{asset_id}/policy", response_model=IpsPolicyOut)
def asset_policy(asset_id: IdPath, request: Request, who: Viewer) -> IpsPolicyOut:
    """The SIDs and modes virtual patching puts into this asset's agent policy."""
    return IpsPolicyOut.model_validate(policy_section(context(request).store, asset_id))


@router.get("/ips/settings", response_model=VpatchSettings)
def get_settings(request: Request, who: Viewer) -> VpatchSettings:
    """Whether recommendations are assigned automatically, and in which mode."""
    return VpatchSettings.model_validate(vpatch_settings(context(request).store))


@router.put("/ips/settings", response_model=VpatchSettings)
def put_settings(body: VpatchSettings, request: Request, who: Admin) -> VpatchSettings:
    """Change automatic assignment (applies to recommendations created from now on)."""
    store = context(request).store
    store.put_setting(SETTING, body.model_dump())
    return VpatchSettings.model_validate(vpatch_settings(store))
