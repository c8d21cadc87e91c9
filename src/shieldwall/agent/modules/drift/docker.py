"""A small, bounded Docker Engine API client over the unix socket (httpx's UDS transport).

Only what drift needs: list running containers, inspect one, its filesystem
changes against its image, and a file's stat and first bytes (the archive
endpoint, read no further than needed). Every response body is size-bounded
and every call has a timeout: a stuck or hostile daemon costs one failed
tick, never a hung agent.
"""

from __future__ import annotations

import base64
import binascii
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from shieldwall.errors import ShieldwallError

API_VERSION = "v1.41"
MAX_JSON_BYTES = 16 * 1024 * 1024
HEAD_BYTES = 64
MAX_PREFIX = 8 * 512 + HEAD_BYTES
MAX_PROCESSES = 4096
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
_GO_MODE_DIR = 1 << 31
_GO_MODE_SYMLINK = 1 << 27


class DockerError(ShieldwallError):
    """The daemon could not be reached or answered with an error."""


@dataclass(frozen=True, slots=True)
class FileStat:
    """What the archive endpoint says about a path, and its first bytes for regular files."""

    path: str
    size: int
    mode: int
    is_dir: bool
    is_symlink: bool
    link_target: str = ""
    head: bytes = b""

    @property
    def executable(self) -> bool:
        """Any execute bit set on a regular file."""
        return not self.is_dir and not self.is_symlink and bool(self.mode & 0o111)

    @property
    def elf(self) -> bool:
        """Starts with the ELF magic."""
        return self.head.startswith(b"\x7fELF")

    @property
    def script(self) -> bool:
        """Starts with ``#!``."""
        return self.head.startswith(b"#!")


class DockerClient:
    """Synchronous client for one daemon socket."""

    def __init__(self, socket_path: Path, *, timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> None:
        self.socket_path = socket_path
        transport = httpx.HTTPTransport(uds=str(socket_path))
        self._http = httpx.Client(transport=transport, base_url=f"http://docker/{API_VERSION}", timeout=timeout)

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def __enter__(self) -> DockerClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _json(self, path: str, params: dict[str, str] | None = None) -> Any:
        try:
            with self._http.stream("GET", path, params=params) as response:
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_JSON_BYTES:
                        raise DockerError(f"docker {path}: answer over {MAX_JSON_BYTES} bytes")
                if response.status_code >= 400:
                    raise DockerError(f"docker {path}: HTTP {response.status_code}: {body[:200]!r}")
        except httpx.HTTPError as exc:
            raise DockerError(f"docker {path}: {type(exc).__name__}: {exc}") from None
        try:
            return json.loads(body) if body else None
        except ValueError:
            raise DockerError(f"docker {path}: answer is not JSON") from None

    def ping(self) -> str:
        """The daemon's API version (raises when unreachable)."""
        data = self._json("/version")
        return str(data.get("ApiVersion", "")) if isinstance(data, dict) else ""

    def running_containers(self) -> list[dict[str, Any]]:
        """``GET /containers/json`` (running only)."""
        data = self._json("/containers/json")
        return [c for c in data if isinstance(c, dict)] if isinstance(data, list) else []

    def inspect(self, container_id: str) -> dict[str, Any]:
        """``GET /containers/{id}/json``."""
        data = self._json(f"/containers/{quote(container_id, safe='')}/json")
        if not isinstance(data, dict):
            raise DockerError(f"docker inspect {container_id}: not an object")
        return data

    def changes(self, container_id: str) -> list[tuple[str, int]]:
        """``GET /containers/{id}/changes``: ``(path, kind)`` with kind 0 modified, 1 added, 2 deleted."""
        data = self._json(f"/containers/{quote(container_id, safe='')}/changes")
        out: list[tuple[str, int]] = []
        for item in data or ():
            if isinstance(item, dict) and isinstance(item.get("Path"), str) and isinstance(item.get("Kind"), int):
                out.append((item["Path"], item["Kind"]))
        return out

    def processes(self, container_id: str) -> list[tuple[int, str]]:
        """``GET /containers/{id}/top``: ``(host pid, command line)`` of every process in the container."""
        data = self._json(f"/containers/{quote(container_id, safe='')}/top")
        if not isinstance(data, dict):
            return []
        titles = [str(t) for t in data.get("Titles") or ()]
        if "PID" not in titles or "CMD" not in titles:
            return []
        pid_at, cmd_at = titles.index("PID"), titles.index("CMD")
        out: list[tuple[int, str]] = []
        for row in (data.get("Processes") or ())[:MAX_PROCESSES]:
            if isinstance(row, list) and len(row) > max(pid_at, cmd_at) and str(row[pid_at]).isdigit():
                out.append((int(row[pid_at]), str(row[cmd_at])[:1024]))
        return out

    def stat(self, container_id: str, path: str, *, head: bool = True) -> FileStat | None:
        """A file's stat (and its first ``HEAD_BYTES`` for regular files); None when it is gone."""
        url = f"/containers/{quote(container_id, safe='')}/archive"
        try:
            with self._http.stream("GET", url, params={"path": path}) as response:
                if response.status_code == 404:
                    return None
                if response.status_code >= 400:
                    raise DockerError(f"docker archive {path}: HTTP {response.status_code}")
                stat = _parse_stat(path, response.headers.get("X-Docker-Container-Path-Stat", ""))
                if not head or stat.is_dir or stat.is_symlink or stat.size == 0:
                    return stat
                prefix = b""
                for chunk in response.iter_bytes():  # tar header(s), then the file's first bytes
                    prefix += chunk
                    if len(prefix) >= MAX_PREFIX:
                        break
        except httpx.HTTPError as exc:
            raise DockerError(f"docker archive {path}: {type(exc).__name__}: {exc}") from None
        return FileStat(stat.path, stat.size, stat.mode, False, False, "", _first_bytes(prefix))


def _parse_stat(path: str, header: str) -> FileStat:
    try:
        data = json.loads(base64.b64decode(header, validate=False)) if header else {}
    except (binascii.Error, ValueError):
        data = {}
    raw_mode = int(data.get("mode", 0)) if isinstance(data.get("mode", 0), int) else 0
    return FileStat(
        path=path,
        size=int(data.get("size", 0)) if isinstance(data.get("size", 0), int) else 0,
        mode=raw_mode & 0o7777,
        is_dir=bool(raw_mode & _GO_MODE_DIR),
        is_symlink=bool(raw_mode & _GO_MODE_SYMLINK),
        link_target=str(data.get("linkTarget", ""))[:4096],
    )


def _first_bytes(prefix: bytes) -> bytes:
    """The content bytes after the first tar header (PAX/GNU long-name headers skipped when present)."""
    offset = 0
    for _ in range(4):
        if len(prefix) < offset + 512:
            return b""
        header = prefix[offset : offset + 512]
        type_flag = header[156:157]
        if type_flag in (tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.XGLTYPE):
            size = int(header[124:136].strip(b"\0 ") or b"0", 8)
            offset += 512 + ((size + 511) // 512) * 512
            continue
        return prefix[offset + 512 : offset + 512 + HEAD_BYTES]
    return b""
