"""Journal entry formatting, the journal's degraded path, Docker stream demultiplexing."""

from __future__ import annotations

import struct
from pathlib import Path

from shieldwall.agent.modules.logs.docker import DockerLogs, demux
from shieldwall.agent.modules.logs.journal import JournalFollower, entry_line
from shieldwall.logrules.wazuh.predecode import predecode


def test_journal_entry_becomes_a_syslog_line() -> None:
    line = entry_line(
        {
            "__REALTIME_TIMESTAMP": "1700000000000000",
            "_HOSTNAME": "web1",
            "SYSLOG_IDENTIFIER": "sshd",
            "_PID": "42",
            "MESSAGE": "Failed password for root from 198.51.100.4 port 22 ssh2",
        }
    )
    pre = predecode(line)
    assert (pre.hostname, pre.program_name) == ("web1", "sshd")
    assert pre.log.startswith("Failed password")


def test_journal_binary_message_and_newlines() -> None:
    line = entry_line({"MESSAGE": [104, 105, 10, 33], "SYSLOG_IDENTIFIER": "x"})
    assert line.endswith("x: hi !")


def test_missing_journalctl_is_reported(tmp_path: Path) -> None:
    j = JournalFollower(tmp_path, [], binary="no-such-journalctl-binary")
    assert j.start() is False
    assert "not found" in j.error


def test_docker_demux() -> None:
    frames = b"".join(struct.pack(">BxxxI", s, len(p)) + p for s, p in ((1, b"out\n"), (2, b"err\n")))
    assert demux(frames) == [b"out\n", b"err\n"]
    assert demux(b"plain tty output\n") == [b"plain tty output\n"]


def test_docker_socket_missing(tmp_path: Path) -> None:
    d = DockerLogs(str(tmp_path / "none.sock"), tmp_path)
    assert d.available() is False and "none.sock" in d.error
