"""Dashboard benchmark: server time of every page in the navigation (and representative detail pages) on a
PostgreSQL store with 1,000 assets and 500,000 findings.

    PYTHONPATH=src python benchmarks/dashboard/measure.py [--repeat 7] [--json out.json]

Starts a private PostgreSQL (tests/helpers/postgres_server.py), seeds it
(``seed.py``, COPY), serves the real application with uvicorn on 127.0.0.1,
logs in as an admin through the log-in form, discovers the pages from the
overview's main navigation, adds detail pages (an asset with rebuilds, its
changes, a finding, the report preview, the registries and tokens pages),
then requests each page ``--repeat`` times after one warm-up request.
Server time is the ``X-Response-Time`` the benchmark's middleware measures
inside the ASGI app around the whole request (routing, queries, templates),
so the client's HTTP overhead is not in it. Prints p50/p95 per page and
stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).parent))

import httpx  # noqa: E402
from seed import seed  # noqa: E402

from helpers.api_server import ApiServer, api_settings  # noqa: E402
from helpers.postgres_server import fresh_database, start_postgres  # noqa: E402
from shieldwall.api import create_app  # noqa: E402
from shieldwall.api.tokens import Role, create_token  # noqa: E402
from shieldwall.store import Store  # noqa: E402

TARGET_MS = 300.0


class ServerTime:
    """ASGI middleware: the time the app spent on a request, in an ``X-Response-Time`` header (ms)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Callable[[Any], Awaitable[None]]) -> None:
        """Time the request up to the start of the response body."""
        start = time.perf_counter()

        async def timed(message: Any) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - start) * 1000
                message.setdefault("headers", []).append((b"x-response-time", f"{elapsed:.2f}".encode()))
            await send(message)

        await self.app(scope, receive, timed)


def _serve(store: Store, settings: Any) -> ApiServer:
    """The real application with the timing middleware outermost, on uvicorn in a thread."""
    import socket
    import threading

    import uvicorn

    app = create_app(store, settings)
    app.add_middleware(ServerTime)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    return ApiServer(f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread, app)


def _login(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=120)
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    done = client.post("/login", data={"token": token, "csrf": csrf.group(1), "next": "/"})
    assert done.status_code == 303, done.text
    return client


def _pages(client: httpx.Client) -> list[str]:
    overview = client.get("/").text
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', overview, re.S)
    assert nav is not None
    links = re.findall(r'href="(/[^"]*)"', nav.group(1))
    rebuilt = re.search(r'href="/assets/(\d+)/changes">what changed', client.get("/changes?days=365").text)
    assert rebuilt is not None, "the seeded fleet has rebuilt tags"
    asset = rebuilt.group(1)
    finding = re.search(r'href="/findings/(\d+)"', client.get("/findings").text)
    assert finding is not None
    return [
        *links,
        f"/assets/{asset}",
        f"/assets/{asset}/changes",
        f"/findings/{finding.group(1)}",
        f"/assets/{asset}/preview",
        "/actions/registries",
        "/actions/tokens",
    ]


def measure(client: httpx.Client, paths: list[str], repeat: int) -> list[dict[str, Any]]:
    """p50/p95 of the server time of each path over ``repeat`` requests (after one warm-up)."""
    rows = []
    for path in paths:
        client.get(path)
        times = []
        for _ in range(repeat):
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {response.status_code}")
            times.append(float(response.headers["x-response-time"]))
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        rows.append(
            {
                "page": path,
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(p95, 1),
                "max_ms": round(times[-1], 1),
                "ok": p95 <= TARGET_MS,
            }
        )
    return rows


def _set_indexes(url: str, present: bool) -> None:
    """Drop or create the indexes of migration 0010 (the same statements), then ANALYZE."""
    import importlib.util

    import psycopg

    path = ROOT / "src/shieldwall/store/migrations/versions/0010_dashops.py"
    spec = importlib.util.spec_from_file_location("dashops_0010", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        for name, table, columns in module.INDEXES:
            if present:
                conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})")
            else:
                conn.execute(f"DROP INDEX IF EXISTS {name}")
        conn.execute("ANALYZE")


def _print(title: str, rows: list[dict[str, Any]]) -> None:
    width = max(len(r["page"]) for r in rows)
    print(f"\n{title}\n{'page':<{width}}  p50 ms  p95 ms  max ms  <= {TARGET_MS:.0f} ms")
    for r in rows:
        flag = "yes" if r["ok"] else "NO"
        print(f"{r['page']:<{width}}  {r['p50_ms']:>6}  {r['p95_ms']:>6}  {r['max_ms']:>6}  {flag}")


def main() -> None:
    """Seed, serve, measure without and with migration 0010's indexes, print; stop the server and PostgreSQL."""
    parser = argparse.ArgumentParser(description="Dashboard page times on 1,000 assets and 500,000 findings")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--with-indexes-only", action="store_true", help="measure only with migration 0010's indexes (one pass)"
    )
    args = parser.parse_args()
    pg = start_postgres()
    work = Path(tempfile.mkdtemp(prefix="shieldwall-dash-bench-"))
    results: dict[str, Any] = {}
    try:
        url = pg.url(fresh_database(pg, "dash"))
        results["seeded"] = seed(url)
        print(json.dumps({"seeded": results["seeded"]}), flush=True)
        store = Store.open(url, audit_key_path=work / "audit.pem")
        try:
            token = create_token(store, "bench", Role.ADMIN).token
            server = _serve(store, api_settings(work / "data", work / "cache"))
            try:
                client = _login(server.url, token)
                try:
                    pages = _pages(client)
                    phases = (("without 0010 indexes", False), ("with 0010 indexes", True))
                    for label, present in phases[1:] if args.with_indexes_only else phases:
                        _set_indexes(url, present)
                        results[label] = measure(client, pages, args.repeat)
                        _print(label, results[label])
                finally:
                    client.close()
            finally:
                server.stop()
        finally:
            store.close()
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
