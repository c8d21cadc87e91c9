"""Fleet dashboard pages: the fleet list, a host page, policy editing for admins only, CSRF on every form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.api_server import ApiServer, api_settings, tokens
from shieldwall.agent.client import ManagerClient
from shieldwall.agent.signing import load_or_create_key
from shieldwall.api.tokens import Role
from shieldwall.store import Store


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}", audit_key_path=tmp_path / "audit.pem")
    api = ApiServer.start(store, api_settings(tmp_path / "data", tmp_path / "cache"))
    api.tokens = tokens(store)
    try:
        yield api
    finally:
        api.stop()
        store.close()


def _browser(server: ApiServer, role: Role) -> tuple[httpx.Client, str]:
    browser = httpx.Client(base_url=server.url, timeout=30)
    page = browser.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    done = browser.post("/login", data={"token": server.tokens[role], "csrf": csrf.group(1), "next": "/fleet"})
    assert done.status_code == 303
    fleet = browser.get("/fleet")
    session_csrf = re.search(r'name="csrf" value="([^"]+)"', fleet.text)
    assert session_csrf is not None
    return browser, session_csrf.group(1)


def test_fleet_host_and_policy_pages(server: ApiServer, tmp_path: Path) -> None:
    admin, csrf = _browser(server, Role.ADMIN)
    assert admin.get("/fleet").status_code == 200 and "No agents" in admin.get("/fleet").text
    created = admin.post(
        "/fleet/policies",
        data={"csrf": csrf, "name": "web", "document": '{"modules": {"inventory": {"interval_seconds": 60}}}'},
    )
    assert created.status_code == 303 and created.headers["location"] == "/fleet/policies/web"
    bad = admin.post("/fleet/policies/web", data={"csrf": csrf, "document": "{not json"})
    assert "error=" in bad.headers["location"]
    saved = admin.post("/fleet/policies/web", data={"csrf": csrf, "document": '{"modules": {}}'})
    assert saved.status_code == 303
    page = admin.get("/fleet/policies/web").text
    assert "version 2" in page and 'id="save-policy"' in page
    assert admin.post("/fleet/policies/web", data={"csrf": "wrong", "document": "{}"}).status_code == 403

    token = server.client(Role.ADMIN).post("/api/v1/enrollment-tokens", json={"name": "t", "policy": "web"}).json()
    agent = ManagerClient(server.url, load_or_create_key(tmp_path / "a.key"))
    agent.enroll(token["token"], "web-<1>", {})
    heartbeat = {
        "version": "0.1.0",
        "uptime_seconds": 5,
        "spool_depth": 7,
        "modules": {"inventory": {"status": "degraded", "detail": "no docker", "counters": {"scans": 2}}},
    }
    agent.signed("POST", "/api/v1/agent/heartbeat", heartbeat)
    fleet = admin.get("/fleet").text
    assert f'data-agent-id="{agent.agent_id}"' in fleet and "web-&lt;1&gt;" in fleet, "host names are escaped"
    host = admin.get(f"/fleet/agents/{agent.agent_id}").text
    assert "no docker" in host and "scans=2" in host and "7 events" in host
    assert admin.post(f"/fleet/agents/{agent.agent_id}/revoke", data={"csrf": csrf}).status_code == 303
    assert "status-revoked" in admin.get(f"/fleet/agents/{agent.agent_id}").text
    assert admin.get("/fleet/agents/agt_" + "0" * 24).status_code == 404

    viewer, viewer_csrf = _browser(server, Role.VIEWER)
    assert 'id="save-policy"' not in viewer.get("/fleet/policies/web").text
    assert viewer.post("/fleet/policies/web", data={"csrf": viewer_csrf, "document": "{}"}).status_code == 403
    assert viewer.post(f"/fleet/agents/{agent.agent_id}/policy", data={"csrf": viewer_csrf}).status_code == 403
    assert httpx.get(server.url + "/fleet").status_code == 303, "no session: to the log-in page"
