"""``shieldwall agent install`` and ``status``; the core's active-response routing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from shieldwall.agent.core import Agent, AgentConfig
from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext, ModuleState, ModuleStatus
from shieldwall.agent.spool import Spool
from shieldwall.cli.main import app
from shieldwall.model import Severity


def test_install_writes_the_unit_to_the_given_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["agent", "install", "--unit-dir", str(tmp_path / "units"), "--executable", "/opt/sw agent"]
    )
    assert result.exit_code == 0, result.output
    unit = (tmp_path / "units" / "shieldwall-agent.service").read_text()
    assert "ExecStart=/opt/sw agent run --manager ${SHIELDWALL_MANAGER}" in unit
    assert "KillSignal=SIGTERM" in unit and "@EXEC@" not in unit
    default = CliRunner().invoke(app, ["agent", "install", "--unit-dir", str(tmp_path / "d")])
    assert default.exit_code == 0
    assert (
        f"ExecStart={sys.executable} -m shieldwall.agent run "
        in (tmp_path / "d" / "shieldwall-agent.service").read_text()
    )


def test_status_reports_the_local_state(tmp_path: Path) -> None:
    state = tmp_path / "state"
    missing = CliRunner().invoke(app, ["agent", "status", "--state", str(state)])
    assert missing.exit_code == 1 and json.loads(missing.output)["enrolled"] is False
    state.mkdir()
    (state / "agent.json").write_text(json.dumps({"agent_id": "agt_" + "1" * 24, "manager_url": "http://m"}))
    spool = Spool(state / "spool.db", max_rows=1)
    spool.put(AgentEvent("m", "m.k", Severity.LOW, "a", key="k" * 32))
    spool.put(AgentEvent("m", "m.k", Severity.LOW, "b", key="j" * 32))
    spool.close()
    result = CliRunner().invoke(app, ["agent", "status", "--state", str(state)])
    doc = json.loads(result.output)
    assert result.exit_code == 0
    assert (doc["agent_id"], doc["spool_depth"], doc["dropped"]) == ("agt_" + "1" * 24, 1, {"m": 1})


class Firewall:
    """A stand-in firewall module recording block requests (the real one is another engineer's)."""

    name = "firewall"
    version = "0"

    def __init__(self) -> None:
        self.blocked: list[tuple[str, int, str]] = []

    def start(self, ctx: ModuleContext) -> None:
        self.ctx = ctx

    def apply(self, section: Any, policy_version: int) -> ModuleState:
        return ModuleState(ModuleStatus.DISABLED, policy_version)

    def tick(self, now: float) -> None:
        return None

    def state(self) -> ModuleState:
        return ModuleState(ModuleStatus.RUNNING)

    def stop(self) -> None:
        return None

    def block_address(self, address: str, ttl_seconds: int, reason: str) -> None:
        self.blocked.append((address, ttl_seconds, reason))


def test_active_response_routes_to_the_firewall_or_reports_failure(tmp_path: Path) -> None:
    firewall = Firewall()
    agent = Agent(AgentConfig(manager_url="http://127.0.0.1:9", state_dir=tmp_path / "s1", modules=[firewall]))
    agent.start_modules()
    respond = firewall.ctx.settings["active_response"]
    respond("firewall.block", {"address": "203.0.113.9", "ttl_seconds": 600, "reason": "ssh brute force"})
    assert firewall.blocked == [("203.0.113.9", 600, "ssh brute force")]
    respond("dns.sinkhole", {"domain": "x"})
    assert [e.wire["kind"] for e in agent.spool.peek(10)] == ["agent.active_response_failed"]
    agent.shutdown()

    lonely = Agent(AgentConfig(manager_url="http://127.0.0.1:9", state_dir=tmp_path / "s2", modules=[]))
    lonely.active_response("firewall.block", {"address": "203.0.113.9"})
    failed = lonely.spool.peek(10)
    assert len(failed) == 1 and "no firewall module" in failed[0].wire["summary"]
    assert failed[0].wire["severity"] == "HIGH"
    lonely.shutdown()
