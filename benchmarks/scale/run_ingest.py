#!/usr/bin/env python3
"""Agent event ingestion throughput: in the API process vs queued for 1 and 2 Celery workers.

All services are private, on 127.0.0.1, under a temporary directory: a
PostgreSQL server and a ``redis-server`` (append-only, fsync always) from
``tests/helpers``, and the real API app served by uvicorn in this process.

``--agents`` enrolled agents (real Ed25519 keys, signed requests through
``ManagerClient``) each upload ``--batches`` batches of ``--events`` events
from one thread per agent: half file changes outside any change window
(stored, labelled ``unexpected``, alerted: audit event), a quarter log-rule
alerts (stored, alerted), a quarter inventory events (stored only). For
each configuration, on an empty database:

- ``inline``: no broker, the route stores and processes each batch before it answers;
- ``workers=N``: ``SHIELDWALL_BROKER_URL`` set: the route stores the batch and
  queues an ``agent.ingest`` task; N ``shieldwall worker --pool solo`` processes run them.

Reported: events per second accepted by the API (answer received) and
processed end to end (every batch ``done``), PostgreSQL and Redis load per
event, and a check that every event is stored once and alerted once.

    PYTHONPATH=src .venv/bin/python benchmarks/scale/run_ingest.py --write-section benchmarks/scale/RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

import psycopg  # noqa: E402
import redis  # noqa: E402
from run_scale import pg_stats, redis_stats  # noqa: E402

from helpers.api_server import ApiServer, api_settings  # noqa: E402
from helpers.postgres_server import fresh_database, start_postgres  # noqa: E402
from helpers.redis_server import start_redis  # noqa: E402
from shieldwall.agent.client import ManagerClient  # noqa: E402
from shieldwall.agent.events import AgentEvent  # noqa: E402
from shieldwall.agent.signing import load_or_create_key  # noqa: E402
from shieldwall.model import Severity  # noqa: E402
from shieldwall.service.fleet.tokens import create_token  # noqa: E402
from shieldwall.store import Store  # noqa: E402

SECTION = "## Agent ingestion through the task queue"


def make_batch(agent: int, batch: int, size: int) -> list[dict[str, Any]]:
    """One batch of realistic events (unique per agent and batch)."""
    now = dt.datetime.now(dt.UTC)
    events: list[dict[str, Any]] = []
    for i in range(size):
        tag = f"a{agent}-b{batch}-e{i}"
        if i % 4 in (0, 1):
            event = AgentEvent("fim", "fim.modified", Severity.MEDIUM, f"changed {tag}", {"path": f"/etc/{tag}"}, now)
        elif i % 4 == 2:
            event = AgentEvent(
                "logs", "logs.alert", Severity.LOW, f"sshd failure {tag}", {"rule": 5710, "id": tag}, now
            )
        else:
            event = AgentEvent("inventory", "inventory.port_opened", Severity.LOW, f"port {tag}", {"id": tag}, now)
        events.append(event.to_wire())
    return events


def run_config(
    name: str, workers: int, pg: Any, redis_url: str, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """One configuration on an empty database."""
    database = fresh_database(pg, f"ingest{name.replace('=', '')}")
    url = pg.url(database)
    plain_url = url.replace("+psycopg", "")
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDWALL_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT / "src"),
            "SHIELDWALL_DATABASE_URL": url,
            "SHIELDWALL_DATA_DIR": str(work / f"data-{name}"),
            "SHIELDWALL_CACHE_DIR": str(work / f"cache-{name}"),
            "SHIELDWALL_AUDIT_KEY": str(work / "audit-key.pem"),
        }
    )
    if workers:
        os.environ["SHIELDWALL_BROKER_URL"] = redis_url
        env["SHIELDWALL_BROKER_URL"] = redis_url
    else:
        os.environ.pop("SHIELDWALL_BROKER_URL", None)
    store = Store.open(url, audit_key_path=work / "audit-key.pem")
    api = ApiServer.start(store, api_settings(work / f"api-{name}", work / f"api-cache-{name}"), dashboard=False)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        token = create_token(store, name="bench", environment="prod", max_uses=args.agents).token
        agents = []
        for i in range(args.agents):
            agent = ManagerClient(api.url, load_or_create_key(work / f"{name}-agent{i}.key"), timeout=120)
            agent.enroll(token, f"host-{i}", {"os": "Linux"})
            agents.append(agent)
        for i in range(workers):
            log = (work / f"{name}-w{i}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "shieldwall", "worker", "--pool", "solo", "--loglevel", "warning"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        time.sleep(5 if workers else 0)  # let the workers connect before the clock starts
        batches = [[make_batch(a, b, args.events) for b in range(args.batches)] for a in range(args.agents)]
        pg_before, redis_before = pg_stats(pg.admin_url.replace("+psycopg", ""), database), redis_stats(client)
        errors: list[str] = []
        started = time.monotonic()

        def upload(index: int) -> None:
            for events in batches[index]:
                try:
                    agents[index].signed("POST", "/api/v1/agent/events", {"events": events, "dropped": {}})
                except Exception as exc:  # counted and reported
                    errors.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(args.agents)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        accepted_at = time.monotonic()
        expected = args.agents * args.batches
        if workers:
            deadline = time.monotonic() + 3600
            while time.monotonic() < deadline:
                with psycopg.connect(plain_url) as conn:
                    row = conn.execute("SELECT count(*) FROM agent_event_batches WHERE status = 'done'").fetchone()
                if row is not None and int(row[0]) >= expected:
                    break
                time.sleep(0.5)
        finished = time.monotonic()
        redis_after = redis_stats(client)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)
        api.stop()
        store.close()
        os.environ.pop("SHIELDWALL_BROKER_URL", None)
    time.sleep(1.5)  # every backend has closed: its statistics are flushed
    pg_after = pg_stats(pg.admin_url.replace("+psycopg", ""), database)
    total = args.agents * args.batches * args.events
    with psycopg.connect(plain_url) as conn:
        stored = int((conn.execute("SELECT count(*) FROM agent_events").fetchone() or [0])[0])
        distinct = int((conn.execute("SELECT count(DISTINCT key) FROM agent_events").fetchone() or [0])[0])
        alerts = int(
            (conn.execute("SELECT count(*) FROM audit_events WHERE action = 'agent.alert'").fetchone() or [0])[0]
        )
        dead = int((conn.execute("SELECT count(*) FROM task_runs WHERE status = 'dead'").fetchone() or [0])[0])
    return {
        "config": name,
        "workers": workers,
        "agents": args.agents,
        "events": total,
        "batches": args.agents * args.batches,
        "upload_errors": len(errors),
        "first_error": errors[0][:300] if errors else "",
        "stored": stored,
        "stored_distinct": distinct,
        "alerts": alerts,
        "expected_alerts": sum(1 for i in range(args.events) if i % 4 != 3) * args.agents * args.batches,
        "dead": dead,
        "accept_seconds": round(accepted_at - started, 1),
        "seconds": round(finished - started, 1),
        "accepted_per_second": round(total / (accepted_at - started), 1),
        "processed_per_second": round(total / (finished - started), 1),
        "pg": {k: pg_after[k] - pg_before[k] for k in pg_after},
        "redis": {k: redis_after[k] - redis_before[k] for k in ("commands", "net_in", "net_out")},
    }


def markdown(rows: list[dict[str, Any]], command: str) -> str:
    """The RESULTS.md section."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    first = rows[0]
    lines = [
        SECTION,
        "",
        f"- date: {now}; same machine; command: `{command}`",
        f"- input: {first['agents']} agents (real keys, signed requests), {first['events']} events in batches;"
        " half file changes outside any change window (alerted), a quarter log alerts (alerted), a quarter"
        " inventory events (stored only)",
        "",
        "| config | events | stored once | alerts (expected) | upload errors | dead | accepted/s | processed/s"
        " | PG commits/event | PG rows written/event | Redis commands/batch |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pg, rd = r["pg"], r["redis"]
        written = pg["tup_inserted"] + pg["tup_updated"] + pg["tup_deleted"]
        per_batch = f"{rd['commands'] / r['batches']:.1f}" if r["workers"] else "-"
        lines.append(
            f"| {r['config']} | {r['events']} | {r['stored'] == r['stored_distinct'] == r['events']}"
            f" | {r['alerts']} ({r['expected_alerts']}) | {r['upload_errors']} | {r['dead']}"
            f" | {r['accepted_per_second']} | {r['processed_per_second']}"
            f" | {pg['xact_commit'] / r['events']:.2f} | {written / r['events']:.1f} | {per_batch} |"
        )
    lines += ["", "```json", json.dumps(rows, indent=1), "```", ""]
    return "\n".join(lines)


def main() -> None:
    """Run every configuration; print the section (or put it into RESULTS.md in place of the old one)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--configs", default="inline,workers=1,workers=2")
    parser.add_argument("--write-section", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shieldwall-ingest-bench-"))
    broker = start_redis()
    pg = start_postgres()
    try:
        rows = []
        for config in args.configs.split(","):
            workers = int(config.split("=")[1]) if config.startswith("workers=") else 0
            row = run_config(config, workers, pg, broker.url(0), args, work)
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
        command = (
            f"PYTHONPATH=src .venv/bin/python benchmarks/scale/run_ingest.py --agents {args.agents}"
            f" --batches {args.batches} --events {args.events}"
        )
        text = markdown(rows, command + (f" --write-section {args.write_section}" if args.write_section else ""))
        if args.write_section:
            old = args.write_section.read_text() if args.write_section.exists() else ""
            kept = old.split(SECTION)[0].rstrip() + "\n\n" if SECTION in old or old else ""
            args.write_section.write_text(kept + text)
        print(text)
    finally:
        broker.stop()
        pg.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
