"""``shieldwall agent``: run the agent, install its systemd unit, show its local status."""

from __future__ import annotations

import importlib
import json
import logging
import signal
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer

from shieldwall.agent.core import POLICY_FILE, SPOOL_FILE, Agent, AgentConfig, AgentError, read_identity
from shieldwall.agent.module import AgentModule
from shieldwall.agent.policy import load_policy
from shieldwall.agent.spool import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, Spool

agent_app = typer.Typer(help="The Shieldwall agent: enroll with a manager, run modules, spool and upload events.")
UNIT_NAME = "shieldwall-agent.service"


class JsonLines(logging.Formatter):
    """One JSON object per log line (time, level, logger, message, exception)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise


def _load_module(spec: str) -> AgentModule:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise typer.BadParameter(f"{spec!r}: expected package.module:Class")
    factory = getattr(importlib.import_module(module_name), attr)
    instance = factory()
    if not isinstance(instance, AgentModule):
        raise typer.BadParameter(f"{spec!r} is not an agent module")
    return instance


@agent_app.command("run")
def run(
    manager: Annotated[str, typer.Option("--manager", help="The manager's base URL", envvar="SHIELDWALL_MANAGER")],
    state: Annotated[Path, typer.Option("--state", help="State directory (key, identity, spool, policy cache)")],
    token: Annotated[
        str, typer.Option("--token", help="Enrollment token (first start only)", envvar="SHIELDWALL_ENROLL_TOKEN")
    ] = "",
    root: Annotated[Path, typer.Option("--root", help="Filesystem root the modules inspect")] = Path("/"),
    hostname: Annotated[str, typer.Option(help="Name to enroll with (default: the host name)")] = "",
    heartbeat: Annotated[float, typer.Option(help="Seconds between heartbeats (the manager's value wins)")] = 30.0,
    poll: Annotated[float, typer.Option(help="Seconds between policy polls")] = 30.0,
    upload_interval: Annotated[float, typer.Option(help="Seconds between uploads")] = 2.0,
    tick: Annotated[float, typer.Option(help="Seconds between module ticks")] = 1.0,
    batch_size: Annotated[int, typer.Option(min=1, max=500)] = 200,
    spool_max_rows: Annotated[int, typer.Option(min=1)] = DEFAULT_MAX_ROWS,
    spool_max_bytes: Annotated[int, typer.Option(min=1024)] = DEFAULT_MAX_BYTES,
    settings: Annotated[Path | None, typer.Option(help="JSON file: {module: {local settings}}")] = None,
    module: Annotated[list[str], typer.Option("--module", help="Extra module package.module:Class")] = [],  # noqa: B006
    only_modules: Annotated[str, typer.Option(help="Comma-separated built-in modules to load (default: all)")] = "",
    log_level: Annotated[str, typer.Option()] = "info",
) -> None:
    """Enroll if needed, then run until SIGTERM/SIGINT (a clean stop: modules stopped, spool closed)."""
    _setup_logging(log_level)
    local: dict[str, Any] = {}
    if settings is not None:
        loaded = json.loads(settings.read_text())
        if not isinstance(loaded, dict):
            raise typer.BadParameter("--settings: a JSON object of module -> settings")
        local = loaded
    modules = None
    if only_modules:
        from shieldwall.agent.modules import load_modules

        wanted = {n.strip() for n in only_modules.split(",") if n.strip()}
        modules = [m for m in load_modules() if m.name in wanted]
    if only_modules == "none":
        modules = []
    config = AgentConfig(
        manager_url=manager,
        state_dir=state,
        root=root,
        token=token,
        hostname=hostname,
        heartbeat_seconds=heartbeat,
        poll_seconds=poll,
        upload_seconds=upload_interval,
        tick_seconds=tick,
        batch_size=batch_size,
        spool_max_rows=spool_max_rows,
        spool_max_bytes=spool_max_bytes,
        modules=modules,
        extra_modules=[_load_module(spec) for spec in module],
        settings=local,
    )
    try:
        agent = Agent(config)
    except AgentError as exc:
        logging.getLogger("shieldwall.agent").error("%s", exc)
        raise typer.Exit(2) from None

    def stop(signum: int, _frame: object) -> None:
        logging.getLogger("shieldwall.agent").info("signal %s: stopping", signum)
        agent.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        agent.run()
    except AgentError as exc:
        logging.getLogger("shieldwall.agent").error("%s", exc)
        raise typer.Exit(2) from None
    logging.getLogger("shieldwall.agent").info("stopped")


@agent_app.command("install")
def install(
    unit_dir: Annotated[Path, typer.Option(help="Where to write the systemd unit")] = Path("/etc/systemd/system"),
    executable: Annotated[
        str, typer.Option(help="The command that runs the agent (default: this Python with -m shieldwall.agent)")
    ] = "",
) -> None:
    """Write the systemd unit (then: put SHIELDWALL_MANAGER and SHIELDWALL_ENROLL_TOKEN in /etc/shieldwall/agent.env,
    ``systemctl daemon-reload && systemctl enable --now shieldwall-agent``)."""
    text = resources.files("shieldwall.agent").joinpath("data", UNIT_NAME).read_text()
    command = executable or f"{sys.executable} -m shieldwall.agent"
    unit_dir.mkdir(parents=True, exist_ok=True)
    target = unit_dir / UNIT_NAME
    target.write_text(text.replace("@EXEC@", command))
    target.chmod(0o644)
    typer.echo(f"wrote {target}")


@agent_app.command("status")
def status(
    state: Annotated[Path, typer.Option("--state", help="The agent's state directory")] = Path(
        "/var/lib/shieldwall-agent"
    ),
) -> None:
    """The local state: identity, applied policy revision, spool depth and drops (JSON)."""
    identity = read_identity(state)
    doc: dict[str, Any] = {
        "enrolled": bool(identity.get("agent_id")),
        "agent_id": identity.get("agent_id", ""),
        "manager": identity.get("manager_url", ""),
        "policy_revision": load_policy(state / POLICY_FILE).revision,
    }
    if (state / SPOOL_FILE).exists():
        spool = Spool(state / SPOOL_FILE)
        try:
            rows, size = spool.depth()
            doc.update(spool_depth=rows, spool_bytes=size, dropped=spool.dropped())
        finally:
            spool.close()
    typer.echo(json.dumps(doc, indent=2, sort_keys=True))
    if not doc["enrolled"]:
        raise typer.Exit(1)
