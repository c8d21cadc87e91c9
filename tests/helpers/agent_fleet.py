"""A real manager (``shieldwall serve`` in its own process) and real agents (``shieldwall agent run``) for tests.

``Manager.start`` runs the server on a fixed free port over a given database
URL so it can be killed (SIGKILL) and restarted on the same address;
``start_agent`` runs one agent process with its own ``--root`` and ``--state``.
``CuttableProxy`` sits between agents and the manager and can drop every
connection right after a request reached the manager (the answer is lost).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SRC = Path(__file__).resolve().parents[2] / "src"
TESTS = Path(__file__).resolve().parents[1]
DEBIAN_STATUS = """\
Package: base-files
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files

Package: openssl
Status: install ok installed
Priority: optional
Section: utils
Installed-Size: 2289
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - cryptographic utility

Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6148
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - shared libraries

Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 168
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime
"""
OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"""


def build_root(path: Path, status: str = DEBIAN_STATUS) -> Path:
    """A small Debian 12 root: os-release and a dpkg status file."""
    (path / "etc").mkdir(parents=True, exist_ok=True)
    (path / "etc" / "os-release").write_text(OS_RELEASE)
    (path / "var" / "lib" / "dpkg").mkdir(parents=True, exist_ok=True)
    (path / "var" / "lib" / "dpkg" / "status").write_text(status)
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child ``python -m shieldwall``: this worktree's code and the test helpers."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(TESTS)])
    env.update(extra or {})
    return env


@dataclass
class Manager:
    """A ``shieldwall serve`` process."""

    database_url: str
    home: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The server's environment (store, directories, fast agent timings, no rate limit)."""
        return python_env(
            {
                "SHIELDWALL_DATABASE_URL": self.database_url,
                "SHIELDWALL_DATA_DIR": str(self.home / "data"),
                "SHIELDWALL_CACHE_DIR": str(self.home / "cache"),
                "SHIELDWALL_CONFIG_DIR": str(self.home / "config"),
                "SHIELDWALL_AUDIT_KEY": str(self.home / "audit-key.pem"),
                "SHIELDWALL_API_RATE_PER_MINUTE": "0",
                "SHIELDWALL_AGENT_HEARTBEAT_SECONDS": "1",
                "SHIELDWALL_AGENT_ONLINE_SECONDS": "5",
                **self.extra_env,
            }
        )

    def start(self) -> Manager:
        """Start and wait for /health."""
        log = open(self.home / f"manager-{self.port}.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shieldwall", "serve", "--port", str(self.port), "--log-level", "warning"],
            env=self.env(),
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"manager exited: {(self.home / f'manager-{self.port}.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        raise RuntimeError("manager did not start")

    def kill(self) -> None:
        """SIGKILL (no clean shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_agent(
    manager_url: str,
    root: Path,
    state: Path,
    *,
    token: str = "",
    tag: str = "x",
    modules: str = "none",
    extra: list[str] | None = None,
) -> subprocess.Popen[bytes]:
    """``shieldwall agent run`` with the counter test module and fast intervals."""
    settings = state.parent / f"{state.name}-settings.json"
    settings.write_text(json.dumps({"counter": {"tag": tag}}))
    log = open(state.parent / f"{state.name}-agent.log", "ab")  # noqa: SIM115 - owned by the child
    args = [
        sys.executable, "-m", "shieldwall.agent", "run",
        "--manager", manager_url, "--root", str(root), "--state", str(state),
        "--heartbeat", "1", "--poll", "1", "--upload-interval", "0.2", "--tick", "0.05",
        "--batch-size", "100", "--settings", str(settings),
        "--module", "helpers.agent_counter:Module", "--only-modules", modules,
    ]  # fmt: skip
    if token:
        args += ["--token", token]
    return subprocess.Popen(args + (extra or []), env=python_env(), stdout=log, stderr=log)


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    """Signal and reap a child; SIGKILL if it does not stop in time."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def wait_for(predicate: object, timeout: float, message: str, interval: float = 0.25) -> None:
    """Poll ``predicate()`` until true (a deadline for a hung test, not a timing assertion)."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out: {message}")


def emitted_keys(state: Path) -> list[str]:
    """The keys the counter module logged as emitted."""
    path = state / "modules" / "counter" / "emitted.log"
    if not path.exists():
        return []
    return [ln for ln in path.read_text().splitlines() if ln.startswith("counter-")]


class CuttableProxy:
    """A TCP proxy; while ``cutting``, a connection is closed as soon as the manager starts answering."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.cutting = False
        self.cuts = 0
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = int(self._server.getsockname()[1])
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except OSError:
            client.close()
            return
        sockets = [client, upstream]
        try:
            while not self._closed.is_set():
                readable, _, _ = select.select(sockets, [], [], 0.5)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is upstream and self.cutting:
                        self.cuts += 1
                        return  # the manager handled the request; the agent never sees the answer
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        """Stop accepting and end every pipe."""
        self._closed.set()
        self._server.close()
        self._thread.join(5)
