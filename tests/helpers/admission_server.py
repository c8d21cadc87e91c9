"""A real ``shieldwall admission serve`` process over TLS on 127.0.0.1, and an in-process variant.

``start_webhook`` runs the CLI in a subprocess (its own store connection, its
own uvicorn with the generated serving certificate) and waits until
``/healthz`` answers over TLS verified against the generated CA. ``stop``
sends SIGTERM (uvicorn's graceful shutdown writes the queued audit records)
and waits for the process.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from shieldwall.admission import tls

SRC = Path(__file__).resolve().parents[2] / "src"
START_DEADLINE = 60.0


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Webhook:
    """A running webhook process."""

    url: str
    ca: Path
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """An HTTPS client that trusts only the webhook's CA."""
        return httpx.Client(base_url=self.url, verify=ssl.create_default_context(cafile=str(self.ca)), timeout=timeout)

    def stop(self) -> None:
        """SIGTERM, then wait (kill after 30 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_webhook(
    workdir: Path, database_url: str, audit_key: Path, policy: Path | None = None, processes: int = 1
) -> Webhook:
    """Generate certificates for 127.0.0.1 and start ``shieldwall admission serve`` on a free port."""
    files = tls.generate(workdir / "certs", ["localhost", "127.0.0.1"])
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "SHIELDWALL_DATABASE_URL": database_url,
        "SHIELDWALL_AUDIT_KEY": str(audit_key),
        "SHIELDWALL_DATA_DIR": str(workdir / "data"),
        "SHIELDWALL_CACHE_DIR": str(workdir / "cache"),
        "SHIELDWALL_CONFIG_DIR": str(workdir / "config"),
    }
    command = [sys.executable, "-m", "shieldwall", "admission", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--cert", str(files.cert), "--key", str(files.key), "--log-level", "warning"]  # fmt: skip
    if policy is not None:
        command += ["--policy", str(policy)]
    if processes > 1:
        command += ["--processes", str(processes)]
    log = workdir / "webhook.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    hook = Webhook(f"https://127.0.0.1:{port}", files.ca_cert, process, log)
    deadline = time.monotonic() + START_DEADLINE
    with hook.client(timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the webhook exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if client.get("/healthz").status_code == 200:
                    return hook
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                hook.stop()
                raise RuntimeError("the webhook did not start")
            time.sleep(0.1)
