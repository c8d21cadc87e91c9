"""Baseline and scheduled check on a temporary root: one event per change, then the baseline moves on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.fim import Harness, write
from helpers.secrets import ghp
from shieldwall.agent.module import ModuleStatus, PolicyError

POLICY = {
    "realtime": False,
    "system": False,
    "audit": False,
    "rules": [
        {"path": "/etc", "exclude": ["*.swp"], "attributes": "normal"},
        {"path": "/etc/ssh", "attributes": "full", "severity": "HIGH"},
        {"path": "/usr/bin", "attributes": "content", "depth": 1},
    ],
}


def _tree(root: Path) -> None:
    write(root, "/etc/hosts", "127.0.0.1 localhost\n")
    write(root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
    write(root, "/etc/ssh/sshd_config", "PermitRootLogin no\n", 0o600)
    write(root, "/etc/app/app.conf", "level=info\n")
    write(root, "/usr/bin/tool", "#!/bin/sh\necho hi\n", 0o755)
    write(root, "/usr/bin/sub/deep/x", "too deep\n")
    (root / "etc/localtime").symlink_to("/usr/share/zoneinfo/UTC")


def test_first_apply_builds_a_baseline_without_events(harness: Harness) -> None:
    _tree(harness.root)
    state = harness.apply(POLICY)
    assert state.status is ModuleStatus.RUNNING, state.detail
    assert harness.events == []
    assert state.counters["baseline_paths"] >= 8
    assert harness.module.check_now() == []


def test_each_kind_of_change_is_one_event_with_old_and_new(harness: Harness) -> None:
    _tree(harness.root)
    harness.apply(POLICY)
    root = harness.root
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n10.0.0.1 evil\n")  # content
    os.chmod(root / "etc/passwd", 0o666)  # mode only
    write(root, "/etc/cron.new", "* * * * * root /tmp/x\n")  # added
    (root / "etc/app/app.conf").unlink()  # deleted
    (root / "etc/localtime").unlink()
    (root / "etc/localtime").symlink_to("/usr/share/zoneinfo/Europe/Paris")  # link retarget
    os.utime(root / "etc/ssh/sshd_config", ns=(1, 1))  # mtime only, watched by "full"
    os.utime(root / "usr/bin/tool", ns=(1, 1))  # mtime only, not watched by "content"
    write(root, "/etc/.hosts.swp", "swap")  # excluded
    write(root, "/usr/bin/sub/deep/y", "below depth\n")  # below the rule's depth

    harness.module.check_now()
    kinds = harness.kinds()
    assert kinds == {
        "/etc/hosts": "fim.modified",
        "/etc/passwd": "fim.attributes_changed",
        "/etc/cron.new": "fim.added",
        "/etc/app/app.conf": "fim.deleted",
        "/etc/localtime": "fim.modified",
        "/etc/ssh/sshd_config": "fim.attributes_changed",
    }
    events = {str(e.attributes["path"]): e for e in harness.events}
    hosts = events["/etc/hosts"].attributes
    assert hosts["old"]["sha256"] != hosts["new"]["sha256"] and "sha256" in hosts["changed"]
    assert "+10.0.0.1 evil" in hosts["diff"]
    passwd = events["/etc/passwd"].attributes
    assert (passwd["old"]["mode"], passwd["new"]["mode"]) == (0o644, 0o666) and passwd["changed"] == ["mode"]
    link = events["/etc/localtime"].attributes
    assert link["old"]["target"].endswith("UTC") and link["new"]["target"].endswith("Paris")
    assert events["/etc/app/app.conf"].attributes["new"] is None
    assert events["/etc/ssh/sshd_config"].severity.value == "HIGH"
    assert all(e.key for e in harness.events)

    harness.take()
    assert harness.module.check_now() == []  # reported once: the baseline moved forward


def test_secrets_in_diffs_are_masked(harness: Harness) -> None:
    write(harness.root, "/etc/app/env", "A=1\n")
    harness.apply(POLICY)
    token = ghp()
    (harness.root / "etc/app/env").write_text(f"A=1\nGITHUB_TOKEN={token}\n")
    harness.module.check_now()
    (event,) = harness.events
    diff = event.attributes["diff"]
    assert "GITHUB_TOKEN=" in diff and token not in diff and "****" in diff
    assert token not in (harness.state / "baseline.sqlite").read_bytes().decode("latin-1")


def test_binary_and_large_files_get_no_diff(harness: Harness) -> None:
    write(harness.root, "/etc/blob", "x")
    harness.apply({**POLICY, "limits": {"diff_max_bytes": 100}})
    (harness.root / "etc/blob").write_bytes(b"\x00\x01binary")
    write(harness.root, "/etc/big", "y" * 500)
    harness.module.check_now()
    assert all("diff" not in e.attributes for e in harness.events)
    assert set(harness.kinds()) >= {"/etc/blob", "/etc/big"}


def test_links_are_never_followed_out_of_the_root(harness: Harness, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.conf").write_text("outside\n")
    write(harness.root, "/etc/hosts", "x\n")
    (harness.root / "etc/escape").symlink_to(outside)
    (harness.root / "usr").mkdir()
    (harness.root / "usr/bin").symlink_to(outside)  # a rule path that is itself a link
    harness.apply(POLICY)
    (outside / "secret.conf").write_text("changed outside\n")
    assert harness.module.check_now() == []
    from shieldwall.agent.modules.fim.baseline import Baseline

    paths = Baseline(harness.state / "baseline.sqlite").load()
    assert "/etc/escape" in paths and paths["/etc/escape"]["type"] == "l"
    assert not any("secret.conf" in p for p in paths)
    assert paths["/usr/bin"]["type"] == "l"


def test_huge_files_are_hashed_up_to_the_bound(harness: Harness) -> None:
    write(harness.root, "/etc/big.bin", "a" * 5000)
    harness.apply({**POLICY, "limits": {"max_hash_bytes": 1024}})
    from shieldwall.agent.modules.fim.baseline import Baseline

    attrs = Baseline(harness.state / "baseline.sqlite").get("/etc/big.bin")
    assert attrs is not None and attrs["hash_scope"] == "prefix:1024"
    with (harness.root / "etc/big.bin").open("r+") as handle:  # a change inside the hashed prefix
        handle.write("b")
    harness.module.check_now()
    assert harness.kinds() == {"/etc/big.bin": "fim.modified"}


def test_a_truncated_walk_reports_no_deletions(harness: Harness) -> None:
    for i in range(10):
        write(harness.root, f"/etc/f{i}", str(i))
    harness.apply({**POLICY, "limits": {"max_files": 100}})
    harness.module.apply({**POLICY, "limits": {"max_files": 100}}, 2)
    # same rules, fewer allowed files: a new digest is not involved, so force a smaller bound on the monitor
    monitor = harness.module._monitor
    assert monitor is not None
    from dataclasses import replace

    monitor.policy = replace(monitor.policy, limits=monitor.policy.limits.model_copy(update={"max_files": 3}))
    harness.module.check_now()
    assert not any(e.kind == "fim.deleted" for e in harness.events)
    assert harness.module.state().counters.get("truncated_scans") == 1


_UNREADABLE_SCRIPT = """
import json, logging, os, sys
from pathlib import Path
from shieldwall.agent.module import ModuleContext
from shieldwall.agent.modules.fim import Module
base = Path(sys.argv[1])
root, state = base / "root", base / "state"
(root / "etc/private").mkdir(parents=True)
(root / "etc/private/a").write_text("1")
(root / "etc/hosts").write_text("x")
state.mkdir()
events = []
module = Module()
module.start(ModuleContext(root, state, events.append, logging.getLogger("t"), {"audit": False}))
module.apply({"realtime": False, "system": False, "audit": False, "rules": [{"path": "/etc"}]}, 1)
os.chown(root / "etc/private", 65534, 65534)
os.chmod(root / "etc/private", 0)
module.check_now()
print(json.dumps({"kinds": [e.kind for e in events], "state": module.state().detail,
                  "warnings": module.state().counters.get("warnings", 0)}))
module.stop()
"""


def test_an_unreadable_directory_is_a_warning_not_a_deletion(tmp_path: Path) -> None:
    import json
    import shutil
    import subprocess
    import sys

    argv = [sys.executable, "-c", _UNREADABLE_SCRIPT, str(tmp_path)]
    if os.geteuid() == 0:  # root reads everything: drop the two capabilities that let it
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv (util-linux) is needed to drop root's read override")
        argv = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *argv]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "fim.deleted" not in result["kinds"]  # /etc/private/a is unseen, not gone
    assert result["kinds"] == ["fim.attributes_changed"]  # /etc/private itself: mode and owner (lstat still works)
    assert result["warnings"] >= 1 and "Permission denied" in result["state"]
    os.chmod(tmp_path / "root/etc/private", 0o755)


def test_an_invalid_policy_keeps_the_previous_one(harness: Harness) -> None:
    write(harness.root, "/etc/hosts", "x\n")
    harness.apply(POLICY)
    with pytest.raises(PolicyError):
        harness.apply({"rules": [{"path": "relative"}]}, 2)
    assert harness.module.state().policy_version == 1
    (harness.root / "etc/hosts").write_text("y\n")
    assert [e.kind for e in harness.module.check_now()] == ["fim.modified"]


def test_a_new_policy_rebuilds_the_baseline_silently(harness: Harness) -> None:
    write(harness.root, "/etc/hosts", "x\n")
    harness.apply(POLICY)
    write(harness.root, "/srv/app/main.py", "print(1)\n")
    harness.apply({**POLICY, "rules": [*POLICY["rules"], {"path": "/srv/app"}]}, 2)  # type: ignore[list-item]
    assert harness.events == []
    (harness.root / "srv/app/main.py").write_text("print(2)\n")
    assert [e.kind for e in harness.module.check_now()] == ["fim.modified"]


def test_disabling_reports_disabled(harness: Harness) -> None:
    write(harness.root, "/etc/hosts", "x\n")
    harness.apply(POLICY)
    assert harness.module.apply(None, 3).status is ModuleStatus.DISABLED
    assert harness.module.check_now() == []


def test_tick_runs_the_scheduled_check_when_due(harness: Harness) -> None:
    import time

    write(harness.root, "/etc/hosts", "x\n")
    harness.apply({**POLICY, "scan_interval": 60})
    (harness.root / "etc/hosts").write_text("y\n")
    harness.module.tick(time.monotonic())  # not due yet
    time.sleep(0.2)
    assert harness.events == []
    harness.module.tick(time.monotonic() + 61)
    deadline = time.monotonic() + 15
    while not harness.events and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [e.kind for e in harness.events] == ["fim.modified"]
    assert harness.events[0].attributes["seen_by"] == "scheduled"
