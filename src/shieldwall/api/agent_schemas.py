"""Request and response bodies of the fleet endpoints (agents and their administration).

Everything an agent sends is untrusted: every model refuses unknown fields,
bounds every string, list and mapping, and the JSON-valued fields (event
attributes, host facts, inventory sections) are bounded by serialised size.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from shieldwall.agent.events import MAX_ATTRIBUTES_BYTES
from shieldwall.api.schemas import _In, _Out

SeverityName = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
ModuleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
MAX_EVENTS_PER_BATCH = 500
MAX_PACKAGES = 50_000
MAX_HOST_ROWS = 20_000


def _bounded(limit: int) -> Any:
    def check(value: Any) -> Any:
        if len(json.dumps(value, default=str)) > limit:
            raise ValueError(f"larger than {limit} bytes when serialised")
        return value

    return AfterValidator(check)


SmallJson = Annotated[dict[str, Any], _bounded(16 * 1024)]
Attributes = Annotated[dict[str, Any], _bounded(MAX_ATTRIBUTES_BYTES)]
HostRows = Annotated[list[dict[str, Any]], Field(max_length=MAX_HOST_ROWS), _bounded(512 * 1024)]


# -- the agent's side ------------------------------------------------------------------------------


class EnrollIn(_In):
    """An agent's enrollment: the token, its public key and what it says about its host."""

    token: str = Field(min_length=8, max_length=256)
    public_key: str = Field(min_length=40, max_length=64, description="Raw Ed25519 public key, base64")
    hostname: str = Field(default="", max_length=256)
    facts: SmallJson = Field(default_factory=dict)


class EnrollOut(_Out):
    """The agent's new identity and how often to call in."""

    agent_id: str
    heartbeat_seconds: int
    poll_seconds: int
    skew_seconds: int


class RotateKeyIn(_In):
    """A new public key, sent in a request signed with the current one."""

    public_key: str = Field(min_length=40, max_length=64)


class RotateKeyOut(_Out):
    """The key was replaced."""

    agent_id: str
    key: str = Field(description="Fingerprint of the new key")


class AgentEventIn(_In):
    """One event (``AgentEvent.to_wire``)."""

    key: str = Field(pattern=r"^[A-Za-z0-9._:-]{8,64}$")
    module: ModuleName
    kind: str = Field(min_length=1, max_length=128)
    severity: SeverityName
    summary: str = Field(max_length=2000)
    attributes: Attributes = Field(default_factory=dict)
    observed_at: dt.datetime


class EventBatchIn(_In):
    """A batch from the spool and the agent's cumulative drop counts per module."""

    events: list[AgentEventIn] = Field(max_length=MAX_EVENTS_PER_BATCH)
    dropped: dict[ModuleName, Annotated[int, Field(ge=0)]] = Field(default_factory=dict, max_length=128)


class EventBatchOut(_Out):
    """Keys stored now and keys the manager already had (both may be deleted from the spool)."""

    accepted: list[str]
    duplicates: list[str]


class ModuleStateIn(_In):
    """A module's state (``ModuleState``)."""

    status: Literal["disabled", "running", "degraded", "error", "unavailable"]
    policy_version: int | None = None
    detail: str = Field(default="", max_length=2000)
    counters: dict[str, int] = Field(default_factory=dict, max_length=64)
    version: str = Field(default="", max_length=64)


class HeartbeatIn(_In):
    """An agent's periodic report."""

    version: str = Field(max_length=64)
    uptime_seconds: float = Field(ge=0)
    modules: dict[ModuleName, ModuleStateIn] = Field(default_factory=dict, max_length=128)
    spool_depth: int = Field(ge=0)
    spool_bytes: int = Field(default=0, ge=0)
    dropped: dict[ModuleName, Annotated[int, Field(ge=0)]] = Field(default_factory=dict, max_length=128)
    cpu_percent: float = Field(default=0.0, ge=0)
    rss_bytes: int = Field(default=0, ge=0)
    applied_revision: int | None = None
    policy_error: str = Field(default="", max_length=2000)


class HeartbeatOut(_Out):
    """The revision the agent should run (it fetches the policy when it differs) and the server's clock."""

    policy_revision: int
    server_time: float


class AgentPolicyOut(_Out):
    """The policy an agent must run."""

    revision: int
    name: str
    version: int
    document: dict[str, Any]


class OsIn(_In):
    """The host's OS identity."""

    family: str = Field(max_length=64)
    name: str = Field(default="", max_length=128)
    version: str = Field(default="", max_length=64)
    version_codename: str = Field(default="", max_length=64)
    pretty_name: str = Field(default="", max_length=256)


class PackageIn(_In):
    """A catalogued package (compact)."""

    type: Literal["deb", "apk", "rpm", "pypi", "npm", "golang", "maven", "cargo", "gem", "composer", "nuget", "generic"]
    name: str = Field(min_length=1, max_length=512)
    version: str = Field(default="", max_length=256)
    purl: str = Field(default="", max_length=2048)
    source_name: str = Field(default="", max_length=512)
    source_version: str = Field(default="", max_length=256)
    arch: str = Field(default="", max_length=32)
    found_by: str = Field(default="", max_length=64)
    path: str = Field(default="", max_length=4096)
    licenses: list[Annotated[str, Field(max_length=256)]] = Field(default_factory=list, max_length=32)
    os_owner: str = Field(
        default="", max_length=256, description="type:name@version of the OS package that installed it"
    )


class InventoryIn(_In):
    """A full host inventory (sent only when its hash changed)."""

    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    collected_at: str = Field(default="", max_length=40)
    os: OsIn | None = None
    packages: list[PackageIn] = Field(default_factory=list, max_length=MAX_PACKAGES)
    processes: HostRows = Field(default_factory=list)
    listening: HostRows = Field(default_factory=list)
    users: HostRows = Field(default_factory=list)
    groups: HostRows = Field(default_factory=list)
    sudoers: HostRows = Field(default_factory=list)
    suid: HostRows = Field(default_factory=list)
    kernel_modules: HostRows = Field(default_factory=list)
    containers: HostRows = Field(default_factory=list)


class InventoryOut(_Out):
    """The host scan the inventory was recorded as."""

    scan_id: int
    asset_id: int
    findings: int


# -- administration --------------------------------------------------------------------------------


class EnrollmentTokenCreate(_In):
    """A new enrollment token."""

    name: str = Field(min_length=1, max_length=128)
    environment: str = Field(default="", max_length=128)
    policy: str | None = Field(default=None, max_length=128)
    max_uses: int | None = Field(default=1, ge=1, le=1_000_000, description="null: unlimited")
    ttl_hours: float = Field(default=24.0, gt=0, le=24 * 365)


class EnrollmentTokenOut(_Out):
    """A token's record (never its secret)."""

    id: int
    prefix: str
    name: str
    environment: str
    policy: str | None
    max_uses: int | None
    uses: int
    expires_at: dt.datetime
    created_at: dt.datetime
    created_by: str
    status: Literal["active", "revoked", "expired", "used"]


class EnrollmentTokenCreated(_Out):
    """The new token: ``token`` is shown this once."""

    token: str
    record: EnrollmentTokenOut


class AgentOut(_Out):
    """An agent in the fleet list."""

    id: str
    hostname: str
    environment: str
    status: Literal["online", "offline", "stale", "revoked", "never"]
    version: str
    enrolled_at: dt.datetime
    last_seen: dt.datetime | None
    policy: str | None
    policy_revision: int
    applied_revision: int | None
    asset_id: int | None
    dropped_total: int
    findings: dict[str, int] = Field(description="Active findings of the host by severity")


class AgentDetailOut(AgentOut):
    """One agent in full: host facts, last heartbeat (module states, spool, resources), key fingerprint."""

    facts: dict[str, Any]
    state: dict[str, Any]
    key: str
    revoked_at: dt.datetime | None


class AssignPolicyIn(_In):
    """The policy an agent runs (null: none)."""

    policy: str | None = Field(default=None, max_length=128)


class PolicyIn(_In):
    """A new policy."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    description: str = Field(default="", max_length=2000)
    document: dict[str, Any]


class PolicyUpdate(_In):
    """A new version of a policy."""

    description: str | None = Field(default=None, max_length=2000)
    document: dict[str, Any]


class PolicyOut(_Out):
    """A policy at one version."""

    name: str
    description: str
    version: int
    revision: int
    document: dict[str, Any]
    updated_at: str
    author: str


class AgentEventOut(_Out):
    """A stored agent event."""

    id: int
    agent: str
    key: str
    module: str
    kind: str
    severity: str
    summary: str
    attributes: dict[str, Any]
    observed_at: dt.datetime
    received_at: dt.datetime


class AgentEventPage(_Out):
    """A page of events, newest first; ``next_cursor`` is empty on the last page."""

    items: list[AgentEventOut]
    next_cursor: str


class HostInventoryOut(_Out):
    """The host's last inventory (packages are in the asset's stored inventory)."""

    agent: str
    asset_id: int | None
    hash: str
    inventory: dict[str, Any]
    packages: list[dict[str, Any]]
