"""Hostile input through the API: a real ``shieldwall serve`` subprocess (capped address space) takes it all.

- Upload cells: every hostile image kind that a docker-archive can carry and
  every hostile SBOM kind is uploaded to ``POST /api/v1/scans/upload``; the job
  must fail with a one-line error naming the problem, or succeed (with the
  documented warning), and the server must stay up with bounded memory.
- Planted secrets: an image carrying credentials in ENV, labels, history, a
  Dockerfile and a file is uploaded; no secret may appear whole in any API
  response (job, scan, findings and each finding, asset, packages, layers,
  HTML report), any dashboard page, or any row of the store.
- Hostile requests (15 kinds): oversize bodies and uploads, deep JSON, wrong
  types, bad content types, a slow body, server-side request forgery through
  registry names, webhooks, token realms and redirects (counting listeners on
  loopback prove no connection left), huge query parameters, traversal in IDs
  and upload names, NUL and CRLF in fields, and the role check. Never a 500,
  never a hang, never a connection the operator did not allow.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import hostile_matrix as hm
from helpers.hostile_cases import IMAGE_KINDS, SBOM_KINDS
from helpers.registry_server import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SRC = Path(__file__).resolve().parents[2] / "src"
ADDRESS_SPACE = 4 * (1 << 30)  # 4 GiB for the server and its scan threads
PEAK_RSS_KIB = 2 * 1024 * 1024
UPLOAD_LIMIT = 48 * (1 << 20)
JOB_DEADLINE = 600.0  # a hang detector only
ALLOWED_REGISTRY = "127.0.0.2"  # the one internal address the operator allows (SHIELDWALL_EGRESS_ALLOW)


class Counter:
    """Connections a loopback listener accepted."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def hit(self) -> None:
        with self.lock:
            self.count += 1


@contextmanager
def listener(host: str = "127.0.0.1") -> Iterator[tuple[int, Counter]]:
    """A TCP listener that counts every accepted connection (and answers 200 to anything)."""
    counter = Counter()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            counter.hit()
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = do_PUT = do_HEAD = _any

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], counter
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Served:
    """A running ``shieldwall serve`` and what the tests need to talk to it."""

    url: str
    process: subprocess.Popen[bytes]
    home: Path
    tokens: dict[str, str]
    log: Path
    statuses: list[tuple[str, int]] = field(default_factory=list)

    def client(self, role: str = "operator", **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120.0, **kwargs)

    def alive(self) -> None:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        assert httpx.get(f"{self.url}/health", timeout=30).status_code == 200


TOKEN_SCRIPT = """
import json
from shieldwall.api.tokens import Role, create_token
from shieldwall.store import Store
store = Store.open()
print(json.dumps({r.value: create_token(store, f"hostile-{r.value}", r, actor="tests").token for r in Role}))
store.close()
"""


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("hostile-api")
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "SHIELDWALL_DATA_DIR": str(home / "data"),
        "SHIELDWALL_CACHE_DIR": str(home / "cache"),
        "SHIELDWALL_CONFIG_DIR": str(home / "config"),
        "SHIELDWALL_API_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
        "SHIELDWALL_API_RATE_PER_MINUTE": "0",
        "SHIELDWALL_ALLOW_INCOMPLETE_DB": "1",
        "SHIELDWALL_EGRESS_ALLOW": f"{ALLOWED_REGISTRY}/32",
        "TMPDIR": str(home),
    }
    env.pop("SHIELDWALL_DATABASE_URL", None)
    made = subprocess.run([sys.executable, "-c", TOKEN_SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    tokens = json.loads(made.stdout.strip().splitlines()[-1])
    port = free_port()
    log = home / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "shieldwall", "serve", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=sink, stderr=subprocess.STDOUT, preexec_fn=_limit,
        )  # fmt: skip
    served = Served(f"http://127.0.0.1:{port}", process, home, tokens, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{served.url}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, _status, usage = os.wait4(process.pid, 0)
        except ChildProcessError:
            usage = None
        served.peak = usage.ru_maxrss if usage else 0  # type: ignore[attr-defined]
        assert usage is None or usage.ru_maxrss < PEAK_RSS_KIB, f"server peak RSS {usage.ru_maxrss} KiB"


def wait_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    end = time.monotonic() + JOB_DEADLINE
    while True:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").raise_for_status().json()
        if job["status"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < end, f"job {job_id} still {job['status']} after {JOB_DEADLINE}s (a hang)"
        time.sleep(0.2)


def upload(served: Served, name: str, data: bytes, kind: str, **form: str) -> httpx.Response:
    with served.client() as client:
        return client.post("/api/v1/scans/upload", files={"file": (name, data)}, data={"kind": kind, **form})


def _secret_free(text: str, where: str) -> None:
    for secret in (*hm.PLANTED, *hm.FLOOD[:2000], *hm.FLOOD[-2000:]):
        assert secret not in text, f"{where} carries a planted secret whole ({secret[:4]}...)"


# --- upload cells: the matrix's docker-archive and SBOM kinds, through the API ---

UPLOAD_CELLS = sorted([k for k, (_, targets, _) in IMAGE_KINDS.items() if "docker" in targets] + list(SBOM_KINDS))


@pytest.mark.parametrize("kind", UPLOAD_CELLS)
def test_hostile_upload(kind: str, served: Served, tmp_path: Path) -> None:
    if kind in SBOM_KINDS:
        name, build, expect = SBOM_KINDS[kind]
        data = build(tmp_path)
        if kind == "sbom-oversize":
            data = b'{"bomFormat":"CycloneDX","specVersion":"1.5","components":[' + b" " * (hm.SBOM_OVERSIZE - 60)
        form = "sbom"
    else:
        build_image, _, expect = IMAGE_KINDS[kind]
        data = hm.docker_archive(build_image(tmp_path), tmp_path / "image.tar").read_bytes()
        name, form = "image.tar", "image"
    response = upload(served, name, data, form)
    served.alive()
    if response.status_code == 400:  # refused at the edge (sniffing): the same contract, earlier
        assert expect.code == 2, response.text
        detail = response.json()["detail"]
        assert "Traceback" not in detail and "\n" not in detail, detail
    elif response.status_code == 413:
        assert expect.code == 2 and len(data) > UPLOAD_LIMIT, response.text
    else:
        assert response.status_code == 202, response.text
        with served.client() as client:
            job = wait_job(client, response.json()["id"])
            served.alive()
            text = json.dumps(job)
            _secret_free(text, "the job")
            if expect.code == 2:
                assert job["status"] == "failed", job
                error = job["error"] or ""
                assert "\n" not in error.strip() and "Traceback" not in error and "internal" not in error, error
                assert expect.text in error, error
            else:
                assert job["status"] == "succeeded", job
                scan = client.get(f"/api/v1/scans/{job['scan_id']}").raise_for_status()
                _secret_free(scan.text, "the scan")
                report = client.get(f"/api/v1/assets/{job['asset_id']}/report.html").raise_for_status()
                _secret_free(report.text, "the HTML report")
                if expect.text:  # the documented warning is visible to the API's reader
                    assert job["result"].get("warnings", 0) >= 1, job
                    assert expect.text in report.text, "the warning is not in the stored result"
    assert not any(p.name != "serve.log" and p.is_file() for p in served.home.iterdir()), "a file left in TMPDIR"


# --- planted secrets: every API response, every dashboard page, every store row ---


def _login(client: httpx.Client, token: str) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    done = client.post("/login", data={"token": token, "csrf": csrf.group(1), "next": "/"})
    assert done.status_code == 303, done.text


def test_planted_secrets_never_leave_through_the_api_the_dashboard_or_the_store(served: Served, tmp_path: Path) -> None:
    archive = hm.docker_archive(hm.planted_secrets(tmp_path), tmp_path / "image.tar")
    response = upload(served, "image.tar", archive.read_bytes(), "image")
    assert response.status_code == 202, response.text
    bodies: dict[str, str] = {}
    with served.client() as client:
        job = wait_job(client, response.json()["id"])
        assert job["status"] == "succeeded", job
        bodies["job"] = json.dumps(job)
        asset, scan = job["asset_id"], job["scan_id"]
        for path in (f"/api/v1/scans/{scan}", f"/api/v1/assets/{asset}", f"/api/v1/assets/{asset}/packages",
                     f"/api/v1/assets/{asset}/layers", f"/api/v1/assets/{asset}/drift",
                     f"/api/v1/assets/{asset}/report.html", "/api/v1/findings?limit=500", "/api/v1/scans",
                     "/api/v1/assets", "/api/v1/overview", "/api/v1/audit/events", "/api/v1/jobs"):  # fmt: skip
            got = client.get(path)
            assert got.status_code == 200, (path, got.status_code, got.text[:500])
            bodies[path] = got.text
        findings = json.loads(bodies["/api/v1/findings?limit=500"])["items"]
        secret_findings = [f for f in findings if f["kind"] == "secret"]
        assert len(secret_findings) >= 3, [f["title"] for f in findings]  # they are found, and shown masked
        for finding in findings:
            path = f"/api/v1/findings/{finding['id']}"
            bodies[path] = client.get(path).raise_for_status().text
    with httpx.Client(base_url=served.url, timeout=120.0, follow_redirects=False) as browser:
        _login(browser, served.tokens["viewer"])
        pages = ["/", "/assets", f"/assets/{asset}", f"/assets/{asset}/report.html", "/findings", "/audit"]
        pages += [f"/findings/{f['id']}" for f in findings]
        for page in pages:
            got = browser.get(page)
            assert got.status_code == 200, (page, got.status_code)
            bodies[f"dashboard {page}"] = got.text
    for where, text in bodies.items():
        _secret_free(text, where)
    assert "DB_PASSWORD" in bodies[f"/api/v1/assets/{asset}"] or any("DB_PASSWORD" in t for t in bodies.values())
    # every row of every table of the store (SQLite), every text and blob column
    databases = list((served.home / "data").rglob("*.db")) + list((served.home / "data").rglob("*.sqlite"))
    assert databases, list((served.home / "data").rglob("*"))
    rows = 0
    for db in databases:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for row in connection.execute(f'SELECT * FROM "{table}"'):
                    rows += 1
                    _secret_free(" ".join(str(v) if not isinstance(v, bytes) else v.decode("latin-1") for v in row),
                                 f"{db.name}:{table}")  # fmt: skip
        finally:
            connection.close()
        raw = db.read_bytes()
        for secret in hm.PLANTED:
            assert secret.encode() not in raw, f"{db.name} holds a secret whole (free pages included)"
    assert rows > 0


# --- hostile requests ---


def _never_500(response: httpx.Response, *allowed: int) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if allowed:
        assert response.status_code in allowed, (response.status_code, response.text[:500])


def test_oversize_json_body(served: Served) -> None:
    with served.client() as client:
        body = json.dumps({"image": "docker.io/library/alpine:3", "environment": "x" * (2 << 20)})
        _never_500(client.post("/api/v1/scans", content=body, headers={"Content-Type": "application/json"}), 413)
    served.alive()


def test_oversize_upload(served: Served) -> None:
    _never_500(upload(served, "big.tar", b"\0" * (UPLOAD_LIMIT + (1 << 20)), "image"), 413)
    served.alive()
    assert (
        not list((served.home / "data" / "uploads").glob("*/*"))
        if (served.home / "data" / "uploads").exists()
        else True
    )


def test_deep_json_body(served: Served) -> None:
    with served.client() as client:
        for body in ("[" * 100_000 + "]" * 100_000, '{"image":' * 50_000 + '"x"' + "}" * 50_000):
            _never_500(client.post("/api/v1/scans", content=body, headers={"Content-Type": "application/json"}),
                       400, 413, 422)  # fmt: skip
    served.alive()


def test_wrong_types(served: Served) -> None:
    with served.client() as client:
        bodies: list[object] = [{"image": 5}, {"image": ["a"]}, {"image": "a/b:1", "scanners": "vuln"}, {"image": None}]
        bodies += [{"image": "a/b:1", "webhook_url": []}, [], "x", {"image": "a/b:1", "scanners": [5] * 10}]
        for body in bodies:
            _never_500(client.post("/api/v1/scans", json=body), 400, 422)
        _never_500(client.get("/api/v1/findings", params={"limit": "many"}), 400, 422)
    served.alive()


def test_bad_content_types(served: Served) -> None:
    with served.client() as client:
        _never_500(
            client.post("/api/v1/scans", content=b"image=x", headers={"Content-Type": "text/plain"}), 400, 415, 422
        )
        _never_500(client.post("/api/v1/scans", content=b"\xff\xfe\x00", headers={"Content-Type": "application/json"}),
                   400, 422)  # fmt: skip
        _never_500(client.post("/api/v1/scans/upload", json={"file": "x"}), 400, 415, 422)
        _never_500(client.post("/api/v1/scans/upload", content=b"--x\r\n\r\n",
                               headers={"Content-Type": "multipart/form-data; boundary=x"}), 400, 422)  # fmt: skip
        _never_500(client.post("/api/v1/scans/upload", content=b"junk",
                               headers={"Content-Type": "multipart/form-data"}), 400, 422)  # fmt: skip
    served.alive()


def test_a_slow_body_does_not_stop_the_server(served: Served) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)), timeout=30)
    try:
        slow.sendall(
            b"POST /api/v1/scans HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + served.tokens["operator"].encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"image\": \""
        )  # fmt: skip
        for _ in range(5):
            slow.sendall(b"a")
            served.alive()  # other clients are served while this body trickles in
            time.sleep(0.2)
    finally:
        slow.close()
    served.alive()


@pytest.mark.parametrize("image", ["127.0.0.1:{port}/x/y:1", "localhost:{port}/x/y:1", "[::1]:{port}/x/y:1",
                                   "169.254.169.254/x/y:1", "0.0.0.0:{port}/x/y:1", "127.1:{port}/x/y:1"])  # fmt: skip
def test_registry_names_on_internal_addresses_are_never_contacted(served: Served, image: str) -> None:
    with listener() as (port, counter), served.client() as client:
        response = client.post("/api/v1/scans", json={"image": image.format(port=port)})
        _never_500(response, 202, 400, 422)
        if response.status_code == 202:
            job = wait_job(client, response.json()["id"])
            assert job["status"] == "failed" and "egress" in (job["error"] or ""), job
        assert counter.count == 0, "the server connected to an internal address"
    served.alive()


def test_webhooks_to_internal_addresses_are_never_posted(served: Served, tmp_path: Path) -> None:
    sbom = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}).encode()
    with listener() as (port, counter):
        for url in (f"http://127.0.0.1:{port}/hook", f"http://localhost:{port}/hook", f"http://[::1]:{port}/hook"):
            response = upload(served, "bom.cdx.json", sbom, "sbom", webhook_url=url)
            _never_500(response, 202, 400)
            if response.status_code == 202:
                with served.client() as client:
                    job = wait_job(client, response.json()["id"])
                assert job["status"] == "succeeded", job
        time.sleep(2)  # a delivery, if any, happens right after the job ends
        assert counter.count == 0, "a webhook was POSTed to an internal address"
    served.alive()


@contextmanager
def hostile_registry(redirect_to: str, *, realm: bool) -> Iterator[int]:
    """A registry on the allowed address that sends the token request (or a manifest) to ``redirect_to``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if realm:
                self.send_response(401)
                self.send_header(
                    "WWW-Authenticate", f'Bearer realm="{redirect_to}",service="x",scope="repository:x/y:pull"'
                )
            else:
                self.send_response(200 if self.path == "/v2/" else 307)
                if self.path != "/v2/":
                    self.send_header("Location", redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer((ALLOWED_REGISTRY, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("realm", [True, False], ids=["token-realm", "redirect"])
def test_allowed_registries_cannot_send_the_server_elsewhere(served: Served, realm: bool) -> None:
    with listener() as (port, counter), hostile_registry(f"http://127.0.0.1:{port}/steal", realm=realm) as reg:
        with served.client() as client:
            response = client.post("/api/v1/scans", json={"image": f"{ALLOWED_REGISTRY}:{reg}/x/y:1"})
            _never_500(response, 202)
            job = wait_job(client, response.json()["id"])
        assert job["status"] == "failed", job
        assert "\n" not in (job["error"] or "").strip(), job["error"]
        assert counter.count == 0, "the server followed a registry to an internal address"
    served.alive()


def test_huge_query_parameters(served: Served) -> None:
    with served.client() as client:
        for params in ({"limit": "9" * 5000}, {"cursor": "9" * 5000}, {"severity": "x" * 60_000},
                       {"asset_id": "1" * 10_000}, {"q": "é" * 9_000}, {"limit": "-1"}):  # fmt: skip
            for path in ("/api/v1/findings", "/api/v1/scans", "/api/v1/audit/events"):
                try:
                    response = client.get(path, params=params)
                except httpx.RemoteProtocolError:
                    continue  # the server closed a request line it would not read: refused, not crashed
                _never_500(response)
    _raw_request(served, b"GET /api/v1/findings?cursor=" + b"9" * 300_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    served.alive()


def _raw_request(served: Served, request: bytes) -> None:
    """Send bytes no client library would; the answer, if any, is never a 5xx."""
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(request)
        try:
            answer = sock.recv(4096)
        except OSError:
            answer = b""
    assert not re.match(rb"HTTP/1\.[01] 5", answer), answer[:200]


def test_traversal_and_junk_in_ids(served: Served) -> None:
    with served.client() as client:
        for path in ("/api/v1/scans/..%2F..%2F..%2Fetc%2Fpasswd", "/api/v1/assets/%2e%2e%2f%2e%2e",
                     "/api/v1/jobs/..%2f..%2fetc%2fpasswd", "/api/v1/findings/1%00", "/api/v1/assets/-1",
                     "/api/v1/assets/99999999999999999999999999", "/api/v1/findings/1e9", "/api/v1/jobs/%ff%fe",
                     "/assets/..%2F..%2Fetc%2Fpasswd", "/api/v1/assets/1/report.html%00.txt",
                     "/static/..%2f..%2f..%2fetc%2fpasswd", "/api/v1/audit/events/..%2f1"):  # fmt: skip
            response = client.get(path)
            _never_500(response)
            assert "root:x:0:0" not in response.text, path
    served.alive()


def test_nul_crlf_and_control_text_in_fields(served: Served) -> None:
    with served.client() as client:
        for image in ("reg.example/x\r\nHost: evil:1", "reg.example/x:1\x00", "reg.example/\x1b[2Jx:1",
                      "reg.example/x:1 --output=/etc/passwd", "reg.example/../../x:1"):  # fmt: skip
            _never_500(client.post("/api/v1/scans", json={"image": image}), 400, 422)
    sbom = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}).encode()
    _never_500(upload(served, "bom.cdx.json", sbom, "sbom", environment="prod\x00x"), 400)
    _never_500(upload(served, "bom.cdx.json", sbom, "sbom", webhook_url="file:///etc/passwd"), 400)
    served.alive()


def test_upload_names_cannot_climb_out(served: Served, tmp_path: Path) -> None:
    canary = served.home / "canary"
    canary.mkdir(exist_ok=True)
    sbom = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}).encode()
    for name in ("../../canary/owned.cdx.json", "/etc/cron.d/owned", "..\\..\\canary\\x.json", "\x00.json", ".."):
        response = upload(served, name, sbom, "sbom")
        _never_500(response, 202, 400)
        if response.status_code == 202:
            with served.client() as client:
                wait_job(client, response.json()["id"])
    assert list(canary.iterdir()) == []
    assert not Path("/etc/cron.d/owned").exists()
    served.alive()


def test_roles_and_missing_tokens(served: Served) -> None:
    body = {"image": "docker.io/library/alpine:3"}
    with served.client(role="") as anonymous:
        _never_500(anonymous.post("/api/v1/scans", json=body), 401)
    with served.client(role="viewer") as viewer:
        _never_500(viewer.post("/api/v1/scans", json=body), 403)
    junk = {"Authorization": "Bearer " + "x" * 100_000}
    with (
        httpx.Client(base_url=served.url, headers=junk, timeout=60) as client,
        # a header the server would not read: refused by closing the connection (an EOF or a reset,
        # whichever the client sees first); the server must stay up (checked below)
        contextlib.suppress(httpx.RemoteProtocolError, httpx.ReadError),
    ):
        _never_500(client.post("/api/v1/scans", json=body), 400, 401, 431)
    served.alive()
