"""``unknown_image: scan``: admitted with a warning, a real registry scan queued, the next admission judged from it.

The image lives in a real ``docker-registry`` on 127.0.0.1; the webhook is
``shieldwall admission serve`` as a process. The scan goes through the API's
job machinery in the webhook process and is recorded in the store; the next
request for the same tag is resolved to the scanned digest.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from helpers.admission import review_of
from helpers.admission_server import Webhook, start_webhook
from helpers.images import ImageSpec, build_oci_layout, oci_image
from helpers.registry_server import RunningRegistry
from shieldwall.store import Store
from shieldwall.store.schema import AuditEvent
from shieldwall.target.registry_push import push_oci_layout

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _pod(uid: str, image: str) -> dict[str, Any]:
    return review_of({
        "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "default",
        "operation": "CREATE", "name": "p",
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "a", "image": image,
                                            "securityContext": {"runAsNonRoot": True}}]}},
    })  # fmt: skip


def _post(hook: Webhook, document: dict[str, Any]) -> dict[str, Any]:
    with hook.client() as client:
        response = client.post("/validate", content=json.dumps(document))
    assert response.status_code == 200
    return response.json()["response"]  # type: ignore[no-any-return]


def test_unknown_image_is_admitted_scanned_then_known(registry: RunningRegistry, tmp_path: Path) -> None:
    image = oci_image([{"etc/motd": b"hello\n"}], ImageSpec(created_by=["ADD motd"]))
    build_oci_layout(tmp_path / "layout", [image], ref_name="v1")
    reference = f"{registry.host}/team/fresh:v1"
    digest = push_oci_layout(tmp_path / "layout", reference)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    key = tmp_path / "audit.pem"
    Store.open(url, audit_key_path=key).close()
    policy = tmp_path / "policy.yaml"
    policy.write_text("default: {unknown_image: scan}\n", encoding="utf-8")
    hook = start_webhook(tmp_path, url, key, policy)
    try:
        first = _post(hook, _pod("uid-first", reference))
        assert first["allowed"] is True
        assert any("scan was queued" in w for w in first["warnings"])
        deadline = time.monotonic() + 120
        second: dict[str, Any] = {}
        while time.monotonic() < deadline:
            second = _post(hook, _pod("uid-second", reference))
            if not any("scan was queued" in w for w in second.get("warnings", [])):
                break
            time.sleep(0.5)
        assert second["allowed"] is True and not second.get("warnings")
    finally:
        hook.stop()
    store = Store.open(url, audit_key_path=key)
    try:
        with store.session() as session:
            events = {r.action: json.loads(r.details) for r in session.query(AuditEvent).order_by(AuditEvent.seq)}
            decisions = [json.loads(r.details) for r in session.query(AuditEvent)
                         .filter(AuditEvent.action == "admission.decision").order_by(AuditEvent.seq)]  # fmt: skip
        assert "scan.submitted" in events and "scan.recorded" in events
        assert decisions[0]["uid"] == "uid-first" and reference in decisions[0]["scan_jobs"]
        judged = next(d for d in decisions if d["uid"] == "uid-second" and d["images"][0]["known"])
        assert judged["images"][0]["digest"] == digest
        assert judged["images"][0]["resolved_from"] == f"tag {registry.host}/team/fresh:v1"
    finally:
        store.close()
