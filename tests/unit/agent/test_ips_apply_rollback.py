"""A policy whose inline (iptables NFQUEUE) step fails is refused whole: the previous configuration keeps running.

The engine is a stand-in (``suricata -T`` accepts, a run sleeps) and iptables
is a small emulator keeping its tables in a JSON file, which fails every
command that mentions a trigger string: the module's settings point at both,
as an agent's settings would point at the real binaries.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import ModuleContext, ModuleStatus, PolicyError
from shieldwall.agent.modules.ips import Module
from shieldwall.agent.modules.ips.layout import live_layout

FAKE_SURICATA = """#!/bin/sh
for a in "$@"; do [ "$a" = "-T" ] && exit 0; done
exec sleep 300
"""

FAKE_IPTABLES = """#!{python}
import json, pathlib, sys
here = pathlib.Path(__file__).parent
state_path, trigger = here / "tables.json", here / "fail-on"
args = sys.argv[1:]
if args[:1] == ["-w"]:
    args = args[2:]
if trigger.exists() and trigger.read_text().strip() in " ".join(args):
    sys.exit(1)
tables = json.loads(state_path.read_text()) if state_path.exists() else {{"FORWARD": [], "INPUT": [], "OUTPUT": []}}
op, rest = args[0], args[1:]
if op == "-n":
    op, rest = rest[0], rest[1:]
chain, rule = rest[0], " ".join(rest[1:])
if op == "-L":
    sys.exit(0 if chain in tables else 1)
if chain not in tables and op != "-N":
    sys.exit(1)
if op == "-N":
    tables[chain] = []
elif op == "-F":
    tables[chain] = []
elif op == "-X":
    del tables[chain]
elif op == "-A":
    tables[chain].append(rule)
elif op == "-I":
    tables[chain].insert(int(rest[1]) - 1, " ".join(rest[2:]))
elif op == "-C":
    sys.exit(0 if rule in tables[chain] else 1)
elif op == "-D":
    if rule not in tables[chain]:
        sys.exit(1)
    tables[chain].remove(rule)
state_path.write_text(json.dumps(tables))
"""

V1: dict[str, Any] = {"failure": "closed", "inline": {"queue": 3, "chains": ["FORWARD"]}}
V2: dict[str, Any] = {
    "mode": "prevent",
    "failure": "open",
    "inline": {"queue": 7, "chains": ["FORWARD", "INPUT"]},
    "custom_rules": ['alert http any any -> any any (msg:"v2"; content:"v2"; sid:7000001;)'],
}
INSTALLED_V1 = {
    "FORWARD": ["-j SHIELDWALL-IPS"],
    "INPUT": [],
    "OUTPUT": [],
    "SHIELDWALL-IPS": ["-j NFQUEUE --queue-num 3"],
}


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("suricata", FAKE_SURICATA), ("iptables", FAKE_IPTABLES.format(python=sys.executable))):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "classification.config").write_text("config classification: bad-unknown,Potentially Bad Traffic,2\n")
    (tmp_path / "reference.config").write_text("config reference: cve http://cve.mitre.org/cgi-bin/cvename.cgi?name=\n")
    return bin_dir


@pytest.fixture
def short_state() -> Iterator[Path]:
    """A short state directory: Suricata's unix socket path must stay under 100 bytes (xdist's tmp paths do not)."""
    path = Path(tempfile.mkdtemp(prefix="swips-", dir="/tmp"))
    try:
        yield path / "state"
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def module(tmp_path: Path, tools: Path, short_state: Path) -> Iterator[Module]:
    events: list[AgentEvent] = []
    mod = Module()
    mod.start(
        ModuleContext(
            root=Path("/"),
            state_dir=short_state,
            emit=events.append,
            log=logging.getLogger("ips-rollback"),
            settings={
                "capture": "nfqueue",
                "suricata": str(tools / "suricata"),
                "iptables": str(tools / "iptables"),
                "classification_file": str(tmp_path / "classification.config"),
                "reference_file": str(tmp_path / "reference.config"),
            },
        )
    )
    try:
        yield mod
    finally:
        mod.stop()


def _tables(tools: Path) -> dict[str, list[str]]:
    path = tools / "tables.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _snapshot(state: Path) -> tuple[str, str]:
    live = live_layout(state)
    return live.config.read_text(), live.active_rules.read_text()


def test_a_failing_inline_step_keeps_the_previous_configuration(module: Module, tools: Path, short_state: Path) -> None:
    assert module.apply(V1, 1).status == ModuleStatus.RUNNING
    assert _tables(tools) == INSTALLED_V1
    sup = module.supervisor()
    assert sup is not None and sup.running()
    pid, before = sup.pid, _snapshot(short_state)

    # the new queue's NFQUEUE rule fails after the chain was flushed: a half-installed inline path
    (tools / "fail-on").write_text("--queue-num 7")
    with pytest.raises(PolicyError, match="previous configuration kept"):
        module.apply(V2, 2)
    state = module.state()
    assert state.policy_version == 1 and state.status == ModuleStatus.RUNNING
    assert _tables(tools) == INSTALLED_V1  # the previous NFQUEUE rule is back, no jump from INPUT
    assert module.supervisor() is sup and sup.pid == pid  # the engine was never restarted
    assert _snapshot(short_state) == before  # nor the live tree rewritten
    assert "v2" not in before[1]

    # once iptables works again the same policy applies completely
    (tools / "fail-on").unlink()
    assert module.apply(V2, 3).status == ModuleStatus.RUNNING
    assert _tables(tools)["SHIELDWALL-IPS"] == ["-j NFQUEUE --queue-num 7 --queue-bypass"]
    assert _tables(tools)["INPUT"] == ["-j SHIELDWALL-IPS"]
    new_sup = module.supervisor()
    assert new_sup is not None and new_sup.pid != pid
    assert "v2" in _snapshot(short_state)[1]


def test_when_iptables_is_broken_the_refusal_says_the_restore_failed(
    module: Module, tools: Path, short_state: Path
) -> None:
    module.apply(V1, 1)
    sup = module.supervisor()
    assert sup is not None
    pid, before = sup.pid, _snapshot(short_state)
    (tools / "fail-on").write_text("-")  # every command fails
    with pytest.raises(PolicyError, match="restoring the previous inline rules failed"):
        module.apply(V2, 2)
    state = module.state()
    assert state.policy_version == 1 and state.status == ModuleStatus.ERROR
    assert sup.running() and sup.pid == pid
    assert _snapshot(short_state) == before


def test_a_first_policy_whose_inline_step_fails_leaves_nothing_behind(
    module: Module, tools: Path, short_state: Path
) -> None:
    (tools / "fail-on").write_text("-j NFQUEUE")
    with pytest.raises(PolicyError):
        module.apply(V1, 1)
    assert module.supervisor() is None
    assert not live_layout(short_state).config.exists()
    assert "SHIELDWALL-IPS" not in _tables(tools)  # the chain created before the failure was removed
    assert module.state().policy_version is None
