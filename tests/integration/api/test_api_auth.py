"""Every endpoint needs a token of the right role; tokens, rate limits and size limits on the real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.api_server import ApiServer, Seeded, api_settings, tokens
from shieldwall.api.app import openapi_document
from shieldwall.api.tokens import Role

pytestmark = pytest.mark.integration

OPERATOR = {
    ("POST", "/api/v1/scans"),
    ("POST", "/api/v1/scans/upload"),
    ("POST", "/api/v1/witness/{trail}/checkpoints"),
    ("PATCH", "/api/v1/assets/{asset_id}"),
    ("POST", "/api/v1/exceptions"),
    ("POST", "/api/v1/exceptions/{exception_id}/revoke"),
    ("POST", "/api/v1/fim/windows"),
    ("POST", "/api/v1/fim/windows/{window_id}/close"),
    ("POST", "/api/v1/ips/recommendations/run"),
    ("POST", "/api/v1/ips/recommendations/{recommendation_id}/assign"),
    ("POST", "/api/v1/ips/recommendations/{recommendation_id}/unassign"),
}
ADMIN = {
    ("POST", "/api/v1/db/update"),
    ("POST", "/api/v1/registries"),
    ("PUT", "/api/v1/registries/{name}"),
    ("DELETE", "/api/v1/registries/{name}"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens/{token_id}/revoke"),
    ("GET", "/api/v1/enrollment-tokens"),
    ("POST", "/api/v1/enrollment-tokens"),
    ("POST", "/api/v1/enrollment-tokens/{token_id}/revoke"),
    ("POST", "/api/v1/agents/{agent_id}/revoke"),
    ("PUT", "/api/v1/agents/{agent_id}/policy"),
    ("POST", "/api/v1/policies"),
    ("PUT", "/api/v1/policies/{name}"),
    ("DELETE", "/api/v1/policies/{name}"),
    ("PUT", "/api/v1/ips/settings"),
}
# A POST that only computes (classifying an event against change windows): any valid token.
VIEWER_WRITES = {("POST", "/api/v1/fim/classify")}
PUBLIC = {("GET", "/health")}
# Agents authenticate with signed requests (docs/agent.md), not API tokens; enrollment carries its token in the body.
AGENT_SIGNED = {
    ("GET", "/api/v1/agent/policy"),
    ("POST", "/api/v1/agent/events"),
    ("POST", "/api/v1/agent/heartbeat"),
    ("POST", "/api/v1/agent/inventory"),
    ("POST", "/api/v1/agent/rotate-key"),
}
AGENT_ENROLL = {("POST", "/api/v1/agent/enroll")}
PATH_VALUES = {
    "asset_id": "1",
    "scan_id": "1",
    "finding_id": "1",
    "exception_id": "1",
    "job_id": "0" * 16,
    "name": "nothing",
    "token_id": "000000000000",
    "framework": "cis-docker-1.6",
    "agent_id": "agt_" + "0" * 24,
    "window_id": "1",
    "recommendation_id": "1",
    "trail": "nothing",
}


def operations() -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document."""
    doc = openapi_document()
    return sorted((method.upper(), path) for path, ops in doc["paths"].items() for method in ops)


def needed_role(method: str, path: str) -> Role | None:
    """The role an operation needs (None: public)."""
    key = (method, path)
    if key in PUBLIC:
        return None
    if key in ADMIN:
        return Role.ADMIN
    if key in OPERATOR:
        return Role.OPERATOR
    return Role.VIEWER


def concrete(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no test value for a parameter of {path}"
    return path


def test_the_role_table_names_only_real_endpoints() -> None:
    known = set(operations())
    assert known >= OPERATOR | ADMIN | PUBLIC
    # every write is classified explicitly: a new write endpoint must be added to a table above
    writes = {(m, p) for m, p in known if m != "GET"}
    allowed = OPERATOR | ADMIN | AGENT_SIGNED | AGENT_ENROLL | VIEWER_WRITES
    assert writes <= allowed, writes - allowed


@pytest.mark.parametrize("token", ["", "swt_000000000000_" + "x" * 43, "not-a-token"])
def test_every_endpoint_rejects_a_missing_or_unknown_token(seeded: Seeded, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=seeded.api.url, headers=headers, timeout=30) as client:
        for method, path in operations():
            response = client.request(method, concrete(path))
            if (method, path) in AGENT_SIGNED | AGENT_ENROLL:  # no signature (or no body): refused all the same
                assert response.status_code == (401 if (method, path) in AGENT_SIGNED else 422), (method, path)
                continue
            if needed_role(method, path) is None:
                assert response.status_code == 200, (method, path)
                continue
            assert response.status_code == 401, (method, path, response.status_code, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            assert "detail" in response.json()


def test_every_endpoint_rejects_a_token_of_a_lower_role(seeded: Seeded) -> None:
    checked = 0
    for method, path in operations():
        needed = needed_role(method, path)
        if needed is None or (method, path) in AGENT_SIGNED | AGENT_ENROLL:
            continue
        for role in Role:
            if role.allows(needed):
                continue
            with seeded.api.client(role) as client:
                response = client.request(method, concrete(path))
            assert response.status_code == 403, (method, path, role, response.status_code, response.text)
            assert str(needed) in response.json()["detail"]
            checked += 1
    assert checked == 2 * len(ADMIN) + len(OPERATOR)


def test_a_token_of_the_right_role_gets_through(seeded: Seeded) -> None:
    with seeded.api.client(Role.VIEWER) as viewer:
        assert viewer.get("/api/v1/whoami").json()["role"] == "viewer"
        assert viewer.get("/api/v1/findings").status_code == 200
        assert viewer.get("/metrics").status_code == 200
    with seeded.api.client(Role.ADMIN) as admin:
        assert admin.get("/api/v1/tokens").status_code == 200
        # an admin may do what an operator may
        assert admin.get("/api/v1/exceptions").status_code == 200


def test_the_dashboard_needs_a_session(seeded: Seeded) -> None:
    with httpx.Client(base_url=seeded.api.url, timeout=30) as client:
        for page in (
            "/",
            "/assets",
            "/assets/1",
            "/findings",
            "/findings/1",
            "/compliance",
            "/audit",
            "/audit/export.csv",
        ):
            response = client.get(page)
            assert response.status_code == 303, page
            assert response.headers["location"].startswith("/login?next=")
        # a bearer token is not a session: the pages are for browsers
        headers = {"Authorization": f"Bearer {seeded.api.tokens[Role.ADMIN]}"}
        assert client.get("/", headers=headers).status_code == 303
        assert client.get("/api/v1/openapi.json").status_code == 401
        login = client.get("/login")
        assert "script-src 'self'" in login.headers["content-security-policy"]
        assert login.headers["x-frame-options"] == "DENY" and login.headers["x-content-type-options"] == "nosniff"
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie


def test_tokens_are_created_used_and_revoked_through_the_api(seeded: Seeded) -> None:
    with seeded.api.client(Role.ADMIN) as admin:
        created = admin.post("/api/v1/tokens", json={"name": "ci-bot", "role": "operator"})
        assert created.status_code == 201
        body = created.json()
        token, record = body["token"], body["record"]
        assert token.startswith("swt_") and record["role"] == "operator" and record["active"]
        listed = {t["id"]: t for t in admin.get("/api/v1/tokens").json()}
        assert listed[record["id"]]["name"] == "ci-bot"
        assert token not in json.dumps(listed)  # never shown again
        with seeded.api.client(token=token) as bot:
            assert bot.get("/api/v1/whoami").json()["actor"] == f"token:ci-bot#{record['id']}"
            revoked = admin.post(f"/api/v1/tokens/{record['id']}/revoke")
            assert revoked.status_code == 200 and not revoked.json()["active"]
            assert bot.get("/api/v1/whoami").status_code == 401
        assert admin.post(f"/api/v1/tokens/{record['id']}/revoke").status_code == 404
        assert admin.post("/api/v1/tokens", json={"name": "x", "role": "root"}).status_code == 422
        events = admin.get("/api/v1/audit/events", params={"action": "token.created"}).json()["items"]
        admin_actor = admin.get("/api/v1/whoami").json()["actor"]
        assert any(e["target"] == f"token:{record['id']}" and e["actor"] == admin_actor for e in events)
    # the store keeps a hash, never the token
    with seeded.store.session() as session:
        from sqlalchemy import select

        from shieldwall.store.schema import Setting

        values = " ".join(session.scalars(select(Setting.value)))
    assert token not in values


@pytest.fixture
def limited(seeded: Seeded, tmp_path: Path) -> Iterator[ApiServer]:
    """A second server over the same store with a tight rate limit and small size limits."""
    settings = api_settings(
        seeded.data_dir, seeded.cache_dir, rate_per_minute=60.0, burst=3, max_body_bytes=2048, max_upload_bytes=4096
    )
    server = ApiServer.start(seeded.store, settings)
    server.tokens = tokens(seeded.store)
    try:
        yield server
    finally:
        server.stop()


def test_rate_limit_per_token_answers_429_with_retry_after(limited: ApiServer) -> None:
    with limited.client(Role.VIEWER) as viewer, limited.client(Role.ADMIN) as admin:
        codes = [viewer.get("/api/v1/whoami").status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        refused = viewer.get("/api/v1/whoami")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        # the bucket is per token: another token is not affected
        assert admin.get("/api/v1/whoami").status_code == 200
        metrics = admin.get("/metrics").text
    assert "shieldwall_api_rate_limited_total 1.0" in metrics


def test_request_bodies_above_the_limits_are_refused_with_413(limited: ApiServer) -> None:
    with limited.client(Role.OPERATOR) as operator:
        big = operator.post(
            "/api/v1/exceptions", content=b"{" + b" " * 4000 + b"}", headers={"content-type": "application/json"}
        )
        assert big.status_code == 413
        # without a Content-Length (chunked), the body is counted as it arrives
        chunked = operator.post(
            "/api/v1/exceptions", content=iter([b"{", b" " * 3000, b"}"]), headers={"content-type": "application/json"}
        )
        assert chunked.status_code == 413
        upload = operator.post("/api/v1/scans/upload", files={"file": ("x.tar", b"\0" * 8000)}, data={"kind": "image"})
        assert upload.status_code == 413
        small = operator.post("/api/v1/scans/upload", files={"file": ("x.tar", b"\0" * 1000)}, data={"kind": "image"})
        assert small.status_code == 400  # within the limit, but not an image


def test_the_served_openapi_document_is_the_committed_one(seeded: Seeded) -> None:
    """Refresh docs/openapi.json with `.venv/bin/python -m shieldwall.api.openapi docs/openapi.json`."""
    committed = json.loads((Path(__file__).resolve().parents[3] / "docs" / "openapi.json").read_text())
    with seeded.api.client(Role.VIEWER) as viewer:
        served = viewer.get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.json() == committed, "docs/openapi.json is stale: python -m shieldwall.api.openapi docs/openapi.json"


def test_values_no_backend_can_store_are_refused_with_400_or_422(seeded: Seeded) -> None:
    # PostgreSQL text cannot hold NUL: without the guard these would be 500s there and 200s on SQLite
    with seeded.api.client(Role.ADMIN) as admin:
        for url in ("/api/v1/findings?q=%00", "/api/v1/assets?environment=a%00", "/api/v1/jobs/%00"):
            assert admin.get(url).status_code == 400, url
        assert admin.post("/api/v1/tokens", json={"name": "a\u0000b", "role": "viewer"}).status_code == 422
        too_late = admin.post(
            "/api/v1/exceptions", json={"rule_id": "X", "reason": "r", "expires_at": "9999-12-31T23:59:59-05:00"}
        )
        assert too_late.status_code == 400
        assert admin.get("/api/v1/audit/export", params={"until": "0001-01-01T00:00:00+05:00"}).status_code == 400
        upload = admin.post("/api/v1/scans/upload", files={"file": ("x.tar", b"x")}, data={"environment": "a\u0000"})
        assert upload.status_code == 400
