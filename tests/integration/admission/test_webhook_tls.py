"""The webhook as a real process over TLS: the 42 captured AdmissionRequests, hostile bodies, dry run, audit.

Verdicts are not hard-coded per file: each follows from the payload's facts
in ``index.json`` (images -> what the seeded store knows about them; pod
facts -> the PSS-baseline checks they break). One fact the index does not
carry comes from the data set's README: ``selinux-psp-policy/pod_bad_selinux.json``
has bad SELinux options.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.admission import SHARED, expected_checks, image_codes, load_index, review_of, seed_store
from helpers.admission_server import Webhook, start_webhook
from shieldwall.store import Store, audit
from shieldwall.store.schema import AuditEvent

pytestmark = [pytest.mark.integration, pytest.mark.slow]

README_FACTS = {"selinux-psp-policy/pod_bad_selinux.json": {"SW-K8S-024"}}
HOST_PORT_WITH_HOST_NETWORK = "SW-K8S-027"  # hostNetwork exposes every containerPort on the node
POLICY = """
failure_action: deny
timeout_seconds: 3
default: {mode: enforce}
namespaces:
  warned: {mode: warn}
  watched: {mode: audit}
"""


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Webhook, Store]]:
    """A seeded SQLite store and the webhook process serving it."""
    workdir = tmp_path_factory.mktemp("webhook")
    url = f"sqlite:///{workdir / 'store.db'}"
    key = workdir / "audit-key.pem"
    store = Store.open(url, audit_key_path=key)
    seed_store(store)
    policy = workdir / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    hook = start_webhook(workdir, url, key, policy)
    try:
        yield hook, store
    finally:
        hook.stop()
        store.close()


def post(hook: Webhook, document: dict[str, Any] | bytes, path: str = "/validate") -> dict[str, Any]:
    """POST a review over TLS and return the AdmissionReview answer (always HTTP 200)."""
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    with hook.client() as client:
        answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    assert data["apiVersion"] == "admission.k8s.io/v1" and data["kind"] == "AdmissionReview"
    return data["response"]  # type: ignore[no-any-return]


def expected(entry: dict[str, Any]) -> tuple[bool, set[str], set[str]]:
    """(allowed, violation codes, baseline check IDs) implied by an index entry."""
    if entry["operation"] not in ("CREATE", "UPDATE"):
        return True, set(), set()
    checks = expected_checks(entry) | README_FACTS.get(entry["file"], set())
    codes = {code for c in entry["containers"] for code in image_codes(c["image"])}
    if checks:
        codes.add("k8s-check")
    return not codes, codes, checks


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/k8s/kubewarden-admission is not present")
def test_captured_payloads_get_the_verdicts_their_facts_imply(webhook: tuple[Webhook, Store]) -> None:
    hook, _store = webhook
    entries = load_index()
    assert len(entries) == 42
    denied = 0
    for entry in entries:
        document = review_of(json.loads((SHARED / entry["file"]).read_text(encoding="utf-8")))
        response = post(hook, document)
        allowed, codes, checks = expected(entry)
        assert response["uid"] == document["request"]["uid"], entry["file"]
        assert response["allowed"] is allowed, (entry["file"], response)
        got = set(json.loads(response["auditAnnotations"].get("shieldwall.io/violations", "[]")))
        assert got == codes, (entry["file"], response)
        message = response.get("status", {}).get("message", "")
        for check_id in checks:
            assert check_id in message, (entry["file"], check_id, message)
        allowed_extra = checks | (
            {HOST_PORT_WITH_HOST_NETWORK} if (entry.get("pod") or {}).get("hostNetwork") else set()
        )
        reported = {word.rstrip(":") for word in message.split() if word.startswith("SW-K8S-")}
        assert reported <= allowed_extra, (entry["file"], reported)
        denied += not allowed
    assert 15 <= denied <= 35  # both verdicts are exercised


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/k8s/kubewarden-admission is not present")
def test_warn_and_audit_namespaces_admit_a_privileged_pod(webhook: tuple[Webhook, Store]) -> None:
    hook, _store = webhook
    document = review_of(json.loads((SHARED / "pod-privileged-policy/privileged_container.json").read_text()))
    for namespace, warned in (("warned", True), ("watched", False)):
        request = {**document["request"], "namespace": namespace, "uid": f"uid-{namespace}"}
        request["object"] = {**request["object"], "metadata": {**request["object"]["metadata"], "namespace": namespace}}
        response = post(hook, {**document, "request": request})
        assert response["allowed"] is True
        assert bool(response.get("warnings")) is warned
        if warned:
            assert any("SW-K8S-001" in w for w in response["warnings"])


def test_hostile_bodies_get_clear_denials_and_the_server_survives(webhook: tuple[Webhook, Store]) -> None:
    hook, _store = webhook
    not_json = post(hook, b'{"apiVersion": ')
    assert not_json["allowed"] is False and "not JSON" in not_json["status"]["message"]
    wrong = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
             "request": {"uid": "uid-wrong", "operation": "EXPLODE"}}  # fmt: skip
    answer = post(hook, wrong)
    assert answer["uid"] == "uid-wrong" and answer["allowed"] is False
    assert "does not match admission.k8s.io/v1" in answer["status"]["message"]
    huge = post(hook, b"{" + b" " * (4 * 1024 * 1024) + b"}")
    assert huge["allowed"] is False and "limit" in huge["status"]["message"]
    deep = post(hook, b"[" * 200_000 + b"]" * 200_000)
    assert deep["allowed"] is False
    with hook.client() as client:
        assert client.get("/healthz").json()["status"] == "ok"


def test_mutate_pins_a_tag_to_the_scanned_digest(webhook: tuple[Webhook, Store]) -> None:
    import base64

    hook, _store = webhook
    request = {
        "uid": "uid-mutate", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "default",
        "operation": "CREATE", "name": "p",
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "a", "image": "alpine"}]}},
    }  # fmt: skip
    response = post(hook, review_of(request), "/mutate")
    assert response["allowed"] is True and response["patchType"] == "JSONPatch"
    patch = json.loads(base64.b64decode(response["patch"]))
    assert patch == [{"op": "replace", "path": "/spec/containers/0/image", "value": "alpine@sha256:" + "a3" * 32}]


def test_every_decision_is_audited_except_dry_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    key = tmp_path / "audit-key.pem"
    store = Store.open(url, audit_key_path=key)
    seed_store(store)
    hook = start_webhook(tmp_path, url, key)
    pod = {
        "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "default", "operation": "CREATE",
        "name": "p", "userInfo": {"username": "carol"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "a", "image": "nginx:1.0.0"}]}},
    }  # fmt: skip
    try:
        assert post(hook, review_of({**pod, "uid": "uid-real"}))["allowed"] is False
        assert post(hook, review_of({**pod, "uid": "uid-dry", "dryRun": True}))["allowed"] is False
        assert post(hook, b"garbage")["allowed"] is False
    finally:
        hook.stop()
    try:
        with store.session() as session:
            rows = list(session.query(AuditEvent).filter(AuditEvent.action == "admission.decision"))
        details = [json.loads(r.details) for r in rows]
        assert sorted(d["uid"] for d in details) == ["", "uid-real"]
        real = next(d for d in details if d["uid"] == "uid-real")
        assert real["allowed"] is False and real["user"] == "carol" and real["namespace"] == "default"
        assert real["images"] == [{"image": "nginx:1.0.0", "digest": "sha256:" + "a2" * 32,
                                   "resolved_from": "tag docker.io/library/nginx:1.0.0", "known": True}]  # fmt: skip
        assert [v["rules"] for v in real["violations"]] == [["CVE-2026-0002"]]
        garbage = next(d for d in details if d["uid"] == "")
        assert garbage["mode"] == "failure" and "malformed review" in garbage["failure"]
        assert audit.verify(store).ok
    finally:
        store.close()


def test_several_processes_share_one_audit_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    key = tmp_path / "audit-key.pem"
    store = Store.open(url, audit_key_path=key, checkpoint_every=7)
    seed_store(store)
    hook = start_webhook(tmp_path, url, key, processes=2)
    pod = {
        "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "default", "operation": "CREATE",
        "name": "p", "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                "spec": {"containers": [{"name": "a", "image": "alpine"}]}},
    }  # fmt: skip
    try:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda n: post(hook, review_of({**pod, "uid": f"uid-{n}"})), range(40)))
        assert all(a["allowed"] is True for a in answers)
        assert sorted(a["uid"] for a in answers) == sorted(f"uid-{n}" for n in range(40))
    finally:
        hook.stop()
    try:
        with store.session() as session:
            uids = [json.loads(r.details)["uid"] for r in session.query(AuditEvent)
                    .filter(AuditEvent.action == "admission.decision")]  # fmt: skip
        assert sorted(uids) == sorted(f"uid-{n}" for n in range(40))
        with Store.open(url, audit_key_path=key) as servers_view:  # the webhook processes' checkpoint cadence
            assert audit.verify(servers_view).ok
    finally:
        store.close()
