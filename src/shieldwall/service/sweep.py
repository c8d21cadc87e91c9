"""A registry-wide sweep: every repository of the catalog, every tag, each digest scanned once.

``sweep_registry`` walks ``/v2/_catalog`` and each repository's tags list
(both paginated), resolves every tag to its manifest digest and groups the
tags by (repository, digest). A digest the store already knows only gets its
new tags recorded; every other digest becomes one ``scan.image`` task with
the request ``initial``, so that sweeping twice, or two sweeps at once,
never scans a digest twice (the task checks again, and the recording is
idempotent per digest and request). The tasks go to the workers when a
broker is configured, or run here one after the other when not.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from shieldwall.errors import ShieldwallError
from shieldwall.service.dispatch import TaskDispatch
from shieldwall.service.monitor import poll_registry, registry_client
from shieldwall.service.monitor_config import WatchedRegistry
from shieldwall.store import Store
from shieldwall.store.records import TagRef, find_known_image, record_tag

log = logging.getLogger("shieldwall.sweep")
ACTOR = "shieldwall-sweep"


@dataclass(slots=True)
class SweepReport:
    """What a sweep saw and scheduled."""

    registry: str
    tags: int = 0
    digests: int = 0
    known: int = 0
    tagged: int = 0
    scheduled: int = 0
    errors: list[str] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON data."""
        return {
            "registry": self.registry,
            "tags": self.tags,
            "digests": self.digests,
            "known": self.known,
            "tagged": self.tagged,
            "scheduled": self.scheduled,
            "errors": self.errors,
        }


def sweep_registry(
    store: Store,
    watched: WatchedRegistry,
    dispatch: TaskDispatch,
    *,
    trigger: str = "sweep",
    monitor: bool = False,
) -> SweepReport:
    """Enumerate ``watched`` and schedule a scan of every digest the store has not scanned."""
    report = SweepReport(watched.label)
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    with registry_client(watched) as client:
        for repository, tag, digest in poll_registry(client, watched):
            report.tags += 1
            grouped[(f"{watched.url}/{repository}", digest)].append(tag)
    report.digests = len({digest for _, digest in grouped})
    for (repository, digest), tags in sorted(grouped.items()):
        try:
            if _only_tags(store, repository, digest, tags, trigger, report):
                continue
            payload = {
                "repository": repository,
                "digest": digest,
                "tags": sorted(tags),
                "trigger": trigger,
                "environment": watched.environment,
                "request": "initial",
                "monitor": monitor,
            }
            report.task_ids.append(dispatch.submit("scan.image", payload, f"initial:{digest}"))
            report.scheduled += 1
        except ShieldwallError as exc:
            report.errors.append(f"{repository}@{digest}: {exc}")
            log.warning("sweep: %s@%s: %s", repository, digest, exc)
    return report


def _only_tags(store: Store, repository: str, digest: str, tags: list[str], trigger: str, report: SweepReport) -> bool:
    """Record the new tags of a known digest; False when the digest was never scanned."""
    for tag in tags:
        with store.session() as session:
            known = find_known_image(session, repository, tag, digest)
        if known is None:
            return False
        if known[1]:
            report.known += 1
        else:
            record_tag(store, known[0], TagRef(repository, tag, digest), trigger=trigger, actor=ACTOR)
            report.tagged += 1
    return True
