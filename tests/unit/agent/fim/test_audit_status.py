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
