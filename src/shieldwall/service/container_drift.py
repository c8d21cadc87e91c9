"""Drift events from agents -> findings on the container's asset, in the store.

A container is an asset of kind ``container`` identified by the host and the
container ID (``container:<host>/<id>``), named after the container, with the
image it runs as its repository. Each drifted path is one finding of kind
``drift`` whose fingerprint is the event kind and the path: the same path
drifting again moves ``last_seen`` (and updates the evidence) instead of
adding a finding. Drift findings are never swept as fixed (a container's
writable layer does not heal); stored exceptions suppress them like any
other finding. Everything one call records is one transaction with its audit
event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from shieldwall.agent.events import AgentEvent
from shieldwall.errors import InputError
from shieldwall.model import Evidence, Finding, FindingKind, Location
from shieldwall.store import Store, audit
from shieldwall.store.core import utcnow
from shieldwall.store.records import active_exceptions, apply_lifecycle
from shieldwall.store.schema import Asset, FindingStatus, StoredFinding
from shieldwall.target.reference import parse_reference

CONTAINER_ASSET_KIND = "container"
DETECTOR = "shieldwall-drift"
TITLES = {
    "drift.executable": "Executable added or changed in a running container",
    "drift.library": "Shared library added or changed in a running container",
    "drift.package": "Package installed in a running container",
    "drift.config": "Configuration changed in a running container",
    "drift.readonly": "File changed under a read-only path of a running container",
}


@dataclass(frozen=True, slots=True)
class DriftRecord:
    """What one call stored."""

    containers: int
    new: int
    seen_again: int
    ignored: int


def container_identifier(host: str, container_id: str) -> str:
    """The asset identifier of a container on a host."""
    return f"container:{host}/{container_id}"


def _writer(writer: object) -> tuple[tuple[str, str], ...]:
    """The audited process that wrote the path (agent ``audit: true``), as evidence details."""
    if not isinstance(writer, dict):
        return ()
    fields = ("exe", "comm", "pid", "ppid", "uid", "cmdline")
    return tuple((f"writer_{name}", str(writer[name])[:1024]) for name in fields if writer.get(name) is not None)


def drift_finding(event: AgentEvent) -> Finding:
    """The finding one drift event is."""
    attributes = event.attributes
    path = str(attributes.get("path", ""))
    names = ("change", "detail", "package", "size", "mode", "elf", "image", "image_id", "container_name")
    details = (
        *((name, str(attributes[name])) for name in names if name in attributes),
        *_writer(attributes.get("writer")),
        ("event_key", event.key),
        ("observed_at", event.observed_at.isoformat()),
    )
    return Finding(
        kind=FindingKind.DRIFT,
        rule_id="SW-" + event.kind.upper().replace(".", "-"),
        title=TITLES.get(event.kind, "Drift in a running container"),
        severity=event.severity,
        location=Location(path),
        message=event.summary,
        fix="Rebuild the image with the change (or remove it) and redeploy; containers should be immutable.",
        evidence=(Evidence(DETECTOR, "container filesystem changes against the image", path, "agent", 1.0, details),),
        fingerprint_material=event.kind,
    )


def _repository(image: str) -> str:
    try:
        return parse_reference(image).name
    except InputError:
        return ""


def record_drift_events(store: Store, events: Iterable[AgentEvent], *, actor: str = "agent") -> DriftRecord:
    """Record drift events (others are ignored and counted) as findings on their containers' assets."""
    groups: dict[tuple[str, str], list[AgentEvent]] = {}
    ignored = 0
    for event in events:
        container = str(event.attributes.get("container_id", ""))
        if event.module != "drift" or not event.kind.startswith("drift.") or not container:
            ignored += 1
            continue
        host = str(event.attributes.get("host", ""))
        groups.setdefault((host, container), []).append(event.with_key())
    now = utcnow()
    new = again = 0
    with store.session() as session:
        exceptions = active_exceptions(session, now)
        for (host, container), items in groups.items():
            identifier = container_identifier(host, container)[:512]
            first = items[0].attributes
            asset = session.scalars(
                select(Asset).where(Asset.kind == CONTAINER_ASSET_KIND, Asset.identifier == identifier)
            ).first()
            if asset is None:
                asset = Asset(
                    kind=CONTAINER_ASSET_KIND, identifier=identifier,
                    name=str(first.get("container_name", "") or container[:12])[:1024],
                    repository=_repository(str(first.get("image", "")))[:512], golden_auto=False,
                    golden_reason="", labels=json.dumps({"host": host, "image": str(first.get("image", ""))}),
                    platform="", active=True, first_seen=now, last_seen=now,
                )  # fmt: skip
                session.add(asset)
                session.flush()
            asset.last_seen = now
            existing = {
                row.fingerprint: row
                for row in session.scalars(select(StoredFinding).where(StoredFinding.asset_id == asset.id))
            }
            change = apply_lifecycle(
                session, asset.id, [drift_finding(e) for e in items], existing, sweep=lambda row: False,
                gone_status=FindingStatus.FIXED, scan_id=None, now=now, packages={}, exceptions=exceptions,
            )  # fmt: skip
            new += len(change.new)
            again += change.seen - len(change.new)
            audit.append_event(
                store, session, "drift.recorded", f"{CONTAINER_ASSET_KIND}:{identifier}",
                {"asset_id": asset.id, "events": len(items), "new": len(change.new),
                 "paths": sorted({str(e.attributes.get("path", "")) for e in items})[:100]},
                actor=actor,
            )  # fmt: skip
    return DriftRecord(containers=len(groups), new=new, seen_again=again, ignored=ignored)
