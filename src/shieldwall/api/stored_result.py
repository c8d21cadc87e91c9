"""A ``ScanResult`` rebuilt from the store, so reporters and the compliance view work on stored assets.

The store keeps everything a report needs: the inventory rows rebuild the
packages exactly (``store.inventory.row_package``), each finding's ``data``
column is the whole ``Finding``, and the last scan keeps the image config and
OS. Findings that are fixed or no longer applicable are left out; findings
the store suppressed (an exception) keep their reason as a ``Suppression``,
so reports list them apart as the scan's own reports would.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sqlalchemy import select

from shieldwall.api.queries import NotFoundError, stored_warnings
from shieldwall.misconfig.check import InputKind
from shieldwall.misconfig.compliance import ComplianceReport, evaluate, finding_input, load_framework
from shieldwall.model import Finding, FindingKind, ScanResult, Suppression, Target, TargetKind, TargetRef
from shieldwall.model.result import ScanWarning
from shieldwall.store import Store
from shieldwall.store.inventory import layers_from_json, os_from_json, row_package
from shieldwall.store.records import finding_from_json, image_config_from_json
from shieldwall.store.schema import Asset, FindingStatus, Inventory, InventoryPackage, Scan, StoredFinding

CURRENT = (str(FindingStatus.OPEN), str(FindingStatus.REOPENED), str(FindingStatus.SUPPRESSED))
ALL_SCANNERS = ("vuln", "secret", "malware", "misconfig", "license")


def _target(asset: Asset, scan: Scan | None) -> Target:
    kind = TargetKind.DOCKER_ARCHIVE
    value = scan.target if scan is not None else asset.identifier
    if value.startswith("registry:"):
        kind = TargetKind.REGISTRY
    elif value.startswith("sbom:"):
        kind = TargetKind.SBOM
    elif value.startswith("dir:"):
        kind = TargetKind.DIRECTORY
    digest = asset.identifier if asset.identifier.startswith(("sha256:", "sha512:")) else ""
    return Target(
        ref=TargetRef(kind, value.split(":", 1)[1] if ":" in value else value),
        name=asset.name or asset.identifier,
        digest=digest,
        repository=asset.repository,
    )


def _stored_suppression(finding: Finding, row: StoredFinding) -> Finding:
    if row.status != FindingStatus.SUPPRESSED or not finding.active:
        return finding
    suppression = Suppression(
        kind="exception", rule=row.suppressed_by or "store", reason=row.suppressed_reason, source="store"
    )
    return dataclasses.replace(finding, suppressions=(suppression,))


def stored_result(store: Store, asset_id: int) -> ScanResult:
    """The asset's current state as a scan result: inventory, current findings, image config of the last scan."""
    with store.session() as session:
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise NotFoundError(f"no asset #{asset_id}")
        scan = session.get(Scan, asset.last_scan_id) if asset.last_scan_id is not None else None
        inventory = session.scalars(select(Inventory).where(Inventory.asset_id == asset_id)).first()
        layers = tuple(layers_from_json(inventory.layers if inventory else ""))
        packages: list[Any] = []
        if inventory is not None:
            rows = session.scalars(
                select(InventoryPackage)
                .where(InventoryPackage.inventory_id == inventory.id)
                .order_by(InventoryPackage.id)
            )
            packages = [row_package(r, layers) for r in rows]
        findings = [
            _stored_suppression(finding_from_json(row.data), row)
            for row in session.scalars(
                select(StoredFinding)
                .where(StoredFinding.asset_id == asset_id, StoredFinding.status.in_(CURRENT))
                .order_by(StoredFinding.id)
            )
        ]
        return ScanResult(
            target=_target(asset, scan),
            layers=layers,
            image=image_config_from_json(scan.image_config) if scan is not None else None,
            os=os_from_json(inventory.os_info if inventory is not None else ""),
            packages=tuple(packages),
            findings=tuple(findings),
            started_at=scan.started_at if scan is not None else "",
            finished_at=scan.finished_at if scan is not None else "",
            tool_version=scan.tool_version if scan is not None else "",
            warnings=_scan_warnings(scan),
        )


def _scan_warnings(scan: Scan | None) -> tuple[ScanWarning, ...]:
    """The warnings kept with the asset's last scan (shown in its report: a skip is never silent)."""
    if scan is None:
        return ()
    try:
        summary = json.loads(scan.summary or "{}")
    except ValueError:
        return ()
    if not isinstance(summary, dict):
        return ()
    return tuple(ScanWarning(w["source"], w["message"], w["path"]) for w in stored_warnings(summary))


def compliance_for_asset(store: Store, framework: str, asset_id: int) -> ComplianceReport:
    """Evaluate a bundled framework against an asset's stored state (every scanner assumed to have run)."""
    from shieldwall.misconfig.registry import config_from_environment, load_checks

    fw = load_framework(framework)
    result = stored_result(store, asset_id)
    checks = load_checks(config_from_environment())
    return evaluate(fw, result, checks, stored_inputs(result), ALL_SCANNERS)


def stored_inputs(result: ScanResult) -> set[str]:
    """Input kinds a stored asset had: the image config, and the kinds its misconfiguration findings name.

    Unlike ``inputs_present`` this never walks a directory: the server must
    not read a path on its own disk because a stored scan named it.
    """
    kinds = {finding_input(f) for f in result.findings if f.kind is FindingKind.MISCONFIG} - {""}
    if result.image is not None:
        kinds |= {str(InputKind.IMAGE_CONFIG), str(InputKind.FILE_MODE)}
    return kinds
