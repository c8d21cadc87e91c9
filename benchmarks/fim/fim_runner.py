"""One FIM operation in its own process (so its peak RSS is measured alone): ``baseline`` or ``check``.

Usage: fim_runner.py baseline|check ROOT STATE [--diff]
Prints one JSON line: seconds, changed paths by group, baseline size.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext
from shieldwall.agent.modules.fim import Module


def main() -> None:
    action, root, state = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    diff = "--diff" in sys.argv
    events: list[AgentEvent] = []
    module = Module()
    module.start(ModuleContext(root, state, events.append, logging.getLogger("bench")))
    policy = {
        "realtime": False,
        "audit": False,
        "system": False,
        "rules": [{"path": "/", "attributes": "normal", "diff": diff}],
    }
    started = time.perf_counter()
    state_out = module.apply(policy, 1)  # builds the baseline when there is none
    if action == "check":
        started = time.perf_counter()
        module.check_now()
    seconds = time.perf_counter() - started
    groups: dict[str, list[str]] = {"added": [], "removed": [], "changed": []}
    for event in events:
        group = {"fim.added": "added", "fim.deleted": "removed"}.get(event.kind, "changed")
        groups[group].append(str(root) + str(event.attributes["path"]).rstrip("/"))
    module.stop()
    print(json.dumps({"seconds": seconds, "paths": state_out.counters.get("baseline_paths", 0), "groups": groups}))


if __name__ == "__main__":
    main()
