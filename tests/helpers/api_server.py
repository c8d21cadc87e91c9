"""The real API server for tests: uvicorn in a thread, listening on a free port on 127.0.0.1.

``ApiServer.start(store, settings)`` binds the socket first (no port race),
runs uvicorn with the app's lifespan, and waits until ``/health`` answers.
``tokens(store)`` creates one token per role.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from shieldwall.api import ApiSettings, create_app
from shieldwall.api.seed import SeedResult
from shieldwall.api.tokens import Role, create_token
from shieldwall.store import Store

JOB_DEADLINE = 120.0


@dataclass
class ApiServer:
    """A running server; ``url`` is ``http://127.0.0.1:<port>``."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread
    app: Any
    tokens: dict[Role, str] = field(default_factory=dict)

    @classmethod
    def start(cls, store: Store, settings: ApiSettings, **kwargs: Any) -> ApiServer:
        """Serve ``create_app(store, settings)`` until ``stop``."""
        app = create_app(store, settings, **kwargs)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return cls(url, server, thread, app)

    def stop(self) -> None:
        """Shut down and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(30)

    def client(self, role: Role | None = None, token: str | None = None) -> httpx.Client:
        """An HTTP client, with the token of ``role`` (or ``token``) when given."""
        headers = {}
        chosen = token if token is not None else (self.tokens[role] if role is not None else None)
        if chosen:
            headers["Authorization"] = f"Bearer {chosen}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=60.0)


def tokens(store: Store) -> dict[Role, str]:
    """One fresh token per role."""
    return {role: create_token(store, f"test-{role}", role, actor="tests").token for role in Role}


def wait_job(client: httpx.Client, job_id: str, deadline: float = JOB_DEADLINE) -> dict[str, Any]:
    """Poll a job until it is done; its final document."""
    end = time.monotonic() + deadline
    while True:
        response = client.get(f"/api/v1/jobs/{job_id}")
        response.raise_for_status()
        job: dict[str, Any] = response.json()
        if job["status"] in ("succeeded", "failed"):
            return job
        if time.monotonic() > end:
            raise AssertionError(f"job {job_id} still {job['status']} after {deadline}s")
        time.sleep(0.1)


@dataclass
class Seeded:
    """A seeded store, its directories and the running server over it."""

    backend: str
    url: str
    store: Store
    data_dir: Path
    cache_dir: Path
    seed: SeedResult
    api: ApiServer


def api_settings(data_dir: Path, cache_dir: Path, **changes: object) -> ApiSettings:
    """Settings for a test server: explicit directories, no rate limit unless asked for."""
    base: dict[str, object] = {
        "data_dir": data_dir,
        "cache_dir": cache_dir,
        "upload_dir": data_dir / "uploads",
        "rate_per_minute": 0.0,
        "webhook_timeout": 5.0,
        "webhook_attempts": 2,
    }
    base.update(changes)
    return ApiSettings(**base)  # type: ignore[arg-type]
