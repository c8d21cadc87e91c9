"""Agent footprint and manager capacity (a benchmark, not a test; see RESULTS.md for the numbers).

1. Idle agent: a real ``shieldwall agent run`` (inventory module on a root
   holding the real Debian 12 dpkg status from ../shared/data/pkgdb, heartbeat
   every 10 s) against a real ``shieldwall serve``; after the first inventory,
   its CPU time over a window (percent of one core) and its RSS/USS.
2. Manager load: N simulated agents (asyncio + httpx, each with its own
   Ed25519 key, enrolled through the API) heartbeating every 10 s plus a
   steady stream of event batches, against ``shieldwall serve`` on SQLite (or
   PostgreSQL with --database-url). Per level: latency p50/p99 per request
   kind, achieved vs target request rate, errors; the ceiling is the first
   level that misses the target rate by more than 5%, has a p99 above 2 s, or
   more than 1% errors.

    PYTHONPATH=src python benchmarks/agent/bench_agent.py --levels 250,500,1000,2000 --seconds 40
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
SHARED_STATUS = ROOT.parent / "shared" / "data" / "pkgdb" / "debian12-dpkg" / "status"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from helpers.agent_fleet import OS_RELEASE, Manager, python_env  # noqa: E402
from shieldwall.agent.signing import AgentKey  # noqa: E402
from shieldwall.api.tokens import Role, create_token  # noqa: E402
from shieldwall.store import Store  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def start_manager(work: Path, database_url: str) -> tuple[Manager, Store, str]:
    home = work / "manager"
    home.mkdir(parents=True, exist_ok=True)
    store = Store.open(database_url, audit_key_path=home / "audit-key.pem")
    admin = create_token(store, "bench", Role.ADMIN, actor="bench").token
    manager = Manager(
        database_url,
        home,
        extra_env={
            "SHIELDWALL_AGENT_HEARTBEAT_SECONDS": "10",
            "SHIELDWALL_AGENT_ONLINE_SECONDS": "30",
            "SHIELDWALL_API_MAX_BODY_BYTES": str(4 * 1024 * 1024),
        },
    )
    manager.start()
    return manager, store, admin


def idle_agent(work: Path, manager: Manager, admin: str, window: float) -> dict[str, Any]:
    """Footprint of one real agent process after its first inventory."""
    api = httpx.Client(base_url=manager.url, headers={"Authorization": f"Bearer {admin}"}, timeout=60)
    api.post(
        "/api/v1/policies", json={"name": "idle", "document": {"modules": {"inventory": {"interval_seconds": 3600}}}}
    )
    token = api.post("/api/v1/enrollment-tokens", json={"name": "idle", "policy": "idle"}).json()["token"]
    root = work / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(OS_RELEASE)
    (root / "var" / "lib" / "dpkg").mkdir(parents=True)
    if SHARED_STATUS.is_file():
        shutil.copy(SHARED_STATUS, root / "var" / "lib" / "dpkg" / "status")
    state = work / "agent-state"
    log = open(work / "agent.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "shieldwall.agent", "run", "--manager", manager.url, "--token", token,
         "--root", str(root), "--state", str(state), "--heartbeat", "10", "--poll", "30",
         "--only-modules", "inventory", "--log-level", "warning"],
        env=python_env(), stdout=log, stderr=log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        agent_id = ""
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError, KeyError):
                agent_id = json.loads((state / "agent.json").read_text())["agent_id"]
            if agent_id and api.get(f"/api/v1/agents/{agent_id}/inventory").json().get("hash"):
                break
            time.sleep(1)
        packages = len(api.get(f"/api/v1/agents/{agent_id}/inventory").json()["packages"])
        time.sleep(5)
        process = psutil.Process(proc.pid)
        before = process.cpu_times()
        start = time.monotonic()
        time.sleep(window)
        after = process.cpu_times()
        elapsed = time.monotonic() - start
        cpu = (after.user + after.system - before.user - before.system) / elapsed * 100
        memory = process.memory_full_info()
        return {
            "window_seconds": round(elapsed, 1),
            "cpu_percent_of_one_core": round(cpu, 3),
            "rss_mb": round(memory.rss / 2**20, 1),
            "uss_mb": round(memory.uss / 2**20, 1),
            "packages_in_inventory": packages,
        }
    finally:
        proc.terminate()
        proc.wait(30)
        api.close()


class SimAgent:
    """One simulated agent: its key and ID."""

    def __init__(self) -> None:
        self.key = AgentKey(Ed25519PrivateKey.generate(), Path("/nonexistent"))
        self.agent_id = ""


async def enroll_all(url: str, token: str, agents: list[SimAgent], concurrency: int = 20) -> None:
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:

        async def one(agent: SimAgent, n: int) -> None:
            async with gate:
                body = {"token": token, "public_key": agent.key.public_text, "hostname": f"sim-{n}", "facts": {}}
                response = await client.post("/api/v1/agent/enroll", json=body)
                response.raise_for_status()
                agent.agent_id = response.json()["agent_id"]

        await asyncio.gather(*(one(a, n) for n, a in enumerate(agents)))


async def signed_post(client: httpx.AsyncClient, agent: SimAgent, path: str, body: dict[str, Any]) -> int:
    content = json.dumps(body, separators=(",", ":")).encode()
    headers = agent.key.sign_headers(agent.agent_id, "POST", path, content)
    headers["Content-Type"] = "application/json"
    response = await client.post(path, content=content, headers=headers)
    return response.status_code


async def run_level(url: str, agents: list[SimAgent], seconds: float, events_per_second: float) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {"heartbeat": [], "events": []}
    errors: dict[str, int] = {"heartbeat": 0, "events": 0}
    sent: dict[str, int] = {"heartbeat": 0, "events": 0}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    end = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def request(kind: str, agent: SimAgent, path: str, body: dict[str, Any]) -> None:
            started = time.monotonic()
            try:
                status = await signed_post(client, agent, path, body)
            except httpx.HTTPError:
                status = 0
            latencies[kind].append(time.monotonic() - started)
            sent[kind] += 1
            if status != 200:
                errors[kind] += 1

        async def heartbeats(agent: SimAgent) -> None:
            await asyncio.sleep(random.uniform(0, 10))
            while time.monotonic() < end:
                tick = time.monotonic()
                body = {
                    "version": "bench",
                    "uptime_seconds": 1,
                    "spool_depth": 0,
                    "modules": {"inventory": {"status": "running", "counters": {"scans": 1}}},
                }
                await request("heartbeat", agent, "/api/v1/agent/heartbeat", body)
                await asyncio.sleep(max(0.0, 10 - (time.monotonic() - tick)))

        async def event_stream() -> None:
            batch = 10
            interval = batch / events_per_second
            pending: set[asyncio.Task[None]] = set()
            while time.monotonic() < end:
                tick = time.monotonic()
                agent = random.choice(agents)
                now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
                events = [
                    {
                        "key": secrets.token_hex(16),
                        "module": "bench",
                        "kind": "bench.tick",
                        "severity": "LOW",
                        "summary": "x",
                        "attributes": {"n": i},
                        "observed_at": now,
                    }
                    for i in range(batch)
                ]
                task = asyncio.create_task(request("events", agent, "/api/v1/agent/events", {"events": events}))
                pending.add(task)
                task.add_done_callback(pending.discard)
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - tick)))
            if pending:
                await asyncio.gather(*pending)

        started = time.monotonic()
        await asyncio.gather(*(heartbeats(a) for a in agents), event_stream())
        elapsed = time.monotonic() - started
    target_hb = len(agents) / 10 * seconds
    result: dict[str, Any] = {"agents": len(agents), "seconds": round(elapsed, 1)}
    for kind in ("heartbeat", "events"):
        result[kind] = {
            "requests": sent[kind],
            "errors": errors[kind],
            "p50_ms": round(percentile(latencies[kind], 50) * 1000, 1),
            "p99_ms": round(percentile(latencies[kind], 99) * 1000, 1),
        }
    result["heartbeat"]["target"] = round(target_hb)
    result["heartbeat"]["achieved_ratio"] = round(sent["heartbeat"] / target_hb, 3) if target_hb else 0
    result["events"]["events_per_second"] = round(sent["events"] * 10 / elapsed, 1)
    worst_p99 = max(result["heartbeat"]["p99_ms"], result["events"]["p99_ms"])
    error_ratio = (errors["heartbeat"] + errors["events"]) / max(1, sent["heartbeat"] + sent["events"])
    result["keeps_up"] = result["heartbeat"]["achieved_ratio"] >= 0.95 and worst_p99 <= 2000 and error_ratio <= 0.01
    return result


def per_request_cpu(work: Path, count: int = 300) -> dict[str, Any]:
    """CPU per signed heartbeat, in one process (app + client through Starlette's test client, SQLite)."""
    from fastapi.testclient import TestClient

    from shieldwall.api import ApiSettings, create_app
    from shieldwall.service.fleet.tokens import create_token as enrollment_token

    store = Store.open(f"sqlite:///{work / 'cpu.db'}", audit_key_path=work / "cpu-key.pem")
    settings = ApiSettings(data_dir=work / "cpu-data", cache_dir=work / "cpu-cache", rate_per_minute=0)
    app = create_app(store, settings, dashboard=False)
    agent = SimAgent()
    try:
        with TestClient(app) as client:
            enrolled = client.post(
                "/api/v1/agent/enroll",
                json={
                    "token": enrollment_token(store, name="cpu").token,
                    "public_key": agent.key.public_text,
                    "hostname": "cpu",
                    "facts": {},
                },
            )
            agent.agent_id = enrolled.json()["agent_id"]
            body = json.dumps({"version": "b", "uptime_seconds": 1, "spool_depth": 0}).encode()

            def one() -> None:
                headers = agent.key.sign_headers(agent.agent_id, "POST", "/api/v1/agent/heartbeat", body)
                headers["Content-Type"] = "application/json"
                assert client.post("/api/v1/agent/heartbeat", content=body, headers=headers).status_code == 200

            for _ in range(20):
                one()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                one()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        store.close()
    return {
        "heartbeats": count,
        "wall_ms_each": round(wall / count * 1000, 2),
        "cpu_ms_each": round(cpu / count * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="250,500,1000,2000")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--events-per-second", type=float, default=50.0)
    parser.add_argument("--idle-window", type=float, default=60.0)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--per-request", action="store_true", help="only the in-process CPU cost of one heartbeat")
    parser.add_argument("--postgres", action="store_true", help="a private PostgreSQL (tests/helpers/postgres_server)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sw-agent-bench-"))
    url = args.database_url or f"sqlite:///{work / 'manager.db'}"
    if args.per_request:
        print(json.dumps(per_request_cpu(work), indent=2))
        shutil.rmtree(work, ignore_errors=True)
        return
    if args.postgres:
        from helpers.postgres_server import fresh_database, shared_postgres

        server = shared_postgres()  # stopped at exit by the helper
        url = server.url(fresh_database(server, "bench"))
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"{round(psutil.virtual_memory().total / 2**30, 1)} GiB, Python {platform.python_version()}",
        "backend": url.split(":", 1)[0],
    }
    manager, store, admin = start_manager(work, url)
    try:
        if not args.skip_idle:
            report["idle_agent"] = idle_agent(work, manager, admin, args.idle_window)
            print(json.dumps(report["idle_agent"]), flush=True)
        api = httpx.Client(base_url=manager.url, headers={"Authorization": f"Bearer {admin}"}, timeout=60)
        token = api.post("/api/v1/enrollment-tokens", json={"name": "sim", "max_uses": None}).json()["token"]
        api.close()
        agents: list[SimAgent] = []
        levels = []
        for level in (int(x) for x in args.levels.split(",")):
            extra = [SimAgent() for _ in range(level - len(agents))]
            started = time.monotonic()
            asyncio.run(enroll_all(manager.url, token, extra))
            agents += extra
            result = asyncio.run(run_level(manager.url, agents, args.seconds, args.events_per_second))
            result["enroll_seconds_for_new"] = round(time.monotonic() - started - result["seconds"], 1)
            result["manager_rss_mb"] = round(psutil.Process(manager.proc.pid).memory_info().rss / 2**20, 1)  # type: ignore[union-attr]
            levels.append(result)
            print(json.dumps(result), flush=True)
        report["levels"] = levels
        keeping = [r["agents"] for r in levels if r["keeps_up"]]
        failing = [r["agents"] for r in levels if not r["keeps_up"]]
        report["ceiling"] = {
            "highest_level_kept_up": max(keeping) if keeping else None,
            "first_level_missed": min(failing) if failing else None,
        }
    finally:
        manager.stop()
        store.close()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
