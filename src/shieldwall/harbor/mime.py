"""The MIME types of the Harbor scanner adapter specification, and which report an ``Accept`` asks for."""

from __future__ import annotations

from enum import StrEnum

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CONSUMES = (OCI_MANIFEST, DOCKER_MANIFEST)

METADATA = "application/vnd.scanner.adapter.metadata+json; version=1.1"
SCAN_RESPONSE = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
ERROR = "application/vnd.scanner.adapter.error+json; version=1.0"

VULN_REPORT_1_1 = "application/vnd.security.vulnerability.report; version=1.1"
VULN_REPORT_HARBOR = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
SBOM_REPORT = "application/vnd.security.sbom.report+json; version=1.0"

SPDX_JSON = "application/spdx+json"
CYCLONEDX_JSON = "application/vnd.cyclonedx+json"
SBOM_MEDIA_TYPES = (SPDX_JSON, CYCLONEDX_JSON)


class ReportKind(StrEnum):
    """What a report request asks for."""

    VULNERABILITY = "vulnerability"
    SBOM = "sbom"


def _normal(value: str) -> str:
    """Lower-case, no spaces around ``;`` and ``=``: ``a/b;version=1.1``."""
    parts = [p.strip().lower() for p in value.split(";")]
    return ";".join(p.replace(" ", "") for p in parts if p)


_REPORTS = {
    _normal(VULN_REPORT_1_1): (ReportKind.VULNERABILITY, VULN_REPORT_1_1),
    _normal(VULN_REPORT_HARBOR): (ReportKind.VULNERABILITY, VULN_REPORT_HARBOR),
    _normal(SBOM_REPORT): (ReportKind.SBOM, SBOM_REPORT),
}


def negotiate(accept: str) -> tuple[ReportKind, str] | None:
    """The report kind and the MIME type to answer with, for an ``Accept`` header; None when unsupported.

    An empty ``Accept`` or ``*/*`` gets the vulnerability report (v1.1), as Harbor's default.
    """
    if not accept.strip():
        return ReportKind.VULNERABILITY, VULN_REPORT_1_1
    for item in accept.split(","):
        value = item.strip()
        if value in ("*/*", "application/*"):
            return ReportKind.VULNERABILITY, VULN_REPORT_1_1
        found = _REPORTS.get(_normal(value))
        if found is not None:
            return found
    return None
