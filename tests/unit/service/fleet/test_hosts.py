"""Host inventories are scans of host assets: matched like images, stored the same way, rematched with no rescan."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from helpers.agent_fleet import build_root
from helpers.store_data import CRITICAL_VECTOR, osv
from shieldwall.agent.modules.inventory import InventoryPolicy, collect
from shieldwall.agent.signing import load_or_create_key
from shieldwall.match.matcher import InMemoryAdvisories
from shieldwall.service.fleet.enroll import enroll
from shieldwall.service.fleet.hosts import record_host_inventory
from shieldwall.service.fleet.tokens import create_token
from shieldwall.service.fleet.views import host_inventory, list_agents
from shieldwall.service.rematch import rematch
from shieldwall.store import Store
from shieldwall.store.schema import Asset, AssetKind, Scan, StoredFinding
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.store import VulnDB


def test_host_inventory_matched_stored_and_rematched(store: Store, tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "agent.key")
    agent = enroll(store, create_token(store, name="t", environment="prod").token, key.public_text, "db-1", {})
    document = collect(build_root(tmp_path / "root"), InventoryPolicy({}), live=False, docker_socket=tmp_path / "x")
    db_path = tmp_path / "vulndb.sqlite"
    with VulnDB.build(db_path) as writer:
        writer.replace_source(
            SourceInfo("test"),
            [
                osv(
                    "DSA-9999-1",
                    "Debian:12",
                    "openssl",
                    "3.0.13-1~deb12u1",
                    cvss=CRITICAL_VECTOR,
                    aliases=("CVE-2099-1",),
                )
            ],
        )
    recorded = record_host_inventory(store, agent.id, document, vulndb_path=db_path)
    assert recorded.findings == 2, "openssl and libssl3 (source openssl) are both affected"
    with store.session() as session:
        asset = session.get(Asset, recorded.asset_id)
        assert asset is not None and asset.kind == str(AssetKind.HOST) and asset.name == "db-1"
        rows = list(session.scalars(select(StoredFinding).where(StoredFinding.asset_id == asset.id)))
        assert {r.package_name for r in rows} == {"openssl", "libssl3"}
        assert {r.severity for r in rows} == {"CRITICAL"}
        scans = session.query(Scan).count()
    fleet = list_agents(store)
    assert fleet[0]["findings"] == {"CRITICAL": 2} and fleet[0]["asset_id"] == recorded.asset_id
    inventory = host_inventory(store, agent.uid)
    assert {p["name"] for p in inventory["packages"]} >= {"openssl", "zlib1g", "base-files"}
    assert inventory["hash"] == document["hash"]

    # New advisory data: the monitor's rematch finds the host affected from the stored inventory alone.
    zlib = osv("DSA-9999-2", "Debian:12", "zlib", "1:1.3.dfsg-1", cvss=CRITICAL_VECTOR, aliases=("CVE-2099-2",))
    report = rematch(store, InMemoryAdvisories([zlib]), [("Debian:12", "zlib")])
    assert report.new_findings == 1
    with store.session() as session:
        assert session.query(Scan).count() == scans, "no new scan: rematched from the stored inventory"
        names = set(
            session.scalars(select(StoredFinding.package_name).where(StoredFinding.asset_id == recorded.asset_id))
        )
    assert names == {"openssl", "libssl3", "zlib1g"}
