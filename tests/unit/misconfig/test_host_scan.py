"""Host scans: the post-scanner over a root filesystem (merged configuration, file modes, suppressions)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shieldwall.misconfig.hostscan import HostPostScanner, host_inputs, is_host_root
from shieldwall.misconfig.inputs.host import HOST_DOCKER_DAEMON, HOST_LOGIN_DEFS, HOST_SSHD, HOST_SYSCTL
from shieldwall.misconfig.registry import CheckConfig, load_checks
from shieldwall.model import Finding, ScanResult, Target, TargetKind, TargetRef

CHECKS = load_checks(CheckConfig(include_plugins=False))


def write(root: Path, path: str, text: str, mode: int = 0o644) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(mode)
    return target


@pytest.fixture()
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "usr" / "bin").mkdir(parents=True)
    write(root, "/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\n"
          "PasswordAuthentication yes\nMaxAuthTries 3\n", 0o600)  # fmt: skip
    write(root, "/etc/ssh/sshd_config.d/50-cloud.conf", "# shieldwall:ignore=SW-HOST-SSH-006 lab hosts\n"
          "PasswordAuthentication no\nX11Forwarding yes\n", 0o600)  # fmt: skip
    write(root, "/usr/lib/sysctl.d/50-default.conf", "net.ipv4.conf.all.rp_filter = 2\nkernel.randomize_va_space=0\n")
    write(root, "/etc/sysctl.d/99-local.conf", "kernel.randomize_va_space = 2\nnet.ipv4.tcp_syncookies = 0\n")
    write(root, "/etc/login.defs", "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 1\nUMASK 027\n")
    write(root, "/etc/docker/daemon.json", '{"hosts": ["tcp://0.0.0.0:2375"], "icc": false}\n')
    write(root, "/etc/shadow", "root:*:19000::::::\n", 0o644)
    write(root, "/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
    write(root, "/etc/ssh/ssh_host_ed25519_key", "key\n", 0o644)
    (root / "etc" / "cron.d").mkdir()
    (root / "etc" / "cron.d").chmod(0o755)
    return root


def run(root: Path, kind: TargetKind = TargetKind.DIRECTORY) -> list[Finding]:
    result = ScanResult(target=Target(TargetRef(kind, str(root)), str(root)))
    output = HostPostScanner(CHECKS).run(result)
    assert not output.warnings, output.warnings
    return list(output.findings)


def by_rule(findings: list[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for finding in findings:
        out.setdefault(finding.rule_id, []).append(finding)
    return out


def test_sshd_drop_in_wins_and_findings_point_at_the_setting(rootfs: Path) -> None:
    found = by_rule(run(rootfs))
    (root_login,) = found["SW-HOST-SSH-001"]
    assert root_login.location is not None
    assert (root_login.location.path, root_login.location.line) == ("/etc/ssh/sshd_config", 2)
    assert "SW-HOST-SSH-003" not in found  # the drop-in, included first, says no
    assert "SW-HOST-SSH-007" not in found
    (x11,) = found["SW-HOST-SSH-006"]
    assert x11.location is not None and x11.location.path == "/etc/ssh/sshd_config.d/50-cloud.conf"
    assert x11.suppressed == "lab hosts"


def test_sysctl_files_merge_in_systemd_order(rootfs: Path) -> None:
    found = by_rule(run(rootfs))
    assert "SW-HOST-SYSCTL-010" not in found  # /etc/sysctl.d/99-local.conf sets it back to 2
    (syncookies,) = found["SW-HOST-SYSCTL-007"]
    assert syncookies.location is not None and syncookies.location.path == "/etc/sysctl.d/99-local.conf"
    rp = [f.message for f in found["SW-HOST-SYSCTL-006"]]
    assert rp == ["sysctl: net.ipv4.conf.default.rp_filter is not set (kernel default 0)"]
    unset = found["SW-HOST-SYSCTL-004"][0]
    assert unset.location is not None and unset.location.line is None


def test_login_defs_and_daemon_json(rootfs: Path) -> None:
    found = by_rule(run(rootfs))
    assert [f.message for f in found["SW-HOST-LOGIN-001"]] == ["login.defs /etc/login.defs: PASS_MAX_DAYS 99999"]
    assert "SW-HOST-LOGIN-002" not in found and "SW-HOST-LOGIN-004" not in found
    (tcp,) = found["SW-HOST-DOCKER-006"]
    assert tcp.severity.value == "CRITICAL" and "cis-docker-1.6:2.7" in tcp.references
    assert "SW-HOST-DOCKER-001" not in found


def test_file_modes(rootfs: Path) -> None:
    found = by_rule(run(rootfs))
    assert [f.location.path for f in found["SW-HOST-PERM-002"] if f.location] == ["/etc/shadow"]
    assert [f.location.path for f in found["SW-HOST-PERM-004"] if f.location] == ["/etc/ssh/ssh_host_ed25519_key"]
    assert [f.location.path for f in found["SW-HOST-PERM-005"] if f.location] == ["/etc/cron.d"]
    assert "SW-HOST-PERM-001" not in found and "SW-HOST-PERM-003" not in found


def test_world_writable_files_are_left_to_the_setuid_analyzer(rootfs: Path) -> None:
    (rootfs / "etc" / "passwd").chmod(0o666)  # the per-file analyzer reports it during the walk
    assert "SW-HOST-PERM-001" not in by_rule(run(rootfs))


def test_symbolic_links_are_not_followed(rootfs: Path, tmp_path: Path) -> None:
    outside = write(tmp_path, "/outside/login.defs", "PASS_MAX_DAYS 99999\n")
    (rootfs / "etc" / "login.defs").unlink()
    os.symlink(outside, rootfs / "etc" / "login.defs")
    assert "SW-HOST-LOGIN-001" not in by_rule(run(rootfs))


def test_only_root_filesystems_of_directory_targets(rootfs: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project, "/etc/ssh/sshd_config", "PermitRootLogin yes\n")
    assert not is_host_root(project) and run(project) == []
    assert run(rootfs, TargetKind.DOCKER_ARCHIVE) == []


def test_host_inputs_for_the_compliance_view(rootfs: Path, tmp_path: Path) -> None:
    assert host_inputs(rootfs) == {HOST_SSHD, HOST_SYSCTL, HOST_LOGIN_DEFS, HOST_DOCKER_DAEMON, "file-mode"}
    assert host_inputs(tmp_path) == set()


def test_malformed_daemon_json_is_a_warning(rootfs: Path) -> None:
    write(rootfs, "/etc/docker/daemon.json", "{not json")
    result = ScanResult(target=Target(TargetRef(TargetKind.DIRECTORY, str(rootfs)), str(rootfs)))
    output = HostPostScanner(CHECKS).run(result)
    assert any("daemon.json" in w.message and "not valid JSON" in w.message for w in output.warnings)
    assert not any(f.rule_id.startswith("SW-HOST-DOCKER") for f in output.findings)
