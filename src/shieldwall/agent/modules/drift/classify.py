"""What a container's filesystem changes mean: pure rules over paths, stats and the container's declarations.

``docker diff`` (``/containers/{id}/changes``) lists every path added (1),
modified (0) or deleted (2) in the container's writable layer. Most of that
is expected churn (logs, caches, /tmp); drift is what changes what the
container *runs* or *is*:

- ``drift.executable``: a new or modified regular file that is ELF or has an
  execute bit (a dropped tool, a patched binary, a script);
- ``drift.library``: the same for shared objects (``*.so``, ``*.so.N``) and
  anything in a library directory;
- ``drift.package``: the package database changed (dpkg ``status`` or a new
  ``/var/lib/dpkg/info/*.list``, apk ``installed``, rpm database): software
  installed at run time;
- ``drift.config``: a file under ``/etc`` added, modified or deleted;
- ``drift.readonly``: any change under a path declared read-only (the
  policy's list or the image label ``io.shieldwall.drift.readonly``).

Each change yields at most one event, the most specific one.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shieldwall.agent.modules.drift.docker import FileStat
from shieldwall.model.finding import Severity

ADDED, MODIFIED, DELETED = 1, 0, 2
KIND_NAMES = {ADDED: "added", MODIFIED: "modified", DELETED: "deleted"}
LIB_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/")
_SHARED_OBJECT = re.compile(r"\.so(\.\d+)*$")
PACKAGE_DBS = {
    "/var/lib/dpkg/status": "dpkg",
    "/lib/apk/db/installed": "apk",
    "/var/lib/rpm/rpmdb.sqlite": "rpm",
    "/var/lib/rpm/Packages": "rpm",
}
_DPKG_LIST = re.compile(r"^/var/lib/dpkg/info/([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9]+)?\.list$")
DEFAULT_IGNORE = (
    "/tmp/*",  # noqa: S108 - paths inside containers, never opened
    "/var/tmp/*",  # noqa: S108 - paths inside containers, never opened
    "/run/*",
    "/var/run/*",
    "/proc/*",
    "/dev/*",
    "/var/log/*",
    "/root/.cache/*",
)
READONLY_LABEL = "io.shieldwall.drift.readonly"
SEVERITY = {
    "drift.executable": Severity.HIGH,
    "drift.library": Severity.HIGH,
    "drift.package": Severity.MEDIUM,
    "drift.config": Severity.MEDIUM,
    "drift.readonly": Severity.HIGH,
}


@dataclass(frozen=True, slots=True)
class DriftItem:
    """One change that is drift."""

    kind: str
    path: str
    change: str
    detail: str = ""
    package: str = ""
    stat: FileStat | None = None

    @property
    def severity(self) -> Severity:
        """How serious this kind of drift is."""
        return SEVERITY[self.kind]


def ignored(path: str, patterns: Sequence[str]) -> bool:
    """True when ``path`` matches an ignore glob (or is the directory a glob's children live in)."""
    return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(path + "/*", p) for p in patterns)


def readonly_paths(declared: Iterable[str], labels: dict[str, str] | None) -> tuple[str, ...]:
    """The policy's read-only paths plus the image label's comma-separated list, normalised to ``/x/``."""
    paths = list(declared)
    if labels and READONLY_LABEL in labels:
        paths.extend(p.strip() for p in labels[READONLY_LABEL].split(","))
    return tuple(dict.fromkeys("/" + p.strip("/") + "/" for p in paths if p.strip("/")))


def needs_stat(path: str, kind: int) -> bool:
    """Whether the file's type and first bytes are needed to judge this change (not for deletions)."""
    return kind != DELETED and path not in PACKAGE_DBS


def _under(path: str, prefixes: Sequence[str]) -> bool:
    return any(path.startswith(p) or path + "/" == p for p in prefixes)


def classify(path: str, kind: int, stat: FileStat | None, readonly: Sequence[str]) -> DriftItem | None:
    """The drift a single change is, or None when it is ordinary churn."""
    change = KIND_NAMES.get(kind, "changed")
    if path in PACKAGE_DBS and kind != DELETED:
        return DriftItem("drift.package", path, change, f"{PACKAGE_DBS[path]} database changed")
    if stat is not None and stat.is_dir:
        return None  # a directory changes when its entries do; the entries are judged themselves
    listed = _DPKG_LIST.match(path)
    if listed and kind == ADDED:
        return DriftItem("drift.package", path, change, "package installed at run time", package=listed.group(1))
    if stat is not None and (stat.elf or stat.executable or stat.script):
        library = bool(_SHARED_OBJECT.search(path)) or (_under(path, LIB_DIRS) and stat.elf and not stat.executable)
        what = "ELF" if stat.elf else ("script" if stat.script else "executable bit")
        return DriftItem("drift.library" if library else "drift.executable", path, change, what, stat=stat)
    if _under(path, readonly):
        return DriftItem("drift.readonly", path, change, "change under a read-only path", stat=stat)
    if path.startswith("/etc/"):
        return DriftItem("drift.config", path, change, "configuration changed", stat=stat)
    return None
