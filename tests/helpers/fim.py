"""FIM test helpers: a module started on a temporary root with its emitted events in a list."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext
from shieldwall.agent.modules.fim import Module


@dataclass
class Harness:
    """A started module, its root, and what it emitted."""

    root: Path
    state: Path
    module: Module
    events: list[AgentEvent] = field(default_factory=list)

    def apply(self, section: Mapping[str, Any], version: int = 1) -> Any:
        return self.module.apply(section, version)

    def kinds(self) -> dict[str, str]:
        """path -> kind of every emitted file event."""
        return {str(e.attributes["path"]): e.kind for e in self.events if "path" in e.attributes}

    def take(self) -> list[AgentEvent]:
        out, self.events[:] = list(self.events), []
        return out


@contextmanager
def started(tmp_path: Path, settings: Mapping[str, Any] | None = None) -> Iterator[Harness]:
    """A started FIM module on ``tmp_path/root`` (state in ``tmp_path/state``), stopped on exit."""
    root = tmp_path / "root"
    state = tmp_path / "state"
    root.mkdir()
    state.mkdir(mode=0o700)
    events: list[AgentEvent] = []
    module = Module()
    module.start(
        ModuleContext(
            root=root,
            state_dir=state,
            emit=events.append,
            log=logging.getLogger("test.fim"),
            settings=dict(settings or {"audit": False}),
        )
    )
    h = Harness(root, state, module, events)
    try:
        yield h
    finally:
        module.stop()


def write(root: Path, rel: str, text: str, mode: int = 0o644) -> Path:
    """Create ``root/rel`` with ``text``."""
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path
