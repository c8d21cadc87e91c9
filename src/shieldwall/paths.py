"""Where Shieldwall keeps data, cache and configuration (XDG via platformdirs).

Each directory can be overridden by an environment variable so that a user,
a test or a CI job points a run at its own space:
``SHIELDWALL_DATA_DIR``, ``SHIELDWALL_CACHE_DIR``, ``SHIELDWALL_CONFIG_DIR``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP = "shieldwall"


def _dir(env_var: str, default: str, environ: Mapping[str, str] | None) -> Path:
    env = os.environ if environ is None else environ
    value = env.get(env_var)
    return Path(value).expanduser() if value else Path(default)


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Persistent data: the advisory database, the store."""
    return _dir("SHIELDWALL_DATA_DIR", platformdirs.user_data_dir(APP), environ)


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Disposable data: per-layer analysis results."""
    return _dir("SHIELDWALL_CACHE_DIR", platformdirs.user_cache_dir(APP), environ)


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """User configuration files."""
    return _dir("SHIELDWALL_CONFIG_DIR", platformdirs.user_config_dir(APP), environ)
