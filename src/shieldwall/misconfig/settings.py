"""The ``misconfig:`` section of ``shieldwall.yaml`` and how it becomes a ``CheckConfig``.

::

    misconfig:
      checks_dirs: [policies/shieldwall]   # custom YAML checks (relative to the config file)
      disabled: [SW-K8S-056, SW-DF-004]    # check IDs not to run
      plugins: true                         # load checks from the shieldwall.checks entry points
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shieldwall.config.sections import SectionModel
from shieldwall.misconfig.registry import CheckConfig


class MisconfigSection(SectionModel):
    """``misconfig:``: custom checks, disabled checks, plugins."""

    checks_dirs: tuple[str, ...] = Field(default=(), description="Directories of custom YAML checks.")
    disabled: tuple[str, ...] = Field(default=(), description="Check IDs that do not run.")
    plugins: bool = Field(default=True, description="Load checks published in the shieldwall.checks entry points.")


def check_config(section: MisconfigSection, base: Path, extra_dirs: tuple[Path, ...] = ()) -> CheckConfig:
    """``CheckConfig`` for a validated section; relative directories are taken from ``base``."""
    dirs = tuple((base / d).resolve() if not Path(d).is_absolute() else Path(d) for d in section.checks_dirs)
    return CheckConfig(
        custom_dirs=dirs + extra_dirs, include_plugins=section.plugins, disabled=frozenset(section.disabled)
    )
