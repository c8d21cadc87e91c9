"""The agent's capability modules: an explicit list of built-ins plus entry points.

Each built-in is one package in this folder exposing a ``Module`` class that
implements ``shieldwall.agent.module.AgentModule``. Third-party modules register
under the ``shieldwall.agent_modules`` entry point group.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from shieldwall.agent.module import AgentModule

BUILTIN: tuple[str, ...] = ("inventory", "fim", "logs", "firewall", "ips", "drift", "posture")
"""Built-in module packages, in start order (each adds its name here when it lands)."""

ENTRY_POINT_GROUP = "shieldwall.agent_modules"


def load_modules() -> list[AgentModule]:
    """Instantiate every built-in module and every entry-point module."""
    modules: list[AgentModule] = []
    for name in BUILTIN:
        package = importlib.import_module(f"shieldwall.agent.modules.{name}")
        modules.append(package.Module())
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        modules.append(ep.load()())
    names = [m.name for m in modules]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"agent modules registered twice: {', '.join(sorted(duplicates))}")
    return modules
