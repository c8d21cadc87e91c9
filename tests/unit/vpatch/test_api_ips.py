"""The ips API routes over a real store (in-process ASGI client): shields, unshielded, assign, blocked."""

from __future__ import annotations

from fastapi.testclient import TestClient

from helpers.store_data import CRITICAL_VECTOR, deb, image_result, osv, with_matches
from shieldwall.api.app import create_app
from shieldwall.api.tokens import Role, create_token
from shieldwall.store import Store
from shieldwall.store.records import record_scan
from shieldwall.vpatch.events import record_events

ADVISORY = osv("DSA-3032-1", "Debian:12", "bash", "5.2.15-3", cvss=CRITICAL_VECTOR, aliases=("CVE-2014-6271",))


def test_ips_routes(store: Store) -> None:
    record_scan(store, with_matches(image_result("aa", (deb("bash", "5.2.15-2+b2"),)), [ADVISORY]), actor="ci")
    viewer = create_token(store, "v", Role.VIEWER).token
    operator = create_token(store, "o", Role.OPERATOR).token
    client = TestClient(create_app(store, dashboard=False))
    v = {"Authorization": f"Bearer {viewer}"}
    o = {"Authorization": f"Bearer {operator}"}
    assert client.post("/api/v1/ips/recommendations/run", headers=v).status_code == 403
    run = client.post("/api/v1/ips/recommendations/run", headers=o)
    assert run.status_code == 200 and run.json()["created"] >= 1
    unshielded = client.get("/api/v1/ips/unshielded", headers=v).json()
    assert [u["advisory"] for u in unshielded] == ["CVE-2014-6271"]
    rec_id = unshielded[0]["rules"][0]["id"]
    assert (
        client.post(f"/api/v1/ips/recommendations/{rec_id}/assign", json={"mode": "detect"}, headers=o).status_code
        == 200
    )
    assert client.post("/api/v1/ips/recommendations/999999/assign", json={}, headers=o).status_code == 404
    shields = client.get("/api/v1/ips/shields", headers=v).json()
    assert shields[0]["shielded"] and "(Detect)" in shields[0]["summary"]
    assert client.get("/api/v1/ips/unshielded", headers=v).json() == []
    asset_id = shields[0]["asset_id"]
    policy = client.get(f"/api/v1/ips/assets/{asset_id}/policy", headers=v).json()
    assert policy["virtual_patches"] == [shields[0]["rules"][0]["sid"]]
    record_events(
        store,
        asset_id,
        [
            {
                "key": "k1",
                "kind": "ips.drop",
                "observed_at": "2026-12-07T00:00:00+00:00",
                "attributes": {"sid": 1995010, "msg": "SHIELDWALL Shellshock", "action": "blocked"},
            }
        ],
    )
    blocked = client.get("/api/v1/ips/blocked", headers=v).json()
    assert [b["sid"] for b in blocked] == [1995010]
    assert client.put("/api/v1/ips/settings", json={"auto_assign": True}, headers=o).status_code == 403


def test_dashboard_ips_page(store: Store) -> None:
    import re

    record_scan(store, with_matches(image_result("aa", (deb("bash", "5.2.15-2+b2"),)), [ADVISORY]), actor="ci")
    from shieldwall.vpatch.recommend import recommendation_pass

    recommendation_pass(store)
    viewer = create_token(store, "v", Role.VIEWER).token
    client = TestClient(create_app(store), base_url="https://testserver")
    assert client.get("/ips", follow_redirects=False).status_code == 303
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    done = client.post(
        "/login",
        data={"token": viewer, "csrf": csrf.group(1), "next": "/ips"},
        headers={"Origin": "https://testserver"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = client.get("/ips")
    assert page.status_code == 200
    assert "CVE-2014-6271" in page.text and "no network shield (recommended" in page.text
    assert "<strong>0</strong> open vulnerabilities shielded" in page.text
