"""A private dockerd for tests: its own data root, exec root, pidfile and socket; no network, no registry.

``start_dockerd(workdir)`` runs ``dockerd`` as root with ``--bridge=none
--iptables=false --ip6tables=false`` (the host's firewall is never touched),
a unix socket in a short temporary directory, and waits for ``/_ping``.
``EngineApi`` talks to it over the socket (httpx UDS): load an image
tarball, create/start/remove containers, run commands with exec.
``stop`` removes every container, stops the daemon (SIGTERM, then SIGKILL),
unmounts anything left under its roots and deletes them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

START_DEADLINE = 60.0


def dockerd_binary() -> str | None:
    """Path of ``dockerd`` (Debian's docker.io), or None."""
    return shutil.which("dockerd")


class EngineApi:
    """The Docker Engine API over a unix socket."""

    def __init__(self, socket_path: Path) -> None:
        self.http = httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path)), base_url="http://docker/v1.41",
                                 timeout=120)  # fmt: skip

    def close(self) -> None:
        """Release the connection."""
        self.http.close()

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            raise RuntimeError(f"docker {response.request.url.path}: {response.status_code} {response.text[:500]}")
        return response

    def load(self, tarball: Path) -> None:
        """``docker load``."""
        self._check(self.http.post("/images/load", content=tarball.read_bytes(),
                                   headers={"Content-Type": "application/x-tar"}))  # fmt: skip

    def run(self, image: str, command: list[str], *, labels: dict[str, str] | None = None) -> str:
        """``docker run -d --network none``; returns the container ID."""
        body = {"Image": image, "Cmd": command, "Labels": labels or {}, "HostConfig": {"NetworkMode": "none"}}
        created = self._check(self.http.post("/containers/create", json=body)).json()
        container_id = str(created["Id"])
        self._check(self.http.post(f"/containers/{container_id}/start"))
        return container_id

    def exec(self, container_id: str, command: list[str]) -> int:
        """``docker exec``; returns the exit code."""
        body = {"Cmd": command, "AttachStdout": True, "AttachStderr": True}
        created = self._check(self.http.post(f"/containers/{container_id}/exec", json=body))
        exec_id = created.json()["Id"]
        self._check(self.http.post(f"/exec/{exec_id}/start", json={"Detach": False, "Tty": False}))
        for _ in range(200):
            state = self._check(self.http.get(f"/exec/{exec_id}/json")).json()
            if not state.get("Running"):
                return int(state.get("ExitCode") or 0)
            time.sleep(0.05)
        raise RuntimeError(f"exec {command} did not finish")

    def exec_detached(self, container_id: str, command: list[str]) -> None:
        """``docker exec -d``: start a process and leave it running, then wait until ``top`` shows it."""
        created = self._check(self.http.post(f"/containers/{container_id}/exec", json={"Cmd": command}))
        self._check(self.http.post(f"/exec/{created.json()['Id']}/start", json={"Detach": True}))
        for _ in range(200):
            top = self._check(self.http.get(f"/containers/{container_id}/top")).json()
            if any(" ".join(command) in " ".join(str(c) for c in row) for row in top.get("Processes") or ()):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{command} did not start")

    def containers(self) -> list[dict[str, Any]]:
        """Every container, running or not."""
        data: list[dict[str, Any]] = self._check(self.http.get("/containers/json", params={"all": "1"})).json()
        return data

    def remove(self, container_id: str) -> None:
        """``docker rm -f``."""
        self._check(self.http.delete(f"/containers/{container_id}", params={"force": "1", "v": "1"}))


@dataclass
class PrivateDockerd:
    """A running private daemon."""

    process: subprocess.Popen[bytes]
    root: Path
    socket: Path
    log: Path

    def api(self) -> EngineApi:
        """A client for this daemon."""
        return EngineApi(self.socket)

    def stop(self) -> None:
        """Remove containers, stop the daemon, unmount and delete its directories."""
        try:
            if self.process.poll() is None:
                api = self.api()
                try:
                    for container in api.containers():
                        api.remove(str(container["Id"]))
                except (httpx.HTTPError, RuntimeError):
                    pass
                finally:
                    api.close()
        finally:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(60)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(30)
            _unmount_under(self.root)
            shutil.rmtree(self.root, ignore_errors=True)


def _unmount_under(root: Path) -> None:
    prefix = str(root.resolve())
    mounts = []
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        for line in handle:
            target = line.split()[1].replace("\\040", " ")
            if target == prefix or target.startswith(prefix + "/"):
                mounts.append(target)
    for target in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def start_dockerd() -> PrivateDockerd:
    """Start a private dockerd in a new short temporary directory under /tmp (socket paths are length-limited)."""
    binary = dockerd_binary()
    if binary is None:
        raise RuntimeError("dockerd is not installed (.ci/run installs docker.io)")
    if os.geteuid() != 0:
        raise RuntimeError("a private dockerd needs root")
    root = Path(tempfile.mkdtemp(prefix="swd-", dir="/tmp"))
    sock = root / "docker.sock"
    log = root / "dockerd.log"
    command = [
        binary, "--data-root", str(root / "data"), "--exec-root", str(root / "exec"), "--pidfile",
        str(root / "docker.pid"), "-H", f"unix://{sock}", "--bridge=none", "--iptables=false",
        "--ip6tables=false", "--ip-masq=false", "--userland-proxy=false", "--config-file", str(root / "daemon.json"),
    ]  # fmt: skip
    (root / "daemon.json").write_text(json.dumps({"features": {"buildkit": False}}), encoding="utf-8")
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    daemon = PrivateDockerd(process, root, sock, log)
    deadline = time.monotonic() + START_DEADLINE
    while True:
        if process.poll() is not None:
            text = log.read_text(errors="replace")[-3000:]
            daemon.stop()
            raise RuntimeError(f"dockerd exited: {text}")
        if sock.exists():
            api = daemon.api()
            try:
                if api.http.get("/_ping").status_code == 200:
                    return daemon
            except httpx.HTTPError:
                pass
            finally:
                api.close()
        if time.monotonic() > deadline:
            daemon.stop()
            raise RuntimeError("dockerd did not answer /_ping")
        time.sleep(0.2)
