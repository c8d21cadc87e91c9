"""Request and response bodies of the REST API (pydantic models live only at this edge).

Response models mirror the frozen views of ``api.queries`` and the store, so
the OpenAPI document describes exactly what is sent. Request models refuse
unknown fields and bound every string.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shieldwall.api.guards import MESSAGE, has_nul
from shieldwall.api.tokens import Role

Scanner = Literal["vuln", "secret", "malware", "misconfig", "license"]
SCANNERS: tuple[Scanner, ...] = ("vuln", "secret", "malware", "misconfig", "license")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if has_nul(data):
            raise ValueError(MESSAGE)
        return data


class ErrorOut(BaseModel):
    """An error: what went wrong, in words."""

    detail: Any = Field(description="A message, or (422) the list of invalid fields.")


class HealthOut(_Out):
    """The server is up."""

    status: Literal["ok"]
    version: str


class WhoAmIOut(_Out):
    """The token making the request."""

    id: str
    name: str
    role: Role
    actor: str


# -- jobs and scans ------------------------------------------------------------------------------


class ScanSubmit(_In):
    """A scan of an image in a registry."""

    image: str = Field(min_length=1, max_length=512, description="Image reference: registry/repository:tag[@digest]")
    environment: str = Field(default="", max_length=128, description="Put the asset in this environment")
    scanners: list[Scanner] = Field(default_factory=lambda: list(SCANNERS), max_length=5)
    webhook_url: str = Field(default="", max_length=2048, description="POSTed the job document when it finishes")
    webhook_secret: str = Field(
        default="", max_length=256, description="Signs the webhook body: X-Shieldwall-Signature: sha256=<HMAC>"
    )

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("the webhook must be an http:// or https:// URL")
        return value


class JobOut(_Out):
    """An asynchronous job: a scan or a database update."""

    id: str
    kind: Literal["registry", "archive", "sbom", "db-update"]
    status: Literal["queued", "running", "succeeded", "failed"]
    target: str
    actor: str
    created_at: str
    environment: str = ""
    started_at: str = ""
    finished_at: str = ""
    scan_id: int | None = None
    asset_id: int | None = None
    error: str = ""
    result: dict[str, Any] = Field(default_factory=dict)
    webhook_url: str = ""
    webhook_status: str = ""


class WarningOut(_Out):
    """Something a scan skipped or could not read, with the reason (never silent)."""

    source: str
    message: str
    path: str = ""


class ScanOut(_Out):
    """A recorded scan and its summary counts."""

    id: int
    asset_id: int
    target: str
    repository: str
    tag: str
    trigger: str
    actor: str
    recorded_at: str
    started_at: str
    finished_at: str
    tool_version: str
    verdict: str
    package_count: int
    finding_count: int
    warning_count: int
    severity: dict[str, int]
    kind: dict[str, int]
    not_evaluated: int = 0
    warnings: list[WarningOut] = Field(
        default_factory=list, description="What the scan skipped and why (the first 100; warning_count is whole)"
    )


class ScanPage(_Out):
    """A page of scans; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[ScanOut]
    next_cursor: str


# -- findings ------------------------------------------------------------------------------------


class FindingOut(_Out):
    """A stored finding with its lifecycle (the JSON ``shieldwall findings`` prints)."""

    id: int
    asset_id: int
    asset: str
    repository: str
    environment: str
    fingerprint: str
    kind: str
    rule_id: str
    severity: str
    title: str
    package: str
    installed_version: str
    fixed_version: str
    path: str
    status: str
    first_seen: str
    last_seen: str
    fixed_at: str
    reopened_at: str
    reopen_count: int
    suppressed_reason: str
    suppressed_by: str


class FindingPage(_Out):
    """A page of findings; ``next_cursor`` is empty on the last page."""

    items: list[FindingOut]
    next_cursor: str
    total: int = Field(description="How many findings match the filters (all pages)")


class EvidenceOut(_Out):
    """How a finding was established."""

    detector: str
    searched: str
    found: str
    source: str
    confidence: float
    details: dict[str, str]


class SuppressionOut(_Out):
    """A rule that sets the finding aside in its scan (exception file, VEX, comment)."""

    kind: str
    rule: str
    reason: str
    source: str
    author: str
    expires: str
    statement: dict[str, str]


class ExceptionOut(_Out):
    """An accepted risk in the store."""

    id: int
    fingerprint: str
    rule_id: str
    package: str
    asset_id: int | None
    reason: str
    author: str
    created_at: str
    expires_at: str
    revoked_at: str
    revoked_by: str
    state: Literal["active", "expired", "revoked"]


class FindingDetailOut(FindingOut):
    """One finding in full: evidence, fix, layer, exception history, VEX status."""

    message: str
    fix: str
    aliases: list[str]
    references: list[str]
    evidence: list[EvidenceOut]
    location: dict[str, Any] | None
    layer: dict[str, Any] | None
    deleted_in: dict[str, Any] | None
    vuln: dict[str, Any] | None
    suppressions: list[SuppressionOut]
    vex_status: str
    exceptions: list[ExceptionOut]
    first_scan_id: int | None
    last_scan_id: int | None


class ExceptionCreate(_In):
    """An exception: a reason, an optional expiry, and what it covers (a finding, or selectors)."""

    reason: str = Field(min_length=1, max_length=4000)
    expires_at: dt.datetime | None = Field(default=None, description="When it stops applying (ISO 8601)")
    finding_id: int | None = Field(default=None, ge=1, le=2**62, description="Cover this finding on its asset")
    fingerprint: str = Field(default="", max_length=64)
    rule_id: str = Field(default="", max_length=256)
    package: str = Field(default="", max_length=512)
    asset_id: int | None = Field(default=None, ge=1, le=2**62)


class ExceptionRevoked(_Out):
    """A revoked exception and how many findings it released."""

    exception: ExceptionOut
    findings_released: int


class ExceptionCreated(_Out):
    """A new exception."""

    exception: ExceptionOut


# -- assets --------------------------------------------------------------------------------------


class AssetOut(_Out):
    """An asset with its current tags and counts."""

    id: int
    kind: str
    identifier: str
    name: str
    repository: str
    tags: list[str]
    environment: str
    golden: bool
    golden_reason: str
    active: bool
    platform: str
    packages: int
    open_findings: int
    first_seen: str
    last_seen: str


class TagOut(_Out):
    """A tag that points or pointed at the asset."""

    repository: str
    tag: str
    manifest_digest: str
    current: bool
    first_seen: str
    last_seen: str


class AssetDetailOut(_Out):
    """An asset in full: tags past and present, OS, layers, scan history."""

    id: int
    kind: str
    identifier: str
    name: str
    repository: str
    environment: str
    golden: bool
    golden_reason: str
    active: bool
    platform: str
    labels: dict[str, str]
    os: dict[str, Any] | None
    first_seen: str
    last_seen: str
    packages: int
    open_findings: int
    findings_by_severity: dict[str, int]
    tags: list[TagOut]
    layers: list[dict[str, Any]]
    scans: list[ScanOut]


class AssetUpdate(_In):
    """Change an asset: its environment ('' removes it) and/or its golden flag (null: labels decide)."""

    environment: str | None = Field(default=None, max_length=128)
    golden: bool | None = None
    golden_reset: bool = Field(default=False, description="Clear the flag: labels and tag patterns decide")


class PackageOut(_Out):
    """An inventory package and the layer that introduced it."""

    type: str
    name: str
    version: str
    purl: str
    path: str
    layer_index: int | None
    source_name: str
    licenses: list[str]


class LayerFindingOut(_Out):
    """A current finding attributed to a layer."""

    id: int
    rule_id: str
    severity: str
    kind: str
    title: str
    package: str
    path: str
    status: str
    deleted_in: int | None


class LayerOut(_Out):
    """A layer and what it introduced (index -1: not attributed to a layer)."""

    index: int
    digest: str
    created_by: str
    size: int
    packages: list[PackageOut]
    findings: list[LayerFindingOut]


class ScanDetailOut(_Out):
    """A scan and the stored findings it was the last to see."""

    scan: ScanOut
    findings: list[FindingOut]


# -- overview ------------------------------------------------------------------------------------


class TrendPointOut(_Out):
    """Open findings at the end of one day."""

    day: str
    counts: dict[str, int]
    total: int


class RematchHitOut(_Out):
    """An image a rematch found new findings on."""

    at: str
    asset: str
    asset_id: int | None
    golden: bool
    new: list[str]
    reason: str


class AlertOut(_Out):
    """One alert of the outbox."""

    id: int
    channel: str
    event: str
    status: str
    attempts: int
    created_at: str
    sent_at: str
    severity: str
    rule_id: str
    asset: str
    last_error: str


class OverviewOut(_Out):
    """The dashboard's overview numbers."""

    assets: int
    assets_by_environment: dict[str, int]
    open_by_severity: dict[str, int]
    open_by_kind: dict[str, int]
    open_total: int
    suppressed: int
    trend: list[TrendPointOut]
    rematch: list[RematchHitOut]
    alerts: list[AlertOut]
    alert_counts: dict[str, int]
    scans: int
    last_scan_at: str
    db: dict[str, Any]


# -- compliance ----------------------------------------------------------------------------------


class FrameworkOut(_Out):
    """A bundled compliance framework."""

    id: str
    title: str
    version: str
    controls: int


class ComplianceFindingOut(_Out):
    """A finding behind a control."""

    rule_id: str
    severity: str
    title: str
    message: str
    path: str
    line: int | None


class ControlOut(_Out):
    """One control: pass, fail or not applicable, and why."""

    id: str
    title: str
    status: Literal["pass", "fail", "not-applicable"]
    reason: str
    checks: list[str]
    findings: list[ComplianceFindingOut]
    suppressed: list[ComplianceFindingOut]


class ComplianceOut(_Out):
    """A framework evaluated against one asset's stored state."""

    framework: FrameworkOut
    asset_id: int
    target: str
    passed: int
    failed: int
    error: int = 0
    not_applicable: int
    percent: float | None
    controls: list[ControlOut]


# -- audit ---------------------------------------------------------------------------------------


class AuditEventOut(_Out):
    """One event of the hash-chained trail."""

    seq: int
    at: str
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    hash: str
    prev_hash: str
    signed: bool


class AuditPage(_Out):
    """Events newest first; pass ``next_cursor`` as ``before`` for older ones."""

    items: list[AuditEventOut]
    next_cursor: str


class AuditVerifyOut(_Out):
    """The outcome of checking every link and signed checkpoint of the trail."""

    ok: bool
    events: int
    checkpoints: int
    head_seq: int
    head_hash: str
    last_signed_seq: int
    unsigned_events: int
    broken_seq: int | None
    broken_problem: str
    notes: list[str]


# -- advisory database, registries, tokens ------------------------------------------------------


class DbSourceOut(_Out):
    """One imported feed."""

    name: str
    kind: str
    url: str
    imported_at: str
    count: int


class DbStatusOut(_Out):
    """The advisory database: present or not, its sources and age."""

    present: bool
    path: str
    advisories: int = 0
    kev_entries: int = 0
    epss_entries: int = 0
    last_update: str = ""
    age_seconds: float | None = None
    generation: int = 0
    sources: list[DbSourceOut] = Field(default_factory=list)
    ecosystems: dict[str, int] = Field(default_factory=dict)


class RegistryIn(_In):
    """A registry to watch (the monitor polls it)."""

    name: str = Field(default="", max_length=128, pattern=r"^[A-Za-z0-9._-]*$")
    url: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
    repositories: list[str] = Field(default_factory=lambda: ["*"], max_length=100)
    tags: list[str] = Field(default_factory=lambda: ["*"], max_length=100)
    environment: str = Field(default="", max_length=128)
    insecure: bool = False
    anonymous: bool = False


class RegistryOut(_Out):
    """A watched registry (``name`` is its URL when it was added without one)."""

    name: str = Field(min_length=1)
    url: str
    repositories: list[str]
    tags: list[str]
    environment: str
    insecure: bool
    anonymous: bool


class TokenIn(_In):
    """A token to create."""

    name: str = Field(min_length=1, max_length=100)
    role: Role


class TokenOut(_Out):
    """A token record (never its secret)."""

    id: str
    name: str
    role: Role
    created_at: str
    created_by: str
    revoked_at: str
    revoked_by: str
    active: bool


class TokenCreated(_Out):
    """A new token: ``token`` is shown this once and cannot be read again."""

    token: str
    record: TokenOut
