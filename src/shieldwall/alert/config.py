"""Alert settings (the ``alerts:`` section of the monitor's YAML), validated with pydantic at the edge."""

from __future__ import annotations

import os
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shieldwall.model import Severity


class ChannelType(StrEnum):
    """Where an alert goes and in which message format."""

    WEBHOOK = "webhook"
    SLACK = "slack"
    TEAMS = "teams"
    EMAIL = "email"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelConfig(_Strict):
    """One alert channel. Webhook-like channels need ``url``; email needs ``smtp_host``, ``sender`` and ``to``."""

    name: str = Field(min_length=1, max_length=128)
    type: ChannelType
    url: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=10.0, gt=0, le=120)
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    username: str = ""
    password_env: str = Field(default="", description="Environment variable holding the SMTP password.")
    sender: str = ""
    to: tuple[str, ...] = ()
    min_severity: Severity | None = None

    @field_validator("min_severity", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _complete(self) -> ChannelConfig:
        if self.type is ChannelType.EMAIL:
            if not (self.smtp_host and self.sender and self.to):
                raise ValueError(f"email channel {self.name!r} needs smtp_host, sender and to")
        elif not self.url.startswith(("http://", "https://")):
            raise ValueError(f"{self.type} channel {self.name!r} needs an http(s) url")
        return self

    def password(self) -> str:
        """The SMTP password from ``password_env`` ('' when unset)."""
        return os.environ.get(self.password_env, "") if self.password_env else ""


class AlertSettings(_Strict):
    """Which findings alert, on which channels, how fast and how persistently."""

    channels: tuple[ChannelConfig, ...] = ()
    min_severity: Severity = Severity.HIGH
    scope: str = Field(default="all", pattern="^(all|golden)$", description="Alert for every asset or golden only.")
    rate_limit_per_minute: int = Field(default=30, ge=1, le=10_000)
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_seconds: float = Field(default=5.0, gt=0, le=3600)
    backoff_max_seconds: float = Field(default=900.0, gt=0, le=86_400)

    @field_validator("min_severity", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _unique_names(self) -> AlertSettings:
        names = [c.name for c in self.channels]
        if len(names) != len(set(names)):
            raise ValueError("alert channel names must be unique")
        return self

    def channel(self, name: str) -> ChannelConfig | None:
        """The channel called ``name``."""
        return next((c for c in self.channels if c.name == name), None)
