"""Fail closed within the time budget: a store that accepts connections and never answers.

The store is a PostgreSQL URL pointing at a TCP listener that accepts and
stays silent (a hung database server). The webhook must answer by its
failure action (deny by default, allow when the policy says so) with the
cause, with the request UID, and keep serving. No wall-clock assertion: the
test only requires an answer and its content.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from shieldwall.admission import tls
from shieldwall.admission.app import create_app
from shieldwall.admission.policy import AdmissionPolicy
from shieldwall.admission.recorder import Recorder
from shieldwall.admission.service import AdmissionService
from shieldwall.store import Store

pytestmark = pytest.mark.integration

REQUEST = {
    "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
    "request": {
        "uid": "uid-hung-store", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "default",
        "operation": "CREATE", "name": "p",
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "a", "image": "registry.test/app:1.0"}]}},
    },
}  # fmt: skip


@pytest.fixture
def silent_database() -> Iterator[int]:
    """A TCP port that accepts connections and never sends a byte."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def serve(tmp_path: Path, port: int, policy: dict[str, Any]) -> tuple[uvicorn.Server, threading.Thread, str, Path]:
    """The webhook app in a thread, over TLS, on a store URL pointing at the silent port."""
    store = Store.open(f"postgresql://nobody@127.0.0.1:{port}/none", audit_key_path=tmp_path / "k.pem",
                       run_migrations=False)  # fmt: skip
    recorder = Recorder(store, None)
    app = create_app(AdmissionService(store, AdmissionPolicy.model_validate(policy)), recorder, workers=2)
    files = tls.generate(tmp_path / "certs", ["127.0.0.1"])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="error", ssl_certfile=str(files.cert), ssl_keyfile=str(files.key),
                            lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, thread, f"https://127.0.0.1:{sock.getsockname()[1]}", files.ca_cert


@pytest.mark.parametrize(("action", "allowed"), [("deny", False), ("allow", True)])
def test_hung_store_is_answered_by_the_failure_action(
    tmp_path: Path, silent_database: int, action: str, allowed: bool
) -> None:
    server, thread, url, ca = serve(tmp_path, silent_database, {"failure_action": action, "timeout_seconds": 0.5})
    try:
        context = ssl.create_default_context(cafile=str(ca))
        with httpx.Client(base_url=url, verify=context, timeout=30) as client:
            for _ in range(3):  # the stuck worker threads do not stop later requests from being answered
                answer = client.post("/validate", content=json.dumps(REQUEST))
                assert answer.status_code == 200
                response = answer.json()["response"]
                assert response["uid"] == "uid-hung-store"
                assert response["allowed"] is allowed
                text = response.get("status", {}).get("message", "") + " ".join(response.get("warnings", []))
                assert "no decision within 0.5 s" in text
            metrics = client.get("/metrics").text
            assert 'shieldwall_admission_failures_total{cause="timeout"} 3' in metrics
    finally:
        server.should_exit = True
        thread.join(30)
