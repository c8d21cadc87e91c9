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

from helpers.images import ImageSpec, OciImage, build_oci_layout
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


class GateProxy:
    """An HTTP proxy in front of a registry that holds every blob ``GET`` (or only blob ``only``) while the gate
    is closed.

    ``blob_requested`` is set when a worker asks for a blob: the worker is then
    mid-scan, for as long as the test keeps the gate closed.
    """

    def __init__(self, upstream: str, only: str = "") -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        import httpx

        self.blob_requested = threading.Event()
        self.gate = threading.Event()
        proxy = self
        client = httpx.Client(base_url=f"http://{upstream}", timeout=60, follow_redirects=True)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def _forward(self, method: str) -> None:
                held = "/blobs/" in self.path and (not only or self.path.endswith(f"/blobs/{only}"))
                if held and method == "GET" and not proxy.gate.is_set():
                    proxy.blob_requested.set()
                    proxy.gate.wait(120)
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "authorization", "range")}
                try:
                    upstream_response = client.request(method, self.path, headers=headers)
                except httpx.HTTPError:
                    self.send_error(502)
                    return
                body = upstream_response.content
                self.send_response(upstream_response.status_code)
                for name in ("content-type", "docker-content-digest", "docker-distribution-api-version", "link"):
                    if name in upstream_response.headers:
                        self.send_header(name, upstream_response.headers[name])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if method != "HEAD":
                    with contextlib.suppress(OSError):
                        self.wfile.write(body)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_HEAD(self) -> None:
                self._forward("HEAD")

        self._client = client
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>`` of the proxy."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        """Open the gate and stop serving."""
        self.gate.set()
        self._server.shutdown()
        self._server.server_close()
        self._client.close()


def push_poison_image(host: str, repository: str, tag: str, depth: int = 100_000) -> str:
    """An image whose config is deeply nested JSON: refused as hostile input (it once crashed the parser)."""
    import hashlib
    import io
    import json

    from shieldwall.target.registry import RegistryClient
    from shieldwall.target.registry_push import put_manifest, upload_blob

    config = (
        b'{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]},"x":'
        + b"[" * depth
        + b"]" * depth
        + b"}"
    )
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    with RegistryClient(host) as client:
        upload_blob(client, repository, config_digest, len(config), lambda: io.BytesIO(config))
        return put_manifest(client, repository, tag, manifest, "application/vnd.oci.image.manifest.v1+json")


def pg_ctl(server: object, action: str) -> None:
    """``pg_ctl stop`` or ``start`` a test PostgreSQL server in place (same data directory and port)."""
    from helpers.postgres_server import RunningPostgres

    assert isinstance(server, RunningPostgres)
    data = server.datadir / "data"
    args = [*server.as_user, str(server.bindir / "pg_ctl"), "-D", str(data)]
    if action == "stop":
        args += ["-m", "fast", "-w", "stop"]
    else:
        options = (
            f"-h 127.0.0.1 -p {server.port} -k {server.datadir} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=100"
        )
        args += ["-o", options, "-l", str(server.datadir / "server.log"), "-w", "-t", "60", "start"]
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=90)
    if done.returncode != 0:
        raise RuntimeError(f"pg_ctl {action} failed: {done.stderr}")


def push_built_image(host: str, repository: str, tag: str, image: OciImage) -> str:
    """Push the blobs and manifest of ``image`` (possibly tampered with by the test); the manifest digest."""
    import io
    import json

    from shieldwall.target.registry import RegistryClient
    from shieldwall.target.registry_push import put_manifest, upload_blob

    with RegistryClient(host) as client:
        for digest, blob in image.blobs.items():
            if digest != image.manifest_digest:
                upload_blob(client, repository, digest, len(blob), lambda blob=blob: io.BytesIO(blob))  # type: ignore[misc]
        raw = json.dumps(image.manifest).encode()
        return put_manifest(client, repository, tag, raw, "application/vnd.oci.image.manifest.v1+json")


def claim_diff_id(image: OciImage, index: int, claimed: str) -> OciImage:
    """``image`` whose config says layer ``index`` has diff ID ``claimed`` (its bytes unchanged): a lying image."""
    import dataclasses
    import hashlib
    import json

    config = json.loads(image.blobs[image.config_digest])
    config["rootfs"]["diff_ids"][index] = claimed
    raw = json.dumps(config).encode()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    manifest = json.loads(json.dumps(image.manifest))
    manifest["config"] = {**manifest["config"], "digest": digest, "size": len(raw)}
    blobs = {k: v for k, v in image.blobs.items() if k not in (image.config_digest, image.manifest_digest)}
    blobs[digest] = raw
    raw_manifest = json.dumps(manifest).encode()
    manifest_digest = "sha256:" + hashlib.sha256(raw_manifest).hexdigest()
    blobs[manifest_digest] = raw_manifest
    return dataclasses.replace(
        image, manifest_digest=manifest_digest, config_digest=digest, blobs=blobs, manifest=manifest
    )
