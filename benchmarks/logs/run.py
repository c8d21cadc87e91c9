"""Log inspection benchmark: Shieldwall vs Debian's fail2ban-regex on the same logs, one core.

1. For every fail2ban filter that has a test log in ../shared/data/logs/fail2ban,
   run ``fail2ban-regex LOG FILTER`` and Shieldwall's translation of the same
   filter on the same log: matched lines of each (and the difference).
2. Throughput on a larger input (the sshd, postfix, dovecot and apache-auth
   test logs, each repeated to about 50,000 lines): lines per second of both,
   pinned to CPU 0. fail2ban-regex's own "processed in" time is used (startup
   excluded).
3. Shieldwall's lines per second with the full Wazuh 4.14.7 ruleset loaded,
   over every line of Wazuh's cases.json plus every fail2ban test log line,
   repeated to about 100,000 lines.

Usage: PYTHONPATH=src python benchmarks/logs/run.py [--repeat-lines 50000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shieldwall.logrules.fail2ban import FilterError, load_filter
from shieldwall.logrules.wazuh import load_ruleset

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "logs"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/logs")
FILTERS = DATA / "fail2ban" / "etc" / "fail2ban" / "filter.d"
LOGS = DATA / "fail2ban" / "usr" / "lib" / "python3" / "dist-packages" / "fail2ban" / "tests" / "files" / "logs"
THROUGHPUT_FILTERS = ("sshd", "postfix", "dovecot", "apache-auth")


def log_lines(path: Path) -> list[str]:
    """The log lines of a fail2ban test file (annotations and comments dropped)."""
    return [x for x in path.read_text(encoding="utf-8", errors="replace").splitlines() if x and not x.startswith("#")]


def f2b_regex(log: Path, conf: Path) -> tuple[int, int, float]:
    """``(lines, matched, processing seconds)`` from fail2ban-regex's summary."""
    out = subprocess.run(
        ["taskset", "-c", "0", "fail2ban-regex", "--print-no-missed", "--print-no-ignored", "-r", str(log), str(conf)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    ).stdout
    m = re.search(r"Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed", out)
    t = re.search(r"\[processed in ([0-9.]+) sec\]", out)
    if m is None or t is None:
        return -1, -1, 0.0
    return int(m.group(1)), int(m.group(3)), float(t.group(1))


def shieldwall(lines: list[str], conf: Path) -> tuple[int, float]:
    """``(matched, seconds)`` of Shieldwall's translated filter over ``lines``."""
    flt = load_filter(conf)
    start = time.perf_counter()
    matched = sum(1 for line in lines if flt.check(line)[0])
    return matched, time.perf_counter() - start


def main() -> None:
    """Run all three parts and print markdown."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat-lines", type=int, default=50_000)
    parser.add_argument("--wazuh-lines", type=int, default=100_000)
    args = parser.parse_args()
    if shutil.which("fail2ban-regex") is None:
        sys.exit("fail2ban-regex is not installed")
    os.sched_setaffinity(0, {0})
    print(
        f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {platform.machine()} "
        f"{platform.processor() or ''} {os.cpu_count()} CPUs, Python {platform.python_version()}; pinned to CPU 0\n"
    )
    print("## Matches per filter (same test log)\n")
    print("| filter | lines | fail2ban-regex matched | Shieldwall matched | difference |")
    print("|---|---:|---:|---:|---:|")
    totals = [0, 0, 0]
    for log in sorted(p for p in LOGS.iterdir() if p.is_file()):
        conf = FILTERS / f"{log.name}.conf"
        if not conf.is_file():
            continue
        try:
            sw, _ = shieldwall(log_lines(log), conf)
        except FilterError as exc:
            print(f"| {log.name} | | | not translated: {str(exc)[:60]} | |")
            continue
        n, f2b, _t = f2b_regex(log, conf)
        totals[0] += n
        totals[1] += f2b
        totals[2] += sw
        print(f"| {log.name} | {n} | {f2b} | {sw} | {sw - f2b:+d} |")
    print(f"| **total** | {totals[0]} | {totals[1]} | {totals[2]} | {totals[2] - totals[1]:+d} |\n")
    print(f"## Throughput, one core (~{args.repeat_lines} lines per filter)\n")
    print("| filter | lines | fail2ban-regex lines/s | Shieldwall lines/s | fail2ban matched | Shieldwall matched |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in THROUGHPUT_FILTERS:
            base = log_lines(LOGS / name)
            lines = (base * (args.repeat_lines // len(base) + 1))[: args.repeat_lines]
            big = Path(tmp) / f"{name}.log"
            big.write_text("\n".join(lines) + "\n")
            n, f2b, secs = f2b_regex(big, FILTERS / f"{name}.conf")
            sw, sw_secs = shieldwall(lines, FILTERS / f"{name}.conf")
            print(f"| {name} | {n} | {n / secs:,.0f} | {len(lines) / sw_secs:,.0f} | {f2b} | {sw} |")
    print()
    corpus = [line for case in json.loads((DATA / "wazuh" / "cases.json").read_text()) for line in case["logs"]]
    for log in sorted(p for p in LOGS.iterdir() if p.is_file()):
        corpus += log_lines(log)
    lines = (corpus * (args.wazuh_lines // len(corpus) + 1))[: args.wazuh_lines]
    start = time.perf_counter()
    engine = load_ruleset(DATA / "wazuh")
    load_secs = time.perf_counter() - start
    alerts = 0
    start = time.perf_counter()
    for i, line in enumerate(lines):
        a = engine.process(line, location="bench", now=float(i))
        if a is not None and a.level >= 3:
            alerts += 1
    secs = time.perf_counter() - start
    print("## Shieldwall with the full Wazuh 4.14.7 ruleset, one core\n")
    print(f"- ruleset: {engine.report.decoders} decoders, {engine.report.rules} rules, loaded in {load_secs:.2f} s")
    print(
        f"- input: {len(lines)} lines ({len(corpus)} distinct lines of cases.json and the fail2ban test logs, repeated)"
    )
    print(f"- {len(lines) / secs:,.0f} lines/s ({secs:.1f} s), {alerts} alerts of level >= 3")
    print(f"- regex fallbacks (not re2): {engine.stats.fallback_patterns}, timeouts: {engine.stats.timeouts}")


if __name__ == "__main__":
    main()
