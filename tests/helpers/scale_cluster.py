"""Distributed-work test helpers: a cluster of real worker processes on one broker and one store, images."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from helpers.images import ImageSpec, build_oci_layout
from shieldwall.store import Store
from shieldwall.target.registry_push import push_oci_layout

SRC = Path(__file__).resolve().parents[2] / "src"
CACHE_KEY = "test-layer-cache-hmac-key-0123456789"  # a throw-away key for a throw-away cache
DEADLINE = 120.0
OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
DPKG_STATUS = b"".join(
    f"Package: pkg{i}\nStatus: install ok installed\nVersion: 1.{i}-1\nArchitecture: amd64\n\n".encode()
    for i in range(40)
)
BASE = {"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": DPKG_STATUS}


def wait_for(
    condition: Callable[[], bool], what: str, seconds: float = DEADLINE, detail: Callable[[], str] | None = None
) -> None:
    """Poll ``condition`` until it holds (fails the test with ``what`` and ``detail()`` after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}\n{detail() if detail else ''}")


def push_image(tmp: Path, host: str, repository: str, tag: str, marker: str) -> str:
    """Push an image of the shared base layer plus a layer unique to ``marker``; returns the manifest digest."""
    layers = [BASE, {f"srv/{marker}.txt": marker.encode()}]
    layout = build_oci_layout(tmp / f"layout-{marker}", layers=layers, spec=ImageSpec(labels={"marker": marker}))
    return push_oci_layout(layout, f"{host}/{repository}:{tag}")


def _suppress() -> contextlib.suppress:
    return contextlib.suppress(ProcessLookupError, PermissionError)


@dataclass
class Cluster:
    """The environment every process of one test shares, and the workers it started."""

    tmp: Path
    broker: str
    database: str
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def store(self) -> Store:
        """The shared store (PostgreSQL), as the workers open it."""
        return Store.open(self.database, audit_key_path=Path(self.env["SHIELDWALL_AUDIT_KEY"]))

    def redis(self) -> redis.Redis:
        """A client of the broker's Redis."""
        return redis.Redis.from_url(self.broker)

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        """``python -m shieldwall worker`` as a subprocess (solo pool: one task at a time, one process)."""
        env = dict(self.env)
        env["SHIELDWALL_CACHE_DIR"] = str(self.tmp / f"cache-{name}")  # each worker its own local cache
        log = (self.tmp / f"worker-{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "shieldwall", "worker", "--pool", "solo", "--hostname", f"{name}@test"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.workers.append(process)
        return process

    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``python -m shieldwall ARGS`` with the cluster's environment."""
        return subprocess.run(
            [sys.executable, "-m", "shieldwall", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def logs(self) -> str:
        """Every worker's log (for failure messages)."""
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.tmp.glob("worker-*.log")))

    def stop(self) -> None:
        """SIGTERM every worker (SIGKILL after a while) and its process group."""
        for process in self.workers:
            if process.poll() is None:
                with _suppress():
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with _suppress():
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


def append_many(url: str, key_path: str, writer: int, count: int) -> None:
    """Append ``count`` audit events from one process (a writer of the concurrent-chain test)."""
    from shieldwall.store.audit import append_event

    opened = Store.open(url, audit_key_path=Path(key_path), checkpoint_every=7)
    try:
        for i in range(count):
            with opened.session() as session:
                append_event(opened, session, "test.append", f"writer:{writer}", {"i": i}, actor=f"w{writer}")
    finally:
        opened.close()
