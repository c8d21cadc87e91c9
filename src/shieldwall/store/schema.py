"""The store's tables as typed SQLAlchemy 2 ORM classes.

Every time is a UTC instant (``UTCDateTime`` stores naive UTC and returns an
aware value, so SQLite and PostgreSQL read back the same thing). Identifiers
are ``BIGINT`` on PostgreSQL and the rowid ``INTEGER`` on SQLite.

The migration in ``store/migrations/versions`` creates exactly these tables;
a change here needs a new revision there (``alembic revision`` against a
scratch database, or written by hand).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""Primary keys: 64-bit on PostgreSQL, the rowid alias on SQLite."""


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A UTC instant: stored naive (UTC) on every backend, read back timezone-aware."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Convert an aware value to naive UTC (naive values are taken as UTC)."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Attach UTC to what the database returns."""
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLite always parses for DateTime
            value = dt.datetime.fromisoformat(value)
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with constraint names that are stable across backends (migrations need them)."""

    metadata = MetaData(naming_convention=NAMING)


class FindingStatus(StrEnum):
    """Where a stored finding is in its life."""

    OPEN = "open"
    REOPENED = "reopened"
    FIXED = "fixed"
    NOT_APPLICABLE = "not-applicable"
    SUPPRESSED = "suppressed"

    @property
    def active(self) -> bool:
        """Open or reopened: something to act on."""
        return self in (FindingStatus.OPEN, FindingStatus.REOPENED)


class AssetKind(StrEnum):
    """What an asset is."""

    IMAGE = "image"
    HOST = "host"
    SOURCE = "source"
    SBOM = "sbom"


class OutboxStatus(StrEnum):
    """Delivery state of an alert in the outbox."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


class Environment(Base):
    """A deployment environment assets belong to (prod, staging...)."""

    __tablename__ = "environments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Asset(Base):
    """Something scanned: an image (by digest), a host, a source repository or an SBOM."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("kind", "identifier"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    identifier: Mapped[str] = mapped_column(String(512))
    name: Mapped[str] = mapped_column(String(1024), default="")
    repository: Mapped[str] = mapped_column(String(512), default="", index=True)
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id"), nullable=True)
    golden_flag: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    golden_auto: Mapped[bool] = mapped_column(Boolean, default=False)
    golden_reason: Mapped[str] = mapped_column(String(512), default="")
    labels: Mapped[str] = mapped_column(Text, default="{}")
    platform: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_scan_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    @property
    def golden(self) -> bool:
        """The store flag when set, otherwise what a label or tag pattern decided."""
        return self.golden_flag if self.golden_flag is not None else self.golden_auto


class AssetTag(Base):
    """A repository tag that pointed at an asset; ``current`` while it still does."""

    __tablename__ = "asset_tags"
    __table_args__ = (
        UniqueConstraint("repository", "tag", "asset_id"),
        Index("ix_asset_tags_repository_tag", "repository", "tag"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    repository: Mapped[str] = mapped_column(String(512))
    tag: Mapped[str] = mapped_column(String(256))
    manifest_digest: Mapped[str] = mapped_column(String(160), default="", index=True)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Scan(Base):
    """One recorded scan of an asset, with its image config and summary (for drift and history)."""

    __tablename__ = "scans"
    __table_args__ = (Index("ix_scans_repository_tag", "repository", "tag"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(Text, default="")
    repository: Mapped[str] = mapped_column(String(512), default="")
    tag: Mapped[str] = mapped_column(String(256), default="")
    trigger: Mapped[str] = mapped_column(String(32), default="cli")
    actor: Mapped[str] = mapped_column(String(256), default="")
    started_at: Mapped[str] = mapped_column(String(40), default="")
    finished_at: Mapped[str] = mapped_column(String(40), default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    tool_version: Mapped[str] = mapped_column(String(64), default="")
    verdict: Mapped[str] = mapped_column(String(32), default="")
    image_config: Mapped[str] = mapped_column(Text, default="")
    os_info: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="{}")
    package_count: Mapped[int] = mapped_column(Integer, default=0)
    finding_count: Mapped[int] = mapped_column(Integer, default=0)
    warning_count: Mapped[int] = mapped_column(Integer, default=0)


class Inventory(Base):
    """The current package inventory of an asset (replaced by each new scan of it)."""

    __tablename__ = "inventories"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), unique=True)
    scan_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    os_info: Mapped[str] = mapped_column(Text, default="")
    layers: Mapped[str] = mapped_column(Text, default="[]")
    package_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class InventoryPackage(Base):
    """One package of an inventory, with the advisory lookup keys a rematch searches by.

    ``ecosystem`` is the OSV base ecosystem (``Debian``, ``PyPI``...);
    ``lookup_name`` the normalised name its advisories use (the source
    package for distributions), ``alt_lookup_name`` a second name when the
    matcher asks for two (rpm binary and source). Both pairs are indexed.
    """

    __tablename__ = "inventory_packages"
    __table_args__ = (
        Index("ix_inventory_packages_lookup", "ecosystem", "lookup_name"),
        Index(
            "ix_inventory_packages_alt_lookup",
            "ecosystem",
            "alt_lookup_name",
            postgresql_where=text("alt_lookup_name <> ''"),
            sqlite_where=text("alt_lookup_name <> ''"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    inventory_id: Mapped[int] = mapped_column(ForeignKey("inventories.id", ondelete="CASCADE"), index=True)
    ecosystem: Mapped[str] = mapped_column(String(64))
    lookup_name: Mapped[str] = mapped_column(String(512))
    alt_lookup_name: Mapped[str] = mapped_column(String(512), default="")
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(512))
    version: Mapped[str] = mapped_column(String(256), default="")
    purl: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str] = mapped_column(Text, default="")
    layer_index: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    source_name: Mapped[str] = mapped_column(String(512), default="")
    source_version: Mapped[str] = mapped_column(String(256), default="")
    arch: Mapped[str] = mapped_column(String(32), default="")
    found_by: Mapped[str] = mapped_column(String(64), default="")
    licenses: Mapped[str] = mapped_column(Text, default="")


class StoredFinding(Base):
    """A finding of an asset across scans: first/last seen, fixed, reopened, suppressed with a reason."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("asset_id", "fingerprint"),
        Index("ix_findings_asset_package", "asset_id", "package_id"),
        Index("ix_findings_status_severity", "status", "severity"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    rule_id: Mapped[str] = mapped_column(String(256), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text, default="")
    package_id: Mapped[str] = mapped_column(String(32), default="")
    package_name: Mapped[str] = mapped_column(String(512), default="")
    installed_version: Mapped[str] = mapped_column(String(256), default="")
    fixed_version: Mapped[str] = mapped_column(String(256), default="")
    path: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    fixed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reopened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    suppressed_reason: Mapped[str] = mapped_column(Text, default="")
    suppressed_by: Mapped[str] = mapped_column(String(256), default="")
    first_scan_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_scan_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    data: Mapped[str] = mapped_column(Text, default="{}")


class ExceptionRule(Base):
    """An accepted risk: findings it matches are suppressed with its reason until it expires or is revoked.

    Empty selector fields match anything; at least one must be set.
    """

    __tablename__ = "exceptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    rule_id: Mapped[str] = mapped_column(String(256), default="")
    package_name: Mapped[str] = mapped_column(String(512), default="")
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[str] = mapped_column(String(256), default="")


class AuditEvent(Base):
    """One event of the hash chain; ``hash`` covers every other column (see ``store.audit``)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """An Ed25519 signature over the chain head at ``seq``."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    event_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(256))


class OutboxAlert(Base):
    """An alert written before it is sent; delivered at least once, deduplicated by ``idempotency_key``."""

    __tablename__ = "alert_outbox"
    __table_args__ = (
        UniqueConstraint("channel", "dedupe_key"),
        Index("ix_alert_outbox_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(128))
    dedupe_key: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    asset_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    event: Mapped[str] = mapped_column(String(32), default="new-finding")
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class Setting(Base):
    """A small key -> JSON value table: the monitor's configuration and state, the DB generation seen."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- fim ---


class ChangeWindow(Base):
    """A change the pipeline expects: FIM events on matching hosts and paths in [starts_at, ends_at) are expected."""

    __tablename__ = "fim_change_windows"
    __table_args__ = (Index("ix_fim_change_windows_env_end", "environment", "ends_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    environment: Mapped[str] = mapped_column(String(128))
    host_glob: Mapped[str] = mapped_column(String(256))
    path_glob: Mapped[str] = mapped_column(String(1024))
    deploy_id: Mapped[str] = mapped_column(String(256))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- scale ---


class ScanIdempotency(Base):
    """One row per (asset digest, scan request): the same scan delivered twice is recorded once."""

    __tablename__ = "scan_idempotency"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    asset_digest: Mapped[str] = mapped_column(String(160), default="")
    request: Mapped[str] = mapped_column(String(256), default="")
    scan_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    asset_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class TaskRun(Base):
    """A distributed task's attempts and outcome; ``status == 'dead'`` is the dead-letter state."""

    __tablename__ = "task_runs"
    __table_args__ = (Index("ix_task_runs_status_updated", "status", "updated_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[str] = mapped_column(Text, default="{}")
    result: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- ips ---


class IpsRecommendation(Base):
    """A virtual-patching recommendation: an IPS rule whose CVE reference names an open finding's advisory.

    Rows exist only while the finding is open (a fixed finding's rows are
    deleted by the next recommendation pass, which also unassigns the rule).
    ``assigned`` means the rule is in the asset's IPS policy.
    """

    __tablename__ = "ips_recommendations"
    __table_args__ = (
        UniqueConstraint("finding_id", "sid"),
        Index("ix_ips_recommendations_asset", "asset_id", "assigned"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    cve: Mapped[str] = mapped_column(String(32))
    sid: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(32))
    msg: Mapped[str] = mapped_column(Text, default="")
    mode: Mapped[str] = mapped_column(String(16), default="prevent")
    assigned: Mapped[bool] = mapped_column(Boolean, default=False)
    assigned_by: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class IpsEvent(Base):
    """An IPS alert or drop reported by an agent (``ips.alert`` / ``ips.drop``), once per event key."""

    __tablename__ = "ips_events"
    __table_args__ = (Index("ix_ips_events_asset_time", "asset_id", "observed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    sid: Mapped[int] = mapped_column(BigInteger)
    msg: Mapped[str] = mapped_column(Text, default="")
    cves: Mapped[str] = mapped_column(Text, default="[]")
    src: Mapped[str] = mapped_column(String(80), default="")
    dest: Mapped[str] = mapped_column(String(80), default="")
    action: Mapped[str] = mapped_column(String(16), default="")
    observed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- agents (fleet: enrollment, identity, policies, events) ---


class AgentEnrollmentToken(Base):
    """A token an agent enrolls with: only its SHA-256 is stored; expiring, limited uses, scoped."""

    __tablename__ = "agent_enrollment_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), default="")
    name: Mapped[str] = mapped_column(String(128), default="")
    environment: Mapped[str] = mapped_column(String(128), default="")
    policy_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_uses: Mapped[int | None] = mapped_column(Integer, nullable=True)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(256), default="")
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AgentPolicy(Base):
    """A named agent policy; its documents are ``AgentPolicyVersion`` rows (never edited in place)."""

    __tablename__ = "agent_policies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AgentPolicyVersion(Base):
    """One version of a policy document; its ``id`` is the revision agents apply (globally increasing)."""

    __tablename__ = "agent_policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("agent_policies.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Agent(Base):
    """An enrolled agent: its identity, current key, policy, host asset and last reported state."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    hostname: Mapped[str] = mapped_column(String(256), default="")
    environment: Mapped[str] = mapped_column(String(128), default="")
    asset_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    policy_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    public_key: Mapped[str] = mapped_column(String(128))
    token_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    facts: Mapped[str] = mapped_column(Text, default="{}")
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    version: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(Text, default="{}")
    applied_revision: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    dropped_total: Mapped[int] = mapped_column(BigInteger, default=0)
    inventory_hash: Mapped[str] = mapped_column(String(64), default="")
    inventory: Mapped[str] = mapped_column(Text, default="{}")
    silent_alerted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AgentKey(Base):
    """Every public key an agent has had (rotation history); ``retired_at`` set when replaced."""

    __tablename__ = "agent_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    public_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AgentNonce(Base):
    """A request nonce seen inside the clock-skew window (replay protection across processes)."""

    __tablename__ = "agent_nonces"
    __table_args__ = (UniqueConstraint("agent_id", "nonce"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigInteger)
    nonce: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class AgentEventRow(Base):
    """An event an agent uploaded; ``(agent_id, key)`` is unique, so a retried upload is a no-op."""

    __tablename__ = "agent_events"
    __table_args__ = (
        UniqueConstraint("agent_id", "key"),
        Index("ix_agent_events_module_kind", "module", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    module: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[str] = mapped_column(Text, default="{}")
    observed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- dashops ---
# Indexes for the dashboard's "what changed" pages (migration 0010): a scan's new findings (first_scan_id),
# its resolved ones (asset_id, fixed_at), the fleet's findings and assets new or fixed in a period, rebuilt tags;
# and the decisions page's suppressed findings by who set them aside (status, suppressed_by).

Index("ix_findings_first_scan_id", StoredFinding.first_scan_id)
Index("ix_findings_asset_fixed_at", StoredFinding.asset_id, StoredFinding.fixed_at)
Index("ix_findings_first_seen", StoredFinding.first_seen)
Index("ix_findings_fixed_at", StoredFinding.fixed_at)
Index("ix_asset_tags_first_seen", AssetTag.first_seen)
Index("ix_assets_first_seen", Asset.first_seen)
Index("ix_findings_status_suppressed_by", StoredFinding.status, StoredFinding.suppressed_by)


# --- scale: agent ingestion as a task ---


class AgentEventBatch(Base):
    """An agent's batch stored as received, before a worker processes it (``service/fleet/queued.py``).

    ``status``: ``queued`` (stored, a task published), ``stored`` (its events are in ``agent_events``,
    the module handlers have not finished), ``done``, or ``dead`` (given up after repeated lost tasks).
    """

    __tablename__ = "agent_event_batches"
    __table_args__ = (Index("ix_agent_event_batches_status_updated", "status", "updated_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    events: Mapped[str] = mapped_column(Text, default="[]")
    accepted: Mapped[str] = mapped_column(Text, default="[]")
    error: Mapped[str] = mapped_column(Text, default="")
    requeued: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AgentEventEffect(Base):
    """An effect of one agent event that must happen once (an alert): claimed in the transaction that does it."""

    __tablename__ = "agent_event_effects"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    effect: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- dashperf ---
# Migration 0012: one index covering the overview's counts and trend (status, severity, kind, first seen,
# fixed) and the findings page's ordering by severity then ID, so PostgreSQL answers both from the index
# alone instead of reading every finding's row (``api/queries.py``: ``_lifecycle_groups``, ``page_findings``).

Index(
    "ix_findings_lifecycle",
    StoredFinding.status,
    StoredFinding.severity,
    StoredFinding.kind,
    StoredFinding.first_seen,
    StoredFinding.fixed_at,
    StoredFinding.id,
)
