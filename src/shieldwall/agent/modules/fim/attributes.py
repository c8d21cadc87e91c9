"""Attributes of one filesystem object, read without ever following a symbolic link.

Everything is read relative to an open directory descriptor (``dir_fd``), and
regular files are opened with ``O_NOFOLLOW``, so a link or a directory swapped
for a link between the walk and the read cannot lead outside the agent's root.
A path whose content cannot be opened (permission) keeps its ``lstat``
attributes and lists the others under ``unreadable`` (the walk carries their
previous values forward and counts a warning). Content is hashed in 1 MiB chunks; at most ``max_hash_bytes`` are hashed
(``hash_scope`` then says ``prefix:<n>`` and the size still tells most
growth): this bounds the time one huge file can take.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Mapping
from typing import Any

Attrs = dict[str, Any]
"""One path's attributes: ``type``, ``size``, ``mode``, ``owner``, ``group``, ``inode``, ``mtime`` and, when
the rule asks for them, ``sha256`` (+ ``hash_scope``), ``xattrs`` (name -> digest of the value), ``target``."""

CHUNK = 1 << 20
_NOFOLLOW_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOATIME", 0) | os.O_CLOEXEC


def file_type(mode: int) -> str:
    """One letter for the object's type: f d l c b p s (``?`` for anything else)."""
    for test, letter in (
        (stat.S_ISREG, "f"),
        (stat.S_ISDIR, "d"),
        (stat.S_ISLNK, "l"),
        (stat.S_ISCHR, "c"),
        (stat.S_ISBLK, "b"),
        (stat.S_ISFIFO, "p"),
        (stat.S_ISSOCK, "s"),
    ):
        if test(mode):
            return letter
    return "?"


def _open_nofollow(name: str, dir_fd: int) -> int:
    flags = _NOFOLLOW_READ
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except PermissionError:  # O_NOATIME needs ownership; retry without it
        return os.open(name, flags & ~getattr(os, "O_NOATIME", 0), dir_fd=dir_fd)


def hash_fd(fd: int, limit: int) -> tuple[str, str]:
    """SHA-256 of at most ``limit`` bytes read from ``fd`` in chunks, and the scope (``full`` or ``prefix:<n>``)."""
    digest = hashlib.sha256()
    remaining = limit
    while remaining > 0:
        chunk = os.read(fd, min(CHUNK, remaining))
        if not chunk:
            return digest.hexdigest(), "full"
        digest.update(chunk)
        remaining -= len(chunk)
    more = os.read(fd, 1)
    return digest.hexdigest(), ("full" if not more else f"prefix:{limit}")


def _xattrs(fd: int) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        names = os.listxattr(fd)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return found
        raise
    for name in sorted(names)[:64]:
        try:
            value = os.getxattr(fd, name)
        except OSError:
            continue
        found[name] = hashlib.sha256(value).hexdigest()[:16]
    return found


def collect(name: str, dir_fd: int, st: os.stat_result, wanted: frozenset[str], max_hash_bytes: int) -> Attrs:
    """The attributes of ``name`` in ``dir_fd`` (``st`` is its ``lstat``); raises ``OSError`` when it vanished."""
    kind = file_type(st.st_mode)
    attrs: Attrs = {
        "type": kind,
        "size": st.st_size if kind in ("f", "l", "d") else 0,
        "mode": stat.S_IMODE(st.st_mode),
        "owner": st.st_uid,
        "group": st.st_gid,
        "inode": st.st_ino,
        "mtime": st.st_mtime_ns,
    }
    if kind == "l":
        attrs["target"] = os.readlink(name, dir_fd=dir_fd)
        return attrs
    needs_hash = kind == "f" and "sha256" in wanted
    needs_xattrs = "xattrs" in wanted and kind in ("f", "d")
    if not (needs_hash or needs_xattrs):
        return attrs
    try:
        fd = _open_nofollow(name, dir_fd)
    except PermissionError:  # stat worked, content did not: keep what was read, say what was not
        attrs["unreadable"] = [k for k, needed in (("sha256", needs_hash), ("xattrs", needs_xattrs)) if needed]
        return attrs
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            raise FileNotFoundError(errno.ENOENT, "replaced while reading", name)
        if needs_hash:
            attrs["sha256"], attrs["hash_scope"] = hash_fd(fd, max_hash_bytes)
        if needs_xattrs:
            attrs["xattrs"] = _xattrs(fd)
    finally:
        os.close(fd)
    return attrs


def project(attrs: Mapping[str, Any], wanted: frozenset[str]) -> dict[str, Any]:
    """Only the attributes a rule watches (what a comparison looks at)."""
    return {k: attrs[k] for k in sorted(wanted) if k in attrs}


def changed(old: Mapping[str, Any], new: Mapping[str, Any], wanted: frozenset[str]) -> list[str]:
    """Names of the watched attributes whose values differ (a missing attribute counts as a value)."""
    return [k for k in sorted(wanted) if old.get(k) != new.get(k)]
