"""The logs module driven directly: file following, alerts, masking, active response, restarts."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import AgentModule, ModuleContext, ModuleStatus, PolicyError
from shieldwall.agent.modules import load_modules
from shieldwall.agent.modules.logs import Module
from shieldwall.agent.modules.logs.follower import FileFollower, PositionStore
from shieldwall.agent.modules.logs.severity import level_severity
from shieldwall.model.finding import Severity

WAZUH_FIXTURES = Path(__file__).resolve().parents[4] / "fixtures" / "logrules" / "wazuh"
FAIL = "Dec 10 01:02:0{i} host sshd[1]: Failed password for root from {ip} port 22 ssh2\n"


class Harness:
    def __init__(self, tmp: Path, hook: bool = True) -> None:
        self.root = tmp / "root"
        (self.root / "var" / "log").mkdir(parents=True)
        self.state = tmp / "state"
        self.state.mkdir(exist_ok=True)
        self.events: list[AgentEvent] = []
        self.blocks: list[tuple[str, dict[str, Any]]] = []
        settings: dict[str, Any] = {}
        if hook:
            settings["active_response"] = lambda action, params: self.blocks.append((action, dict(params)))
        self.ctx = ModuleContext(self.root, self.state, self.events.append, logging.getLogger("t"), settings)
        self.module = Module()
        self.module.start(self.ctx)

    @property
    def log(self) -> Path:
        return self.root / "var" / "log" / "auth.log"

    def write(self, text: str, mode: str = "a") -> None:
        with self.log.open(mode) as fh:
            fh.write(text)

    def kinds(self) -> list[tuple[str, str]]:
        return [(e.kind, str(e.attributes.get("rule_id"))) for e in self.events]


def policy(**extra: Any) -> Mapping[str, Any]:
    base: dict[str, Any] = {
        "sources": [{"type": "file", "path": "/var/log/auth.log", "start_at": "beginning"}],
        "min_level": 3,
    }
    base.update(extra)
    return base


def test_module_is_registered_and_implements_the_protocol() -> None:
    mods = load_modules()
    assert any(m.name == "logs" for m in mods)
    assert isinstance(Module(), AgentModule)


def test_severity_mapping() -> None:
    assert [level_severity(x) for x in (0, 2, 5, 8, 12, 15)] == [
        Severity.UNKNOWN,
        Severity.LOW,
        Severity.MEDIUM,
        Severity.HIGH,
        Severity.CRITICAL,
        Severity.CRITICAL,
    ]


def test_bruteforce_alerts_and_blocks(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.write("")
    state = h.module.apply(
        policy(active_response={"enabled": True, "rule_ids": ["sw-sshd-bruteforce"], "ttl_seconds": 300}), 7
    )
    assert state.status is ModuleStatus.RUNNING and state.policy_version == 7
    h.write("".join(FAIL.format(i=i, ip="198.51.100.4") for i in range(5)))
    h.module.tick(100.0)
    kinds = h.kinds()
    assert kinds.count(("logs.alert", "sw-sshd-failed")) == 5
    assert ("logs.alert", "sw-sshd-bruteforce") in kinds
    brute = next(e for e in h.events if e.attributes.get("rule_id") == "sw-sshd-bruteforce")
    assert brute.severity is Severity.HIGH
    assert len(brute.attributes["correlation"]) == 5
    assert h.blocks == [
        (
            "firewall.block",
            {"address": "198.51.100.4", "ttl_seconds": 300, "reason": h.blocks[0][1]["reason"]},
        )
    ]
    resp = [e for e in h.events if e.kind == "logs.active_response"]
    assert len(resp) == 1 and resp[0].attributes["taken"] is True
    assert len({e.key for e in h.events}) == len(h.events)


@pytest.mark.parametrize(("ip", "why"), [("127.0.0.1", "loopback"), ("10.1.2.3", "allow-listed")])
def test_never_blocks_loopback_or_allow_listed(tmp_path: Path, ip: str, why: str) -> None:
    h = Harness(tmp_path)
    h.module.apply(
        policy(active_response={"enabled": True, "rule_ids": ["sw-sshd-bruteforce"], "allow": ["10.0.0.0/8"]}), 1
    )
    h.write("".join(FAIL.format(i=i, ip=ip) for i in range(5)))
    h.module.tick(1.0)
    assert h.blocks == []
    resp = [e for e in h.events if e.kind == "logs.active_response"]
    assert len(resp) == 1 and resp[0].attributes["taken"] is False and why in resp[0].attributes["reason"]


def test_no_hook_is_reported_not_ignored(tmp_path: Path) -> None:
    h = Harness(tmp_path, hook=False)
    h.module.apply(policy(active_response={"enabled": True, "min_level": 10}), 1)
    h.write("".join(FAIL.format(i=i, ip="198.51.100.9") for i in range(5)))
    h.module.tick(1.0)
    resp = [e for e in h.events if e.kind == "logs.active_response"]
    assert resp and "no active_response hook" in resp[0].attributes["reason"]


def test_secrets_are_masked_in_events(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.module.apply(policy(), 1)
    secret = "ghp_" + "a1B2c3D4e5" * 3 + "abcdef"
    h.write(f"Dec 10 01:02:03 host sshd[1]: Failed password for {secret} from 198.51.100.4 port 22 ssh2\n")
    h.module.tick(1.0)
    alert = next(e for e in h.events if e.kind == "logs.alert")
    blob = repr(alert.to_wire())
    assert secret not in blob
    assert "ghp_****" in alert.attributes["line"]


def test_wazuh_ruleset_from_policy(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.module.apply(policy(builtin_rules=False, wazuh_rulesets=[str(WAZUH_FIXTURES)]), 1)
    h.write("Dec 10 01:02:02 host testsshd[1]: Accepted password for root from 192.0.2.5 port 22 ssh2\n")
    h.module.tick(1.0)
    alert = next(e for e in h.events if e.kind == "logs.alert")
    assert alert.attributes["engine"] == "wazuh" and alert.attributes["rule_id"] == "100106"
    assert alert.attributes["decoder"] == "testsshd" and alert.attributes["fields"]["user"] == "root"


def test_invalid_policy_keeps_the_previous_one(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.module.apply(policy(), 1)
    with pytest.raises(PolicyError):
        h.module.apply({"sources": [{"type": "file"}]}, 2)
    with pytest.raises(PolicyError):
        h.module.apply(policy(builtin_rules=False), 3)
    assert h.module.state().policy_version == 1
    assert h.module.apply(None, 4).status is ModuleStatus.DISABLED


def test_journal_unavailable_degrades_with_a_reason(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.module.apply(policy(sources=[{"type": "docker", "socket": "/run/no-such-docker.sock"}]), 1)
    state = h.module.state()
    assert state.status is ModuleStatus.DEGRADED and "docker" in state.detail


def _follower(tmp: Path, path: Path) -> FileFollower:
    return FileFollower(path, PositionStore(tmp / "pos.json"), start_at_end=False)


def test_follow_rotation_by_rename(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a\n")
    f = _follower(tmp_path, log)
    assert f.poll() == ["a"]
    with log.open("a") as fh:
        fh.write("b\n")
    os.rename(log, tmp_path / "app.log.1")
    log.write_text("c\n")
    assert f.poll() == ["b", "c"]
    assert f.stats.rotations == 1


def test_follow_copytruncate(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("one\ntwo\n")
    f = _follower(tmp_path, log)
    assert f.poll() == ["one", "two"]
    log.write_text("x\n")  # truncated in place, then one short line written
    assert f.poll() == ["x"]
    assert f.stats.truncations == 1


def test_partial_lines_wait_for_their_end(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("half")
    f = _follower(tmp_path, log)
    assert f.poll() == []
    with log.open("a") as fh:
        fh.write(" done\n")
    assert f.poll() == ["half done"]


def test_long_lines_are_cut(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("x" * 100 + "\nok\n")
    f = FileFollower(log, PositionStore(tmp_path / "p.json"), start_at_end=False, max_line_bytes=10)
    assert f.poll() == ["x" * 10, "ok"]
    assert f.stats.long_lines == 1


def test_position_survives_a_restart(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("1\n2\n")
    store = PositionStore(tmp_path / "pos.json")
    f = FileFollower(log, store, start_at_end=False)
    assert f.poll() == ["1", "2"]
    store.save()
    f.close()
    with log.open("a") as fh:
        fh.write("3\n")
    again = FileFollower(log, PositionStore(tmp_path / "pos.json"), start_at_end=False)
    assert again.poll() == ["3"]


def test_module_restart_does_not_repeat_alerts(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.module.apply(policy(), 1)
    h.write(FAIL.format(i=1, ip="198.51.100.4"))
    h.module.tick(1.0)
    h.module.stop()
    first = len(h.events)
    again = Module()
    again.start(h.ctx)
    again.apply(policy(), 1)
    h.write(FAIL.format(i=2, ip="198.51.100.4"))
    again.tick(2.0)
    assert len(h.events) == first + 1
    again.stop()


def test_sigma_and_fail2ban_from_policy(tmp_path: Path) -> None:
    fixtures = Path(__file__).resolve().parents[4] / "fixtures" / "logrules"
    h = Harness(tmp_path)
    h.module.apply(
        policy(
            builtin_rules=False,
            sigma_rules=[str(fixtures / "sigma")],
            fail2ban_filters=[{"path": str(fixtures / "fail2ban" / "demo.conf"), "level": 6}],
        ),
        1,
    )
    h.write("Dec 10 01:02:02 host sshd[1]: Corrupted MAC on input.\n")
    h.write("Jan  5 01:31:41 www demo[12]: bad login for bob from 192.0.2.1 port 22\n")
    h.module.tick(1.0)
    got = {(e.attributes["engine"], e.attributes["rule_id"]) for e in h.events if e.kind == "logs.alert"}
    assert ("fail2ban", "fail2ban:demo") in got
    assert any(engine == "sigma" for engine, _ in got)
    assert h.module.state().status is ModuleStatus.DEGRADED  # the correlation meta-rule was skipped, and said so


def test_paths_cannot_escape_the_root(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    for bad in ("../etc/shadow", "/var/log/../../etc/shadow", "relative.log"):
        with pytest.raises(PolicyError):
            h.module.apply(policy(sources=[{"type": "file", "path": bad}]), 1)


def test_a_directory_is_not_followed(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    (h.root / "var" / "log" / "dir.log").mkdir()
    h.module.apply(policy(sources=[{"type": "file", "path": "/var/log/dir.log"}]), 1)
    h.module.tick(1.0)
    assert h.module.state().status is ModuleStatus.RUNNING
    assert not h.events


FAKE_JOURNALCTL = """#!{python}
# Stands in for journalctl: journald needs systemd as PID 1, which a test machine may not run.
import json, sys
with open({args!r}, "a") as fh:
    fh.write(" ".join(sys.argv[1:]) + "\\n")
for i in range(5):
    entry = {{"__CURSOR": "c%d" % i, "__REALTIME_TIMESTAMP": "1700000000000000", "_HOSTNAME": "h",
             "SYSLOG_IDENTIFIER": "sshd", "_PID": "9",
             "MESSAGE": "Failed password for root from 198.51.100.8 port 22 ssh2"}}
    print(json.dumps(entry), flush=True)
"""


def test_journal_source_with_cursor(tmp_path: Path) -> None:
    args = tmp_path / "args.txt"
    fake = tmp_path / "journalctl"
    fake.write_text(FAKE_JOURNALCTL.format(python=sys.executable, args=str(args)))
    fake.chmod(0o755)
    events: list[AgentEvent] = []
    state = tmp_path / "state"
    state.mkdir()
    ctx = ModuleContext(tmp_path, state, events.append, logging.getLogger("t"), {"journalctl": str(fake)})
    for round_ in range(2):
        module = Module()
        module.start(ctx)
        module.apply({"sources": [{"type": "journal", "units": ["ssh.service"]}]}, 1)
        for _ in range(100):
            module.tick(float(round_ * 1000))
            started = args.exists() and len(args.read_text().splitlines()) > round_
            if started and (state / "journal.cursor").exists() and (state / "journal.cursor").read_text() == "c4":
                break
            time.sleep(0.05)
        module.stop()
    lines = args.read_text().splitlines()
    assert "--lines 0" in lines[0] and "--unit ssh.service" in lines[0]
    assert "--after-cursor c4" in lines[1]
    brute = [e for e in events if e.attributes.get("rule_id") == "sw-sshd-bruteforce"]
    assert brute and brute[0].attributes["location"] == "journald"


def test_reread_lines_keep_their_event_keys(tmp_path: Path) -> None:
    """A crash before positions were saved re-reads lines: the spool sees the same keys again."""
    h = Harness(tmp_path)
    h.write(FAIL.format(i=1, ip="198.51.100.4") + FAIL.format(i=2, ip="198.51.100.4"))
    h.module.apply(policy(), 1)
    h.module.tick(1.0)
    first = [e.key for e in h.events]
    (h.state / "positions.json").unlink()  # as if the agent died before saving
    again = Module()
    again.start(h.ctx)
    again.apply(policy(), 1)
    again.tick(50.0)
    assert [e.key for e in h.events[len(first) :]] == first
    again.stop()
    h.module.stop()


def test_identities_are_file_offsets(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("ab\ncde\n")
    f = _follower(tmp_path, log)
    got = f.poll_identified()
    st = log.stat()
    assert got == [("ab", f"{st.st_dev}:{st.st_ino}:0"), ("cde", f"{st.st_dev}:{st.st_ino}:3")]


def test_an_engine_crash_is_counted_not_fatal(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.module.apply(policy(), 1)

    class Broken:
        name = "broken"

        def process(self, line: str, location: str, now: float) -> list[Any]:
            raise RuntimeError("boom")

    run = h.module._run
    assert run is not None
    run.engines.insert(0, Broken())
    h.write(FAIL.format(i=1, ip="198.51.100.4"))
    h.module.tick(1.0)
    state = h.module.state()
    assert state.counters["engine_errors"] == 1 and "boom" in state.detail
    assert any(e.kind == "logs.alert" for e in h.events)  # the other engines still ran
