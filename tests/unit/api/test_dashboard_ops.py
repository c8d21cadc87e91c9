"""Dashboard "What changed?", "Who decided what?" and the actions pages over a real server: numbers equal the API's."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from helpers.api_server import ApiServer, api_settings, tokens
from helpers.dashops_story import Story, build_story
from shieldwall.api.tokens import Role
from shieldwall.store import Store
from shieldwall.store.schema import AuditEvent

SBOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "version": 1,
    "metadata": {"component": {"type": "application", "name": "browser-upload", "version": "1.0"}},
    "components": [{"type": "library", "name": "Jinja2", "version": "2.10", "purl": "pkg:pypi/jinja2@2.10"}],
}


@dataclass
class Rig:
    server: ApiServer
    store: Store
    story: Story


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}", audit_key_path=tmp_path / "audit.pem")
    story = build_story(store)
    settings = api_settings(tmp_path / "data", tmp_path / "cache", allow_incomplete_db=True)
    server = ApiServer.start(store, settings)
    server.tokens = tokens(store)
    try:
        yield Rig(server, store, story)
    finally:
        server.stop()
        store.close()


def browser(server: ApiServer, role: Role) -> tuple[httpx.Client, str]:
    """A logged-in browser session and its CSRF token."""
    client = httpx.Client(base_url=server.url, timeout=30)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    done = client.post("/login", data={"token": server.tokens[role], "csrf": csrf.group(1), "next": "/actions"})
    assert done.status_code == 303
    session_csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/actions").text)
    assert session_csrf is not None
    return client, session_csrf.group(1)


def _number(html: str, element_id: str) -> int:
    found = re.search(rf'id="{element_id}">(\d+)<', html)
    assert found is not None, element_id
    return int(found.group(1))


def test_asset_history_page_and_api_agree_on_scans_drift_new_and_resolved(rig: Rig) -> None:
    story = rig.story
    with rig.server.client(Role.VIEWER) as api:
        history = api.get(f"/api/v1/assets/{story.new_image}/changes").json()
        steps = {s["scan"]["id"]: s for s in history["steps"]}
        # the tag's three scans, newest first: the rebuild, the rescan of the old digest, the first scan
        assert list(steps) == [story.rebuild_scan, story.rescan, story.first_scan]
        rebuild, rescan, first = (steps[i] for i in (story.rebuild_scan, story.rescan, story.first_scan))
        assert rebuild["image_changed"] and rebuild["previous_asset_id"] == story.old_image
        assert rebuild["packages"] == {"added": 1, "removed": 0, "upgraded": 1, "downgraded": 0, "changed": 0}
        assert not rescan["image_changed"] and rescan["resolved_findings"] == 1 and rescan["new_findings"] == 0
        assert first["new_findings"] == 2 and first["previous_scan_id"] is None
        detail = api.get(f"/api/v1/assets/{story.new_image}/changes/{story.rebuild_scan}").json()
        changes = {(p["change"], p["name"], p["before"], p["after"]) for p in detail["package_changes"]}
        assert changes == {("upgraded", "openssl", "3.0.1", "3.0.2"), ("added", "flask", "", "2.0.1")}
        assert len(detail["new"]) == rebuild["new_findings"]
        resolved = api.get(f"/api/v1/assets/{story.old_image}/changes/{story.rescan}").json()
        assert [f["rule_id"] for f in resolved["resolved"]] == ["DEBIAN-openssl"]
        assert api.get(f"/api/v1/assets/{story.other}/changes/{story.rescan}").status_code == 404

    page, _ = browser(rig.server, Role.VIEWER)
    html = page.get(f"/assets/{story.new_image}/changes").text
    rows = re.findall(
        r'data-scan-id="(\d+)">.*?class="num step-new">(\d+)<.*?class="num step-resolved">(\d+)<', html, re.S
    )
    assert [(int(a), int(b), int(c)) for a, b, c in rows] == [
        (s["scan"]["id"], s["new_findings"], s["resolved_findings"]) for s in history["steps"]
    ]
    assert html.count('class="package-change"') == 2 and 'data-change="upgraded"' in html
    old_page = page.get(f"/assets/{story.old_image}/changes?scan={story.rescan}").text
    assert _number(old_page, "resolved-count") == 1 and "DEBIAN-openssl" in old_page
    assert page.get(f"/assets/{story.other}/changes?scan={story.rescan}").status_code == 404


def test_fleet_changes_page_and_api_agree(rig: Rig) -> None:
    story = rig.story
    with rig.server.client(Role.VIEWER) as api:
        fleet = api.get("/api/v1/changes", params={"days": 1}).json()
        assert api.get("/api/v1/changes", params={"since": "2026-13-01"}).status_code == 400
        assert api.get("/api/v1/changes", params={"since": "2030-01-02", "until": "2030-01-01"}).status_code == 400
        past = api.get("/api/v1/changes", params={"since": "2000-01-01", "until": "2000-02-01"}).json()
    assert [r["new_asset_id"] for r in fleet["rebuilt"]] == [story.new_image]
    assert fleet["rebuilt"][0]["old_asset_id"] == story.old_image and fleet["rebuilt"][0]["tag"] == "1.0"
    assert {a["asset_id"] for a in fleet["added"]} == {story.old_image, story.other}
    assert [a["asset_id"] for a in fleet["retired"]] == [story.old_image]
    assert fleet["resolved_findings"]["MEDIUM"] == 1
    assert past["added_count"] == past["rebuilt_count"] == 0 and sum(past["new_findings"].values()) == 0

    page, _ = browser(rig.server, Role.VIEWER)
    html = page.get("/changes?days=1").text
    assert _number(html, "added-count") == fleet["added_count"] == 2
    assert _number(html, "rebuilt-count") == fleet["rebuilt_count"] == 1
    assert _number(html, "retired-count") == fleet["retired_count"] == 1
    for severity, count in fleet["new_findings"].items():
        assert f'class="num new-count" data-severity="{severity}">{count}<' in html
    for severity, count in fleet["resolved_findings"].items():
        assert f'class="num resolved-count" data-severity="{severity}">{count}<' in html
    assert page.get(f"/changes/asset?asset_id={story.other}").headers["location"] == f"/assets/{story.other}/changes"


def test_decisions_page_and_api_agree_and_a_broken_trail_shows_as_failed(rig: Rig) -> None:
    with rig.server.client(Role.VIEWER) as api:
        week = api.get("/api/v1/decisions", params={"within": 7}).json()
        year = api.get("/api/v1/decisions", params={"within": 365}).json()
    by_id = {e["id"]: e for e in week["exceptions"]}
    owners = {e["author"]: e for e in week["exceptions"]}
    assert [by_id[i]["author"] for i in week["expiring"]] == ["bob"]
    assert [by_id[i]["author"] for i in week["expired"]] == ["carol"]
    assert [by_id[i]["author"] for i in week["open_ended"]] == ["dave"]
    assert sorted(by_id[i]["author"] for i in year["expiring"]) == ["bob", "erin"]
    assert owners["bob"]["suppressing"] == 1 and owners["bob"]["reason"] == "patched in the fork"
    (vex,) = week["statements"]
    assert (vex["kind"], vex["author"], vex["status"], vex["state"]) == (
        "vex",
        "alice@example.com",
        "not_affected",
        "expiring",
    )
    assert vex["findings"] == 1 and vex["assets"] == 1 and vex["reason"] == "vulnerable code not in execute path"
    assert week["audit"]["ok"] is True and week["audit"]["events"] > 0

    page, _ = browser(rig.server, Role.VIEWER)
    html = page.get("/decisions?within=7").text
    assert (
        _number(html, "expiring-count") == week["counts"]["exceptions_expiring"] + week["counts"]["statements_expiring"]
    )
    assert _number(html, "expired-count") == week["counts"]["exceptions_expired"] + week["counts"]["statements_expired"]
    assert _number(html, "open-ended-count") == week["counts"]["exceptions_open_ended"] == 1
    assert 'data-ok="true"' in html and "alice@example.com" in html
    assert 'action="/exceptions/' not in html, "a viewer gets no revoke button"

    with rig.store.session() as session:  # tamper with one event of the hash chain
        session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(details='{"forged": true}'))
    with rig.server.client(Role.VIEWER) as api:
        broken = api.get("/api/v1/decisions").json()["audit"]
    assert broken["ok"] is False and broken["broken_seq"] == 2 and broken["problem"]
    html = page.get("/decisions").text
    assert 'data-ok="false"' in html and "verification FAILED" in html and "event 2" in html


def test_scans_from_the_browser_go_through_the_api_jobs_and_limits(rig: Rig) -> None:
    viewer, viewer_csrf = browser(rig.server, Role.VIEWER)
    assert viewer.post("/actions/scan", data={"csrf": viewer_csrf, "image": "registry.test/x:1"}).status_code == 403
    assert "Starting scans needs the operator role" in viewer.get("/actions").text

    operator, csrf = browser(rig.server, Role.OPERATOR)
    assert operator.post("/actions/scan", data={"csrf": "forged", "image": "registry.test/x:1"}).status_code == 403
    foreign = operator.post(
        "/actions/scan", data={"csrf": csrf, "image": "registry.test/x:1"}, headers={"Origin": "https://evil.test"}
    )
    assert foreign.status_code == 403
    upload = operator.post(
        "/actions/upload",
        data={"csrf": csrf, "kind": "sbom", "environment": "browser"},
        files={"file": ("bom.json", json.dumps(SBOM).encode(), "application/json")},
    )
    assert upload.status_code == 303 and "done=" in upload.headers["location"], upload.headers["location"]
    wrong = operator.post(
        "/actions/upload", data={"csrf": csrf, "kind": "image"}, files={"file": ("bom.json", json.dumps(SBOM).encode())}
    )
    assert "not+an+image+archive" in wrong.headers["location"]
    # link-local (cloud metadata) is outside the server's egress policy: the job fails, it never connects
    queued = operator.post("/actions/scan", data={"csrf": csrf, "image": "169.254.169.254:5000/team/app:1"})
    assert queued.status_code == 303 and "done=" in queued.headers["location"]
    deadline = time.monotonic() + 120
    while True:
        jobs = {j["target"]: j for j in operator.get("/actions/jobs.json").json()["jobs"]}
        if all(j["status"] in ("succeeded", "failed") for j in jobs.values()) and len(jobs) == 2:
            break
        assert time.monotonic() < deadline, jobs
        time.sleep(0.2)
    with rig.server.client(Role.VIEWER) as api:
        api_jobs = {j["id"]: j["status"] for j in api.get("/api/v1/jobs").json()}
    assert {j["id"]: j["status"] for j in jobs.values()} == api_jobs
    sbom_job = jobs["upload:bom.json"]
    assert sbom_job["status"] == "succeeded" and sbom_job["asset_id"], sbom_job
    registry_job = next(j for t, j in jobs.items() if t.startswith("registry:"))
    assert registry_job["status"] == "failed" and "link-local" in registry_job["error"], registry_job
    html = operator.get("/actions").text
    assert f'data-job-id="{sbom_job["id"]}" data-status="succeeded"' in html
    preview = operator.get(f"/assets/{sbom_job['asset_id']}/preview")
    assert preview.status_code == 200 and "frame-src 'self'" in preview.headers["content-security-policy"]
    inline = operator.get(f"/assets/{sbom_job['asset_id']}/report-preview.html")
    assert inline.headers["content-security-policy"].startswith("sandbox") and "browser-upload" in inline.text
    sarif = operator.get(f"/assets/{sbom_job['asset_id']}/report.sarif").json()
    assert re.search(r'id="sarif-results">(\d+)<', preview.text).group(1) == str(len(sarif["runs"][0]["results"]))  # type: ignore[union-attr]


def test_registries_and_tokens_follow_the_role_matrix_and_a_token_is_shown_once(rig: Rig) -> None:
    operator, op_csrf = browser(rig.server, Role.OPERATOR)
    assert operator.get("/actions/tokens").status_code == 403
    assert operator.post("/actions/tokens", data={"csrf": op_csrf, "name": "x", "role": "admin"}).status_code == 403
    assert operator.post("/actions/registries", data={"csrf": op_csrf, "url": "r.test"}).status_code == 403
    assert operator.get("/actions/registries").status_code == 200

    admin, csrf = browser(rig.server, Role.ADMIN)
    added = admin.post(
        "/actions/registries",
        data={"csrf": csrf, "name": "team", "url": "reg.example.com", "repositories": "team/*, base/*"},
    )
    assert added.status_code == 303 and "done=" in added.headers["location"]
    bad = admin.post("/actions/registries", data={"csrf": csrf, "url": "not a host"})
    assert "error=" in bad.headers["location"]
    edited = admin.post(
        "/actions/registries",
        data={"csrf": csrf, "original": "team", "name": "team", "url": "reg.example.com:5000", "environment": "prod"},
    )
    assert "done=" in edited.headers["location"]
    with rig.server.client(Role.VIEWER) as api:
        (registry,) = api.get("/api/v1/registries").json()
        assert registry["url"] == "reg.example.com:5000" and registry["environment"] == "prod"
        assert registry["repositories"] == ["*"]
        events = api.get("/api/v1/audit/events", params={"action": "config.changed"}).json()["items"]
        assert events[0]["details"]["registry_changed"] == "team" and events[0]["actor"].startswith("token:test-admin")
    with rig.server.client(Role.ADMIN) as api:
        put = api.put("/api/v1/registries/missing", json={"url": "x.test"})
        assert put.status_code == 404
    removed = admin.post("/actions/registries/remove", data={"csrf": csrf, "name": "team"})
    assert "done=" in removed.headers["location"]

    created = admin.post("/actions/tokens", data={"csrf": csrf, "name": "ci-bot", "role": "operator"})
    assert created.status_code == 200
    secret = re.search(r'id="new-token-value" readonly value="(swt_[^"]+)"', created.text)
    assert secret is not None
    with rig.server.client(token=secret.group(1)) as api:
        assert api.get("/api/v1/whoami").json()["role"] == "operator"
    listing = admin.get("/actions/tokens").text
    assert "ci-bot" in listing and secret.group(1) not in listing and "swt_" not in listing
    token_id = re.search(r"swt_([0-9a-f]{12})_", secret.group(1)).group(1)  # type: ignore[union-attr]
    assert admin.post(f"/actions/tokens/{token_id}/revoke", data={"csrf": "bad"}).status_code == 403
    assert "done=" in admin.post(f"/actions/tokens/{token_id}/revoke", data={"csrf": csrf}).headers["location"]
    with rig.server.client(token=secret.group(1)) as api:
        assert api.get("/api/v1/whoami").status_code == 401


def test_a_browser_upload_over_the_upload_limit_is_refused(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}", audit_key_path=tmp_path / "audit.pem")
    server = ApiServer.start(store, api_settings(tmp_path / "data", tmp_path / "cache", max_upload_bytes=64 * 1024))
    server.tokens = tokens(store)
    try:
        operator, csrf = browser(server, Role.OPERATOR)
        big = operator.post(
            "/actions/upload", data={"csrf": csrf, "kind": "sbom"}, files={"file": ("big.json", b" " * 200_000)}
        )
        assert big.status_code == 413
        with server.client(Role.VIEWER) as api:
            assert api.get("/api/v1/jobs").json() == []
    finally:
        server.stop()
        store.close()
