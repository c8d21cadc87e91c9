"""A private Redis server for tests: Debian's ``redis-server`` on 127.0.0.1 with its files in a temp dir.

Port 0 is not supported by redis-server, so a free port is picked first
(and retried when another process takes it). The append-only file is on with
``appendfsync always``: a server killed and restarted keeps every write
acknowledged before the kill (the broker tests rely on it).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MISSING = "redis-server is not installed: the distributed-work tests need Debian's redis-server package"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningRedis:
    """A started server; ``url(db)`` is a redis:// URL for one database number."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        """``redis://127.0.0.1:<port>/<db>``."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        """Start (or restart) the server on the same port and directory."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError(MISSING)
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.directory / 'redis.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING")

    def kill(self) -> None:
        """SIGKILL the server (no shutdown save: only the append-only file survives)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_redis() -> RunningRedis:
    """A fresh server in a new temporary directory."""
    last: Exception | None = None
    for _ in range(3):
        server = RunningRedis(Path(tempfile.mkdtemp(prefix="shieldwall-redis-")), _free_port())
        try:
            server.start()
            return server
        except RuntimeError as exc:  # the port was taken meanwhile
            last = exc
            server.stop()
    raise RuntimeError(f"redis-server did not start: {last}")
