"""The engine: findings that point at file, lines and resource; suppressions kept; crashes counted."""

from __future__ import annotations

from collections.abc import Iterator

from helpers.misconfig import parse
from shieldwall.misconfig.check import Check, Hit, InputKind, Resource, check
from shieldwall.misconfig.engine import DETECTOR, run_checks, run_set_checks
from shieldwall.misconfig.registry import CheckConfig, load_checks
from shieldwall.model import FindingKind, Severity

CHECKS = load_checks(CheckConfig(include_plugins=False))

DEPLOY = b"""# shieldwall:ignore=SW-K8S-056 the namespace comes from kustomize
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.25
          securityContext:
            privileged: true  # shieldwall:ignore=SW-K8S-001 needs raw devices, ticket OPS-12
            allowPrivilegeEscalation: true
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  type: NodePort
"""


def _run(ids: list[str], content: bytes, kind: str = InputKind.KUBERNETES, name: str = "k8s/app.yaml"):  # type: ignore[no-untyped-def]
    parsed = parse(kind, name, content)
    assert parsed is not None
    return run_checks(parsed, [c for c in CHECKS.checks if c.id in ids])


def test_finding_points_at_file_lines_resource_and_controls() -> None:
    out = _run(["SW-K8S-005"], DEPLOY)
    (finding,) = out.findings
    assert finding.kind is FindingKind.MISCONFIG and finding.rule_id == "SW-K8S-005"
    assert finding.location is not None
    assert (finding.location.path, finding.location.line, finding.location.end_line) == ("k8s/app.yaml", 14, 14)
    assert finding.message.startswith("Deployment web container app:")
    (evidence,) = finding.evidence
    assert evidence.detector == DETECTOR
    details = dict(evidence.details)
    assert details["resource"] == "Deployment web" and details["part"] == "container app"
    assert any(k == "control" and v.startswith("cis-kubernetes-1.23:") for k, v in evidence.details)
    assert finding.fix and finding.references


def test_inline_suppression_keeps_the_finding_with_its_reason() -> None:
    out = _run(["SW-K8S-001", "SW-K8S-005"], DEPLOY)
    by_id = {f.rule_id: f for f in out.findings}
    assert by_id["SW-K8S-001"].suppressed == "needs raw devices, ticket OPS-12"
    assert by_id["SW-K8S-005"].suppressed == ""


def test_header_suppression_covers_the_whole_file() -> None:
    out = _run(["SW-K8S-056"], DEPLOY)
    (finding,) = out.findings  # the Service has a namespace; the Deployment does not
    assert finding.suppressed == "the namespace comes from kustomize"


def test_suppression_inside_one_resource_does_not_leak_to_the_next() -> None:
    text = DEPLOY.replace(b"privileged: true  # shieldwall:ignore=SW-K8S-001 needs raw devices, ticket OPS-12",
                          b"privileged: true") + b"  # shieldwall:ignore=SW-K8S-150\n"  # fmt: skip
    out = _run(["SW-K8S-001", "SW-K8S-150"], text)
    by_id = {f.rule_id: f for f in out.findings}
    assert by_id["SW-K8S-150"].suppressed == "no reason given"
    assert by_id["SW-K8S-001"].suppressed == ""


def test_dockerfile_suppression_applies_to_the_instruction_below() -> None:
    dockerfile = (
        b"FROM alpine:3.20\n"
        b"# shieldwall:ignore=SW-DF-015 legacy installer, removed in Q3\n"
        b"RUN sudo apk add --no-cache curl\n"
        b"RUN sudo rm -rf /tmp/x\n"
        b"USER app\n"
    )
    out = _run(["SW-DF-015"], dockerfile, InputKind.DOCKERFILE, "Dockerfile")
    assert sorted((f.location.line if f.location else 0, f.suppressed) for f in out.findings) == [
        (3, "legacy installer, removed in Q3"),
        (4, ""),
    ]


def test_fingerprint_does_not_depend_on_lines() -> None:
    first = _run(["SW-K8S-005"], DEPLOY).findings[0]
    shifted = _run(["SW-K8S-005"], b"\n\n\n" + DEPLOY).findings[0]
    assert first.location and shifted.location and first.location.line != shifted.location.line
    assert first.fingerprint == shifted.fingerprint


@check("SW-TEST-001", "always crashes", Severity.LOW, InputKind.KUBERNETES, description="d", remediation="r")
def _crash(resource: Resource) -> Iterator[Hit]:
    raise RuntimeError("boom")
    yield Hit("never")


def test_a_crashed_check_is_a_warning_and_the_others_still_run() -> None:
    parsed = parse(InputKind.KUBERNETES, "app.yaml", DEPLOY)
    assert parsed is not None
    good = [c for c in CHECKS.checks if c.id == "SW-K8S-150"]
    out = run_checks(parsed, [_crash, *good])
    assert len(out.warnings) == 2  # one per resource the crashing check looked at
    assert all("SW-TEST-001 crashed" in w and "RuntimeError: boom" in w for w in out.warnings)
    assert [f.rule_id for f in out.findings] == ["SW-K8S-150"]


def test_a_check_yielding_garbage_is_a_crash_too() -> None:
    bad = Check("SW-TEST-002", "t", Severity.LOW, InputKind.KUBERNETES, "d", "r", evaluate=lambda r: ["not a hit"])  # type: ignore[list-item,arg-type,return-value]
    parsed = parse(InputKind.KUBERNETES, "app.yaml", DEPLOY)
    assert parsed is not None
    assert "TypeError" in run_checks(parsed, [bad]).warnings[0]


def test_set_checks_see_every_file_and_point_at_the_right_one() -> None:
    workload = parse(InputKind.KUBERNETES, "apps/web.yaml", DEPLOY)
    policy = parse(
        InputKind.KUBERNETES,
        "policies/deny.yaml",
        b"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: default}\n"
        b"spec: {podSelector: {}}\n",
    )
    assert workload is not None and policy is not None
    namespace_check = [c for c in CHECKS.checks if c.id == "SW-K8S-200"]
    alone = run_set_checks(InputKind.KUBERNETES, [workload], namespace_check, "repo")
    assert [(f.rule_id, f.location.path if f.location else "") for f in alone.findings] == [
        ("SW-K8S-200", "apps/web.yaml")
    ]
    together = run_set_checks(InputKind.KUBERNETES, [workload, policy], namespace_check, "repo")
    assert not together.findings
