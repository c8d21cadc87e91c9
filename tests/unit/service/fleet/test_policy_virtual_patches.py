"""Virtual patches assigned to a host reach its agent: merged into the ips section, with a new revision."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from helpers.agent_fleet import build_root
from helpers.store_data import CRITICAL_VECTOR, osv
from shieldwall.agent.modules.inventory import InventoryPolicy, collect
from shieldwall.agent.signing import load_or_create_key
from shieldwall.service.fleet.enroll import enroll
from shieldwall.service.fleet.hosts import record_host_inventory
from shieldwall.service.fleet.policy import assign_policy, create_policy, policy_for_agent
from shieldwall.service.fleet.status import record_heartbeat
from shieldwall.service.fleet.tokens import create_token
from shieldwall.store import Store
from shieldwall.store.schema import IpsRecommendation, StoredFinding
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.store import VulnDB


def test_assigned_shields_reach_the_agent_and_leave_it_when_unassigned(store: Store, tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "agent.key")
    agent = enroll(store, create_token(store, name="t", environment="prod").token, key.public_text, "web-1", {})
    db_path = tmp_path / "vulndb.sqlite"
    with VulnDB.build(db_path) as writer:
        advisory = osv("DSA-9999-1", "Debian:12", "openssl", "3.0.13-1~deb12u1", cvss=CRITICAL_VECTOR)
        writer.replace_source(SourceInfo("test"), [advisory])
    document = collect(build_root(tmp_path / "root"), InventoryPolicy({}), live=False, docker_socket=tmp_path / "x")
    host = record_host_inventory(store, agent.id, document, vulndb_path=db_path)
    create_policy(store, "web", {"modules": {"ips": {"mode": "detect"}}})
    assign_policy(store, agent.uid, "web")

    before = policy_for_agent(store, agent.id)
    assert "virtual_patches" not in before.document["modules"]["ips"]
    with store.session() as session:
        finding = session.scalars(select(StoredFinding).where(StoredFinding.asset_id == host.asset_id)).first()
        assert finding is not None
        now = dt.datetime.now(dt.UTC)
        session.add(
            IpsRecommendation(
                asset_id=host.asset_id, finding_id=finding.id, cve="CVE-2099-1", sid=9100001, source="shieldwall",
                msg="shield", mode="prevent", assigned=True, assigned_by="test", created_at=now, updated_at=now,
            )
        )  # fmt: skip

    shielded = policy_for_agent(store, agent.id)
    assert shielded.document["modules"]["ips"]["virtual_patches"] == [9100001]
    assert shielded.document["modules"]["ips"]["rule_modes"] == {"9100001": "prevent"}
    assert shielded.document["modules"]["ips"]["mode"] == "detect"  # the policy's own settings stay
    assert shielded.revision != before.revision
    assert record_heartbeat(store, agent.id, {"version": "x"}) == shielded.revision  # the agent fetches again

    with store.session() as session:
        for row in session.scalars(select(IpsRecommendation)):
            row.assigned = False
    after = policy_for_agent(store, agent.id)
    assert "virtual_patches" not in after.document["modules"]["ips"]
    assert after.revision == before.revision
