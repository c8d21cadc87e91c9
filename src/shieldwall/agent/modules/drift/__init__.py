"""Container drift on Docker hosts: what running containers changed compared with their images.

On each interval the module lists the running containers through the Docker
Engine API (the daemon's unix socket), reads each one's filesystem changes
and emits a ``drift.*`` event per change that alters what the container runs
or is (see ``classify``). Each drift is emitted once: the keys already
emitted are kept in the module's state directory (pruned to the containers
still running). The pass runs in the module's own thread; ``tick`` only
starts it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shieldwall.agent.module import ModuleContext, ModuleState, ModuleStatus, PolicyError
from shieldwall.agent.modules.drift.docker import DockerClient, DockerError
from shieldwall.agent.modules.drift.policy import DriftPolicy, parse_policy
from shieldwall.agent.modules.drift.scan import drift_pass
from shieldwall.agent.modules.drift.writers import ContainerWriters
from shieldwall.agent.modules.fim.audit import audit_status

MAX_SEEN = 200_000


class Module:
    """The ``drift`` agent module."""

    name = "drift"
    version = "1"

    def __init__(self) -> None:
        self._ctx: ModuleContext | None = None
        self._policy: DriftPolicy | None = None
        self._policy_version: int | None = None
        self._next = 0.0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = ModuleStatus.DISABLED
        self._detail = ""
        self._counters: dict[str, int] = {"passes": 0, "events": 0, "containers": 0, "skipped": 0, "errors": 0}
        self._seen: dict[str, list[str]] = {}
        self._writers: ContainerWriters | None = None
        self._audit_problem = ""  # why writers are not attributed although the policy asks (DEGRADED)

    # -- contract ---------------------------------------------------------------------------

    def start(self, ctx: ModuleContext) -> None:
        """Load the keys already emitted."""
        self._ctx = ctx
        path = ctx.state_dir / "seen.json"
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    self._seen = {str(k): [str(x) for x in v] for k, v in data.items() if isinstance(v, list)}
            except (OSError, ValueError):
                ctx.log.warning("drift: state file unreadable; starting over (drift may be reported again)")

    def apply(self, section: Mapping[str, Any] | None, policy_version: int) -> ModuleState:
        """Validate and switch to ``section`` (None disables the module)."""
        if section is None:
            self._drop_writers()
            with self._lock:
                self._policy, self._policy_version, self._status = None, policy_version, ModuleStatus.DISABLED
            return self.state()
        policy = parse_policy(section)
        problem = self._setup_writers(policy)
        with self._lock:
            self._policy, self._policy_version = policy, policy_version
            self._status, self._detail, self._next = ModuleStatus.RUNNING, "", 0.0
            if problem:
                self._status, self._detail = ModuleStatus.DEGRADED, problem
        return self.state()

    def tick(self, now: float) -> None:
        """Start a pass in the background when one is due and none is running."""
        with self._lock:
            policy = self._policy
            if policy is None or now < self._next or (self._thread is not None and self._thread.is_alive()):
                return
            self._next = now + policy.interval_seconds
            self._thread = threading.Thread(target=self._run, args=(policy,), name="shieldwall-drift", daemon=True)
            self._thread.start()

    def state(self) -> ModuleState:
        """Status, policy version and counters."""
        with self._lock:
            return ModuleState(self._status, self._policy_version, self._detail, dict(self._counters))

    def stop(self) -> None:
        """Wait for a running pass to end, then delete this run's audit rules."""
        thread = self._thread
        if thread is not None:
            thread.join(60)
        self._drop_writers()

    # -- audit ------------------------------------------------------------------------------

    def _setup_writers(self, policy: DriftPolicy) -> str:
        """Start or stop audit attribution for ``policy``; the DEGRADED reason when it cannot work."""
        assert self._ctx is not None
        self._audit_problem = ""
        if not policy.audit:
            self._drop_writers()
            return ""
        if self._writers is not None:
            return ""
        usable, reason = audit_status(self._ctx.settings)
        if not usable:
            self._audit_problem = f"writers not attributed: {reason}"
            return self._audit_problem
        writers = ContainerWriters(self._ctx.settings, self._ctx.state_dir)
        try:
            writers.start()
        except (OSError, ValueError) as exc:
            self._audit_problem = f"writers not attributed: {exc}"[:500]
            return self._audit_problem
        self._writers = writers
        return ""

    def _drop_writers(self) -> None:
        writers, self._writers = self._writers, None
        if writers is not None:
            writers.remove_all()

    # -- work -------------------------------------------------------------------------------

    def socket_path(self, policy: DriftPolicy) -> Path:
        """The daemon socket: the agent setting ``docker_socket`` or the policy's path under the root."""
        assert self._ctx is not None
        configured = self._ctx.settings.get("docker_socket")
        if isinstance(configured, str) and configured:
            return Path(configured)
        return self._ctx.root / policy.socket.lstrip("/")

    def run_once(self) -> int:
        """One pass now, in the caller's thread (tests and ``tick`` use it); returns events emitted."""
        if self._policy is None:
            raise PolicyError("drift: no policy applied")
        return self._run(self._policy)

    def _run(self, policy: DriftPolicy) -> int:
        assert self._ctx is not None
        ctx = self._ctx
        path = self.socket_path(policy)
        if not path.exists():
            self._set(ModuleStatus.DEGRADED, f"no Docker socket at {path}")
            return 0
        try:
            writers = self._writers if policy.audit else None
            if writers is not None:
                writers.errors = []
            with DockerClient(path) as client:
                events, stats = drift_pass(client, policy, socket.gethostname(), writers)
            if writers is not None:
                writers.retain(stats.running)
                stats.errors.extend(writers.errors)
        except DockerError as exc:
            self._set(ModuleStatus.DEGRADED, str(exc)[:500])
            with self._lock:
                self._counters["errors"] += 1
            return 0
        emitted = 0
        running: set[str] = set()
        for event in events:
            container = str(event.attributes.get("container_id", ""))
            running.add(container)
            keys = self._seen.setdefault(container, [])
            if event.key in keys:
                continue
            ctx.emit(event)
            keys.append(event.key)
            emitted += 1
        self._seen = {k: v[-MAX_SEEN:] for k, v in self._seen.items() if k in running}
        self._save()
        with self._lock:
            self._counters["passes"] += 1
            self._counters["events"] += emitted
            self._counters["containers"] = stats.containers
            self._counters["skipped"] += stats.skipped
            self._counters["errors"] += len(stats.errors)
        problems = [self._audit_problem] if self._audit_problem else []
        if stats.errors or problems:
            self._set(ModuleStatus.DEGRADED, "; ".join(problems + stats.errors)[:500])
        else:
            self._set(ModuleStatus.RUNNING, f"{stats.containers} containers, {stats.drift} drifted paths")
        return emitted

    def _set(self, status: ModuleStatus, detail: str) -> None:
        with self._lock:
            if self._policy is not None:
                self._status, self._detail = status, detail

    def _save(self) -> None:
        assert self._ctx is not None
        path = self._ctx.state_dir / "seen.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._seen), encoding="utf-8")
        os.replace(temporary, path)
