"""The agent core: identity, modules, spool, policy, heartbeats and uploads in one loop.

The agent opens no port. It calls the manager: enroll once, then heartbeat
(every ``heartbeat_seconds``), poll its policy (every ``poll_seconds`` and
whenever a heartbeat answer names another revision), upload spooled events in
batches and publish snapshots (the host inventory) when they changed. While
the manager is unreachable, modules keep running and events stay in the
spool; the loop retries with a capped backoff.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import platform
import socket
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from shieldwall import __version__
from shieldwall.agent.client import ManagerClient, ManagerError
from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import AgentModule, ModuleContext, ModuleState, ModuleStatus
from shieldwall.agent.modules import load_modules
from shieldwall.agent.policy import EMPTY, AppliedPolicy, ApplyOutcome, apply_policy, load_policy, save_policy
from shieldwall.agent.signing import load_or_create_key, promote_key, rotate_key
from shieldwall.agent.spool import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, Spool
from shieldwall.errors import ShieldwallError
from shieldwall.model import Severity

log = logging.getLogger("shieldwall.agent")

IDENTITY_FILE = "agent.json"
KEY_FILE = "agent.key"
SPOOL_FILE = "spool.db"
POLICY_FILE = "policy.json"
SNAPSHOT_NAMES = ("inventory",)
MAX_BACKOFF_SECONDS = 60.0
CORE_MODULE = "agent"


class AgentError(ShieldwallError):
    """The agent cannot run (enrollment refused, unusable state directory...)."""


@dataclass
class AgentConfig:
    """How one agent runs (all explicit; the CLI fills it)."""

    manager_url: str
    state_dir: Path
    root: Path = Path("/")
    token: str = ""
    hostname: str = ""
    heartbeat_seconds: float = 30.0
    poll_seconds: float = 30.0
    upload_seconds: float = 2.0
    tick_seconds: float = 1.0
    batch_size: int = 200
    spool_max_rows: int = DEFAULT_MAX_ROWS
    spool_max_bytes: int = DEFAULT_MAX_BYTES
    modules: Sequence[AgentModule] | None = None
    extra_modules: Sequence[AgentModule] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 30.0


def manager_addresses(manager_url: str) -> list[str]:
    """The manager's addresses: active response and firewall policies must never cut the agent off from it."""
    host = urllib.parse.urlsplit(manager_url).hostname or ""
    if not host:
        return []
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


def read_identity(state_dir: Path) -> dict[str, Any]:
    """The saved identity (agent ID, manager URL, intervals), or {} before enrollment."""
    try:
        data = json.loads((state_dir / IDENTITY_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_identity(state_dir: Path, data: Mapping[str, Any]) -> None:
    path = state_dir / IDENTITY_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(data), sort_keys=True, indent=2))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def host_facts(root: Path) -> dict[str, Any]:
    """What the agent says about its host at enrollment."""
    return {
        "os": platform.system(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "agent_version": __version__,
        "root": str(root),
        "boot_time": int(psutil.boot_time()),
    }


class Snapshots:
    """The latest document per name (the host inventory) waiting to be published; kept in the spool file."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS snapshots (name TEXT PRIMARY KEY, body TEXT NOT NULL, pending INTEGER NOT NULL)"
        )

    def put(self, name: str, document: Mapping[str, Any]) -> None:
        """Replace the pending document of ``name``."""
        if name not in SNAPSHOT_NAMES:
            raise ValueError(f"unknown snapshot {name!r} (known: {', '.join(SNAPSHOT_NAMES)})")
        body = json.dumps(dict(document), sort_keys=True, default=str)
        with self._lock:
            self._db.execute(
                "INSERT INTO snapshots (name, body, pending) VALUES (?, ?, 1) "
                "ON CONFLICT(name) DO UPDATE SET body = excluded.body, pending = 1",
                (name, body),
            )

    def pending(self) -> list[tuple[str, str]]:
        """(name, body) of every unpublished snapshot."""
        with self._lock:
            return list(self._db.execute("SELECT name, body FROM snapshots WHERE pending = 1 ORDER BY name"))

    def done(self, name: str, body: str) -> None:
        """Mark published (unless it was replaced meanwhile)."""
        with self._lock:
            self._db.execute("UPDATE snapshots SET pending = 0 WHERE name = ? AND body = ?", (name, body))

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


class Agent:
    """One running agent over a state directory."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.started = time.monotonic()
        state = config.state_dir
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(state, 0o700)
        self.key = load_or_create_key(state / KEY_FILE)
        identity = read_identity(state)
        self.client = ManagerClient(
            config.manager_url, self.key, str(identity.get("agent_id", "")), timeout=config.timeout
        )
        self.spool = Spool(state / SPOOL_FILE, max_rows=config.spool_max_rows, max_bytes=config.spool_max_bytes)
        self.snapshots = Snapshots(state / SPOOL_FILE)
        self.policy = load_policy(state / POLICY_FILE)
        self.policy_error = ""
        self.refused_revision: int | None = None
        modules = list(config.modules) if config.modules is not None else load_modules()
        self.modules: list[AgentModule] = [*modules, *config.extra_modules]
        self.module_errors: dict[str, str] = {}
        self._process = psutil.Process()
        self._process.cpu_percent(None)
        self._stop = threading.Event()
        self._backoff = 0.0
        self._next_contact = 0.0
        if identity.get("heartbeat_seconds"):
            self.config.heartbeat_seconds = float(identity["heartbeat_seconds"])

    # -- what modules get ---------------------------------------------------------------------

    def emit(self, event: AgentEvent) -> None:
        """Spool one event durably (what ``ModuleContext.emit`` is)."""
        self.spool.put(event)

    def active_response(self, action: str, params: Mapping[str, Any]) -> None:
        """Route an active response to the module that carries it out (``firewall.block`` -> firewall)."""
        try:
            if action != "firewall.block":
                raise AgentError(f"unknown active response action {action!r}")
            firewall = next((m for m in self.modules if m.name == "firewall"), None)
            block = getattr(firewall, "block_address", None)
            if firewall is None or not callable(block):
                raise AgentError("no firewall module loaded")
            block(str(params["address"]), int(params.get("ttl_seconds", 3600)), str(params.get("reason", "")))
        except Exception as exc:  # the caller is a module's thread: report, never raise into it
            log.warning("active response %s failed: %s", action, exc)
            self.emit(
                AgentEvent(
                    module=CORE_MODULE,
                    kind="agent.active_response_failed",
                    severity=Severity.HIGH,
                    summary=f"active response {action} failed: {exc}",
                    attributes={"action": action, "params": {k: str(v) for k, v in params.items()}, "error": str(exc)},
                )
            )

    def manager_reachable(self) -> bool:
        """One signed request to the manager (no module is called back): True when it answered."""
        try:
            self.client.signed("GET", "/api/v1/agent/policy", params={"known": self.policy.revision})
        except ManagerError as exc:
            log.warning("manager not reachable to confirm a change: %s", exc)
            return False
        return True

    def publish_snapshot(self, name: str, document: Mapping[str, Any]) -> None:
        """Queue a full document (the host inventory) for upload; only the latest per name is kept."""
        self.snapshots.put(name, document)

    def _context(self, module: AgentModule) -> ModuleContext:
        directory = self.config.state_dir / "modules" / module.name
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        settings = (
            dict(self.config.settings.get(module.name, {}))
            if isinstance(self.config.settings.get(module.name), Mapping)
            else {}
        )
        settings["active_response"] = self.active_response
        settings["publish_snapshot"] = self.publish_snapshot
        settings["firewall_confirm"] = self.manager_reachable  # a new firewall policy stays only if this holds
        settings.setdefault("protected_addresses", manager_addresses(self.config.manager_url))
        return ModuleContext(
            root=self.config.root,
            state_dir=directory,
            emit=self.emit,
            log=logging.getLogger(f"shieldwall.agent.{module.name}"),
            settings=settings,
        )

    # -- lifecycle --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end (signal handlers call this)."""
        self._stop.set()

    def enroll_if_needed(self) -> None:
        """Enroll with the token unless an identity is saved; ``AgentError`` when the manager refuses."""
        if self.client.agent_id:
            return
        if not self.config.token:
            raise AgentError("not enrolled and no enrollment token given (--token)")
        hostname = self.config.hostname or socket.gethostname()
        while not self._stop.is_set():
            try:
                answer = self.client.enroll(self.config.token, hostname, host_facts(self.config.root))
            except ManagerError as exc:
                if exc.status in (400, 401, 403, 422):
                    raise AgentError(f"enrollment refused: {exc}") from None
                log.warning("enrollment failed, retrying: %s", exc)
                self._stop.wait(self._next_backoff())
                continue
            self._backoff = 0.0
            identity = {
                "agent_id": answer["agent_id"],
                "manager_url": self.config.manager_url,
                "enrolled_at": dt.datetime.now(dt.UTC).isoformat(),
                "heartbeat_seconds": answer.get("heartbeat_seconds", self.config.heartbeat_seconds),
                "poll_seconds": answer.get("poll_seconds", self.config.poll_seconds),
            }
            _write_identity(self.config.state_dir, identity)
            self.config.heartbeat_seconds = float(identity["heartbeat_seconds"])
            log.info("enrolled as %s", answer["agent_id"])
            return

    def _next_backoff(self) -> float:
        self._backoff = min(MAX_BACKOFF_SECONDS, max(1.0, self._backoff * 2))
        return self._backoff

    def start_modules(self) -> None:
        """Start every module, then apply the cached policy (the last one that was applied)."""
        for module in self.modules:
            try:
                module.start(self._context(module))
            except Exception as exc:
                self.module_errors[module.name] = f"start failed: {type(exc).__name__}: {exc}"
                log.error("module %s failed to start: %s", module.name, exc)
        outcome = apply_policy(self._healthy(), self.policy, EMPTY)
        if not outcome.ok:
            self.policy_error = f"{outcome.failed_module}: {outcome.error}"
            self.policy = EMPTY

    def _healthy(self) -> list[AgentModule]:
        return [m for m in self.modules if not self.module_errors.get(m.name, "").startswith("start failed")]

    def run(self) -> None:
        """Enroll if needed, then loop until ``stop``; modules are stopped and files closed on the way out."""
        try:
            self.start_modules()
            self.enroll_if_needed()
            last_tick = last_upload = last_heartbeat = last_poll = 0.0
            while not self._stop.is_set():
                now = time.monotonic()
                if now - last_tick >= self.config.tick_seconds:
                    last_tick = now
                    self._tick_modules()
                if now >= self._next_contact:
                    try:
                        if now - last_heartbeat >= self.config.heartbeat_seconds:
                            self.heartbeat()
                            last_heartbeat = now
                        if now - last_poll >= self.config.poll_seconds:
                            self.poll_policy()
                            last_poll = now
                        if now - last_upload >= self.config.upload_seconds:
                            self.upload()
                            last_upload = now
                        self._backoff = 0.0
                    except ManagerError as exc:
                        delay = self._next_backoff()
                        self._next_contact = time.monotonic() + delay
                        log.warning("manager contact failed (retry in %.0f s): %s", delay, exc)
                self._stop.wait(min(0.2, self.config.tick_seconds))
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop modules and close the spool (idempotent)."""
        for module in reversed(self.modules):
            try:
                module.stop()
            except Exception as exc:
                log.error("module %s failed to stop: %s", module.name, exc)
        self.modules = []
        self.client.close()
        with contextlib.suppress(sqlite3.Error):
            self.snapshots.close()
        with contextlib.suppress(sqlite3.Error):
            self.spool.close()

    def _tick_modules(self) -> None:
        now = time.time()
        for module in self._healthy():
            try:
                module.tick(now)
                if self.module_errors.get(module.name, "").startswith("tick"):
                    del self.module_errors[module.name]
            except Exception as exc:
                self.module_errors[module.name] = f"tick failed: {type(exc).__name__}: {exc}"
                log.error("module %s tick failed: %s", module.name, exc)

    # -- talking to the manager ---------------------------------------------------------------------

    def module_states(self) -> dict[str, dict[str, Any]]:
        """Every module's state for the heartbeat (errors of the core's own supervision override)."""
        out: dict[str, dict[str, Any]] = {}
        for module in self.modules:
            try:
                state = module.state()
            except Exception as exc:
                state = ModuleState(ModuleStatus.ERROR, detail=f"state() failed: {exc}")
            if module.name in self.module_errors:
                state = ModuleState(
                    ModuleStatus.ERROR, state.policy_version, self.module_errors[module.name], state.counters
                )
            out[module.name] = {
                "status": str(state.status),
                "policy_version": state.policy_version,
                "detail": state.detail[:2000],
                "counters": {str(k): int(v) for k, v in list(state.counters.items())[:64]},
                "version": str(getattr(module, "version", ""))[:64],
            }
        return out

    def heartbeat(self) -> None:
        """Report state; fetch the policy when the manager names another revision."""
        depth, size = self.spool.depth()
        memory = self._process.memory_info()
        body = {
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - self.started, 1),
            "modules": self.module_states(),
            "spool_depth": depth,
            "spool_bytes": size,
            "dropped": self.spool.dropped(),
            "cpu_percent": round(self._process.cpu_percent(None), 2),
            "rss_bytes": int(memory.rss),
            "applied_revision": self.policy.revision,
            "policy_error": self.policy_error[:2000],
        }
        answer = self.client.signed("POST", "/api/v1/agent/heartbeat", body)
        wanted = int(answer.get("policy_revision", 0)) if isinstance(answer, dict) else 0
        if wanted != self.policy.revision and wanted != self.refused_revision:
            self.poll_policy()

    def poll_policy(self) -> ApplyOutcome | None:
        """Fetch the policy; apply it atomically when its revision is new."""
        answer = self.client.signed("GET", "/api/v1/agent/policy", params={"known": self.policy.revision})
        if not isinstance(answer, dict):
            return None
        revision = int(answer.get("revision", 0))
        if revision == self.policy.revision or revision == self.refused_revision:
            return None
        new = AppliedPolicy(revision, dict(answer.get("document") or {"modules": {}}))
        outcome = apply_policy(self._healthy(), new, self.policy)
        if outcome.ok:
            self.policy = new
            self.policy_error = ""
            self.refused_revision = None
            save_policy(self.config.state_dir / POLICY_FILE, new)
            log.info("applied policy revision %s", revision)
        else:
            self.refused_revision = revision
            self.policy_error = f"revision {revision} refused by {outcome.failed_module}: {outcome.error}"
            log.error("policy %s", self.policy_error)
        return outcome

    def upload(self, max_batches: int = 20) -> int:
        """Upload spooled events (oldest first) and pending snapshots; how many events were acknowledged."""
        acknowledged = 0
        for _ in range(max_batches):
            batch = self.spool.peek(self.config.batch_size)
            if not batch:
                break
            try:
                answer = self.client.signed(
                    "POST", "/api/v1/agent/events", {"events": [e.wire for e in batch], "dropped": self.spool.dropped()}
                )
            except ManagerError as exc:
                if exc.status != 422:
                    raise
                acknowledged += self._upload_singly([e.wire for e in batch])
                continue
            keys = [*answer.get("accepted", []), *answer.get("duplicates", [])]
            acknowledged += self.spool.acknowledge(keys)
            if len(batch) < self.config.batch_size:
                break
        for name, body in self.snapshots.pending():
            self.client.signed("POST", f"/api/v1/agent/{name}", json.loads(body))
            self.snapshots.done(name, body)
        return acknowledged

    def _upload_singly(self, events: list[dict[str, Any]]) -> int:
        """After a refused batch: send one by one; an event the manager refuses alone is dropped and counted."""
        done = 0
        for wire in events:
            try:
                answer = self.client.signed("POST", "/api/v1/agent/events", {"events": [wire], "dropped": {}})
            except ManagerError as exc:
                if exc.status != 422:
                    raise
                log.error("manager refused event %s of %s: %s", wire.get("key"), wire.get("module"), exc)
                done += self.spool.reject(str(wire.get("key", "")))
                continue
            done += self.spool.acknowledge([*answer.get("accepted", []), *answer.get("duplicates", [])])
        return done

    def rotate_key(self) -> None:
        """Replace the agent's key pair: the new public key is sent signed with the old one, then promoted."""
        path = self.config.state_dir / KEY_FILE
        new = rotate_key(path)
        self.client.signed("POST", "/api/v1/agent/rotate-key", {"public_key": new.public_text})
        self.key = promote_key(path)
        self.client.key = self.key


def run_agent(config: AgentConfig, install_signals: Callable[[Agent], None] | None = None) -> None:
    """Build and run an agent until it is stopped."""
    agent = Agent(config)
    if install_signals is not None:
        install_signals(agent)
    agent.run()
