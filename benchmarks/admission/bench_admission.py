"""Admission decision latency and memory: the webhook over TLS on loopback, under bounded concurrent load.

Input: the 42 captured AdmissionRequests of ../shared/data/k8s/kubewarden-admission
(from outside the project), sent round-robin. The store (SQLite) holds
``--images`` scanned images with ``--findings`` findings each, including every
image the payloads name, so each decision reads real rows.

Three measurements in one run, on the same payloads:

1. ``in-process``: ``AdmissionService.evaluate`` alone (store lookups + checks + decision);
2. ``webhook``: ``shieldwall admission serve`` as a subprocess over TLS, ``--concurrency`` clients;
3. ``baseline``: the same uvicorn/FastAPI/TLS stack answering ``allowed: true`` without deciding
   (what the transport alone costs), same load. The servers run side by side and the load
alternates between them in ``--rounds`` rounds, so a change in the machine's load (shared
machines) affects every server alike.

Reports p50/p95/p99/max latency (client side, per request) and the webhook's
peak RSS. Usage::

    PYTHONPATH=src python benchmarks/admission/bench_admission.py --requests 3000 --concurrency 8
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from shieldwall.admission import tls
from shieldwall.admission.images import container_images
from shieldwall.admission.policy import AdmissionPolicy
from shieldwall.admission.review import parse_review
from shieldwall.admission.service import AdmissionService
from shieldwall.model import (
    Finding,
    FindingKind,
    ImageConfig,
    LayerRef,
    Location,
    OSInfo,
    Package,
    PackageType,
    ScanResult,
    Severity,
    Target,
    TargetKind,
    TargetRef,
    VulnDetails,
)
from shieldwall.store import Store
from shieldwall.store.records import TagRef, record_scan
from shieldwall.target.reference import parse_reference

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "k8s" / "kubewarden-admission"
SRC = Path(__file__).resolve().parents[2] / "src"
SEVERITIES = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]

BASELINE_APP = """
import sys, uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
app = FastAPI()
@app.post("/validate")
async def validate(request: Request):
    body = await request.json()
    return JSONResponse({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                         "response": {"uid": body["request"]["uid"], "allowed": True}})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", ssl_certfile=sys.argv[2],
            ssl_keyfile=sys.argv[3])
"""


def payloads() -> list[bytes]:
    """The 42 payloads as AdmissionReview bodies."""
    index = json.loads((DATA / "index.json").read_text(encoding="utf-8"))
    out = []
    for entry in index:
        doc = json.loads((DATA / entry["file"]).read_text(encoding="utf-8"))
        if doc.get("kind") != "AdmissionReview":
            doc = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": doc}
        out.append(json.dumps(doc).encode())
    return out


def referenced_images(bodies: list[bytes]) -> set[str]:
    """Every image reference the payloads name."""
    found: set[str] = set()
    for body in bodies:
        request = parse_review(body).request
        if request.object:
            obj = dict(request.object)
            obj.setdefault("kind", request.kind.kind)
            found.update(c.image for c in container_images(obj) if c.image)
    return found


def seed(store: Store, images: int, findings: int, names: set[str]) -> None:
    """``images`` scanned images (the referenced ones first), ``findings`` vulnerabilities each."""
    refs = sorted(n for n in names if "@" not in n) + [f"registry.bench/app{i}:1.0" for i in range(images)]
    for number, text in enumerate(refs[:images]):
        ref = parse_reference(text)
        digest = "sha256:" + f"{number:064x}"
        status = (Location("/var/lib/dpkg/status"),)
        packages = tuple(
            Package(PackageType.DEB, f"pkg{i}", "1.0", f"pkg:deb/debian/pkg{i}@1.0", locations=status)
            for i in range(20)
        )
        vulns = tuple(
            Finding(FindingKind.VULNERABILITY, f"CVE-2026-{number:04d}{i:03d}", "v", SEVERITIES[i % 4],
                    package_id=packages[i % 20].id, vuln=VulnDetails("1.0", "1.1" if i % 3 else "", kev=i == 7))
            for i in range(findings)
        )  # fmt: skip
        target = Target(TargetRef(TargetKind.REGISTRY, text), text, digest=digest, tags=(ref.tag,), repository=ref.name)
        result = ScanResult(target=target, layers=(LayerRef(0, "sha256:" + "0" * 64),), image=ImageConfig(),
                            os=OSInfo("debian", "Debian", "12", "bookworm"), packages=packages, findings=vulns,
                            started_at="", finished_at="", tool_version="bench")  # fmt: skip
        record_scan(store, replace(result), trigger="bench", tags=[TagRef(ref.name, ref.tag, digest)])


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": ordered[-1],
            "mean": statistics.fmean(ordered)}  # fmt: skip


def load(url: str, ca: Path, bodies: list[bytes], requests: int, concurrency: int) -> tuple[list[float], int]:
    """Send ``requests`` reviews with ``concurrency`` client threads; latencies (ms) and the errors count."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests))
    context = ssl.create_default_context(cafile=str(ca))

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, verify=context, timeout=30) as client:
            client.post("/validate", content=bodies[0])  # connection set up outside the measurement
            while True:
                with lock:
                    number = next(counter, None)
                if number is None:
                    return
                started = time.perf_counter()
                response = client.post("/validate", content=bodies[number % len(bodies)])
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if response.status_code != 200:
                        errors += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, ca: Path, body: bytes) -> None:
    """Poll until the server answers a review."""
    context = ssl.create_default_context(cafile=str(ca))
    for _ in range(300):
        try:
            httpx.post(url + "/validate", verify=context, timeout=5, content=body)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_peak_rss_mb(pid: int) -> float:
    """Sum of the peak RSS of a process and its children (uvicorn's worker processes), from /proc."""
    total = peak_rss_mb(pid)
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            try:
                total += tree_peak_rss_mb(int(child))
            except FileNotFoundError:
                continue
    return total


def main() -> None:
    """Run the three measurements and print a JSON summary."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--findings", type=int, default=100)
    parser.add_argument("--processes", default="1,2", help="webhook process counts to measure, comma-separated")
    parser.add_argument("--rounds", type=int, default=10, help="alternations between the servers")
    args = parser.parse_args()
    bodies = payloads()
    work = Path(tempfile.mkdtemp(prefix="bench-admission-"))
    url_db = f"sqlite:///{work / 'store.db'}"
    store = Store.open(url_db, audit_key_path=work / "audit.pem", checkpoint_every=1000)
    started = time.perf_counter()
    seed(store, args.images, args.findings, referenced_images(bodies))
    seeded_s = time.perf_counter() - started
    service = AdmissionService(store, AdmissionPolicy())
    requests = [parse_review(b).request for b in bodies]
    in_process: list[float] = []
    for number in range(args.requests):
        t0 = time.perf_counter()
        service.evaluate(requests[number % len(requests)])
        in_process.append((time.perf_counter() - t0) * 1000)
    files = tls.generate(work / "certs", ["127.0.0.1"])
    env = {**os.environ, "PYTHONPATH": str(SRC), "SHIELDWALL_DATABASE_URL": url_db,
           "SHIELDWALL_AUDIT_KEY": str(work / "audit.pem"), "SHIELDWALL_DATA_DIR": str(work / "data")}  # fmt: skip
    results: dict[str, Any] = {"payloads": len(bodies), "images": args.images, "findings_per_image": args.findings,
                               "seed_seconds": round(seeded_s, 1), "in_process": percentiles(in_process)}  # fmt: skip
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for processes in [int(p) for p in args.processes.split(",") if p]:
            port = free_port()
            command = [sys.executable, "-m", "shieldwall", "admission", "serve", "--host", "127.0.0.1",
                       "--port", str(port), "--cert", str(files.cert), "--key", str(files.key),
                       "--log-level", "error", "--processes", str(processes)]  # fmt: skip
            servers[f"webhook_{processes}_process"] = (subprocess.Popen(command, env=env), f"https://127.0.0.1:{port}")
        port = free_port()
        baseline = [sys.executable, "-c", BASELINE_APP, str(port), str(files.cert), str(files.key)]
        servers["baseline_allow_all"] = (subprocess.Popen(baseline, env=env), f"https://127.0.0.1:{port}")
        for _process, url in servers.values():
            wait_up(url, files.ca_cert, bodies[0])
        # The load alternates between the servers in rounds, so a change in the machine's load hits all alike.
        samples: dict[str, list[float]] = {name: [] for name in servers}
        failures: dict[str, int] = dict.fromkeys(servers, 0)
        per_round = max(1, args.requests // args.rounds)
        for _round in range(args.rounds):
            for name, (_process, url) in servers.items():
                latencies, errors = load(url, files.ca_cert, bodies, per_round, args.concurrency)
                samples[name] += latencies
                failures[name] += errors
        for name, (process, _url) in servers.items():
            rss = round(tree_peak_rss_mb(process.pid), 1)
            results[name] = {**percentiles(samples[name]), "errors": failures[name], "rss_peak_mb": rss}
    finally:
        for process, _url in servers.values():
            process.send_signal(signal.SIGTERM)
        for process, _url in servers.values():
            process.wait(60)
    with store.session() as session:
        from sqlalchemy import func, select

        from shieldwall.store.schema import AuditEvent

        results["audited_decisions"] = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "admission.decision")
        )
    store.close()
    subprocess.run(["rm", "-rf", str(work)], check=False)
    print(json.dumps(results, indent=2, default=lambda x: round(x, 2)))


if __name__ == "__main__":
    main()
