"""Read side of virtual patching: per-finding shields, unshielded exposure, assignment, rule SIDs per asset."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from shieldwall.model.finding import FindingKind
from shieldwall.store import Store
from shieldwall.store.core import utcnow
from shieldwall.store.schema import Asset, IpsRecommendation, StoredFinding
from shieldwall.vpatch.recommend import ACTIVE, cves_of


class RecommendationNotFound(LookupError):
    """No recommendation with that ID."""


@dataclass(frozen=True, slots=True)
class ShieldView:
    """One open vulnerability finding and the rules that shield (or could shield) it."""

    finding_id: int
    asset_id: int
    asset: str
    advisory: str
    cves: list[str]
    package: str
    severity: str
    shielded: bool
    rules: list[dict[str, Any]]
    summary: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "finding_id": self.finding_id,
            "asset_id": self.asset_id,
            "asset": self.asset,
            "advisory": self.advisory,
            "cves": self.cves,
            "package": self.package,
            "severity": self.severity,
            "shielded": self.shielded,
            "rules": self.rules,
            "summary": self.summary,
        }


def _summary(rules: list[dict[str, Any]]) -> str:
    assigned = [r for r in rules if r["assigned"]]
    if assigned:
        modes = sorted({str(r["mode"]).capitalize() for r in assigned})
        sids = ", ".join(str(r["sid"]) for r in assigned)
        return f"shielded by rules {sids} ({'/'.join(modes)})"
    if rules:
        return "no network shield (recommended, not assigned: " + ", ".join(str(r["sid"]) for r in rules) + ")"
    return "no network shield"


def shields(
    store: Store,
    asset_id: int | None = None,
    only_unshielded: bool = False,
    limit: int = 1000,
    offset: int = 0,
) -> list[ShieldView]:
    """Open vulnerability findings with their recommended and assigned rules.

    Filtering, ordering and the limit run in the database: only the ``limit``
    findings shown (from ``offset``, in finding-ID order) and their own
    recommendations are loaded.
    """
    with store.session() as session:
        q = (
            select(
                StoredFinding.id,
                StoredFinding.rule_id,
                StoredFinding.data,
                StoredFinding.package_name,
                StoredFinding.severity,
                Asset.id.label("asset_id"),
                Asset.identifier,
            )
            .join(Asset, Asset.id == StoredFinding.asset_id)
            .where(StoredFinding.kind == FindingKind.VULNERABILITY.value, StoredFinding.status.in_(ACTIVE))
            .order_by(StoredFinding.id)
        )
        if asset_id is not None:
            q = q.where(StoredFinding.asset_id == asset_id)
        if only_unshielded:
            assigned = (
                select(IpsRecommendation.id)
                .where(IpsRecommendation.finding_id == StoredFinding.id, IpsRecommendation.assigned)
                .exists()
            )
            q = q.where(~assigned)
        q = q.limit(max(limit, 0)).offset(max(offset, 0))
        rows = session.execute(q).all()
        recs: dict[int, list[dict[str, Any]]] = {}
        ids = [row.id for row in rows]
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            rq = (
                select(IpsRecommendation)
                .where(IpsRecommendation.finding_id.in_(chunk))
                .order_by(IpsRecommendation.sid, IpsRecommendation.id)
            )
            for rec in session.scalars(rq):
                recs.setdefault(rec.finding_id, []).append(
                    {
                        "id": rec.id,
                        "sid": rec.sid,
                        "cve": rec.cve,
                        "source": rec.source,
                        "msg": rec.msg,
                        "mode": rec.mode,
                        "assigned": rec.assigned,
                    }
                )
        out: list[ShieldView] = []
        for row in rows:
            rules = recs.get(row.id, [])
            shielded = any(r["assigned"] for r in rules)
            out.append(
                ShieldView(
                    finding_id=row.id,
                    asset_id=row.asset_id,
                    asset=row.identifier,
                    advisory=row.rule_id,
                    cves=cves_of(row.rule_id, row.data),
                    package=row.package_name,
                    severity=row.severity,
                    shielded=shielded,
                    rules=rules,
                    summary=_summary(rules),
                )
            )
        return out


def set_assigned(store: Store, recommendation_id: int, assigned: bool, actor: str, mode: str | None = None) -> None:
    """Assign (or unassign) one recommended rule to its asset's IPS policy."""
    with store.session() as session:
        rec = session.get(IpsRecommendation, recommendation_id)
        if rec is None:
            raise RecommendationNotFound(recommendation_id)
        rec.assigned = assigned
        rec.assigned_by = actor if assigned else ""
        if mode in ("prevent", "detect"):
            rec.mode = mode
        rec.updated_at = utcnow()


def assigned_rules(store: Store, asset_id: int) -> Mapping[int, str]:
    """SID -> mode of the rules assigned to an asset: the ``virtual_patches`` and ``rule_modes`` of its policy."""
    with store.session() as session:
        q = select(IpsRecommendation).where(IpsRecommendation.asset_id == asset_id, IpsRecommendation.assigned)
        out: dict[int, str] = {}
        for rec in session.scalars(q):
            if out.get(rec.sid) != "prevent":
                out[rec.sid] = rec.mode
        return out


def policy_section(store: Store, asset_id: int) -> dict[str, Any]:
    """The part of an agent's ``ips`` policy section that virtual patching contributes."""
    rules = assigned_rules(store, asset_id)
    return {
        "virtual_patches": sorted(rules),
        "rule_modes": {str(sid): mode for sid, mode in sorted(rules.items())},
    }
