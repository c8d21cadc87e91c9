"""Container logs through the Docker Engine API on its unix socket (no docker CLI, no shell).

Each poll lists running containers (``GET /containers/json``) and fetches the
lines written since the last poll (``GET /containers/{id}/logs?since=...&
timestamps=1``), demultiplexing Docker's 8-byte frame headers when the
container has no TTY. The last timestamp per container is kept in the state
directory, so a restarted agent neither repeats nor skips lines. Responses
are size-bounded; a missing or refusing socket is reported, not fatal.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import struct
from pathlib import Path
from typing import Any
from urllib.parse import quote

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
MAX_CONTAINERS = 256
TIMEOUT = 5.0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=TIMEOUT)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT)
        sock.connect(self.unix_path)
        self.sock = sock


class DockerError(RuntimeError):
    """The Docker API could not be reached or answered badly."""


def _get(socket_path: str, url: str) -> bytes:
    conn = _UnixConnection(socket_path)
    try:
        conn.request("GET", url, headers={"Host": "docker"})
        resp = conn.getresponse()
        body = resp.read(MAX_RESPONSE_BYTES + 1)
        if resp.status != 200:
            raise DockerError(f"GET {url.split('?')[0]}: HTTP {resp.status}")
        return body[:MAX_RESPONSE_BYTES]
    except OSError as exc:
        raise DockerError(f"docker socket {socket_path}: {exc}") from exc
    finally:
        conn.close()


def demux(body: bytes) -> list[bytes]:
    """Payloads of Docker's multiplexed stream (stdout and stderr frames), or the body itself (TTY)."""
    if len(body) < 8 or body[0] not in (0, 1, 2) or body[1:4] != b"\0\0\0":
        return [body]
    out: list[bytes] = []
    pos = 0
    while pos + 8 <= len(body):
        (size,) = struct.unpack(">I", body[pos + 4 : pos + 8])
        out.append(body[pos + 8 : pos + 8 + size])
        pos += 8 + size
    return out


def _parse_ts(text: str) -> float:
    text = text.rstrip("Z")
    main, _, frac = text.partition(".")
    when = dt.datetime.fromisoformat(main).replace(tzinfo=dt.UTC)
    return when.timestamp() + (float("0." + frac[:9]) if frac else 0.0)


class DockerLogs:
    """Polls container logs; ``poll`` returns ``(location, line)`` pairs."""

    def __init__(self, socket_path: str, state_dir: Path) -> None:
        self.socket_path = socket_path
        self.state_file = state_dir / "docker.json"
        self.error = ""
        self.since: dict[str, float] = {}
        try:
            raw = json.loads(self.state_file.read_text())
            self.since = {str(k): float(v) for k, v in raw.items()}
        except (OSError, ValueError, AttributeError):
            self.since = {}

    def available(self) -> bool:
        """Whether the socket answers ``/_ping``."""
        try:
            _get(self.socket_path, "/_ping")
        except DockerError as exc:
            self.error = str(exc)
            return False
        self.error = ""
        return True

    def poll(self, max_lines: int) -> list[tuple[str, str, str]]:
        """New ``(location, line, identity)`` of every running container since the last poll."""
        try:
            containers: list[dict[str, Any]] = json.loads(_get(self.socket_path, "/containers/json"))
        except (DockerError, ValueError) as exc:
            self.error = str(exc)
            return []
        out: list[tuple[str, str, str]] = []
        for c in containers[:MAX_CONTAINERS]:
            cid = str(c.get("Id", ""))
            if not cid.isalnum():
                continue
            names = c.get("Names") or [cid[:12]]
            location = f"docker:{str(names[0]).lstrip('/')}"
            since = self.since.get(cid, 0.0)
            url = f"/containers/{quote(cid)}/logs?stdout=1&stderr=1&timestamps=1&since={since:.9f}"
            try:
                body = _get(self.socket_path, url)
            except DockerError as exc:
                self.error = str(exc)
                continue
            newest = since
            for chunk in demux(body):
                for raw in chunk.decode("utf-8", "replace").splitlines():
                    stamp, _, text = raw.partition(" ")
                    try:
                        when = _parse_ts(stamp)
                    except ValueError:
                        continue
                    if when <= since:
                        continue  # ``since`` is inclusive at second precision on some engines
                    newest = max(newest, when)
                    if len(out) < max_lines:
                        out.append((location, text, f"{cid[:12]}:{stamp}"))
            self.since[cid] = newest
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.since))
        tmp.replace(self.state_file)
        return out
