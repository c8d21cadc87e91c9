"""The monitor's configuration: a YAML file (``--config``) or the copy the store keeps from the last run.

Example::

    interval: 60s                 # registry polling
    registries:
      - name: local
        url: 127.0.0.1:5000       # registry name as in image references
        repositories: ["team/*"]  # globs over the catalog (default: all)
        tags: ["*"]
        environment: staging
    golden:
      labels: {io.shieldwall.golden: "true"}
      tag_patterns: ["base/*:stable"]
    rescan_interval: 24h          # 0 disables scheduled rescans
    vulndb_check_interval: 60s
    webhook:
      listen: 127.0.0.1:8095      # POST /notifications[/<registry name>]
      token_env: SHIELDWALL_WEBHOOK_TOKEN
    alerts:
      min_severity: HIGH
      channels:
        - {name: ops, type: slack, url: https://hooks.slack.example/...}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shieldwall.alert.config import AlertSettings
from shieldwall.errors import ConfigError

MAX_CONFIG_BYTES = 1024 * 1024
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Seconds from ``30``, ``"30s"``, ``"5m"``, ``"24h"``, ``"7d"``, ``"500ms"``."""
    if isinstance(value, bool):
        raise ValueError("a duration, not a boolean")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use 30s, 5m, 24h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WatchedRegistry(_Strict):
    """One registry the monitor polls and accepts notifications for."""

    name: str = ""
    url: str = Field(min_length=1, description="Registry name as in image references (host[:port]).")
    repositories: tuple[str, ...] = ("*",)
    tags: tuple[str, ...] = ("*",)
    environment: str = ""
    insecure: bool = False
    anonymous: bool = False
    catalog: bool = True
    max_tags_per_repository: int = Field(default=500, ge=1, le=100_000)

    @property
    def label(self) -> str:
        """The name, or the URL when unnamed."""
        return self.name or self.url


class GoldenConfig(_Strict):
    """Rules that make an image golden without the store flag."""

    labels: dict[str, str] = Field(default_factory=lambda: {"io.shieldwall.golden": "true"})
    tag_patterns: tuple[str, ...] = ()


class WebhookConfig(_Strict):
    """The push-notification endpoint."""

    listen: str = "127.0.0.1:8095"
    token_env: str = ""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)


class MonitorConfig(_Strict):
    """Everything ``shieldwall monitor`` does, and how often."""

    interval: float = 60.0
    registries: tuple[WatchedRegistry, ...] = ()
    golden: GoldenConfig = Field(default_factory=GoldenConfig)
    rescan_interval: float = 0.0
    vulndb_check_interval: float = 60.0
    vulndb_path: str | None = None
    webhook: WebhookConfig | None = None
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    scanners: tuple[str, ...] = ("vuln", "secret", "malware", "misconfig", "license")
    allow_incomplete_db: bool = False  # go on without a complete advisory database (packages not evaluated)
    alert_dispatch_interval: float = 2.0

    @field_validator("interval", "rescan_interval", "vulndb_check_interval", "alert_dispatch_interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("interval", "vulndb_check_interval", "alert_dispatch_interval")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be above zero")
        return value

    def registry(self, name_or_host: str) -> WatchedRegistry | None:
        """The configured registry with this name or URL."""
        lowered = name_or_host.lower()
        return next((r for r in self.registries if lowered in (r.name.lower(), r.url.lower())), None)


def parse_config(data: Any, origin: str) -> MonitorConfig:
    """Validate a mapping; errors name ``origin`` and the key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the monitor configuration must be a mapping")
    try:
        return MonitorConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()[:10]
        )
        raise ConfigError(f"{origin}: {problems}") from None


def load_config(path: Path) -> tuple[MonitorConfig, dict[str, Any]]:
    """Read and validate a YAML file; returns the config and the raw mapping (kept in the store)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    return parse_config(data, str(path)), data if isinstance(data, dict) else {}
