"""The contract between the agent core and its capability modules.

A module is started with a context, receives its policy section, does its work
in ``tick`` (called by the core's loop; long work runs in the module's own
thread and only hands events over in ``tick`` or through ``ctx.emit``), reports
its state for the heartbeat, and stops. Modules never talk to the manager
themselves: every observation is an ``AgentEvent`` given to ``ctx.emit``, which
writes it to the agent's spool (durable before ``emit`` returns).

Policy sections are plain JSON-like mappings (the manager stores the policy
as one versioned document: ``{"modules": {"fim": {...}, "logs": {...}}}``).
``apply`` must be atomic: it validates the whole section first and either
switches to it completely or raises ``PolicyError`` and keeps running what
it ran before. ``apply(None)`` means the policy does not enable the module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from shieldwall.agent.events import AgentEvent
from shieldwall.errors import ShieldwallError


class PolicyError(ShieldwallError):
    """A module's policy section is invalid or could not be applied; the previous one stays."""


class ModuleStatus(StrEnum):
    """What a module reports in each heartbeat."""

    DISABLED = "disabled"  # the policy does not enable it
    RUNNING = "running"
    DEGRADED = "degraded"  # running, but something it needs is missing (no auditd, no inotify...)
    ERROR = "error"  # the last apply or tick failed; ``detail`` says why
    UNAVAILABLE = "unavailable"  # cannot run on this host (no nft binary, not root...)


@dataclass(frozen=True, slots=True)
class ModuleState:
    """A module's state for the heartbeat and the manager's host page."""

    status: ModuleStatus
    policy_version: int | None = None
    detail: str = ""
    counters: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModuleContext:
    """What the core gives a module.

    ``root`` is the filesystem root the agent inspects (``/`` on a real host,
    a directory in tests); ``state_dir`` is the module's own private directory
    (created by the core, mode 0700) for baselines, positions and caches;
    ``emit`` hands an event to the spool; ``settings`` are the agent's local
    settings (paths to binaries, feature switches) that are not policy.
    """

    root: Path
    state_dir: Path
    emit: Callable[[AgentEvent], None]
    log: logging.Logger
    settings: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class AgentModule(Protocol):
    """One capability of the agent (inventory, fim, logs, firewall, ips, drift...)."""

    name: str
    """Unique, lower-case; the key of the module's section in the policy."""

    version: str
    """The module's own version, reported in heartbeats."""

    def start(self, ctx: ModuleContext) -> None:
        """Prepare (open state, check prerequisites); no policy applied yet."""

    def apply(self, section: Mapping[str, Any] | None, policy_version: int) -> ModuleState:
        """Validate and switch to ``section`` atomically, or raise ``PolicyError``."""

    def tick(self, now: float) -> None:
        """Do due work (scheduled scans, draining watchers); must return quickly."""

    def state(self) -> ModuleState:
        """The current state for the heartbeat."""

    def stop(self) -> None:
        """Release everything (threads, watches, child processes, namespaces' rules)."""
