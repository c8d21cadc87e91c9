"""The ``inventory`` module: what is installed and running on the host, and what changed.

Every ``interval_seconds`` (policy) it collects, in its own thread: OS
packages (the existing catalogers on the live root), language packages in
the configured application paths, processes, listening sockets with their
processes, users, groups, sudoers, SUID/SGID files, loaded kernel modules and
running containers with their image digests. Changes against the previous
inventory are events (``inventory.package_changed``, ``inventory.port_opened``,
``inventory.setid_added``...); the full inventory is published to the manager
only when its hash changed (processes are not part of the hash: PIDs change
all the time). The manager matches its packages like an image's.

Policy section::

    {"interval_seconds": 3600, "app_paths": ["/srv/app"], "setid_paths": ["/usr", "/bin", ...],
     "processes": true, "containers": true}

Local settings: ``live_host`` (collect processes and sockets; default: the
root is ``/``), ``docker_socket`` (default ``<root>/var/run/docker.sock``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from shieldwall.agent.module import ModuleContext, ModuleState, ModuleStatus, PolicyError
from shieldwall.agent.modules.inventory import host
from shieldwall.agent.modules.inventory.diff import diff_inventories
from shieldwall.agent.modules.inventory.packages import catalogue, os_wire, package_wire

DEFAULT_INTERVAL = 3600.0
MIN_INTERVAL = 5.0
DEFAULT_SETID_PATHS = ("/bin", "/sbin", "/usr", "/opt", "/home", "/tmp", "/var/tmp", "/srv", "/etc")  # noqa: S108 - paths to inspect, not to write
HASHED = ("os", "packages", "listening", "users", "groups", "sudoers", "suid", "kernel_modules", "containers")
BASELINE_FILE = "inventory.json"


class InventoryPolicy:
    """A validated policy section."""

    def __init__(self, section: Mapping[str, Any]) -> None:
        allowed = {"interval_seconds", "app_paths", "setid_paths", "processes", "containers"}
        unknown = set(section) - allowed
        if unknown:
            raise PolicyError(f"inventory: unknown settings {', '.join(sorted(unknown))}")
        interval = section.get("interval_seconds", DEFAULT_INTERVAL)
        if not isinstance(interval, int | float) or isinstance(interval, bool) or interval < MIN_INTERVAL:
            raise PolicyError(f"inventory: interval_seconds must be a number >= {MIN_INTERVAL}")
        self.interval = float(interval)
        self.app_paths = _paths(section.get("app_paths", []), "app_paths")
        self.setid_paths = _paths(section.get("setid_paths", list(DEFAULT_SETID_PATHS)), "setid_paths")
        self.processes = _flag(section.get("processes", True), "processes")
        self.containers = _flag(section.get("containers", True), "containers")


def _paths(value: Any, name: str) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or len(value) > 64
        or not all(isinstance(v, str) and v.startswith("/") for v in value)
    ):
        raise PolicyError(f"inventory: {name} must be a list of at most 64 absolute paths")
    if any(".." in Path(v).parts for v in value):
        raise PolicyError(f"inventory: {name} must not contain ..")
    return tuple(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"inventory: {name} must be true or false")
    return value


def inventory_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 of the stable parts of an inventory (not processes, not the collection time)."""
    stable = {k: document.get(k) for k in HASHED}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()


def collect(root: Path, policy: InventoryPolicy, *, live: bool, docker_socket: Path) -> dict[str, Any]:
    """One full inventory of the host under ``root``; failures of one section are warnings."""
    warnings: list[str] = []

    def section(name: str, function: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        try:
            return function()
        except Exception as exc:  # one section failing must not hide the others; it is reported
            warnings.append(f"{name}: {type(exc).__name__}: {exc}")
            return []

    found = catalogue(root, policy.app_paths)
    warnings.extend(found.warnings)
    packages = sorted((package_wire(p) for p in found.packages), key=lambda p: (p["type"], p["name"], p["path"]))
    document: dict[str, Any] = {
        "collected_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "os": os_wire(found.os),
        "packages": packages,
        "users": section("users", lambda: host.users(root)),
        "groups": section("groups", lambda: host.groups(root)),
        "sudoers": section("sudoers", lambda: host.sudoers(root)),
        "suid": section("suid", lambda: host.setid_files(root, policy.setid_paths)),
        "kernel_modules": section("kernel_modules", lambda: host.kernel_modules(root)),
        "processes": section("processes", host.processes) if live and policy.processes else [],
        "listening": section("listening", host.listening) if live else [],
        "containers": section("containers", lambda: host.containers(docker_socket)) if policy.containers else [],
    }
    document["hash"] = inventory_hash(document)
    document["warnings"] = warnings
    return document


class Module:
    """The inventory module (see the package docstring)."""

    name = "inventory"
    version = "1"

    def __init__(self) -> None:
        self.ctx: ModuleContext | None = None
        self.policy: InventoryPolicy | None = None
        self.revision: int | None = None
        self.next_run = 0.0
        self.worker: threading.Thread | None = None
        self.lock = threading.Lock()
        self.scans = 0
        self.events = 0
        self.last_error = ""
        self.last_warnings: list[str] = []

    def start(self, ctx: ModuleContext) -> None:
        """Keep the context; nothing runs before a policy enables the module."""
        self.ctx = ctx

    def apply(self, section: Mapping[str, Any] | None, policy_version: int) -> ModuleState:
        """Validate the whole section first; switch only when it is valid."""
        if section is None:
            with self.lock:
                self.policy, self.revision = None, policy_version
            return self.state()
        policy = InventoryPolicy(section)
        with self.lock:
            changed = self.policy is None or self.policy.interval != policy.interval
            self.policy, self.revision = policy, policy_version
            if changed:
                self.next_run = 0.0
        return self.state()

    def tick(self, now: float) -> None:
        """Start a collection in the background when one is due."""
        with self.lock:
            policy = self.policy
            busy = self.worker is not None and self.worker.is_alive()
            if policy is None or busy or now < self.next_run:
                return
            self.next_run = now + policy.interval
            self.worker = threading.Thread(target=self.run_once, args=(policy,), name="inventory", daemon=True)
            self.worker.start()

    def run_once(self, policy: InventoryPolicy) -> dict[str, Any]:
        """Collect, emit the differences against the baseline, publish when changed, save the baseline."""
        assert self.ctx is not None
        ctx = self.ctx
        live = bool(ctx.settings.get("live_host", ctx.root.resolve() == Path("/")))
        socket = Path(str(ctx.settings.get("docker_socket", ctx.root / "var/run/docker.sock")))
        try:
            document = collect(ctx.root, policy, live=live, docker_socket=socket)
            baseline_path = ctx.state_dir / BASELINE_FILE
            previous = _load(baseline_path)
            if previous is not None and previous.get("hash") != document["hash"]:
                for event in diff_inventories(previous, document, document["hash"]):
                    ctx.emit(event)
                    self.events += 1
            if previous is None or previous.get("hash") != document["hash"] or not previous.get("published"):
                publish = ctx.settings.get("publish_snapshot")
                if callable(publish):
                    publish("inventory", {k: v for k, v in document.items() if k != "warnings"})
                document["published"] = True
            else:
                document["published"] = True
            _save(baseline_path, document)
            self.scans += 1
            self.last_error = ""
            self.last_warnings = list(document["warnings"])
            return document
        except Exception as exc:  # reported in the heartbeat; the next run tries again
            ctx.log.error("inventory collection failed: %s", exc)
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise

    def state(self) -> ModuleState:
        """Running, degraded (sections failed) or error (the last run failed)."""
        if self.policy is None:
            return ModuleState(ModuleStatus.DISABLED, self.revision)
        counters = {"scans": self.scans, "events": self.events}
        if self.last_error:
            return ModuleState(ModuleStatus.ERROR, self.revision, self.last_error[:2000], counters)
        if self.last_warnings:
            return ModuleState(ModuleStatus.DEGRADED, self.revision, "; ".join(self.last_warnings)[:2000], counters)
        return ModuleState(ModuleStatus.RUNNING, self.revision, "", counters)

    def stop(self) -> None:
        """Wait briefly for a running collection (it only reads)."""
        worker = self.worker
        if worker is not None and worker.is_alive():
            worker.join(timeout=30)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _save(path: Path, document: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, sort_keys=True, default=str))
    os.replace(tmp, path)
