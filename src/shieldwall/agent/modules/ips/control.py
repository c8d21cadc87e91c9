"""A client for Suricata's unix-command socket (the protocol ``suricatasc`` speaks).

The protocol: connect, send ``{"version": "0.2"}``, read ``{"return": "OK"}``,
then send ``{"command": NAME}`` followed by a newline and read one JSON
answer; bytes are read until they parse as JSON (bounded).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

MAX_ANSWER = 4 * 1024 * 1024


class ControlError(RuntimeError):
    """The socket is missing, silent, or Suricata answered with an error."""


def _read_json(sock: socket.socket) -> dict[str, Any]:
    buf = b""
    while len(buf) < MAX_ANSWER:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
        try:
            value = json.loads(buf.decode("utf-8", errors="replace"))
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
        raise ControlError("unexpected answer on the unix socket")
    raise ControlError("no complete answer on the unix socket")


def command(path: Path, name: str, timeout: float = 120.0, arguments: dict[str, Any] | None = None) -> Any:
    """Send one command and return its ``message``; raise ``ControlError`` on failure."""
    request: dict[str, Any] = {"command": name}
    if arguments:
        request["arguments"] = arguments
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps({"version": "0.2"}).encode())
            hello = _read_json(sock)
            if hello.get("return") != "OK":
                raise ControlError(f"handshake refused: {hello}")
            sock.sendall(json.dumps(request).encode() + b"\n")
            answer = _read_json(sock)
    except OSError as exc:
        raise ControlError(f"unix socket {path}: {exc}") from exc
    if answer.get("return") != "OK":
        raise ControlError(f"{name}: {answer.get('message', answer)}")
    return answer.get("message")


def reload_rules(path: Path, timeout: float = 300.0) -> None:
    """Ask the running Suricata to reload its rule files (blocking until done)."""
    command(path, "reload-rules", timeout=timeout)


def ruleset_stats(path: Path) -> Any:
    """``ruleset-stats``: loaded and failed rule counts of the running engine."""
    return command(path, "ruleset-stats")
