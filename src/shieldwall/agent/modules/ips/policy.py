"""The ``ips`` policy section: what the manager asks the agent's Suricata to do.

Validated as a whole with pydantic (it is JSON from the manager); anything
unknown or out of range is a ``PolicyError`` and the running configuration
stays.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shieldwall.agent.module import PolicyError

MAX_CUSTOM_RULES = 10_000
MAX_SIDS = 100_000


class Mode(StrEnum):
    """Detect = IDS (alert only); Prevent = IPS (inline, matching packets dropped)."""

    DETECT = "detect"
    PREVENT = "prevent"


class RuleMode(StrEnum):
    """A per-rule override of the policy's mode."""

    DETECT = "detect"
    PREVENT = "prevent"
    DISABLED = "disabled"


class Failure(StrEnum):
    """What happens to queued traffic while Suricata is down (NFQUEUE placement)."""

    OPEN = "open"  # iptables ``--queue-bypass``: packets pass uninspected
    CLOSED = "closed"  # no bypass: packets are dropped until Suricata is back


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EtOpenSelection(_Strict):
    """A subset of the ET Open ruleset: whole categories and/or single SIDs."""

    categories: tuple[str, ...] = ()
    sids: tuple[int, ...] = Field(default=(), max_length=MAX_SIDS)
    include_disabled: bool = False
    """Also enable rules ET ships commented out when they are selected by SID."""

    @field_validator("categories")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not name or not all(c.isalnum() or c in "_-" for c in name) or len(name) > 64:
                raise ValueError(f"bad category name {name!r}")
        return value


DEFAULT_LIST_CATEGORY = "malicious"
ListSeverity = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]
DEFAULT_LIST_SEVERITY: ListSeverity = "HIGH"
MAX_REPUTATION_LISTS = 64


class ReputationList(_Strict):
    """One domain/URL list file, the category its entries belong to and how severe a hit is.

    Same shape as the host firewall's IP lists (``category`` default ``malicious``,
    ``severity`` default ``HIGH``). The category is a plain token: it is written
    into the generated rules' ``msg`` and ``metadata``.
    """

    name: str = Field(min_length=1, max_length=255)
    """A file name in the agent's reputation directory (settings ``reputation_dir``)."""
    category: str = Field(default=DEFAULT_LIST_CATEGORY, pattern=r"^[a-z0-9][a-z0-9_-]{0,59}$")
    severity: ListSeverity = DEFAULT_LIST_SEVERITY


class ReputationPolicy(_Strict):
    """Domain/URL reputation enforced through Suricata rules."""

    mode: Mode = Mode.DETECT
    lists: tuple[ReputationList, ...] = Field(default=(), max_length=MAX_REPUTATION_LISTS)
    """List files: a plain name (default category and severity) or ``{name, category, severity}``."""
    entries: tuple[str, ...] = Field(default=(), max_length=200_000)
    """Domains or URLs given inline by the manager."""
    allow: tuple[str, ...] = Field(default=(), max_length=100_000)
    """Domains (and their subdomains) or URLs that are never blocked."""

    @field_validator("lists", mode="before")
    @classmethod
    def _plain_names(cls, value: Any) -> Any:
        """A plain list name (the original form) is ``{"name": NAME}`` with the defaults."""
        if isinstance(value, (list, tuple)):
            return tuple({"name": item} if isinstance(item, str) else item for item in value)
        return value


class InlinePolicy(_Strict):
    """Where the inline path is: the NFQUEUE number and the iptables chains that feed it."""

    queue: int = Field(default=0, ge=0, le=65535)
    chains: tuple[str, ...] = ("FORWARD",)

    @field_validator("chains")
    @classmethod
    def _chains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        allowed = {"FORWARD", "INPUT", "OUTPUT"}
        bad = [c for c in value if c not in allowed]
        if bad or not value:
            raise ValueError(f"chains must be a non-empty subset of {sorted(allowed)}")
        return value


class IpsPolicy(_Strict):
    """The whole ``ips`` section."""

    mode: Mode = Mode.DETECT
    failure: Failure = Failure.OPEN
    et_open: EtOpenSelection = EtOpenSelection()
    shieldwall_pack: bool = True
    virtual_patches: tuple[int, ...] = Field(default=(), max_length=MAX_SIDS)
    """SIDs (ET Open or Shieldwall pack) assigned by the virtual-patching recommender."""
    rule_modes: dict[str, RuleMode] = Field(default_factory=dict)
    """Per-rule overrides keyed by SID (as a string: JSON object keys)."""
    custom_rules: tuple[str, ...] = Field(default=(), max_length=MAX_CUSTOM_RULES)
    reputation: ReputationPolicy | None = None
    home_net: tuple[str, ...] = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
    inline: InlinePolicy = InlinePolicy()

    @field_validator("rule_modes")
    @classmethod
    def _sid_keys(cls, value: dict[str, RuleMode]) -> dict[str, RuleMode]:
        for key in value:
            if not key.isdigit() or len(key) > 10:
                raise ValueError(f"rule_modes key {key!r} is not a SID")
        return value

    @field_validator("home_net")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("home_net must not be empty")
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @field_validator("custom_rules")
    @classmethod
    def _one_line(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for rule in value:
            if "\n" in rule or "\r" in rule or len(rule) > 64 * 1024:
                raise ValueError("a custom rule must be one line of at most 64 KiB")
        return value

    def rule_mode(self, sid: int) -> RuleMode | None:
        """The per-rule override for ``sid``, if any."""
        return self.rule_modes.get(str(sid))


def parse_policy(section: Mapping[str, Any]) -> IpsPolicy:
    """Validate a policy section or raise ``PolicyError`` naming what is wrong."""
    try:
        return IpsPolicy.model_validate(dict(section))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "ips"
        raise PolicyError(f"ips policy: {where}: {first['msg']} ({exc.error_count()} error(s))") from exc
