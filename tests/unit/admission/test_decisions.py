"""The decision engine on a real (SQLite) store seeded with scanned images, over the committed fixtures."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.admission import FIXTURES, seed_store
from helpers.postgres_server import drop_database, fresh_database, shared_postgres
from shieldwall.admission.policy import AdmissionPolicy, Mode
from shieldwall.admission.review import AdmissionRequest
from shieldwall.admission.service import AdmissionService, Evaluation
from shieldwall.store import Store

TODAY = dt.date(2026, 12, 7)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One seeded store per backend for the module (decisions only read it); PostgreSQL is a real server."""
    base = tmp_path_factory.mktemp("admission-store")
    database = ""
    if request.param == "sqlite":
        url = f"sqlite:///{base / 'store.db'}"
    else:
        try:
            server = shared_postgres()
        except FileNotFoundError as exc:
            pytest.fail(str(exc), pytrace=False)
        database = fresh_database(server)
        url = server.url(database)
    opened = Store.open(url, audit_key_path=base / "key.pem")
    seed_store(opened)
    try:
        yield opened
    finally:
        opened.close()
        if database:
            drop_database(server, database)


def request(name: str, **changes: Any) -> AdmissionRequest:
    """A committed fixture as a validated request."""
    doc = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    doc.update(changes)
    return AdmissionRequest.model_validate(doc)


def evaluate(store: Store, name: str, policy: dict[str, Any] | None = None, **changes: Any) -> Evaluation:
    """Judge one fixture under ``policy``."""
    service = AdmissionService(store, AdmissionPolicy.model_validate(policy or {}), today=lambda: TODAY)
    return service.evaluate(request(name, **changes))


def codes(evaluation: Evaluation) -> set[str]:
    """Violation codes of a decision."""
    return {v.code for v in evaluation.decision.violations}


def rules(evaluation: Evaluation) -> set[str]:
    """Rule IDs behind the violations."""
    return {r for v in evaluation.decision.violations for r in v.rules}


def test_clean_pod_is_allowed_and_its_tag_resolution_is_recorded(store: Store) -> None:
    evaluation = evaluate(store, "pod_clean.json")
    assert evaluation.decision.allowed
    assert evaluation.decision.violations == ()
    (resolution,) = evaluation.decision.resolutions
    assert resolution.digest == "sha256:" + "b1" * 32
    assert resolution.resolved_from == "tag registry.test/app:1.0"
    assert resolution.known


def test_privileged_container_is_denied_by_the_baseline_check(store: Store) -> None:
    evaluation = evaluate(store, "pod_privileged.json")
    assert not evaluation.decision.allowed
    assert rules(evaluation) == {"SW-K8S-001"}
    assert "privileged" in evaluation.decision.message


def test_critical_vulnerability_in_the_image_denies(store: Store) -> None:
    evaluation = evaluate(store, "pod_vulnerable_image.json")
    assert not evaluation.decision.allowed
    assert codes(evaluation) == {"vulnerability"}
    assert rules(evaluation) == {"CVE-2026-0005"}


def test_unknown_image_is_denied_by_default(store: Store) -> None:
    evaluation = evaluate(store, "pod_unknown_image.json")
    assert not evaluation.decision.allowed
    assert codes(evaluation) == {"unknown-image"}
    assert evaluation.decision.scan_requests == ()


def test_unknown_image_can_be_allowed_and_scanned(store: Store) -> None:
    evaluation = evaluate(store, "pod_unknown_image.json", {"default": {"unknown_image": "scan"}})
    assert evaluation.decision.allowed
    assert evaluation.decision.scan_requests == ("registry.test/never-scanned:2.0",)
    assert any("scan was queued" in w for w in evaluation.decision.warnings)


def test_cronjob_template_init_container_and_host_pid_are_judged(store: Store) -> None:
    evaluation = evaluate(store, "cronjob_init_hostpid.json")
    assert not evaluation.decision.allowed
    assert codes(evaluation) == {"vulnerability", "k8s-check"}
    assert "SW-K8S-002" in rules(evaluation)
    assert {c.group for c in evaluation.images} == {"initContainers", "containers"}
    assert evaluation.images[0].pointer == "/spec/jobTemplate/spec/template/spec/initContainers/0/image"


def test_update_adding_an_ephemeral_container_with_sys_admin_is_denied(store: Store) -> None:
    evaluation = evaluate(store, "deployment_update_ephemeral.json")
    assert not evaluation.decision.allowed
    assert "SW-K8S-010" in rules(evaluation)


def test_delete_is_not_judged(store: Store) -> None:
    evaluation = evaluate(store, "deployment_delete.json")
    assert evaluation.decision.allowed
    assert evaluation.images == ()


def test_warn_mode_admits_with_warnings_and_audit_mode_silently(store: Store) -> None:
    warn = evaluate(store, "pod_privileged.json", {"namespaces": {"team-a": {"mode": "warn"}}})
    assert warn.decision.allowed and warn.decision.mode is Mode.WARN
    assert any(w.startswith("would be denied") and "SW-K8S-001" in w for w in warn.decision.warnings)
    quiet = evaluate(store, "pod_privileged.json", {"namespaces": {"team-a": {"mode": "audit"}}})
    assert quiet.decision.allowed and quiet.decision.warnings == ()
    assert rules(quiet) == {"SW-K8S-001"}  # still recorded for the audit trail
    other = evaluate(store, "pod_privileged.json", {"namespaces": {"elsewhere": {"mode": "audit"}}})
    assert not other.decision.allowed


def test_exception_applies_until_it_expires(store: Store) -> None:
    exception = {
        "namespace": "team-*", "image": "registry.test/app:bad", "rules": ["CVE-2026-*"],
        "reason": "fixed in the next release", "by": "alice@example.com", "expires": "2026-12-31",
    }  # fmt: skip
    active = evaluate(store, "pod_vulnerable_image.json", {"exceptions": [exception]})
    assert active.decision.allowed
    assert [v.rules for v, _ in active.decision.excepted] == [("CVE-2026-0005",)]
    expired = evaluate(store, "pod_vulnerable_image.json", {"exceptions": [{**exception, "expires": "2026-12-06"}]})
    assert not expired.decision.allowed
    assert any("expired on 2026-12-06" in w for w in expired.decision.warnings)
    other_ns = evaluate(store, "pod_vulnerable_image.json", {"exceptions": [{**exception, "namespace": "prod"}]})
    assert not other_ns.decision.allowed


def test_exception_for_a_pod_check(store: Store) -> None:
    exception = {"image": "registry.test/app*", "rules": ["SW-K8S-001"], "reason": "node agent", "by": "bob",
                 "expires": "2027-01-01"}  # fmt: skip
    assert evaluate(store, "pod_privileged.json", {"exceptions": [exception]}).decision.allowed


def test_severity_threshold_and_registry_allow_list(store: Store) -> None:
    relaxed = evaluate(store, "pod_vulnerable_image.json", {"default": {"severity": "NONE"}})
    assert relaxed.decision.allowed
    registries = evaluate(store, "pod_clean.json", {"default": {"allowed_registries": ["ghcr.io", "*.corp"]}})
    assert codes(registries) == {"registry"}
    allowed = evaluate(store, "pod_clean.json", {"default": {"allowed_registries": ["registry.test"]}})
    assert allowed.decision.allowed


def _pod_with(image: str) -> dict[str, Any]:
    doc = json.loads((FIXTURES / "pod_clean.json").read_text(encoding="utf-8"))
    doc["object"]["spec"]["containers"][0]["image"] = image
    return doc["object"]  # type: ignore[no-any-return]


def test_kev_fixable_only_secrets(store: Store) -> None:
    kev_image = "ghcr.io/nginx/nginx-unprivileged:1.29.0-alpine-perl"
    assert codes(evaluate(store, "pod_clean.json", object=_pod_with(kev_image))) == {"kev"}
    assert evaluate(store, "pod_clean.json", {"default": {"kev": False}}, object=_pod_with(kev_image)).decision.allowed
    unfixed = "busybox"  # HIGH without a fixed version
    assert codes(evaluate(store, "pod_clean.json", object=_pod_with(unfixed))) == {"vulnerability"}
    only_fixable = evaluate(store, "pod_clean.json", {"default": {"fixable_only": True}}, object=_pod_with(unfixed))
    assert only_fixable.decision.allowed
    signed = "ghcr.io/kubewarden/test-verify-image-signatures:signed"
    assert codes(evaluate(store, "pod_clean.json", object=_pod_with(signed))) == {"secret"}


def test_digest_reference_is_judged_by_digest_and_bad_reference_denies(store: Store) -> None:
    digest = "sha256:89102e348749bb17a6a651a4b2a17420e1a66d2a44a675b981973d49a5af3a5e"
    pinned = evaluate(store, "pod_clean.json", object=_pod_with(f"nginx:v1.26@{digest}"))
    assert pinned.decision.allowed
    assert pinned.decision.resolutions[0].resolved_from == "digest"
    bad = evaluate(store, "pod_clean.json", object=_pod_with("UPPER/Case:??"))
    assert codes(bad) == {"bad-reference"}


def test_restricted_profile_adds_run_as_root_checks(store: Store) -> None:
    baseline = evaluate(store, "pod_clean.json")
    assert baseline.decision.allowed
    restricted = evaluate(store, "pod_clean.json", {"default": {"kubernetes": {"profiles": ["k8s-pss-restricted"]}}})
    assert not restricted.decision.allowed
    assert "SW-K8S-006" in rules(restricted)


def test_invalid_policy_is_an_error(tmp_path: Path) -> None:
    from shieldwall.admission.policy import load_policy
    from shieldwall.errors import ConfigError

    path = tmp_path / "policy.yaml"
    path.write_text("namespaces:\n  dev: {mode: sometimes}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="dev"):
        load_policy(path)
    path.write_text("default:\n  severity: SEVERE\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="severity"):
        load_policy(path)


def test_partial_exception_keeps_the_other_rules_in_the_message(store: Store) -> None:
    obj = json.loads((FIXTURES / "pod_clean.json").read_text(encoding="utf-8"))["object"]
    obj["spec"]["containers"] = [{"name": "a", "image": "registry.test/app:bad"}, {"name": "b", "image": "nginx:1.0.0"}]
    exception = {"image": "docker.io/library/nginx:1.0.0", "rules": ["CVE-2026-0002"], "reason": "r", "by": "b",
                 "expires": "2027-01-01"}  # fmt: skip
    evaluation = evaluate(store, "pod_clean.json", {"exceptions": [exception]}, object=obj)
    assert not evaluation.decision.allowed
    (violation,) = evaluation.decision.violations
    assert violation.message == "image registry.test/app:bad: 1 vulnerabilities at or above HIGH: CVE-2026-0005"
    assert [why for _, why in evaluation.decision.excepted] == ["r (by b, until 2027-01-01)"]
