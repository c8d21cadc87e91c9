"""The work a worker can do: a name -> handler table (built-ins listed here, plugins by entry point).

Each handler is a plain service function ``(TaskContext, payload) -> result``.
Adding a kind of work is one line here; third parties register handlers in the
``shieldwall.tasks`` entry-point group (the entry point's name is the task name).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import entry_points

from shieldwall.service.tasks import api_scan, ingest, rematch, scan_image, scan_layer, sweep
from shieldwall.service.tasks.context import Handler, TaskContext

log = logging.getLogger("shieldwall.tasks")

BUILTIN: Mapping[str, Handler] = {
    "scan.image": scan_image.run,
    "api.scan": api_scan.run,
    "rematch": rematch.run,
    "registry.sweep": sweep.run,
    "agent.ingest": ingest.run,
    "scan.layer": scan_layer.run,
}


def load_tasks(include_plugins: bool = True) -> dict[str, Handler]:
    """Built-in handlers plus those of the ``shieldwall.tasks`` entry-point group (built-ins win)."""
    tasks: dict[str, Handler] = {}
    if include_plugins:
        for entry in entry_points(group="shieldwall.tasks"):
            try:
                tasks[entry.name] = entry.load()
            except Exception as exc:  # a broken plugin is reported, never fatal for the built-ins
                log.warning("task plugin %s failed to load: %s", entry.name, exc)
    tasks.update(BUILTIN)
    return tasks


__all__ = ["BUILTIN", "Handler", "TaskContext", "load_tasks"]
