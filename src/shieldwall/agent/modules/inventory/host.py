"""The non-package parts of a host inventory: processes, listening sockets, accounts, sudoers, SUID files,
kernel modules and running containers.

Files are read under the agent's root (bounded in size, no link leaves the
root); processes and sockets come from the running kernel (psutil), so they
are collected only for a live root (``/``) unless the settings say otherwise;
containers come from the Docker Engine API over its unix socket.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import psutil

from shieldwall.agent.modules.inventory.packages import inside

MAX_TEXT_BYTES = 4 * 1024 * 1024
MAX_ROWS = 10_000
MAX_WALK_ENTRIES = 2_000_000
WORLD_WRITABLE_DIRS = ("/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/")  # noqa: S108 - locations to flag, not to write
SKIP_TOP = frozenset({"proc", "sys", "dev", "run"})


def _text(root: Path, relative: str) -> str | None:
    real = inside(root, relative)
    if real is None or not real.is_file():
        return None
    with open(real, "rb") as handle:
        return handle.read(MAX_TEXT_BYTES).decode("utf-8", "replace")


def users(root: Path) -> list[dict[str, Any]]:
    """Accounts from ``etc/passwd`` (no password fields)."""
    rows = []
    for line in (_text(root, "etc/passwd") or "").splitlines()[:MAX_ROWS]:
        parts = line.split(":")
        if len(parts) < 7 or line.startswith("#"):
            continue
        rows.append(
            {"name": parts[0], "uid": _int(parts[2]), "gid": _int(parts[3]), "home": parts[5], "shell": parts[6]}
        )
    return rows


def groups(root: Path) -> list[dict[str, Any]]:
    """Groups from ``etc/group`` with their members."""
    rows = []
    for line in (_text(root, "etc/group") or "").splitlines()[:MAX_ROWS]:
        parts = line.split(":")
        if len(parts) < 4 or line.startswith("#"):
            continue
        rows.append({"name": parts[0], "gid": _int(parts[2]), "members": sorted(m for m in parts[3].split(",") if m)})
    return rows


def sudoers(root: Path) -> list[dict[str, Any]]:
    """Effective lines of ``etc/sudoers`` and ``etc/sudoers.d/*`` (comments and blanks dropped)."""
    rows: list[dict[str, Any]] = []
    files = ["etc/sudoers"]
    directory = inside(root, "etc/sudoers.d")
    if directory is not None and directory.is_dir():
        files += [f"etc/sudoers.d/{name}" for name in sorted(os.listdir(directory))[:1000]]
    for relative in files:
        for line in (_text(root, relative) or "").splitlines():
            stripped = line.strip()
            if stripped and (not stripped.startswith("#") or stripped.startswith(("#include", "#includedir"))):
                rows.append({"file": "/" + relative, "line": stripped[:1000]})
            if len(rows) >= MAX_ROWS:
                return rows
    return rows


def kernel_modules(root: Path) -> list[dict[str, Any]]:
    """Loaded kernel modules from ``proc/modules`` under the root."""
    rows = []
    for line in (_text(root, "proc/modules") or "").splitlines()[:MAX_ROWS]:
        parts = line.split()
        if parts:
            rows.append({"name": parts[0], "size": _int(parts[1]) if len(parts) > 1 else 0})
    return rows


def setid_files(root: Path, paths: Sequence[str]) -> list[dict[str, Any]]:
    """Regular files with the set-user-ID or set-group-ID bit under ``paths`` (links not followed)."""
    rows: list[dict[str, Any]] = []
    seen = 0
    real_root = str(root.resolve()).rstrip("/")
    for start in paths:
        base = inside(root, start.strip("/"))
        if base is None or not base.is_dir():
            continue
        stack = [str(base)]
        while stack and seen < MAX_WALK_ENTRIES and len(rows) < MAX_ROWS:
            current = stack.pop()
            try:
                with os.scandir(current) as it:
                    items = list(it)
            except OSError:
                continue
            for item in items:
                seen += 1
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                relative = item.path[len(real_root) :] or "/"
                if stat.S_ISDIR(st.st_mode):
                    if relative.strip("/").split("/")[0] not in SKIP_TOP:
                        stack.append(item.path)
                elif stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                    rows.append(
                        {
                            "path": relative,
                            "mode": f"{st.st_mode & 0o7777:04o}",
                            "uid": st.st_uid,
                            "gid": st.st_gid,
                            "setuid": bool(st.st_mode & stat.S_ISUID),
                            "setgid": bool(st.st_mode & stat.S_ISGID),
                            "size": st.st_size,
                        }
                    )
    rows.sort(key=lambda r: str(r["path"]))
    return rows


def processes() -> list[dict[str, Any]]:
    """Running processes (pid, name, executable, user, command line truncated)."""
    rows = []
    for proc in psutil.process_iter(["pid", "ppid", "name", "exe", "username", "cmdline"]):
        info = proc.info
        cmdline = " ".join(info.get("cmdline") or [])[:512]
        rows.append(
            {
                "pid": info.get("pid"),
                "ppid": info.get("ppid"),
                "name": info.get("name") or "",
                "exe": info.get("exe") or "",
                "user": info.get("username") or "",
                "cmdline": cmdline,
            }
        )
        if len(rows) >= MAX_ROWS:
            break
    return rows


def listening() -> list[dict[str, Any]]:
    """Listening TCP sockets and bound UDP sockets with the process that owns them."""
    rows = []
    for conn in psutil.net_connections(kind="inet"):
        is_tcp = conn.type == 1  # SOCK_STREAM
        if is_tcp and conn.status != psutil.CONN_LISTEN:
            continue
        if not is_tcp and conn.raddr:
            continue
        if not conn.laddr:
            continue
        exe = name = ""
        if conn.pid:
            try:
                process = psutil.Process(conn.pid)
                exe, name = process.exe(), process.name()
            except (psutil.Error, OSError):
                pass
        rows.append(
            {
                "proto": "tcp" if is_tcp else "udp",
                "address": conn.laddr.ip,
                "port": conn.laddr.port,
                "pid": conn.pid,
                "process": name,
                "exe": exe,
            }
        )
    rows.sort(key=lambda r: (r["proto"], r["port"], r["address"]))
    return rows[:MAX_ROWS]


def containers(socket_path: Path, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Running containers and their image digests from the Docker Engine API (empty without a socket)."""
    if not socket_path.exists():
        return []
    transport = httpx.HTTPTransport(uds=str(socket_path))
    rows = []
    with httpx.Client(transport=transport, base_url="http://docker", timeout=timeout) as client:
        listed = client.get("/containers/json")
        listed.raise_for_status()
        images: dict[str, list[str]] = {}
        for item in listed.json()[:MAX_ROWS]:
            image_id = str(item.get("ImageID", ""))
            if image_id and image_id not in images:
                detail = client.get(f"/images/{image_id}/json")
                images[image_id] = list(detail.json().get("RepoDigests") or []) if detail.status_code == 200 else []
            rows.append(
                {
                    "id": str(item.get("Id", ""))[:64],
                    "name": ",".join(n.lstrip("/") for n in item.get("Names") or [])[:256],
                    "image": str(item.get("Image", ""))[:512],
                    "image_id": image_id,
                    "repo_digests": images.get(image_id, []),
                    "state": str(item.get("State", "")),
                }
            )
    return rows


def in_writable_dir(exe: str) -> bool:
    """True for an executable in a world-writable directory (or deleted): a classic dropper location."""
    return exe.startswith(WORLD_WRITABLE_DIRS) or exe.endswith(" (deleted)")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1
