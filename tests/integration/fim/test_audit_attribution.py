"""Who changed it: the module's audit watch rules and a private auditd attach the process to each change."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from helpers.auditd import private_auditd
from helpers.fim import started, write
from shieldwall.agent.module import ModuleContext
from shieldwall.agent.modules.fim import Module

pytestmark = pytest.mark.integration


def _rules() -> str:
    return subprocess.run(["auditctl", "-l"], capture_output=True, text=True, check=False).stdout


def _remove_new_keys(before: str) -> None:
    """Delete audit rules this test's modules added if a failure left them (keys sw-fim-* not there before)."""
    import re

    for key in set(re.findall(r"-k (sw-fim-[0-9a-f]+)", _rules())) - set(re.findall(r"-k (sw-fim-[0-9a-f]+)", before)):
        subprocess.run(["auditctl", "-D", "-k", key], capture_output=True, check=False)


def test_changes_carry_the_process_that_made_them(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("audit needs root")
    rules_before = _rules()
    audit_dir = Path(tempfile.mkdtemp(prefix="swaudit_"))
    try:
        _run(tmp_path, audit_dir, rules_before)
    finally:
        _remove_new_keys(rules_before)
        shutil.rmtree(audit_dir)


def _run(tmp_path: Path, audit_dir: Path, rules_before: str) -> None:
    with private_auditd(audit_dir) as log, started(tmp_path, {"audit_log": str(log), "audit_wait": 3}) as harness:
        write(harness.root, "/etc/app.conf", "a=1\n")
        state = harness.apply({"realtime": False, "system": False, "rules": [{"path": "/etc"}]})
        assert state.status.value == "running", state.detail
        key = harness.module._audit.key  # type: ignore[union-attr]
        assert key in _rules()
        target = harness.root / "etc/app.conf"
        proc = subprocess.Popen(["/bin/sh", "-c", f"echo b=2 >> {target}; chmod 600 {target}"])
        proc.wait()
        writer = subprocess.Popen(["/bin/sh", "-c", f"echo new > {harness.root}/etc/other.conf"])
        writer.wait()
        time.sleep(0.2)
        harness.module.check_now()
        events = {str(e.attributes["path"]): e for e in harness.events}
        who = events["/etc/app.conf"].attributes["who"]
        # the latest change (the mode) was made by chmod, a child of the shell this test started
        assert who["comm"] == "chmod" and who["exe"].endswith("/chmod") and who["ppid"] == proc.pid
        assert who["cmdline"].startswith("chmod 600 ") and who["cmdline"].endswith("app.conf")
        assert who["uid"] == 0 and who["user"] == "root"
        other = events["/etc/other.conf"].attributes["who"]  # written by the shell itself (echo is a builtin)
        assert other["pid"] == writer.pid and other["ppid"] == os.getpid()
    assert _rules() == rules_before  # the module removed its rules on stop
    assert "pid 0" in subprocess.run(["auditctl", "-s"], capture_output=True, text=True).stdout


def test_rules_left_by_a_killed_agent_are_removed_on_the_next_start(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("audit needs root")
    rules_before = _rules()
    audit_dir = Path(tempfile.mkdtemp(prefix="swaudit_"))
    try:
        with private_auditd(audit_dir) as log:
            settings = {"audit_log": str(log), "audit_wait": 1}
            with started(tmp_path, settings) as first:
                write(first.root, "/etc/a", "1\n")
                first.apply({"realtime": False, "system": False, "rules": [{"path": "/etc"}]})
                old_key = first.module._audit.key  # type: ignore[union-attr]
                first.module._audit = None  # simulate a kill: stop() will not remove the rules
                assert old_key in _rules()
            module = Module()  # the next start, with the same state directory
            module.start(ModuleContext(first.root, first.state, lambda e: None, logging.getLogger("t"), settings))
            try:
                module.apply({"realtime": False, "system": False, "rules": [{"path": "/etc"}]}, 2)
                assert old_key not in _rules()
            finally:
                module.stop()
    finally:
        _remove_new_keys(rules_before)
        shutil.rmtree(audit_dir)
    assert _rules() == rules_before


def test_real_time_changes_carry_who_too(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("audit needs root")
    import time

    rules_before = _rules()
    audit_dir = Path(tempfile.mkdtemp(prefix="swaudit_"))
    try:
        with private_auditd(audit_dir) as log, started(tmp_path, {"audit_log": str(log)}) as harness:
            write(harness.root, "/etc/app.conf", "a=1\n")
            policy = {
                "realtime": True,
                "system": False,
                "limits": {"coalesce_seconds": 0.1},
                "rules": [{"path": "/etc"}],
            }
            assert harness.apply(policy).status.value == "running"
            target = harness.root / "etc/app.conf"
            proc = subprocess.Popen(["/bin/sh", "-c", f"echo b=2 >> {target}"])
            proc.wait()
            deadline = time.monotonic() + 20
            while not harness.events and time.monotonic() < deadline:
                time.sleep(0.05)
            (event,) = harness.events
            assert event.attributes["seen_by"] == "realtime"
            assert event.attributes["who"]["pid"] == proc.pid
    finally:
        _remove_new_keys(rules_before)
        shutil.rmtree(audit_dir)
    assert _rules() == rules_before
