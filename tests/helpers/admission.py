"""Admission tests: a store seeded with scanned images, review wrapping, and the verdicts the facts imply.

The seeded images stand for what a registry scan records: a tag pointing at
a digest, with findings. ``EXPECTED_IMAGES`` says which reference is judged
how, so the expected verdict of any payload follows from its images and its
pod facts (``index.json`` of ../shared/data/k8s/kubewarden-admission, or the
committed fixtures).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.store_data import DEBIAN_12, deb, image_result
from shieldwall.model import Finding, FindingKind, Location, Severity, VulnDetails
from shieldwall.store import Store
from shieldwall.store.records import TagRef, record_scan
from shieldwall.target.reference import parse_reference

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "k8s" / "kubewarden-admission"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "admission"
PINNED_DIGEST = "sha256:89102e348749bb17a6a651a4b2a17420e1a66d2a44a675b981973d49a5af3a5e"

assert DEBIAN_12


def vuln(rule: str, severity: Severity, *, fixed: str = "1.1", kev: bool = False) -> Finding:
    """A vulnerability finding of package ``openssl``."""
    return Finding(
        kind=FindingKind.VULNERABILITY,
        rule_id=rule,
        title=f"{rule} in openssl",
        severity=severity,
        package_id="openssl",
        vuln=VulnDetails(installed_version="1.0", fixed_version=fixed, kev=kev),
    )


def secret(rule: str) -> Finding:
    """A secret finding in /app/.env."""
    return Finding(FindingKind.SECRET, rule, "a secret", Severity.HIGH, location=Location("/app/.env"))


@dataclass(frozen=True, slots=True)
class SeededImage:
    """One image recorded in the store and the violation codes it must produce under the default policy."""

    reference: str
    digest_byte: str
    findings: tuple[Finding, ...]
    codes: frozenset[str]


SEEDED: tuple[SeededImage, ...] = (
    SeededImage("docker.io/library/nginx:latest", "a1", (vuln("CVE-2026-0001", Severity.MEDIUM),), frozenset()),
    SeededImage(
        "docker.io/library/nginx:1.0.0", "a2", (vuln("CVE-2026-0002", Severity.CRITICAL),), frozenset({"vulnerability"})
    ),
    SeededImage("docker.io/library/alpine:latest", "a3", (), frozenset()),
    SeededImage(
        "docker.io/library/busybox:latest",
        "a4",
        (vuln("CVE-2026-0003", Severity.HIGH, fixed=""),),
        frozenset({"vulnerability"}),
    ),
    SeededImage(
        "ghcr.io/kubewarden/test-verify-image-signatures:signed",
        "a5",
        (secret("aws-access-key"),),
        frozenset({"secret"}),
    ),
    SeededImage(
        "ghcr.io/nginx/nginx-unprivileged:1.29.0-alpine-perl",
        "a6",
        (vuln("CVE-2026-0004", Severity.LOW, kev=True),),
        frozenset({"kev"}),
    ),
    SeededImage("registry.test/app:1.0", "b1", (), frozenset()),
    SeededImage(
        "registry.test/app:bad", "b2", (vuln("CVE-2026-0005", Severity.CRITICAL),), frozenset({"vulnerability"})
    ),
)
PINNED = SeededImage(f"docker.io/library/nginx@{PINNED_DIGEST}", "", (), frozenset())
"""``nginx:v1.26@sha256:89102e...``: known by its digest only (no tag recorded), clean."""


def seed_store(store: Store) -> None:
    """Record a registry scan of every seeded image (and the digest-pinned one)."""
    for item in SEEDED:
        ref = parse_reference(item.reference)
        result = image_result(item.digest_byte, (deb("openssl", "1.0"),), repository=ref.name, tag=ref.tag,
                              findings=item.findings)  # fmt: skip
        record_scan(store, result, trigger="test", actor="test",
                    tags=[TagRef(ref.name, ref.tag, "sha256:" + item.digest_byte * 32)])  # fmt: skip
    pinned = image_result("00", (), repository="docker.io/library/nginx", tag="")
    from dataclasses import replace

    pinned = replace(pinned, target=replace(pinned.target, digest=PINNED_DIGEST))
    record_scan(store, pinned, trigger="test", actor="test")


def image_codes(written: str) -> frozenset[str]:
    """The violation codes the default policy gives ``written`` (unknown images: ``unknown-image``)."""
    ref = parse_reference(written)
    if ref.digest:
        return PINNED.codes if ref.digest == PINNED_DIGEST else frozenset({"unknown-image"})
    for item in SEEDED:
        seeded = parse_reference(item.reference)
        if (seeded.name, seeded.tag) == (ref.name, ref.tag):
            return item.codes
    return frozenset({"unknown-image"})


BASELINE_CAPS = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})  # fmt: skip
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
})  # fmt: skip


def expected_checks(entry: dict[str, Any]) -> set[str]:
    """PSS-baseline check IDs the facts of an index entry imply (host namespaces, privileged, caps...)."""
    pod = entry.get("pod") or {}
    ids: set[str] = set()
    if pod.get("hostPID"):
        ids.add("SW-K8S-002")
    if pod.get("hostIPC"):
        ids.add("SW-K8S-003")
    if pod.get("hostNetwork"):
        ids.add("SW-K8S-004")
    if pod.get("hostPath_volumes"):
        ids.add("SW-K8S-016")
    if any(name not in SAFE_SYSCTLS for name in pod.get("sysctls") or ()):
        ids.add("SW-K8S-026")
    for container in entry.get("containers") or ():
        if container.get("privileged"):
            ids.add("SW-K8S-001")
        if any(cap not in BASELINE_CAPS for cap in container.get("capabilities_add") or ()):
            ids.add("SW-K8S-012")
    return ids


def review_of(document: dict[str, Any]) -> dict[str, Any]:
    """A bare AdmissionRequest wrapped as the API server POSTs it (full reviews unchanged)."""
    if document.get("kind") == "AdmissionReview":
        return document
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": document}


def load_index() -> list[dict[str, Any]]:
    """The index of the shared payloads."""
    data: list[dict[str, Any]] = json.loads((SHARED / "index.json").read_text(encoding="utf-8"))
    return data
