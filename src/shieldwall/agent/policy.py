"""Applying a policy document to the loaded modules atomically, with rollback.

Each module's ``apply`` is atomic for its own section; across modules the
core makes the switch atomic: the modules are switched one by one, and when
one refuses (``PolicyError``, or any exception, which counts as a refusal),
the modules already switched are given their previous section back, so the
agent keeps running the previous policy everywhere. The applied document is
cached in the state directory so a restarted agent runs its last policy even
while the manager is unreachable.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shieldwall.agent.module import AgentModule, ModuleState, ModuleStatus, PolicyError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AppliedPolicy:
    """A document and the revision it came with."""

    revision: int
    document: Mapping[str, Any]

    def section(self, module: str) -> Mapping[str, Any] | None:
        """The module's section (None: the policy does not enable it)."""
        modules = self.document.get("modules") or {}
        value = modules.get(module) if isinstance(modules, Mapping) else None
        return value if isinstance(value, Mapping) else None


EMPTY = AppliedPolicy(0, {"modules": {}})


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """What applying a policy did: ``ok`` when every module switched; otherwise who refused and why."""

    ok: bool
    revision: int
    states: Mapping[str, ModuleState] = field(default_factory=dict)
    failed_module: str = ""
    error: str = ""
    rollback_errors: Mapping[str, str] = field(default_factory=dict)


def apply_policy(modules: Sequence[AgentModule], new: AppliedPolicy, previous: AppliedPolicy) -> ApplyOutcome:
    """Switch every module to ``new``; on a refusal, give the switched ones ``previous`` back."""
    switched: list[AgentModule] = []
    states: dict[str, ModuleState] = {}
    for module in modules:
        try:
            states[module.name] = module.apply(new.section(module.name), new.revision)
        except Exception as exc:  # PolicyError or a module bug: both refuse the whole policy
            reason = str(exc) if isinstance(exc, PolicyError) else f"{type(exc).__name__}: {exc}"
            log.warning("policy revision %s refused by %s: %s", new.revision, module.name, reason)
            rollback_errors: dict[str, str] = {}
            for done in reversed(switched):
                try:
                    states[done.name] = done.apply(previous.section(done.name), previous.revision)
                except Exception as again:  # cannot go back: visible, never silent
                    rollback_errors[done.name] = f"{type(again).__name__}: {again}"
                    states[done.name] = ModuleState(ModuleStatus.ERROR, detail=f"rollback failed: {again}")
            return ApplyOutcome(False, previous.revision, states, module.name, reason, rollback_errors)
        switched.append(module)
    return ApplyOutcome(True, new.revision, states)


def save_policy(path: Path, policy: AppliedPolicy) -> None:
    """Cache the applied policy (atomically replaced)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"revision": policy.revision, "document": policy.document}, sort_keys=True))
    os.replace(tmp, path)


def load_policy(path: Path) -> AppliedPolicy:
    """The cached policy, or the empty one."""
    try:
        data = json.loads(path.read_text())
        return AppliedPolicy(int(data["revision"]), dict(data["document"]))
    except (OSError, ValueError, KeyError, TypeError):
        return EMPTY
