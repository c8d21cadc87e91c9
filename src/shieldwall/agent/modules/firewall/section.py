"""The module's whole policy section: the firewall policy plus reputation, blocks, guard and drift settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shieldwall.firewall.schema import FirewallPolicySection, StrictModel

MAX_REPUTATION_LISTS = 32
MAX_ALLOW = 10_000


class ReputationListIn(StrictModel):
    """One IP reputation list file and how to enforce it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_]{0,29}$")
    path: str = Field(min_length=1, max_length=4096)
    category: str = Field(default="malicious", max_length=60)
    severity: Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"] = "HIGH"
    action: Literal["drop", "log"] = "drop"


class ReputationIn(StrictModel):
    """IP reputation: lists, the allow-list that overrides them, and how often files are checked."""

    lists: list[ReputationListIn] = Field(default_factory=list, max_length=MAX_REPUTATION_LISTS)
    allow: list[str] = Field(default_factory=list, max_length=MAX_ALLOW)
    check_seconds: float = Field(default=60.0, ge=0.1, le=86_400)


class BlockIn(StrictModel):
    """Active-response blocks: addresses never blocked and the longest block."""

    allow: list[str] = Field(default_factory=list, max_length=MAX_ALLOW)
    max_ttl_seconds: int = Field(default=86_400, ge=1, le=30 * 86_400)


class GuardIn(StrictModel):
    """Apply with rollback: seconds to get a confirmation; ``required`` refuses to apply without a callback."""

    confirm_deadline_seconds: float = Field(default=30.0, ge=0.5, le=600)
    required: bool = False


class FirewallSection(FirewallPolicySection):
    """``modules.firewall`` of an agent policy."""

    reputation: ReputationIn = ReputationIn()
    block: BlockIn = BlockIn()
    guard: GuardIn = GuardIn()
    drift_check_seconds: float = Field(default=30.0, ge=0.1, le=86_400)
    drift_full_check_seconds: float = Field(default=300.0, ge=0.1, le=86_400)
    report_seconds: float = Field(default=10.0, ge=0.1, le=86_400)
    counters_seconds: float = Field(default=60.0, ge=0.1, le=86_400)
