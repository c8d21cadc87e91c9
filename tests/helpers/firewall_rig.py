"""A firewall module started against a test namespace, collecting its events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers.netns import NetPair
from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext
from shieldwall.agent.modules.firewall import FirewallModule


class ModuleRig:
    """A started firewall module whose nft runs in the host namespace, and the events it emitted."""

    def __init__(self, pair: NetPair, state_dir: Path) -> None:
        self.pair = pair
        self.events: list[AgentEvent] = []
        self.confirm: Callable[[], bool] | None = lambda: True
        self.settings: dict[str, Any] = {
            "netns": pair.host,
            "firewall_confirm": self._confirm,
            "reputation_dir": str(state_dir),
        }
        self.module = FirewallModule()
        ctx = ModuleContext(
            root=state_dir,
            state_dir=state_dir,
            emit=self.events.append,
            log=logging.getLogger("fw"),
            settings=self.settings,
        )
        self.module.start(ctx)

    def _confirm(self) -> bool:
        return self.confirm() if self.confirm is not None else False

    def kinds(self) -> list[str]:
        """The kinds of the events emitted so far."""
        return [e.kind for e in self.events]
