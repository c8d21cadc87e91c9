"""Without Linux audit the module is DEGRADED with the reason, and events carry no "who"."""

from __future__ import annotations

from pathlib import Path

from helpers.fim import started, write
from shieldwall.agent.modules.fim.audit import parse_line


def test_no_audit_means_degraded_and_no_who(tmp_path: Path) -> None:
    with started(tmp_path, {"auditctl": "/bin/false"}) as harness:
        write(harness.root, "/etc/hosts", "x\n")
        state = harness.apply({"realtime": False, "system": False, "rules": [{"path": "/etc"}]})
        assert state.status.value == "degraded" and "kernel audit not available" in state.detail
        (harness.root / "etc/hosts").write_text("y\n")
        (event,) = harness.module.check_now()
        assert "who" not in event.attributes


def test_missing_auditctl_is_a_reason(tmp_path: Path) -> None:
    with started(tmp_path, {"auditctl": "/nonexistent/auditctl"}) as harness:
        write(harness.root, "/etc/hosts", "x\n")
        state = harness.apply({"realtime": False, "system": False, "rules": [{"path": "/etc"}]})
        assert state.status.value == "degraded" and "auditctl -s failed" in state.detail


def test_enriched_and_raw_audit_lines_parse() -> None:
    raw = (
        "type=SYSCALL msg=audit(1796681225.636:9): arch=c000003e syscall=257 success=yes ppid=1 pid=2 "
        'auid=4294967295 uid=0 comm="bash" exe="/usr/bin/bash" key="k1"\x1dARCH=x86_64 UID="root"'
    )
    kind, _stamp, serial, fields = parse_line(raw)  # type: ignore[misc]
    assert (kind, serial, fields["pid"], fields["key"], fields["_UID"]) == ("SYSCALL", "9", "2", '"k1"', '"root"')
    assert parse_line("garbage") is None
    path = parse_line("type=PATH msg=audit(1.5:10): item=0 name=2F746D702F612062 nametype=CREATE")
    assert path is not None and path[3]["name"] == "2F746D702F612062"


def test_who_reads_the_log_incrementally_and_resolves_relative_names(tmp_path: Path) -> None:
    import logging

    from shieldwall.agent.modules.fim.audit import AuditAttributor
    from shieldwall.agent.modules.fim.rules import parse_policy

    root = tmp_path / "root"
    log = tmp_path / "audit.log"
    log.write_text("type=DAEMON_START msg=audit(1.0:1): op=start\n")  # before the attributor: never read
    policy = parse_policy({"rules": [{"path": "/etc"}]})
    attributor = AuditAttributor(
        root, policy, {"audit_log": str(log), "audit_key": "sw-fim-abc"}, logging.getLogger("t")
    )
    proctitle = b"vi hosts".hex().upper().replace("20", "00")  # NUL-separated argv, hex as auditd writes it
    name_hex = f"{root}/etc/with space".encode().hex().upper()
    lines = [
        "type=SYSCALL msg=audit(100.5:7): syscall=257 success=yes ppid=10 pid=11 auid=1000 uid=0 "
        'comm="vi" exe="/usr/bin/vim.basic" key="sw-fim-abc"',
        f'type=CWD msg=audit(100.5:7): cwd="{root}/etc"',
        'type=PATH msg=audit(100.5:7): item=0 name="hosts" nametype=NORMAL',
        f"type=PROCTITLE msg=audit(100.5:7): proctitle={proctitle}",
        'type=SYSCALL msg=audit(101.0:8): syscall=257 success=yes ppid=1 pid=2 uid=0 comm="x" exe="/x" key="other-key"',
        f'type=PATH msg=audit(101.0:8): item=0 name="{root}/etc/hosts" nametype=NORMAL',
        "type=SYSCALL msg=audit(102.0:9): syscall=82 success=yes ppid=20 pid=21 uid=0 "
        'comm="mv" exe="/usr/bin/mv" key="sw-fim-abc"',
        f"type=PATH msg=audit(102.0:9): item=0 name={name_hex} nametype=CREATE",
    ]
    with log.open("a") as handle:
        handle.write("\n".join(lines[:4]) + "\n" + lines[4])  # the last line is incomplete: read later
    who = attributor.who("/etc/hosts", "modified")
    assert who is not None
    assert (who["pid"], who["ppid"], who["exe"], who["cmdline"], who["auid"]) == (
        11,
        10,
        "/usr/bin/vim.basic",
        "vi hosts",
        1000,
    )
    with log.open("a") as handle:
        handle.write("\n" + "\n".join(lines[5:]) + "\n")
    who = attributor.who("/etc/hosts", "modified")
    assert who is not None and who["pid"] == 11  # the other key's event is not ours
    spaced = attributor.who("/etc/with space", "added")
    assert spaced is not None and spaced["comm"] == "mv"
    assert attributor.who("/etc/passwd", "modified") is None  # nothing recorded: no guess
