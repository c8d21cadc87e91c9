"""The ``logs`` section of an agent policy, validated as a whole before it is applied."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shieldwall.agent.module import PolicyError


class FileSource(BaseModel):
    """A log file to follow."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["file"] = "file"
    path: str
    start_at: Literal["end", "beginning"] = "end"
    location: str = ""

    @field_validator("path")
    @classmethod
    def _inside_root(cls, value: str) -> str:
        if not value.startswith("/") or ".." in value.split("/") or "\0" in value:
            raise ValueError("file source paths are absolute, without '..' (resolved inside the agent's root)")
        return value


class JournalSource(BaseModel):
    """The systemd journal (through ``journalctl -o json --follow``)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["journal"] = "journal"
    units: list[str] = Field(default_factory=list)


class DockerSource(BaseModel):
    """Container logs through the Docker Engine API on its unix socket."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["docker"] = "docker"
    socket: str = "/var/run/docker.sock"


class ActiveResponse(BaseModel):
    """Which alerts block their source address in the host firewall, and for how long."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    min_level: int = Field(default=10, ge=0, le=15)
    rule_ids: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    ttl_seconds: int = Field(default=600, ge=1, le=30 * 86400)
    allow: list[str] = Field(default_factory=list)

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value


class Fail2banFilterRef(BaseModel):
    """A fail2ban filter file and its options (``mode`` ...)."""

    model_config = ConfigDict(extra="forbid")
    path: str
    options: dict[str, str] = Field(default_factory=dict)
    level: int = Field(default=5, ge=0, le=15)


class LogsPolicy(BaseModel):
    """Sources, rule sets, the alert threshold and active response."""

    model_config = ConfigDict(extra="forbid")
    sources: list[FileSource | JournalSource | DockerSource] = Field(default_factory=list)
    wazuh_rulesets: list[str] = Field(default_factory=list)
    yaml_rules: list[str] = Field(default_factory=list)
    sigma_rules: list[str] = Field(default_factory=list)
    fail2ban_filters: list[Fail2banFilterRef] = Field(default_factory=list)
    builtin_rules: bool = True
    min_level: int = Field(default=3, ge=0, le=15)
    active_response: ActiveResponse = Field(default_factory=ActiveResponse)
    max_lines_per_tick: int = Field(default=5000, ge=1, le=1_000_000)


def parse_policy(section: Mapping[str, Any]) -> LogsPolicy:
    """Validate ``section`` or raise ``PolicyError`` with every problem."""
    try:
        return LogsPolicy.model_validate(dict(section))
    except (ValidationError, ValueError) as exc:
        raise PolicyError(f"logs policy: {exc}") from exc
