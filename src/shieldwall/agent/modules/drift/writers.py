"""Who wrote a drifted file: Linux audit watch rules on each running container's root filesystem.

One watch rule (``auditctl -w MERGED -p wa -k KEY-<container>``) per running
container on its overlay2 root as the host sees it (Docker inspect
``GraphDriver.Data.MergedDir``). The watch is on the merged overlay mount, not
on ``UpperDir``: the kernel does not report writes made through the overlay
under a watch on the upper directory (tested, see docs/drift.md), while a
watch on the overlay root reports them with the path as the container sees it.
Each container gets its own key (this run's unique key plus the container's
short ID), so a path is matched only against the writes in its own container.
Rules of containers that stopped are deleted at the next pass, all of them on
``stop``; a killed agent's rules are deleted at the next start (its key prefix
is kept in the state directory). Only writes made after the rule was installed
(the pass that first saw the container) can be attributed; anything else has
no writer, never a guess.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from shieldwall.agent.modules.fim.audit import AuditLogReader, describe

PREFIX = "sw-drift-"
_WRITER_FIELDS = ("pid", "ppid", "exe", "comm", "uid", "user", "cmdline", "audit_time")


def merged_dir(info: Mapping[str, Any]) -> str | None:
    """The container's overlay root on the host, or ``None`` for other storage drivers."""
    driver = info.get("GraphDriver")
    if not isinstance(driver, dict) or driver.get("Name") not in ("overlay2", "overlay"):
        return None
    data = driver.get("Data")
    merged = data.get("MergedDir") if isinstance(data, dict) else None
    if not isinstance(merged, str) or not merged.startswith("/") or "\n" in merged:
        return None
    return merged


class ContainerWriters(AuditLogReader):
    """Per-container audit rules and the latest audited writer of a path in a container."""

    def __init__(self, settings: Mapping[str, Any], state_dir: Path) -> None:
        super().__init__(settings, PREFIX)
        self.key_file = state_dir / "audit.key"
        self.watched: dict[str, str] = {}  # container id -> its rule's key
        self.errors: list[str] = []

    def _auditctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.auditctl, *args], capture_output=True, text=True, timeout=10, check=False)

    def start(self) -> None:
        """Delete the rules a previous (killed) run left, by its recorded key prefix, and record ours."""
        try:
            previous = self.key_file.read_text(encoding="utf-8").strip()
        except OSError:
            previous = ""
        if previous.startswith(PREFIX) and previous != self.key:
            listed = self._auditctl("-l").stdout
            for key in sorted(set(re.findall(r"-k (" + re.escape(previous) + r"-[0-9a-f]+)", listed))):
                self._auditctl("-D", "-k", key)
        self.key_file.write_text(self.key, encoding="utf-8")

    def key_of(self, container_id: str) -> str:
        """The key of one container's rule."""
        return f"{self.key}-{container_id[:12]}"

    def watch(self, container_id: str, info: Mapping[str, Any]) -> None:
        """Install the container's rule once; a failure is recorded in ``errors`` (the pass is DEGRADED)."""
        if container_id in self.watched:
            return
        merged = merged_dir(info)
        if merged is None:
            self.errors.append(f"{container_id[:12]}: no overlay2 root to watch, writers not audited")
            return
        if not os.path.isdir(merged):
            self.errors.append(f"{container_id[:12]}: overlay root {merged} not visible to the agent")
            return
        key = self.key_of(container_id)
        out = self._auditctl("-w", merged, "-p", "wa", "-k", key)
        if out.returncode != 0:
            self.errors.append(f"{container_id[:12]}: auditctl -w failed: {out.stderr.strip()[:200]}")
            return
        self.watched[container_id] = key

    def retain(self, running: Iterable[str]) -> None:
        """Delete the rules of containers that are no longer running."""
        keep = set(running)
        for container_id in [c for c in self.watched if c not in keep]:
            self._auditctl("-D", "-k", self.watched.pop(container_id))

    def remove_all(self) -> None:
        """Delete every rule of this run."""
        self.retain(())

    def writer(self, container_id: str, path: str) -> dict[str, Any] | None:
        """The process behind the latest audited write of ``path`` in the container, or ``None``."""
        key = self.watched.get(container_id)
        if key is None:
            return None
        self._read_new()
        event = self._match(os.path.normpath(path), key)
        if event is None:
            return None
        described = describe(event)
        return {name: described[name] for name in _WRITER_FIELDS}
