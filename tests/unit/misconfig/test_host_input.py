"""Host configuration parsers: sshd_config, sysctl, login.defs, daemon.json."""

from __future__ import annotations

import pytest

from shieldwall.analyze.base import AnalyzerError, FileInfo
from shieldwall.misconfig.inputs.host import (
    DockerDaemonInput,
    HostConfig,
    LoginDefsInput,
    SshdConfigInput,
    SysctlInput,
    parse_daemon_json,
    parse_login_defs,
    parse_sshd,
    parse_sysctl,
    sysctl_file_order,
    sysctl_key,
)


def test_sshd_first_value_wins_and_match_blocks_are_skipped() -> None:
    text = (
        "# comment\n"
        "PermitRootLogin no\n"
        "permitrootlogin yes\n"
        "MaxAuthTries=3\n"
        "Ciphers aes256-ctr,aes128-cbc  # trailing comment\n"
        "Match User backup\n"
        "  PasswordAuthentication yes\n"
    )
    settings = parse_sshd("/etc/ssh/sshd_config", text)
    assert settings["permitrootlogin"].value == "no" and settings["permitrootlogin"].line == 2
    assert settings["maxauthtries"].value == "3"
    assert settings["ciphers"].value == "aes256-ctr,aes128-cbc"
    assert "passwordauthentication" not in settings


def test_sshd_include_is_read_in_place() -> None:
    files = {"/etc/ssh/sshd_config.d/50-cloud.conf": "PasswordAuthentication no\n"}

    def read(pattern: str) -> list[tuple[str, str]]:
        assert pattern == "/etc/ssh/sshd_config.d/*.conf"
        return list(files.items())

    text = "Include sshd_config.d/*.conf\nPasswordAuthentication yes\nX11Forwarding yes\n"
    settings = parse_sshd("/etc/ssh/sshd_config", text, read=read)
    assert settings["passwordauthentication"].value == "no"
    assert settings["passwordauthentication"].path == "/etc/ssh/sshd_config.d/50-cloud.conf"
    assert settings["x11forwarding"].path == "/etc/ssh/sshd_config"


def test_sysctl_keys_values_and_order() -> None:
    assert sysctl_key("net/ipv4/ip_forward") == "net.ipv4.ip_forward"
    assert sysctl_key("-kernel.dmesg_restrict") == "kernel.dmesg_restrict"
    settings = parse_sysctl("/etc/sysctl.conf", "; comment\nnet.ipv4.ip_forward=1\nnet.ipv4.ip_forward = 0\n")
    assert settings["net.ipv4.ip_forward"].value == "0" and settings["net.ipv4.ip_forward"].line == 3
    order = sysctl_file_order(
        [
            "/etc/sysctl.conf",
            "/usr/lib/sysctl.d/50-default.conf",
            "/etc/sysctl.d/50-default.conf",
            "/usr/lib/sysctl.d/10-a.conf",
            "/etc/sysctl.d/README",
        ]
    )
    assert order == ["/usr/lib/sysctl.d/10-a.conf", "/etc/sysctl.d/50-default.conf", "/etc/sysctl.conf"]


def test_login_defs_last_value_wins() -> None:
    settings = parse_login_defs("/etc/login.defs", "PASS_MAX_DAYS 99999\n#UMASK 077\npass_max_days 90\n")
    assert settings["PASS_MAX_DAYS"].value == "90" and "UMASK" not in settings


def test_daemon_json_lines_and_errors() -> None:
    daemon = parse_daemon_json("/etc/docker/daemon.json", '{\n  "icc": false,\n  "hosts": ["tcp://0.0.0.0:2375"]\n}')
    assert daemon.options["icc"] is False and daemon.line_of("hosts") == 3 and daemon.line_of("nope") is None
    with pytest.raises(AnalyzerError, match="not valid JSON"):
        parse_daemon_json("/etc/docker/daemon.json", "{icc: false")
    with pytest.raises(AnalyzerError, match="not a JSON object"):
        parse_daemon_json("/etc/docker/daemon.json", "[1]")


def test_parsers_claim_only_their_paths_and_build_one_resource() -> None:
    info = FileInfo("/x", 10)
    assert SshdConfigInput().claims("/etc/ssh/sshd_config", info)
    assert SshdConfigInput().claims("/etc/ssh/sshd_config.d/10-x.conf", info)
    assert not SshdConfigInput().claims("/etc/ssh/ssh_config", info)
    assert SysctlInput().claims("/usr/lib/sysctl.d/50-default.conf", info)
    assert not SysctlInput().claims("/etc/sysctl.d/README", info)
    assert LoginDefsInput().claims("/etc/login.defs", info)
    assert DockerDaemonInput().claims("/etc/docker/daemon.json", info)
    parsed = SshdConfigInput().parse("fixture.conf", b"# shieldwall:ignore=* test\nPermitRootLogin yes\n")
    assert parsed is not None and len(parsed.resources) == 1 and parsed.header_end == 1
    config = parsed.resources[0].data
    assert isinstance(config, HostConfig) and config.value("permitrootlogin") == "yes"
    assert parsed.resources[0].document == {"permitrootlogin": "yes"}


def test_size_limit() -> None:
    with pytest.raises(AnalyzerError, match="size limit"):
        LoginDefsInput().parse("/etc/login.defs", b"#" * (1024 * 1024 + 1))
