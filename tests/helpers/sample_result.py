"""A deterministic ScanResult with every kind of finding, for report and golden-file tests."""

from __future__ import annotations

from dataclasses import replace

from shieldwall.model import (
    Evidence,
    Finding,
    FindingKind,
    ImageConfig,
    LayerRef,
    Location,
    OSInfo,
    Package,
    PackageType,
    ScanResult,
    ScanWarning,
    Severity,
    Suppression,
    Target,
    TargetKind,
    TargetRef,
    VulnDetails,
)
from shieldwall.policy.model import GateVerdict

L0 = LayerRef(0, "sha256:" + "a" * 64, "/bin/sh -c #(nop) ADD file:base in / ", 1000)
L1 = LayerRef(1, "sha256:" + "b" * 64, "/bin/sh -c pip install -r /app/requirements.txt", 2000)
L2 = LayerRef(2, "sha256:" + "c" * 64, "/bin/sh -c rm /app/.env", 10)

REQUESTS = Package(
    PackageType.PYPI,
    "requests",
    "2.19.0",
    "pkg:pypi/requests@2.19.0",
    locations=(Location("/app/requirements.txt", L1),),
    licenses=("Apache-2.0",),
    found_by="python-requirements",
    introduced_by=L1,
)
URLLIB3 = Package(
    PackageType.PYPI,
    "urllib3",
    "1.23",
    "pkg:pypi/urllib3@1.23",
    locations=(Location("/app/requirements.txt", L1),),
    licenses=("MIT",),
    found_by="python-requirements",
    introduced_by=L1,
)
BASH = Package(
    PackageType.DEB,
    "bash",
    "5.2.15-2+b2",
    "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64",
    locations=(Location("/var/lib/dpkg/status", L0),),
    licenses=("GPL-3.0-or-later",),
    found_by="dpkg",
    introduced_by=L0,
)


def sample_findings() -> tuple[Finding, ...]:
    """One finding of each kind, some suppressed (inline, exception, VEX)."""
    return (
        Finding(
            FindingKind.VULNERABILITY,
            "GHSA-j8r2-6x86-q33q",
            "requests: Proxy-Authorization header leaked on HTTPS redirect",
            Severity.MEDIUM,
            location=Location("/app/requirements.txt", L1),
            package_id=REQUESTS.id,
            message="requests 2.19.0 is affected (fixed in 2.31.0).",
            aliases=("CVE-2023-32681",),
            references=("https://github.com/advisories/GHSA-j8r2-6x86-q33q",),
            evidence=(Evidence("osv-matcher", "pypi/requests@2.19.0", "<2.31.0", "osv"),),
            vuln=VulnDetails(
                "2.19.0",
                "2.31.0",
                cvss_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N",
                cvss_score=6.1,
                cvss_version="3.1",
                epss_score=0.04,
            ),
        ),
        Finding(
            FindingKind.VULNERABILITY,
            "CVE-2018-20060",
            "urllib3: Authorization header kept on cross-origin redirect",
            Severity.CRITICAL,
            location=Location("/app/requirements.txt", L1),
            package_id=URLLIB3.id,
            references=("https://nvd.nist.gov/vuln/detail/CVE-2018-20060",),
            vuln=VulnDetails("1.23", "1.23.1", cvss_score=9.8, cvss_version="3.1", kev=True, epss_score=0.72),
            suppressions=(
                Suppression(
                    "vex",
                    "vex/openvex.json#0",
                    "vulnerable_code_not_in_execute_path: redirects are disabled",
                    source="vex/openvex.json",
                    statement=(("status", "not_affected"), ("justification", "vulnerable_code_not_in_execute_path")),
                ),
            ),
        ),
        Finding(
            FindingKind.SECRET,
            "aws-access-key-id",
            "AWS access key ID",
            Severity.CRITICAL,
            location=Location("/app/.env", L1, line=3, column=19),
            message="An AWS access key ID (AKIA...EXAMPLE, redacted).",
            fix="Remove the key from the image and rotate it.",
            fingerprint_material="sha256:deadbeef",
            deleted_in=L2,
        ),
        Finding(
            FindingKind.MISCONFIG,
            "DS002",
            "Image runs as root",
            Severity.HIGH,
            location=Location("/Dockerfile", None, line=1),
            message="No USER instruction: the container runs as root.",
            fix="Add a USER instruction with a non-root user.",
        ),
        Finding(
            FindingKind.MISCONFIG,
            "KSV001",
            "Container can escalate privileges",
            Severity.MEDIUM,
            location=Location("/k8s/deployment.yaml", None, line=12, column=9, end_line=14),
            fix="Set securityContext.allowPrivilegeEscalation to false.",
            suppressed="dev-only manifest",
        ),
        Finding(
            FindingKind.LICENSE,
            "license:GPL-3.0-or-later",
            "bash 5.2.15-2+b2 is licensed under denied licence GPL-3.0-or-later",
            Severity.HIGH,
            location=Location("/var/lib/dpkg/status", L0),
            package_id=BASH.id,
            fix="Replace bash or record a legal review as an exception.",
            evidence=(
                Evidence(
                    "license-policy", "deny list GPL-*", "GPL-3.0-or-later", details=(("license", "GPL-3.0-or-later"),)
                ),
            ),
            fingerprint_material="GPL-3.0-or-later",
            suppressions=(
                Suppression(
                    "exception",
                    ".shieldwallignore.yaml:2",
                    "base image shell, legal approved",
                    source=".shieldwallignore.yaml",
                    author="legal@example.com",
                    expires="2099-12-31",
                ),
            ),
        ),
        Finding(
            FindingKind.MALWARE,
            "EICAR-Test-File",
            "EICAR antivirus test file",
            Severity.LOW,
            location=Location("/opt/eicar.com", L1),
            fix="Delete the file.",
        ),
    )


def sample_result() -> ScanResult:
    """The image scan every golden file is rendered from."""
    return ScanResult(
        target=Target(
            TargetRef(TargetKind.DOCKER_ARCHIVE, "/tmp/pytest-of-x/pytest-1/app.tar"),
            "example/app:1.0",
            digest="sha256:" + "d" * 64,
            image_id="sha256:" + "e" * 64,
            tags=("example/app:1.0",),
            repository="example/app",
        ),
        layers=(L0, L1, L2),
        image=ImageConfig(os="linux", architecture="amd64", cmd=("python", "/app/main.py")),
        os=OSInfo("debian", "Debian GNU/Linux", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)"),
        packages=(BASH, REQUESTS, URLLIB3),
        findings=sample_findings(),
        warnings=(ScanWarning("exceptions", "exception CVE-2000-0001 matched no finding", ".shieldwallignore.yaml:9"),),
        analyzers=(("dpkg", 1), ("python", 1)),
        started_at="2026-01-02T03:04:05+00:00",
        finished_at="2026-01-02T03:04:09+00:00",
        tool_version="0.1.0",
    )


def sample_verdict(result: ScanResult | None = None) -> GateVerdict:
    """The verdict of ``--fail-on high`` on the sample: the active secret and misconfig fail it."""
    from shieldwall.policy.gate import evaluate_gate
    from shieldwall.policy.model import fail_on_policy

    return evaluate_gate(result or sample_result(), [fail_on_policy(Severity.HIGH)])


def clean_result() -> ScanResult:
    """The sample without findings (reports must still be valid)."""
    return replace(sample_result(), findings=(), warnings=())
