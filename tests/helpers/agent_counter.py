"""A test agent module: emits numbered events at a policy-set pace and logs each key after emit() returned.

Policy section: ``{"per_tick": N, "total": M}``; ``{"refuse": true}`` is refused
with ``PolicyError``. The log (``emitted.log`` in the module's state dir,
fsynced line by line) is what the exactly-once tests compare the manager's
keys with. Restarted, it continues after the last logged number; the event
being emitted when the agent was killed is emitted again with the SAME key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext, ModuleState, ModuleStatus, PolicyError
from shieldwall.model import Severity


def counter_key(agent_tag: str, n: int) -> str:
    """The key of event ``n``."""
    return f"counter-{agent_tag}-{n:08d}"


class Module:
    """See the module docstring."""

    name = "counter"
    version = "1"

    def __init__(self) -> None:
        self.ctx: ModuleContext | None = None
        self.per_tick = 0
        self.total = 0
        self.next = 0
        self.revision: int | None = None
        self.tag = ""

    def start(self, ctx: ModuleContext) -> None:
        self.ctx = ctx
        self.tag = str(ctx.settings.get("tag", "x"))
        self.log_path = ctx.state_dir / "emitted.log"
        if self.log_path.exists():
            lines = [ln for ln in self.log_path.read_text().splitlines() if ln.startswith("counter-")]
            self.next = len(lines)
        self._log = open(self.log_path, "a")  # noqa: SIM115 - kept open for the module's life

    def apply(self, section: Mapping[str, Any] | None, policy_version: int) -> ModuleState:
        if section is None:
            self.per_tick, self.total, self.revision = 0, 0, policy_version
            return ModuleState(ModuleStatus.DISABLED, policy_version)
        if section.get("refuse"):
            raise PolicyError("counter refuses this section")
        per_tick, total = section.get("per_tick"), section.get("total")
        if not isinstance(per_tick, int) or not isinstance(total, int):
            raise PolicyError("per_tick and total must be integers")
        self.per_tick, self.total, self.revision = per_tick, total, policy_version
        return ModuleState(ModuleStatus.RUNNING, policy_version)

    def tick(self, now: float) -> None:
        assert self.ctx is not None
        for _ in range(self.per_tick):
            if self.next >= self.total:
                return
            n = self.next
            severity = (Severity.LOW, Severity.MEDIUM, Severity.HIGH)[n % 3]
            self.ctx.emit(
                AgentEvent("counter", "counter.tick", severity, f"event {n}", {"n": n}, key=counter_key(self.tag, n))
            )
            self._log.write(counter_key(self.tag, n) + "\n")
            self._log.flush()
            os.fsync(self._log.fileno())
            self.next += 1

    def state(self) -> ModuleState:
        status = ModuleStatus.RUNNING if self.total else ModuleStatus.DISABLED
        return ModuleState(status, self.revision, counters={"emitted": self.next})

    def stop(self) -> None:
        self._log.close()
