"""IPS benchmark: what Shieldwall adds on the inline path and in its control loop.

Measured in one run on the same machine, in network namespaces only
(client -> router -> server, 10.232.x.y, all removed afterwards):

* request latency p50/p99 through the router without IPS, then with the
  agent-managed Suricata inline on NFQUEUE (Prevent, Shieldwall's pack plus
  the ET Open web_server/exploit categories when ../shared/data is present),
  with a bounded sequential load generator (N requests, one connection each);
* configuration generation time (rule assembly + YAML) and ``suricata -T``
  time, separately;
* live reload time (``reload-rules`` on the unix socket) of the running engine;
* reputation rule compilation for the URLhaus list.

Run as root from the worktree root:

    PYTHONPATH=$PWD/src:$PWD/tests /work/venv/bin/python benchmarks/ips/inline_latency.py --requests 300
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from helpers.netns_lab import Lab, _run
from shieldwall.agent.module import ModuleContext
from shieldwall.agent.modules.ips import Module, control
from shieldwall.agent.modules.ips.build import build
from shieldwall.agent.modules.ips.commands import Tools
from shieldwall.agent.modules.ips.layout import Layout, live_layout
from shieldwall.agent.modules.ips.policy import parse_policy

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
LOADGEN = r"""
import socket, sys, time, json
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
req = b"GET /health HTTP/1.1\r\nHost: app.example\r\nUser-Agent: bench\r\n\r\n"
out = []
for i in range(n):
    t0 = time.perf_counter()
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(req)
    buf = b""
    while b"ok\n" not in buf:
        c = s.recv(4096)
        if not c: break
        buf += c
    s.close()
    out.append(time.perf_counter() - t0)
print(json.dumps(out))
"""


def _latencies(lab: Lab, n: int) -> list[float]:
    script = lab.work / "loadgen.py"
    script.write_text(LOADGEN)
    proc = _run(
        "ip", "netns", "exec", lab.client, sys.executable, str(script), "10.232.2.2", "8080", str(n), timeout=600
    )
    return list(json.loads(proc.stdout))


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    n = max(10, min(args.requests, 5000))
    et = SHARED / "ids" / "et-open" / "rules"
    section: dict[str, object] = {"mode": "prevent", "failure": "closed"}
    settings: dict[str, object] = {}
    if et.is_dir():
        section["et_open"] = {"categories": ["web_server", "exploit"]}
        settings["et_open_dir"] = str(et)
    results: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''} "
        f"python {platform.python_version()}",
        "requests": n,
    }
    work = Path(tempfile.mkdtemp(prefix="swb-", dir="/tmp"))
    lab = Lab(work)
    try:
        lab.up()
        _latencies(lab, 20)  # warm-up
        base = _latencies(lab, n)
        # configuration generation vs suricata -T
        policy = parse_policy(section)
        t0 = time.perf_counter()
        from shieldwall.agent.modules.ips.build import sources
        from shieldwall.agent.modules.ips.ruleset import assemble

        et_index, pack = sources(settings)
        ruleset = assemble(policy, et_index, pack)
        gen_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        et_index, pack = sources(settings)
        assemble(policy, et_index, pack)
        gen_warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        build(policy, settings, Tools(), Layout(work / "b" / "staging"), Layout(work / "b" / "live"))
        build_total = time.perf_counter() - t0
        results["rules_active"] = len(ruleset.rules)
        results["config_generation_s"] = {
            "cold (parse ET Open)": round(gen_cold, 3),
            "warm (cached index)": round(gen_warm, 4),
        }
        results["build_with_suricata_T_s"] = round(build_total, 2)
        # inline path with the agent-managed Suricata
        module = Module()
        module.start(
            ModuleContext(
                root=Path("/"),
                state_dir=work / "state",
                emit=lambda e: None,
                log=logging.getLogger("bench"),
                settings={**settings, "netns": lab.router, "capture": "nfqueue"},
            )
        )
        t0 = time.perf_counter()
        module.apply(section, 1)
        sock = live_layout(work / "state").socket
        while True:
            try:
                control.command(sock, "uptime", timeout=2)
                break
            except control.ControlError:
                if time.perf_counter() - t0 > 300:
                    raise
                time.sleep(0.1)
        results["apply_to_engine_ready_s"] = round(time.perf_counter() - t0, 2)
        try:
            _latencies(lab, 20)
            ips = _latencies(lab, n)
            t0 = time.perf_counter()
            control.reload_rules(sock)
            results["reload_rules_s"] = round(time.perf_counter() - t0, 2)
        finally:
            module.stop()
        results["latency_ms"] = {
            "without IPS": {"p50": round(_pct(base, 50), 3), "p99": round(_pct(base, 99), 3)},
            "with IPS (Prevent, inline NFQUEUE)": {"p50": round(_pct(ips, 50), 3), "p99": round(_pct(ips, 99), 3)},
        }
        results["added_p50_ms"] = round(_pct(ips, 50) - _pct(base, 50), 3)
        results["added_p99_ms"] = round(_pct(ips, 99) - _pct(base, 99), 3)
        results["mean_ms"] = {
            "without": round(statistics.mean(base) * 1000, 3),
            "with": round(statistics.mean(ips) * 1000, 3),
        }
        urlhaus = SHARED / "reputation" / "urlhaus-filter"
        if urlhaus.is_dir():
            rep = parse_policy({"shieldwall_pack": False, "reputation": {"lists": ["urlhaus-filter-online.txt"]}})
            t0 = time.perf_counter()
            from shieldwall.agent.modules.ips.build import reputation_entries

            rules, stats = reputation_entries(rep, {"reputation_dir": str(urlhaus)})
            results["urlhaus_compile_s"] = round(time.perf_counter() - t0, 3)
            results["urlhaus"] = {**stats, "rules": len(rules)}
            t0 = time.perf_counter()
            build(
                rep,
                {"reputation_dir": str(urlhaus)},
                Tools(),
                Layout(work / "r" / "staging"),
                Layout(work / "r" / "live"),
            )
            results["urlhaus_build_with_suricata_T_s"] = round(time.perf_counter() - t0, 2)
    finally:
        lab.close()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
