"""Checks of files' mode bits in image layers (input ``file-mode``); content is never read."""

from __future__ import annotations

from collections.abc import Iterator

from shieldwall.analyze.base import FileInfo
from shieldwall.misconfig.check import Check, Hit, InputKind, Resource, check
from shieldwall.misconfig.checks._common import CIS_DOCKER, NIST
from shieldwall.model import Severity

FM = InputKind.FILE_MODE
_SYSTEM = ("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/lib/", "/usr/libexec/", "/lib/", "/lib64/", "/etc/",
           "/usr/local/bin/", "/usr/local/sbin/")  # fmt: skip


def _info(resource: Resource) -> FileInfo:
    data = resource.data
    assert isinstance(data, FileInfo)
    return data


@check(
    "SW-FS-001",
    "setuid or setgid file",
    Severity.LOW,
    FM,
    description="A setuid/setgid executable runs with its owner's (often root's) privileges; each one is a "
    "privilege-escalation path if it has a bug.",
    remediation="Remove the bits where not needed: 'RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +'.",
    controls=(f"{CIS_DOCKER}:4.8", f"{NIST}:4.4.3"),
)
def _setuid(resource: Resource) -> Iterator[Hit]:
    info = _info(resource)
    bits = [name for flag, name in ((0o4000, "setuid"), (0o2000, "setgid")) if info.mode & flag]
    if bits and info.mode & 0o111:
        yield Hit(f"{'/'.join(bits)} {oct(info.mode & 0o7777)}", found=oct(info.mode & 0o7777))


@check(
    "SW-FS-002",
    "World-writable system file",
    Severity.MEDIUM,
    FM,
    description="A world-writable file under a system directory can be replaced by any user of the container.",
    remediation="Remove write permission for others: 'chmod o-w <file>'.",
    controls=(f"{NIST}:4.4.3",),
)
def _world_writable(resource: Resource) -> Iterator[Hit]:
    info = _info(resource)
    if info.mode & 0o002 and info.path.startswith(_SYSTEM):
        yield Hit(f"mode {oct(info.mode & 0o7777)} is world-writable", found=oct(info.mode & 0o7777))


CHECKS: tuple[Check, ...] = (_setuid, _world_writable)
