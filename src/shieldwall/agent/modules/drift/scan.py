"""One drift pass over a daemon: every running container's changes -> ``AgentEvent`` values.

Events are keyed by container, path, change and the file's size and mode,
so the same drift seen on the next pass has the same key (the spool and the
manager deduplicate it) and a file changed again is a new event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shieldwall.agent.events import AgentEvent, event_key
from shieldwall.agent.modules.drift.classify import DriftItem, classify, ignored, needs_stat, readonly_paths
from shieldwall.agent.modules.drift.docker import DockerClient, DockerError, FileStat
from shieldwall.agent.modules.drift.policy import DriftPolicy

if TYPE_CHECKING:
    from shieldwall.agent.modules.drift.writers import ContainerWriters

MODULE = "drift"


@dataclass
class PassStats:
    """Counters of one pass (reported in the module state)."""

    containers: int = 0
    changes: int = 0
    drift: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _container_facts(info: dict[str, Any]) -> dict[str, Any]:
    config = _dict(info.get("Config"))
    host = _dict(info.get("HostConfig"))
    labels = _dict(config.get("Labels"))
    mounts = [m for m in info.get("Mounts") or () if isinstance(m, dict)]
    return {
        "container_id": str(info.get("Id", ""))[:128],
        "container_name": str(info.get("Name", "")).lstrip("/")[:256],
        "image": str(config.get("Image", ""))[:512],
        "image_id": str(info.get("Image", ""))[:160],
        "readonly_rootfs": bool(host.get("ReadonlyRootfs")),
        "labels": {str(k)[:256]: str(v)[:1024] for k, v in list(labels.items())[:200]},
        "readonly_mounts": [str(m.get("Destination", "")) for m in mounts if m.get("RW") is False][:100],
    }


def running_from(path: str, processes: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """The container's processes whose program is ``path`` (the drifted executable is running)."""
    out = []
    for pid, command in processes:
        program = command.split(" ", 1)[0]
        if program == path:
            out.append({"pid": pid, "command": command[:300]})
    return out[:10]


def _event(item: DriftItem, facts: dict[str, Any], hostname: str, running: list[dict[str, Any]],
           writer: dict[str, Any] | None = None) -> AgentEvent:  # fmt: skip
    stat = item.stat
    attributes: dict[str, Any] = {
        "host": hostname,
        "container_id": facts["container_id"],
        "container_name": facts["container_name"],
        "image": facts["image"],
        "image_id": facts["image_id"],
        "path": item.path,
        "change": item.change,
        "detail": item.detail,
    }
    if item.package:
        attributes["package"] = item.package
    if running:
        attributes["running"] = running
    if writer is not None:
        attributes["writer"] = writer
    if stat is not None:
        attributes.update({"size": stat.size, "mode": oct(stat.mode), "elf": stat.elf})
    key = event_key(MODULE, item.kind, facts["container_id"], item.path, item.change,
                    stat.size if stat else None, stat.mode if stat else None)  # fmt: skip
    summary = f"{item.kind.split('.', 1)[1]} drift in {facts['container_name'] or facts['container_id'][:12]}: " \
              f"{item.path} {item.change} ({item.detail})"  # fmt: skip
    return AgentEvent(MODULE, item.kind, item.severity, summary[:500], attributes, key=key)


def scan_container(client: DockerClient, container_id: str, policy: DriftPolicy, hostname: str,
                   stats: PassStats, writers: ContainerWriters | None = None) -> list[AgentEvent]:  # fmt: skip
    """The drift events of one container (with the audited writer of each path when ``writers`` is given)."""
    info = client.inspect(container_id)
    if writers is not None:
        writers.watch(container_id, info)
    facts = _container_facts(info)
    readonly = readonly_paths(policy.readonly_paths, facts["labels"])
    changes = client.changes(container_id)
    stats.changes += len(changes)
    if len(changes) > policy.max_changes:
        stats.skipped += len(changes) - policy.max_changes
        changes = changes[: policy.max_changes]
    events: list[AgentEvent] = []
    stat_budget = policy.max_stats
    processes: list[tuple[int, str]] | None = None
    for path, kind in changes:
        if ignored(path, policy.ignore):
            continue
        stat: FileStat | None = None
        if needs_stat(path, kind):
            if stat_budget <= 0:
                stats.skipped += 1
                continue
            stat_budget -= 1
            stat = client.stat(container_id, path)
            if stat is None:
                continue  # gone between the two calls
        item = classify(path, kind, stat, readonly)
        if item is None:
            continue
        running: list[dict[str, Any]] = []
        if item.kind == "drift.executable":
            if processes is None:
                processes = client.processes(container_id)
            running = running_from(path, processes)
        writer = None if writers is None else writers.writer(container_id, path)
        events.append(_event(item, facts, hostname, running, writer))
    return events


def drift_pass(client: DockerClient, policy: DriftPolicy, hostname: str,
               writers: ContainerWriters | None = None) -> tuple[list[AgentEvent], PassStats]:  # fmt: skip
    """Every running container's drift; a container that fails is an error of the pass, not the end of it."""
    stats = PassStats()
    events: list[AgentEvent] = []
    if writers is not None and writers.watched:
        writers.prepare()  # let the audit daemon write what happened up to now
    for container in client.running_containers():
        container_id = str(container.get("Id", ""))
        if not container_id:
            continue
        stats.containers += 1
        stats.running.append(container_id)
        try:
            found = scan_container(client, container_id, policy, hostname, stats, writers)
        except DockerError as exc:
            stats.errors.append(f"{container_id[:12]}: {exc}")
            continue
        stats.drift += len(found)
        events.extend(found)
    return events, stats
