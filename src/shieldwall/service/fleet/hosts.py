"""Host inventories from agents: recorded as a scan of the host asset, matched like an image.

The packages an agent's inventory module catalogued become a ``ScanResult``
of a directory target at ``/`` (so ``records.asset_identity`` makes it a
``host`` asset), matched against the advisory database by the same
``VulnerabilityScanner`` image scans use, and stored by the same
``record_scan``: findings, their lifecycle, compliance and the monitor's
rematch (which reads the stored inventory) work for hosts with no rescan.
The rest of the inventory (processes, sockets, users...) is kept on the
agent's row for the host page.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shieldwall import __version__
from shieldwall.alert.config import AlertSettings
from shieldwall.match.ecosystems import OWNER_KEY
from shieldwall.match.postscanner import VulnerabilityScanner
from shieldwall.model import OSInfo, Package, ScanResult
from shieldwall.model.location import LayerRef, Location
from shieldwall.model.package import PackageType
from shieldwall.model.target import Target, TargetKind, TargetRef
from shieldwall.store import Store
from shieldwall.store.records import record_scan
from shieldwall.store.schema import Agent, Asset

HOST_SECTIONS = ("processes", "listening", "users", "groups", "sudoers", "suid", "kernel_modules", "containers")

log = logging.getLogger("shieldwall.fleet.hosts")


@dataclass(frozen=True, slots=True)
class HostScan:
    """What recording an inventory produced."""

    scan_id: int
    asset_id: int
    findings: int
    warnings: tuple[str, ...]


_OS_TYPES = frozenset({"deb", "apk", "rpm"})


def packages_from_wire(items: Sequence[Mapping[str, Any]]) -> tuple[Package, ...]:
    """Packages from the agent's compact form (already schema-checked at the API edge).

    A language package the agent says an OS package installed keeps that mark
    (it is then matched through the OS package) only when that OS package, at
    that version, is in the same inventory; otherwise its own ranges apply.
    """
    installed = {f"{item.get('type')}:{item.get('name')}@{item.get('version') or ''}" for item in items}
    packages = []
    for item in items:
        owner = str(item.get("os_owner") or "")
        metadata = ((OWNER_KEY, owner),) if owner and owner in installed and item.get("type") not in _OS_TYPES else ()

        path = str(item.get("path") or "")
        packages.append(
            Package(
                type=PackageType(str(item["type"])),
                name=str(item["name"]),
                version=str(item.get("version") or ""),
                purl=str(item.get("purl") or ""),
                locations=(Location(path, LayerRef(0)),) if path else (),
                licenses=tuple(str(x) for x in item.get("licenses") or ()),
                source_name=str(item.get("source_name") or ""),
                source_version=str(item.get("source_version") or ""),
                arch=str(item.get("arch") or ""),
                found_by=str(item.get("found_by") or ""),
                metadata=metadata,
            )
        )
    return tuple(packages)


def os_from_wire(data: Mapping[str, Any] | None) -> OSInfo | None:
    """The host's OS identity."""
    if not data or not data.get("family"):
        return None
    return OSInfo(
        family=str(data["family"]),
        name=str(data.get("name") or ""),
        version=str(data.get("version") or ""),
        version_codename=str(data.get("version_codename") or ""),
        pretty_name=str(data.get("pretty_name") or ""),
    )


def record_host_inventory(
    store: Store,
    agent_id: int,
    inventory: Mapping[str, Any],
    *,
    vulndb_path: Path,
    alerts: AlertSettings | None = None,
) -> HostScan:
    """Match and store an agent's inventory as a scan of its host asset."""
    with store.session() as session:
        agent = session.get(Agent, agent_id)
        if agent is None:
            raise ValueError("no such agent")
        uid, hostname, environment = agent.uid, agent.hostname, agent.environment
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result = ScanResult(
        target=Target(ref=TargetRef(TargetKind.DIRECTORY, "/"), name=uid),
        layers=(),
        os=os_from_wire(inventory.get("os")),
        packages=packages_from_wire(inventory.get("packages") or ()),
        started_at=str(inventory.get("collected_at") or now)[:40],
        finished_at=now,
        tool_version=__version__,
    )
    matched = VulnerabilityScanner(vulndb_path).run(result)
    result = ScanResult(
        target=result.target,
        os=result.os,
        packages=result.packages,
        findings=matched.findings,
        warnings=matched.warnings,
        started_at=result.started_at,
        finished_at=result.finished_at,
        tool_version=result.tool_version,
    )
    recorded = record_scan(
        store,
        result,
        trigger="agent",
        actor=f"agent:{uid}",
        environment=environment,
        scanners=frozenset({"vuln"}),
        target_text=f"agent:{uid}",
        alerts=alerts,
    )
    host = {k: inventory.get(k, []) for k in HOST_SECTIONS}
    host["os"] = inventory.get("os")
    host["collected_at"] = inventory.get("collected_at")
    host["warnings"] = [w.message for w in result.warnings]
    with store.session() as session:
        agent_row = session.get(Agent, agent_id)
        asset = session.get(Asset, recorded.asset_id)
        if asset is not None and hostname:
            asset.name = hostname[:1024]
        if agent_row is not None:
            agent_row.asset_id = recorded.asset_id
            agent_row.inventory_hash = str(inventory.get("hash") or "")[:64]
            agent_row.inventory = json.dumps(host, sort_keys=True, default=str)
    warnings = [w.message for w in result.warnings]
    try:  # virtual patches follow the host's findings: recommend shields, unassign those no longer needed
        from shieldwall.vpatch.recommend import on_inventory_change

        on_inventory_change(store, [recorded.asset_id])
    except Exception as exc:  # the inventory is recorded either way; the failure is reported, not hidden
        log.warning("virtual-patch recommendations for host %s failed: %s", uid, exc)
        warnings.append(f"virtual-patch recommendations not updated: {type(exc).__name__}: {exc}")
    return HostScan(recorded.scan_id, recorded.asset_id, len(result.findings), tuple(warnings))
