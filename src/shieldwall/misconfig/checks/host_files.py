"""Permissions of sensitive host files (input ``file-mode``): account databases, SSH, cron, Docker.

These checks read only the mode bits. Host scans (``misconfig.hostscan``) stat the
listed paths of a root filesystem, directories included; in images the setuid
analyzer hands them world-writable system files. Ownership is not judged (the
mode is all a layer entry gives reliably).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from shieldwall.analyze.base import FileInfo
from shieldwall.misconfig.check import Check, Hit, InputKind, Resource, check
from shieldwall.misconfig.checks._host import CIS_DEBIAN, CIS_DOCKER, CIS_UBUNTU, NIST_53, NIST_190
from shieldwall.model import Severity

FM = InputKind.FILE_MODE

ACCOUNT_FILES = ("/etc/passwd", "/etc/passwd-", "/etc/group", "/etc/group-")
SHADOW_FILES = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-")
SSHD_FILES = ("/etc/ssh/sshd_config",)
SSH_HOST_KEYS = "/etc/ssh/ssh_host_*_key"
CRON_PATHS = ("/etc/crontab", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly",
              "/etc/cron.d")  # fmt: skip
DOCKER_FILES = ("/lib/systemd/system/docker.service", "/usr/lib/systemd/system/docker.service",
                "/etc/systemd/system/docker.service", "/lib/systemd/system/docker.socket",
                "/usr/lib/systemd/system/docker.socket", "/etc/systemd/system/docker.socket",
                "/etc/docker/daemon.json", "/etc/default/docker", "/etc/sysconfig/docker")  # fmt: skip
DOCKER_DIR = "/etc/docker"
DOCKER_KEYS = ("/etc/docker/key.pem", "/etc/docker/server-key.pem", "/etc/docker/tls/server-key.pem",
               "/etc/docker/certs/server-key.pem")  # fmt: skip
DOCKER_SOCKETS = ("/run/docker.sock", "/var/run/docker.sock", "/run/containerd/containerd.sock",
                  "/var/run/containerd/containerd.sock")  # fmt: skip

WATCHED = (*ACCOUNT_FILES, *SHADOW_FILES, *SSHD_FILES, *CRON_PATHS, *DOCKER_FILES, DOCKER_DIR, *DOCKER_KEYS,
           *DOCKER_SOCKETS)  # fmt: skip
"""Fixed paths a host scan stats (plus the SSH host keys found by ``SSH_HOST_KEYS``)."""


def _info(resource: Resource) -> FileInfo:
    data = resource.data
    assert isinstance(data, FileInfo)
    return data


def _mode(info: FileInfo) -> str:
    return oct(info.mode & 0o7777)[2:].zfill(4)


def _too_open(info: FileInfo, forbidden: int, limit: str) -> Iterator[Hit]:
    if info.mode & forbidden:
        yield Hit(f"mode {_mode(info)} is more permissive than {limit}", key="mode", found=_mode(info))


@check(
    "SW-HOST-PERM-001",
    "Account database is writable by group or others",
    Severity.HIGH,
    FM,
    description="Anyone who can write /etc/passwd or /etc/group can add a UID 0 account or join a privileged group.",
    remediation="chmod 644 /etc/passwd /etc/passwd- /etc/group /etc/group-",
    controls=(f"{CIS_DEBIAN}:7.1.1", f"{CIS_UBUNTU}:6.1.1", f"{CIS_UBUNTU}:6.1.3", f"{NIST_53}:AC-3"),
)
def _account_files(resource: Resource) -> Iterator[Hit]:
    info = _info(resource)
    if info.path in ACCOUNT_FILES:
        yield from _too_open(info, 0o7133, "0644")


@check(
    "SW-HOST-PERM-002",
    "Shadow password file is readable by others or writable by group",
    Severity.HIGH,
    FM,
    description="/etc/shadow and /etc/gshadow hold password hashes; anyone who reads them can crack passwords offline.",
    remediation="chmod 640 /etc/shadow /etc/shadow- /etc/gshadow /etc/gshadow- (owner root, group shadow).",
    controls=(f"{CIS_DEBIAN}:7.1.5", f"{CIS_UBUNTU}:6.1.5", f"{CIS_UBUNTU}:6.1.7", f"{NIST_53}:IA-5"),
)
def _shadow_files(resource: Resource) -> Iterator[Hit]:
    info = _info(resource)
    if info.path in SHADOW_FILES:
        yield from _too_open(info, 0o7137, "0640")


@check(
    "SW-HOST-PERM-003",
    "sshd_config is accessible to group or others",
    Severity.MEDIUM,
    FM,
    description="sshd_config should be readable and writable by root only (CIS: 600); a writable one is root "
    "access at the next sshd restart.",
    remediation="chmod 600 /etc/ssh/sshd_config",
    controls=(f"{CIS_DEBIAN}:5.1.1", f"{CIS_UBUNTU}:5.2.1", f"{NIST_53}:AC-3"),
)
def _sshd_config(resource: Resource) -> Iterator[Hit]:
    info = _info(resource)
    if info.path in SSHD_FILES or fnmatch.fnmatch(info.path, "/etc/ssh/sshd_config.d/*.conf"):
        yield from _too_open(info, 0o7177, "0600")


@check(
    "SW-HOST-PERM-004",
    "SSH private host key is accessible to others",
    Severity.HIGH,
    FM,
    description="Whoever reads a private host key can impersonate the server to its users.",
    remediation="chmod 600 /etc/ssh/ssh_host_*_key (0640 with group ssh_keys on RHEL-like systems).",
    controls=(f"{CIS_DEBIAN}:5.1.2", f"{CIS_UBUNTU}:5.2.2", f"{NIST_53}:SC-12"),
)
def _host_keys(resource: Resource) -> Iterator[Hit]:
    info = _info(resource)
    if fnmatch.fnmatch(info.path, SSH_HOST_KEYS):
        yield from _too_open(info, 0o7137, "0640")


@check(
    "SW-HOST-PERM-005",
    "Cron configuration is accessible to group or others",
    Severity.MEDIUM,
    FM,
    description="/etc/crontab and the cron directories run commands as root; CIS asks that only root can read "
    "or change them (crontab 600, directories 700).",
    remediation="chmod 600 /etc/crontab; chmod 700 /etc/cron.d /etc/cron.{hourly,daily,weekly,monthly}",
    controls=(f"{CIS_DEBIAN}:2.4.1.2", f"{CIS_UBUNTU}:5.1.2", f"{CIS_UBUNTU}:5.1.7", f"{NIST_53}:AC-3"),
)
def _cron(resource: Resource) -> Iterator[Hit]:
    info = _info(resource)
    if info.path in CRON_PATHS:
        yield from _too_open(info, 0o7077 if info.path != "/etc/crontab" else 0o7177,
                             "0600" if info.path == "/etc/crontab" else "0700")  # fmt: skip


@check(
    "SW-HOST-PERM-006",
    "Docker configuration file is writable by group or others",
    Severity.MEDIUM,
    FM,
    description="docker.service, docker.socket, daemon.json and /etc/default|sysconfig/docker decide how the "
    "root-owned daemon runs; CIS asks for 644.",
    remediation="chmod 644 on the file.",
    controls=(
        f"{CIS_DOCKER}:3.2",
        f"{CIS_DOCKER}:3.4",
        f"{CIS_DOCKER}:3.18",
        f"{CIS_DOCKER}:3.20",
        f"{CIS_DOCKER}:3.22",
        f"{NIST_190}:4.5.5",
    ),
)
def _docker_files(resource: Resource) -> Iterator[Hit]:
    info = _info(resource)
    if info.path in DOCKER_FILES:
        yield from _too_open(info, 0o7133, "0644")


@check(
    "SW-HOST-PERM-007",
    "/etc/docker is writable by group or others",
    Severity.MEDIUM,
    FM,
    description="/etc/docker holds the daemon configuration and TLS material; CIS asks for 755.",
    remediation="chmod 755 /etc/docker",
    controls=(f"{CIS_DOCKER}:3.6", f"{NIST_190}:4.5.5"),
)
def _docker_dir(resource: Resource) -> Iterator[Hit]:
    info = _info(resource)
    if info.path == DOCKER_DIR:
        yield from _too_open(info, 0o7022, "0755")


@check(
    "SW-HOST-PERM-008",
    "Docker TLS private key is accessible to others",
    Severity.HIGH,
    FM,
    description="The daemon's TLS key authenticates the Docker API; whoever reads it can impersonate the daemon.",
    remediation="chmod 400 on the key file.",
    controls=(f"{CIS_DOCKER}:3.14", f"{NIST_53}:SC-12"),
)
def _docker_keys(resource: Resource) -> Iterator[Hit]:
    info = _info(resource)
    if info.path in DOCKER_KEYS:
        yield from _too_open(info, 0o7377, "0400")


@check(
    "SW-HOST-PERM-009",
    "Docker or containerd socket is accessible to others",
    Severity.CRITICAL,
    FM,
    description="Access to the Docker or containerd socket is root on the host; only root and the docker group "
    "may use it (660).",
    remediation="chmod 660 on the socket (owner root, group docker); fix the socket unit's SocketMode.",
    controls=(f"{CIS_DOCKER}:3.16", f"{CIS_DOCKER}:3.24", f"{NIST_190}:4.5.5", f"{NIST_53}:AC-3"),
)
def _sockets(resource: Resource) -> Iterator[Hit]:
    info = _info(resource)
    if info.path in DOCKER_SOCKETS:
        yield from _too_open(info, 0o7117, "0660")


CHECKS: tuple[Check, ...] = (
    _account_files,
    _shadow_files,
    _sshd_config,
    _host_keys,
    _cron,
    _docker_files,
    _docker_dir,
    _docker_keys,
    _sockets,
)
