#!/usr/bin/env python3
"""Registry sweep throughput: in-process vs 1 and 2 Celery workers, with the shared layer cache.

What it does (all services are private, on 127.0.0.1, under a temporary directory):

1. starts Debian's ``docker-registry``, a ``redis-server`` (append-only, fsync
   always) and a PostgreSQL server (the test helpers in ``tests/helpers``);
2. pushes ``--images`` images (default 200) that share base layers: two OS
   bases made from real package databases in ``../shared/data/pkgdb`` (Debian
   12's ``/var/lib/dpkg/status``, 727 packages; an Alpine
   ``/lib/apk/db/installed``), ten generated "runtime" layers
   (``requirements.txt`` + ``package.json``) and one small unique layer per
   image: 3 layers per image, 2 + 10 + N distinct layers;
3. for each configuration, on an empty store database and empty caches:
   ``inline`` (no broker: ``shieldwall monitor sweep`` scans in its own
   process, per-process disk cache: today's single-machine path), and
   ``workers=1`` / ``workers=2`` (``SHIELDWALL_BROKER_URL`` set: the sweep
   queues one task per digest, ``shieldwall worker --pool solo`` processes
   run them with the Redis-shared, HMAC-authenticated layer cache, and each
   image task fans its missing layers out as ``scan.layer`` tasks:
   ``SHIELDWALL_FANOUT_MIN_BYTES=0``), and ``workers=2/image`` (the same
   without fan-out: one task per image, as before it);
4. reports images per minute (sweep start to the last task recorded), the
   layer-cache hit rate, PostgreSQL load (``pg_stat_database`` deltas:
   transactions, rows read and written) and Redis load (``INFO`` deltas:
   commands processed, network bytes; memory used).

    PYTHONPATH=src .venv/bin/python benchmarks/scale/run_scale.py --images 120 --write benchmarks/scale/RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

import psycopg  # noqa: E402
import redis  # noqa: E402

from helpers.images import ImageSpec, build_oci_layout  # noqa: E402
from helpers.postgres_server import fresh_database, start_postgres  # noqa: E402
from helpers.redis_server import start_redis  # noqa: E402
from helpers.registry_server import start_registry  # noqa: E402
from shieldwall.target.registry_push import push_oci_layout  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "pkgdb"
DEBIAN_OS = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
ALPINE_OS = b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.4.6\nPRETTY_NAME="Alpine Linux v3.4"\n'
CACHE_KEY = "benchmark-layer-cache-hmac-key-0123456789"
LAYERS_PER_IMAGE = [3]
SCENARIO = ["2 OS bases from ../shared/data/pkgdb, 10 runtime layers, 1 unique layer per image"]
PY_PACKAGES = ["requests==2.19.0", "Jinja2==2.10", "PyYAML==5.3", "urllib3==1.24.1", "Django==2.2.0", "flask==1.0"]
NPM_PACKAGES = {"lodash": "4.17.15", "minimist": "1.2.0", "express": "4.16.0", "axios": "0.18.0"}


def base_layers() -> list[dict[str, object]]:
    """The two OS base layers, from real package databases."""
    dpkg = (SHARED / "debian12-dpkg" / "status").read_bytes()
    apk = (SHARED / "alpine-apk" / "trivy-testdata-apk-installed").read_bytes()
    return [
        {"etc/os-release": DEBIAN_OS, "var/lib/dpkg/status": dpkg},
        {"etc/os-release": ALPINE_OS, "lib/apk/db/installed": apk},
    ]


def runtime_layer(index: int) -> dict[str, object]:
    """A generated language layer: a requirements file and a package.json (index varies the pins)."""
    pins = PY_PACKAGES[: 2 + index % len(PY_PACKAGES)]
    deps = {k: v for i, (k, v) in enumerate(NPM_PACKAGES.items()) if (index + i) % 2 == 0}
    package = {"name": f"runtime{index}", "version": f"1.{index}.0", "dependencies": deps}
    return {
        f"opt/runtime{index}/requirements.txt": ("\n".join(pins) + "\n").encode(),
        f"opt/runtime{index}/package.json": json.dumps(package).encode(),
    }


def push_images(count: int, registry_host: str, work: Path) -> int:
    """Push ``count`` images; returns the number of distinct layers."""
    bases = base_layers()
    runtimes = [runtime_layer(i) for i in range(10)]
    for k in range(count):
        app = {f"srv/app{k}/main.py": f"print('service {k}')\n".encode(), "srv/VERSION": f"{k}\n".encode()}
        layers = [bases[k % 2], runtimes[k % 10], app]
        layout = build_oci_layout(work / f"layout-{k}", layers=layers, spec=ImageSpec(labels={"service": str(k)}))
        push_oci_layout(layout, f"{registry_host}/fleet/svc{k:04d}:1.0")
    return 2 + 10 + count


def push_big_images(count: int, layers: int, registry_host: str, work: Path) -> int:
    """``count`` images of ``layers`` distinct layers each (no layer shared): per-layer fan-out's case."""
    dpkg = (SHARED / "debian12-dpkg" / "status").read_bytes()
    for k in range(count):
        parts: list[dict[str, object]] = [
            {"etc/os-release": DEBIAN_OS, "var/lib/dpkg/status": dpkg + f"\n# {k}\n".encode()}
        ]
        for j in range(1, layers):
            runtime = runtime_layer(j)
            parts.append(
                {**runtime, f"srv/big{k}/layer{j}/status": dpkg, f"srv/big{k}/layer{j}/id": f"{k}-{j}".encode()}
            )
        layout = build_oci_layout(work / f"big-{k}", layers=parts, spec=ImageSpec(labels={"big": str(k)}))
        push_oci_layout(layout, f"{registry_host}/big/img{k:03d}:1.0")
    return count * layers


def pg_stats(url: str, database: str) -> dict[str, int]:
    """``pg_stat_database`` counters of one database."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted,"
            " blks_read, blks_hit FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()
    assert row is not None
    names = ["xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated"]
    names += ["tup_deleted", "blks_read", "blks_hit"]
    return dict(zip(names, (int(v) for v in row), strict=True))


def redis_stats(client: redis.Redis) -> dict[str, int]:
    """Redis INFO counters."""
    info: Any = client.info()
    return {
        "commands": int(info["total_commands_processed"]),
        "net_in": int(info["total_net_input_bytes"]),
        "net_out": int(info["total_net_output_bytes"]),
        "used_memory": int(info["used_memory"]),
    }


def _wait_done(url: str, expected: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn:
            done = conn.execute("SELECT count(*) FROM task_runs WHERE status IN ('succeeded', 'dead')").fetchone()
        if done is not None and int(done[0]) >= expected:
            return time.monotonic()
        time.sleep(0.5)
    raise RuntimeError(f"the sweep did not finish within {timeout}s")


def run_config(
    name: str, workers: int, pg: Any, redis_url: str, registry_host: str, images: int, work: Path
) -> dict[str, Any]:
    """One configuration on an empty database and empty caches."""
    safe = name.replace("=", "").replace("/", "-")
    database = fresh_database(pg, f"bench{safe.replace('-', '')}{LAYERS_PER_IMAGE[0]}")
    url = pg.url(database)
    plain_url = url.replace("+psycopg", "")
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDWALL_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT / "src"),
            "SHIELDWALL_DATABASE_URL": url,
            "SHIELDWALL_DATA_DIR": str(work / f"data-{safe}"),
            "SHIELDWALL_CACHE_DIR": str(work / f"cache-{safe}"),
            "SHIELDWALL_AUDIT_KEY": str(work / "audit-key.pem"),
            "DOCKER_CONFIG": str(work / "docker-config"),
            # the sweep and the workers use the server's egress policy: the private registry is on loopback
            "SHIELDWALL_EGRESS_ALLOW": "127.0.0.0/8",
        }
    )
    sweep = [sys.executable, "-m", "shieldwall", "monitor", "sweep", registry_host, "--insecure", "-f", "json"]
    subprocess.run(
        [sys.executable, "-m", "shieldwall", "worker", "dead-letters"], env=env, check=True, capture_output=True
    )
    procs: list[subprocess.Popen[bytes]] = []
    if workers:
        env.update({"SHIELDWALL_BROKER_URL": redis_url, "SHIELDWALL_CACHE_KEY": CACHE_KEY})
        # fan-out of every missing layer (0), or one task per image (no layer is big enough)
        env["SHIELDWALL_FANOUT_MIN_BYTES"] = str(2**62 if name.endswith("/image") else 0)
        for i in range(workers):
            wenv = dict(env, SHIELDWALL_CACHE_DIR=str(work / f"cache-{safe}-w{i}"))
            log = (work / f"{safe}-w{i}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "shieldwall", "worker", "--pool", "solo", "--loglevel", "warning"],
                    env=wenv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        time.sleep(5)  # let the workers connect before the clock starts
    pg_before, redis_before = pg_stats(pg.admin_url.replace("+psycopg", ""), database), redis_stats(client)
    started = time.monotonic()
    done = subprocess.run(sweep, env=env, capture_output=True, text=True, check=False, timeout=7200)
    if done.returncode != 0:
        raise RuntimeError(f"sweep failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    finished = _wait_done(plain_url, report["scheduled"], 7200) if workers else time.monotonic()
    elapsed = finished - started
    pg_after, redis_after = pg_stats(pg.admin_url.replace("+psycopg", ""), database), redis_stats(client)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(60)
    with psycopg.connect(plain_url) as conn:
        scans = int((conn.execute("SELECT count(*) FROM scans").fetchone() or [0])[0])
        dead = int((conn.execute("SELECT count(*) FROM task_runs WHERE status = 'dead'").fetchone() or [0])[0])
        layer_tasks = {
            str(outcome): int(n)
            for outcome, n in conn.execute(
                "SELECT NULLIF(result, '')::json->>'outcome', count(*) FROM task_runs"
                " WHERE name = 'scan.layer' GROUP BY 1"
            ).fetchall()
        }
    cache: dict[str, int] = {}
    if workers:
        raw: Any = client.hgetall("shieldwall:layer-cache:stats")
        cache = {k.decode(): int(v) for k, v in raw.items()}
    else:  # the in-process path: count the per-process disk cache's entries (= analyses)
        cache = {"puts": len(list((work / f"cache-{safe}" / "layers").rglob("*.json.gz")))}
    layer_reads = images * LAYERS_PER_IMAGE[0]
    analyses = cache.get("puts", 0)
    return {
        "config": name,
        "workers": workers,
        "images": images,
        "scans": scans,
        "dead": dead,
        "seconds": round(elapsed, 1),
        "images_per_minute": round(scans / elapsed * 60, 1),
        "analyses": analyses,
        "layer_tasks": layer_tasks,
        "hit_rate": round(1 - analyses / layer_reads, 3),
        "cache": cache,
        "pg": {k: pg_after[k] - pg_before[k] for k in pg_after},
        "redis": {k: redis_after[k] - redis_before[k] for k in ("commands", "net_in", "net_out")}
        | {"used_memory": redis_after["used_memory"]},
    }


def _layer_tasks(row: dict[str, Any]) -> str:
    tasks = row.get("layer_tasks") or {}
    if not tasks:
        return "-"
    return "/".join(str(tasks.get(k, 0)) for k in ("analysed", "cached", "held"))


def _markdown(rows: list[dict[str, Any]], distinct: int, command: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln),
        platform.processor(),
    )
    lines = [
        "# Registry sweep at scale: in-process vs Celery workers",
        "",
        f"- date: {now}",
        f"- machine: {os.cpu_count()} cores ({cpu}), shared with other jobs; Python {platform.python_version()}",
        f"- command: `{command}`",
        f"- input: {rows[0]['images']} images x {LAYERS_PER_IMAGE[0]} layers ="
        f" {rows[0]['images'] * LAYERS_PER_IMAGE[0]} layer reads, {distinct} distinct layers ({SCENARIO[0]});"
        " every scanner on; no advisory database (matching is not what is measured)",
        "",
        "| config | scans | dead | seconds | images/min | layer analyses | layer tasks (analysed/cached/held)"
        " | hit rate | PG commits | PG rows read | PG rows written | Redis commands | Redis MB in/out |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pg, rd = r["pg"], r["redis"]
        written = pg["tup_inserted"] + pg["tup_updated"] + pg["tup_deleted"]
        mb = f"{rd['net_in'] / 1e6:.1f}/{rd['net_out'] / 1e6:.1f}" if r["workers"] else "-"
        lines.append(
            f"| {r['config']} | {r['scans']} | {r['dead']} | {r['seconds']} | {r['images_per_minute']}"
            f" | {r['analyses']} | {_layer_tasks(r)}"
            f" | {r['hit_rate']:.1%} | {pg['xact_commit']} | {pg['tup_returned'] + pg['tup_fetched']} | {written}"
            f" | {rd['commands'] if r['workers'] else '-'} | {mb} |"
        )
    lines += ["", "Raw figures:", "", "```json", json.dumps(rows, indent=1), "```", ""]
    return "\n".join(lines)


def main() -> None:
    """Run every configuration and print (or write) the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--configs", default="inline,workers=2/image,workers=1,workers=2")
    parser.add_argument("--write", type=Path)
    parser.add_argument("--big-layers", type=int, default=0, help="images of this many distinct layers instead")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shieldwall-scale-bench-"))
    (work / "docker-config").mkdir()
    registry = start_registry(work / "registry")
    broker = start_redis()
    pg = start_postgres()
    try:
        t0 = time.monotonic()
        if args.big_layers:
            LAYERS_PER_IMAGE[0] = args.big_layers
            SCENARIO[0] = (
                "no layer shared: each a Debian 12 dpkg database from ../shared/data/pkgdb plus language files"
            )
            distinct = push_big_images(args.images, args.big_layers, registry.host, work)
        else:
            distinct = push_images(args.images, registry.host, work)
        print(f"pushed {args.images} images in {time.monotonic() - t0:.0f}s", file=sys.stderr)
        rows = []
        for config in args.configs.split(","):
            workers = int(config.split("=")[1].split("/")[0]) if config.startswith("workers=") else 0
            row = run_config(config, workers, pg, broker.url(0), registry.host, args.images, work)
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
        command = f"PYTHONPATH=src .venv/bin/python benchmarks/scale/run_scale.py --images {args.images}"
        command += f" --big-layers {args.big_layers} --configs {args.configs}" if args.big_layers else ""
        text = _markdown(rows, distinct, command + (f" --write {args.write}" if args.write else ""))
        if args.write:
            old = args.write.read_text() if args.write.exists() else ""
            marker = "## Agent ingestion"  # run_ingest.py's section is kept
            kept = "\n" + old[old.index(marker) :] if marker in old else ""
            args.write.write_text(text + kept)
        print(text)
    finally:
        registry.stop()
        broker.stop()
        pg.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
