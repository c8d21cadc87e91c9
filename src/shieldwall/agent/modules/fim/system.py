"""More than files: systemd units and crontabs as objects whose changes are integrity events.

* **Units**: every unit file under the root's unit directories (always, read
  like any other file: by descriptor, never through a link out of the root),
  whether it is enabled (a link to it in a ``*.wants``/``*.requires``
  directory under ``/etc/systemd/system``) and, when the root is the live
  system and ``systemctl`` answers, whether it is active.
* **Crontabs**: ``/etc/crontab``, ``/etc/cron.d``, ``/etc/cron.{hourly,daily,weekly,monthly}``
  and ``/var/spool/cron`` (with ``crontabs/``): each file's job lines, so an
  event says which jobs appeared or disappeared (secrets masked).

Kinds: ``fim.unit_added|unit_removed|unit_changed`` and ``fim.cron_added|cron_removed|cron_changed``.
Packages, users, ports and kernel modules belong to the inventory module.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.modules.fim.monitor import Counters
from shieldwall.agent.modules.fim.textdiff import mask
from shieldwall.agent.modules.fim.walk import open_dir, split
from shieldwall.model.finding import Severity

UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
UNIT_SUFFIXES = (".service", ".socket", ".timer", ".path", ".mount", ".target", ".automount", ".slice")
CRON_DIRS = (
    "/etc/cron.d",
    "/etc/cron.hourly",
    "/etc/cron.daily",
    "/etc/cron.weekly",
    "/etc/cron.monthly",
    "/var/spool/cron",
    "/var/spool/cron/crontabs",
)
SYSTEM_KINDS: tuple[str, ...] = tuple(
    f"fim.{what}_{how}" for what in ("unit", "cron") for how in ("added", "removed", "changed")
)
_MAX_FILE = 1 << 20
_MAX_OBJECTS = 20_000


def _read(root_fd: int, path: str) -> bytes | None:
    parts = split(path)
    try:
        parent = open_dir(root_fd, parts[:-1])
    except OSError:
        return None
    try:
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent)
    except OSError:
        return None
    finally:
        os.close(parent)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, _MAX_FILE)
    finally:
        os.close(fd)


def _list(root_fd: int, path: str) -> list[tuple[str, bool, str]]:
    """``(name, is_link, link target)`` of a directory's entries (``[]`` when absent)."""
    try:
        fd = open_dir(root_fd, split(path))
    except OSError:
        return []
    out = []
    try:
        with os.scandir(fd) as it:
            for entry in it:
                link = entry.is_symlink()
                out.append((entry.name, link, os.readlink(entry.name, dir_fd=fd) if link else ""))
    finally:
        os.close(fd)
    return sorted(out)[:_MAX_OBJECTS]


def cron_jobs(text: str) -> list[str]:
    """The job lines of a crontab (comments, blank lines and variable assignments left out)."""
    jobs = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        head = stripped.split(None, 1)[0]
        if "=" in head and not head.startswith(("@", "*")) and not head[0].isdigit():
            continue
        jobs.append(stripped)
    return jobs


def collect(root: Path, live: bool, systemctl: str | None) -> dict[str, dict[str, Any]]:
    """Every unit and crontab under ``root``: ``{"unit:NAME": {...}, "cron:/path": {...}}``."""
    objects: dict[str, dict[str, Any]] = {}
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        enabled: set[str] = set()
        for name, link, _ in _list(root_fd, "/etc/systemd/system"):
            if not link and name.endswith((".wants", ".requires")):
                enabled |= {n for n, _, _ in _list(root_fd, f"/etc/systemd/system/{name}")}
        for directory in reversed(UNIT_DIRS):  # earlier directories override later ones, as in systemd
            for name, link, target in _list(root_fd, directory):
                if not name.endswith(UNIT_SUFFIXES):
                    continue
                path = f"{directory}/{name}"
                data = None if link else _read(root_fd, path)
                objects[f"unit:{name}"] = {
                    "file": path,
                    "sha256": hashlib.sha256(data).hexdigest() if data is not None else "",
                    "masked": link and target == "/dev/null",
                    "link": target,
                    "enabled": name in enabled,
                }
        cron_files = ["/etc/crontab"]
        for directory in CRON_DIRS:
            cron_files += [f"{directory}/{n}" for n, link, _ in _list(root_fd, directory) if not n.startswith(".")]
        for path in cron_files:
            data = _read(root_fd, path)
            if data is None:
                continue
            text = mask(data, path) if b"\x00" not in data else ""
            objects[f"cron:{path}"] = {"sha256": hashlib.sha256(data).hexdigest(), "jobs": cron_jobs(text)}
    finally:
        os.close(root_fd)
    if live and systemctl:
        for name, active in _active_units(systemctl).items():
            if f"unit:{name}" in objects:
                objects[f"unit:{name}"]["active"] = active
    return objects


def _active_units(systemctl: str) -> dict[str, str]:
    try:
        out = subprocess.run(
            [systemctl, "list-units", "--all", "--no-legend", "--plain", "--no-pager"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if out.returncode != 0:
        return {}
    states = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            states[parts[0]] = parts[2]
    return states


def diff_objects(old: Mapping[str, dict[str, Any]], new: Mapping[str, dict[str, Any]]) -> list[AgentEvent]:
    """One event per unit or crontab that appeared, disappeared or changed."""
    events = []
    for key in sorted(set(old) | set(new)):
        what, _, name = key.partition(":")
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        how = "added" if before is None else "removed" if after is None else "changed"
        attributes: dict[str, Any] = {"object": what, "name": name, "old": before, "new": after}
        if before is not None and after is not None:
            attributes["changed"] = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        if what == "cron":
            old_jobs = set((before or {}).get("jobs", []))
            new_jobs = set((after or {}).get("jobs", []))
            attributes["jobs_added"] = sorted(new_jobs - old_jobs)
            attributes["jobs_removed"] = sorted(old_jobs - new_jobs)
        severity = Severity.HIGH if what == "cron" or how == "added" else Severity.MEDIUM
        events.append(
            AgentEvent(
                module="fim",
                kind=f"fim.{what}_{how}",
                severity=severity,
                summary=f"{'crontab' if what == 'cron' else 'systemd unit'} {how}: {name}",
                attributes=attributes,
            ).with_key()
        )
    return events


class SystemObjects:
    """Baseline (``system.json`` in the state directory) and checks of units and crontabs."""

    def __init__(
        self, root: Path, state_dir: Path, emit: Callable[[AgentEvent], None], settings: Mapping[str, Any]
    ) -> None:
        self.root = root
        self.path = state_dir / "system.json"
        self.emit = emit
        self.live = os.path.realpath(root) == "/" and settings.get("systemctl") is not False
        self.systemctl = shutil.which("systemctl") if self.live else None
        self.counters = Counters()

    def _load(self) -> dict[str, dict[str, Any]] | None:
        try:
            return dict(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def _save(self, objects: Mapping[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(objects, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)

    def ensure_baseline(self) -> None:
        """Record the current units and crontabs when there is no baseline yet."""
        if self._load() is None:
            self._save(collect(self.root, self.live, self.systemctl))

    def check(self) -> list[AgentEvent]:
        """Emit one event per changed unit or crontab, then move the baseline forward."""
        old = self._load() or {}
        new = collect(self.root, self.live, self.systemctl)
        events = diff_objects(old, new)
        for event in events:
            self.emit(event)
            self.counters.add(event.kind)
        self._save(new)
        return events
