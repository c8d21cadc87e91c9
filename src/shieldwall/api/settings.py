"""What ``shieldwall serve`` is told: limits, the advisory database, who may be scanned.

Every value has a default and an environment variable (``SHIELDWALL_API_*``),
so a container can be configured without a file; ``ApiSettings.from_environ``
reads them once and the app receives the value explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shieldwall.errors import ConfigError

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024
DEFAULT_RATE_PER_MINUTE = 600.0
DEFAULT_BURST = 120
DEFAULT_WORKERS = 2


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}: not a number: {text!r}") from None
    if value < 0:
        raise ConfigError(f"{name}: must not be negative")
    return value


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in env.get(name, "").split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Limits and wiring of one API server (passed explicitly; no global settings)."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    rate_per_minute: float = DEFAULT_RATE_PER_MINUTE
    burst: int = DEFAULT_BURST
    workers: int = DEFAULT_WORKERS
    data_dir: Path | None = None
    cache_dir: Path | None = None
    osv_base_url: str = ""
    allowed_registries: tuple[str, ...] = ()
    secure_cookies: bool = False
    session_hours: float = 12.0
    upload_dir: Path | None = None
    webhook_timeout: float = 10.0
    webhook_attempts: int = 3
    scan_cache: bool = True
    allow_incomplete_db: bool = False  # scan jobs go on without a complete advisory database (packages not evaluated)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        """Read ``SHIELDWALL_API_*`` variables (see docs/api.md for the list)."""
        env = os.environ if environ is None else environ
        return cls(
            max_body_bytes=int(_number(env, "SHIELDWALL_API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
            max_upload_bytes=int(_number(env, "SHIELDWALL_API_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)),
            rate_per_minute=_number(env, "SHIELDWALL_API_RATE_PER_MINUTE", DEFAULT_RATE_PER_MINUTE),
            burst=max(1, int(_number(env, "SHIELDWALL_API_BURST", DEFAULT_BURST))),
            workers=max(1, int(_number(env, "SHIELDWALL_API_WORKERS", DEFAULT_WORKERS))),
            osv_base_url=env.get("SHIELDWALL_OSV_URL", "").strip(),
            allowed_registries=_list(env, "SHIELDWALL_API_ALLOWED_REGISTRIES"),
            secure_cookies=env.get("SHIELDWALL_API_SECURE_COOKIES", "").strip().lower() in ("1", "true", "yes"),
            allow_incomplete_db=env.get("SHIELDWALL_ALLOW_INCOMPLETE_DB", "").strip().lower() in ("1", "true", "yes"),
        )

    @property
    def vulndb_path(self) -> Path:
        """The advisory database scans read and updates write: ``<data dir>/vulndb/vulndb.sqlite``."""
        from shieldwall.vulndb.store import default_db_path

        return default_db_path({"SHIELDWALL_DATA_DIR": str(self.data_dir)} if self.data_dir else None)

    def registry_allowed(self, registry: str) -> bool:
        """True when scans of images on ``registry`` (host[:port]) may be submitted (no list: all)."""
        return not self.allowed_registries or registry.lower() in self.allowed_registries
