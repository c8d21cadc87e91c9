"""IPS events from agents (``ips.alert`` / ``ips.drop``) stored once per event key, and read back."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from shieldwall.store import Store
from shieldwall.store.schema import Asset, IpsEvent

KINDS = ("ips.alert", "ips.drop")


def _addr(ip: Any, port: Any) -> str:
    text = str(ip or "")[:64]
    return f"{text}:{port}" if isinstance(port, int) else text


def record_events(store: Store, asset_id: int, events: Iterable[Mapping[str, Any]]) -> int:
    """Store the IPS events of an agent upload (``AgentEvent.to_wire`` dicts); returns how many were new."""
    new = 0
    with store.session() as session:
        seen = set()
        for event in events:
            if event.get("kind") not in KINDS:
                continue
            key = str(event.get("key") or "")[:64]
            if not key or key in seen:
                continue
            seen.add(key)
            if session.scalar(select(IpsEvent.id).where(IpsEvent.key == key)) is not None:
                continue
            attrs = event.get("attributes") or {}
            try:
                observed = dt.datetime.fromisoformat(str(event.get("observed_at")))
            except ValueError:
                observed = dt.datetime.now(dt.UTC)
            raw_cves = attrs.get("cves")
            cves: list[Any] = raw_cves if isinstance(raw_cves, list) else []
            session.add(
                IpsEvent(
                    asset_id=asset_id,
                    key=key,
                    kind=str(event["kind"]),
                    sid=int(attrs.get("sid") or 0),
                    msg=str(attrs.get("msg") or "")[:1024],
                    cves=json.dumps([str(c)[:32] for c in cves[:50]]),
                    src=_addr(attrs.get("src_ip"), attrs.get("src_port")),
                    dest=_addr(attrs.get("dest_ip"), attrs.get("dest_port")),
                    action=str(attrs.get("action") or "")[:16],
                    observed_at=observed,
                )
            )
            new += 1
    return new


def list_events(
    store: Store, asset_id: int | None = None, kind: str | None = "ips.drop", limit: int = 200
) -> list[dict[str, Any]]:
    """Recent IPS events, newest first (by default what was blocked)."""
    with store.session() as session:
        q = select(IpsEvent, Asset).join(Asset, Asset.id == IpsEvent.asset_id)
        if asset_id is not None:
            q = q.where(IpsEvent.asset_id == asset_id)
        if kind:
            q = q.where(IpsEvent.kind == kind)
        q = q.order_by(IpsEvent.observed_at.desc(), IpsEvent.id.desc()).limit(limit)
        return [
            {
                "id": e.id,
                "asset_id": a.id,
                "asset": a.identifier,
                "kind": e.kind,
                "sid": e.sid,
                "msg": e.msg,
                "cves": json.loads(e.cves),
                "src": e.src,
                "dest": e.dest,
                "action": e.action,
                "observed_at": e.observed_at.isoformat(),
            }
            for e, a in session.execute(q)
        ]
