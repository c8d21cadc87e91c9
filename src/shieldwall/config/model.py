"""The schema of ``shieldwall.yaml`` (pydantic, at the edge; unknown keys are errors)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shieldwall.model import Severity

SCANNER_NAMES = ("vuln", "secret", "malware", "misconfig", "license")


def _severity(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistrySettings(_Strict):
    """``registry:``: how images are pulled (credentials stay in docker/podman auth files)."""

    insecure: tuple[str, ...] = Field(default=(), description="Registries reached over plain HTTP (host[:port]).")
    mirrors: dict[str, str] = Field(default_factory=dict, description="Registry host -> mirror host.")
    ca_file: str | None = Field(default=None, description="Extra CA bundle for registries with private TLS.")
    auth_file: str | None = Field(default=None, description="A docker config.json to read credentials from.")
    timeout: float = Field(default=30.0, gt=0, le=3600, description="Seconds per registry request.")


class ShieldwallConfig(_Strict):
    """Every setting ``shieldwall scan`` reads; ``shieldwall config show`` prints the effective values."""

    scanners: tuple[str, ...] = Field(default=SCANNER_NAMES, description="Scanner families to run.")
    severity: tuple[Severity, ...] = Field(default=(), description="Severities to report (empty: all).")
    fail_on: Severity | None = Field(default=None, description="Fail on any active finding at or above.")
    policy: str | dict[str, Any] | None = Field(
        default=None, description="A policy mapping, or the path of a policy YAML file."
    )
    exceptions: str | None = Field(default=None, description="Exceptions file (default: .shieldwallignore.yaml).")
    vex: tuple[str, ...] = Field(default=(), description="OpenVEX or CycloneDX VEX documents to apply.")
    baseline: str | None = Field(default=None, description="A previous JSON report: fail only on new findings.")
    outputs: tuple[str, ...] = Field(default=(), description="FORMAT=PATH reports to write on every scan.")
    format: str = Field(default="table", description="Format printed on stdout.")
    cache_dir: str | None = Field(default=None, description="Per-layer analysis cache directory.")
    data_dir: str | None = Field(default=None, description="Advisory database and store directory.")
    allow_incomplete_db: bool = Field(
        default=False,
        description="Go on when the advisory database is missing, stale or lacks an inventoried ecosystem "
        "(the packages concerned are reported as not evaluated).",
    )
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    secrets: dict[str, Any] = Field(default_factory=dict, description="Secret scanner settings.")
    malware: dict[str, Any] = Field(default_factory=dict, description="Malware scanner settings.")
    misconfig: dict[str, Any] = Field(default_factory=dict, description="Misconfiguration scanner settings.")
    license: dict[str, Any] = Field(default_factory=dict, description="Licence scanner settings.")

    @field_validator("severity", mode="before")
    @classmethod
    def _upper_severities(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        return [_severity(v.strip() if isinstance(v, str) else v) for v in value] if isinstance(value, list) else value

    @field_validator("fail_on", mode="before")
    @classmethod
    def _upper_fail_on(cls, value: Any) -> Any:
        return _severity(value)

    @field_validator("scanners", mode="before")
    @classmethod
    def _scanner_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            unknown = sorted({str(v) for v in value} - set(SCANNER_NAMES))
            if unknown:
                raise ValueError(f"unknown scanner(s) {', '.join(unknown)} (choose from {', '.join(SCANNER_NAMES)})")
        return value

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        from shieldwall.report.formats import OutputFormat

        try:
            return OutputFormat(value.lower()).value
        except ValueError:
            raise ValueError(
                f"unknown format {value!r} (choose from {', '.join(f.value for f in OutputFormat)})"
            ) from None
