"""Findings (filters, sort, cursor pages), exceptions, compliance, audit, registries, metrics and the database."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse
import zipfile
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from helpers.api_server import ApiServer, Seeded, api_settings, wait_job
from helpers.feed_server import FeedServer, feed_server
from shieldwall.api.tokens import Role
from shieldwall.vulndb.update import DEFAULT_ECOSYSTEMS

pytestmark = pytest.mark.integration

RANK = {"CRITICAL": 4, "HIGH": 3, "MEDIUM": 2, "LOW": 1, "UNKNOWN": 0}


def _all_pages(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/findings", params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("pagination does not end")


@pytest.mark.parametrize(
    ("sort", "order"), [("severity", "desc"), ("severity", "asc"), ("last_seen", "desc"), ("id", "asc")]
)
def test_cursor_pages_cover_every_finding_once_in_order(seeded: Seeded, sort: str, order: str) -> None:
    with seeded.api.client(Role.VIEWER) as viewer:
        everything = viewer.get("/api/v1/findings", params={"limit": 500}).json()
        pages = _all_pages(viewer, limit=7, sort=sort, order=order)
    ids = [f["id"] for f in pages]
    assert len(ids) == len(set(ids)) == everything["total"] == len(everything["items"])
    if sort == "severity":
        ranks = [RANK[f["severity"]] for f in pages]
        assert ranks == sorted(ranks, reverse=order == "desc")
    if sort == "id":
        assert ids == sorted(ids)
    if sort == "last_seen":
        seen = [f["last_seen"] for f in pages]
        assert seen == sorted(seen, reverse=True)


def test_filters_and_search(seeded: Seeded) -> None:
    asset = seeded.seed.asset_id
    with seeded.api.client(Role.VIEWER) as viewer:
        every = _all_pages(viewer, limit=500, asset_id=asset)
        high = _all_pages(viewer, severity=["HIGH", "CRITICAL"], asset_id=asset)
        assert {f["severity"] for f in high} == {"HIGH", "CRITICAL"}
        assert len(high) == sum(1 for f in every if f["severity"] in ("HIGH", "CRITICAL"))
        secrets = _all_pages(viewer, kind="secret", asset_id=asset)
        assert secrets and {f["kind"] for f in secrets} == {"secret"}
        active = _all_pages(viewer, status="active", asset_id=asset)
        assert {f["status"] for f in active} <= {"open", "reopened"}
        found = _all_pages(viewer, q="pyyaml", asset_id=asset)  # case-insensitive, package names too
        assert found and all("pyyaml" in json.dumps(f).lower() for f in found)
        assert _all_pages(viewer, q="100%_no_such_thing") == []
        assert viewer.get("/api/v1/findings", params={"severity": "SEVERE"}).status_code == 422
        assert viewer.get("/api/v1/findings", params={"cursor": "garbage!"}).status_code == 400
        first = viewer.get("/api/v1/findings", params={"limit": 2}).json()
        other_order = viewer.get("/api/v1/findings", params={"cursor": first["next_cursor"], "sort": "id"})
        assert other_order.status_code == 400  # a cursor belongs to its sort order


def test_exception_suppresses_then_revocation_reopens(seeded: Seeded) -> None:
    with seeded.api.client(Role.OPERATOR) as operator, seeded.api.client(Role.VIEWER) as viewer:
        target = _all_pages(viewer, q="CVE-2021-23337", status="active")[0]
        before = viewer.get("/api/v1/overview").json()
        created = operator.post(
            "/api/v1/exceptions",
            json={
                "finding_id": target["id"],
                "reason": "not reachable: lodash template unused",
                "expires_at": "2099-12-31T00:00:00Z",
            },
        )
        assert created.status_code == 201, created.text
        exception = created.json()["exception"]
        assert exception["state"] == "active" and exception["asset_id"] == target["asset_id"]
        assert exception["author"] == operator.get("/api/v1/whoami").json()["actor"]
        detail = viewer.get(f"/api/v1/findings/{target['id']}").json()
        assert detail["status"] == "suppressed" and detail["suppressed_reason"].startswith("not reachable")
        assert [e["id"] for e in detail["exceptions"]] == [exception["id"]]
        after = viewer.get("/api/v1/overview").json()
        assert after["open_total"] == before["open_total"] - 1 and after["suppressed"] == before["suppressed"] + 1
        assert any(e["id"] == exception["id"] for e in viewer.get("/api/v1/exceptions?state=active").json())

        revoked = operator.post(f"/api/v1/exceptions/{exception['id']}/revoke")
        assert revoked.status_code == 200 and revoked.json()["findings_released"] == 1
        assert revoked.json()["exception"]["state"] == "revoked"
        assert viewer.get(f"/api/v1/findings/{target['id']}").json()["status"] == "open"
        assert operator.post(f"/api/v1/exceptions/{exception['id']}/revoke").status_code == 400
        history = viewer.get(f"/api/v1/findings/{target['id']}").json()["exceptions"]
        assert [e["state"] for e in history] == ["revoked"]  # the history stays

        assert operator.post("/api/v1/exceptions", json={"reason": "x"}).status_code == 400
        assert operator.post("/api/v1/exceptions", json={"rule_id": "X", "reason": ""}).status_code == 422
        past = operator.post("/api/v1/exceptions", json={"rule_id": "X", "reason": "r", "expires_at": "2001-01-01"})
        assert past.status_code == 400
        assert operator.post("/api/v1/exceptions", json={"finding_id": 99999999, "reason": "r"}).status_code == 404

        actions = [e["action"] for e in viewer.get("/api/v1/audit/events", params={"limit": 20}).json()["items"]]
        assert "exception.added" in actions and "exception.revoked" in actions


def test_asset_environment_and_golden_flag(seeded: Seeded) -> None:
    asset = seeded.seed.asset_id
    with seeded.api.client(Role.OPERATOR) as operator:
        changed = operator.patch(f"/api/v1/assets/{asset}", json={"environment": "production", "golden": False})
        assert changed.status_code == 200
        assert changed.json()["environment"] == "production" and not changed.json()["golden"]
        overview = operator.get("/api/v1/overview").json()
        assert overview["assets_by_environment"].get("production", 0) >= 1
        restored = operator.patch(f"/api/v1/assets/{asset}", json={"environment": "demo", "golden": True})
        assert restored.json()["environment"] == "demo" and restored.json()["golden"]
        assert operator.patch("/api/v1/assets/99999999", json={"golden": True}).status_code == 404


def test_compliance_json_and_html_export(seeded: Seeded) -> None:
    asset = seeded.seed.asset_id
    with seeded.api.client(Role.VIEWER) as viewer:
        frameworks = {f["id"] for f in viewer.get("/api/v1/compliance/frameworks").json()}
        assert "cis-docker-1.6" in frameworks
        report = viewer.get("/api/v1/compliance/cis-docker-1.6", params={"asset_id": asset}).json()
        controls = {c["id"]: c for c in report["controls"]}
        assert controls["4.1"]["status"] == "fail"  # the demo image runs as root
        assert any(f["rule_id"] == "SW-IMG-001" for f in controls["4.1"]["findings"])
        assert report["failed"] == sum(1 for c in report["controls"] if c["status"] == "fail")
        html = viewer.get("/api/v1/compliance/cis-docker-1.6/report.html", params={"asset_id": asset})
        assert html.status_code == 200 and "attachment" in html.headers["content-disposition"]
        assert f'<span id="count-fail">{report["failed"]}</span>' in html.text
        assert "default-src 'none'" in html.text
        assert viewer.get("/api/v1/compliance/nope", params={"asset_id": asset}).status_code == 404
        assert viewer.get("/api/v1/compliance/cis-docker-1.6", params={"asset_id": 99999}).status_code == 404


def test_audit_export_and_verify(seeded: Seeded) -> None:
    with seeded.api.client(Role.VIEWER) as viewer:
        verify = viewer.get("/api/v1/audit/verify").json()
        assert verify["ok"] and verify["broken_seq"] is None and verify["events"] >= 5
        lines = viewer.get("/api/v1/audit/export", params={"format": "jsonl"}).text.splitlines()
        assert len(lines) >= verify["events"]
        first = json.loads(lines[0])
        assert first["seq"] == 1 and first["prev_hash"] == "0" * 64
        rows = list(csv.DictReader(io.StringIO(viewer.get("/api/v1/audit/export", params={"format": "csv"}).text)))
        assert [int(r["seq"]) for r in rows[: len(lines)]] == list(range(1, len(lines) + 1))
        assert viewer.get("/api/v1/audit/export", params={"since": "yesterday"}).status_code == 400
        later = viewer.get("/api/v1/audit/export", params={"since": "2999-01-01"})
        assert later.status_code == 200 and later.text == ""
        page = viewer.get("/api/v1/audit/events", params={"limit": 3}).json()
        older = viewer.get("/api/v1/audit/events", params={"limit": 3, "before": page["next_cursor"]}).json()
        assert max(e["seq"] for e in older["items"]) < min(e["seq"] for e in page["items"])


def test_registries_are_watched_through_the_monitor_configuration(seeded: Seeded) -> None:
    with seeded.api.client(Role.ADMIN) as admin:
        added = admin.post(
            "/api/v1/registries",
            json={"name": f"local-{seeded.backend}", "url": "127.0.0.1:5999", "repositories": ["team/*"]},
        )
        assert added.status_code == 201, added.text
        listed = admin.get("/api/v1/registries").json()
        assert {"name": f"local-{seeded.backend}", "url": "127.0.0.1:5999"}.items() <= next(
            r for r in listed if r["name"] == f"local-{seeded.backend}"
        ).items()
        assert (
            admin.post("/api/v1/registries", json={"name": f"local-{seeded.backend}", "url": "x:1"}).status_code == 400
        )
        assert admin.post("/api/v1/registries", json={"url": "bad host/x"}).status_code == 422
        # the monitor reads the same configuration
        from shieldwall.service.monitor import effective_config

        config = effective_config(seeded.store, None)
        assert config.registry(f"local-{seeded.backend}") is not None
        assert admin.delete(f"/api/v1/registries/local-{seeded.backend}").status_code == 204
        assert admin.delete(f"/api/v1/registries/local-{seeded.backend}").status_code == 404
        events = admin.get("/api/v1/audit/events", params={"action": "config.changed"}).json()["items"]
        assert len(events) >= 2


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == (f"{name}{{{wanted}}}" if labels else name):
            return float(value)
    raise AssertionError(f"no sample {name} {labels} in the metrics")


def test_metrics_expose_the_store_and_the_server(seeded: Seeded) -> None:
    with seeded.api.client(Role.VIEWER) as viewer:
        text = viewer.get("/metrics").text
        overview = viewer.get("/api/v1/overview").json()
    assert _metric(text, "shieldwall_store_up") == 1.0
    assert overview["trend"][-1]["total"] == overview["open_total"]  # the trend ends with today
    by_severity: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("shieldwall_findings_open{"):
            labels = dict(part.split("=") for part in line[line.index("{") + 1 : line.index("}")].split(","))
            by_severity[labels["severity"].strip('"')] += int(float(line.rsplit(" ", 1)[1]))
    assert {k: v for k, v in overview["open_by_severity"].items() if v} == dict(by_severity)
    assert _metric(text, "shieldwall_scans_recorded_total") == overview["scans"]
    assert _metric(text, "shieldwall_job_queue_depth") >= 0
    assert _metric(text, "shieldwall_vulndb_age_seconds") >= 0
    assert _metric(text, "shieldwall_alerts_sent_total") == overview["alert_counts"].get("sent", 0)
    assert _metric(text, "shieldwall_alerts_failed_total") == overview["alert_counts"].get("dead", 0)
    assert "# TYPE shieldwall_api_scan_duration_seconds histogram" in text


def _osv_zip(records: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buf.getvalue()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with feed_server() as server:
        yield server


def test_database_update_runs_in_the_background_and_rematches(seeded: Seeded, feeds: FeedServer) -> None:
    advisory = {
        "id": f"TEST-FLASK-{seeded.backend}",
        "modified": "2026-01-01T00:00:00Z",
        "published": "2026-01-01T00:00:00Z",
        "summary": "A flaw published after the image was scanned",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "flask"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.9"}]}],
            }
        ],
    }
    for ecosystem in DEFAULT_ECOSYSTEMS:
        records = [advisory] if ecosystem == "PyPI" else []
        feeds.publish(f"/{urllib.parse.quote(ecosystem, safe='')}/all.zip", _osv_zip(records))
    # a second server over the same store, told to update from the local feed server (SHIELDWALL_OSV_URL)
    server = ApiServer.start(seeded.store, api_settings(seeded.data_dir, seeded.cache_dir, osv_base_url=feeds.base_url))
    server.tokens = seeded.api.tokens
    try:
        _update_and_rematch(server, advisory, feeds.base_url)
    finally:
        server.stop()


def _update_and_rematch(server: ApiServer, advisory: dict[str, Any], base_url: str) -> None:
    with server.client(Role.ADMIN) as admin:
        before = admin.get("/api/v1/db/status").json()
        assert before["present"] and before["advisories"] > 0
        job = admin.post("/api/v1/db/update")
        assert job.status_code == 202 and job.json()["kind"] == "db-update"
        done = wait_job(admin, job.json()["id"])
        assert done["status"] == "succeeded", done
        assert done["result"]["rematch"]["new"] >= 1
        after = admin.get("/api/v1/db/status").json()
        assert after["generation"] == before["generation"] + 1
        assert any(s["name"] == "osv:PyPI" and s["url"].startswith(base_url) for s in after["sources"])
        new = admin.get("/api/v1/findings", params={"rule": advisory["id"]}).json()["items"]
        assert {f["package"] for f in new} == {"Flask"} and all(f["status"] == "open" for f in new)
        hits = admin.get("/api/v1/overview").json()["rematch"]
        assert any(advisory["id"] in h["new"] for h in hits)
        actions = [e["action"] for e in admin.get("/api/v1/audit/events", params={"limit": 30}).json()["items"]]
        assert "vulndb.update.requested" in actions and "vulndb.updated" in actions
