"""Startup time: ``shieldwall --help``, ``--version`` and ``scan --help`` beside trivy's, in one run.

Each command runs ``--runs`` times (after one untimed warm-up, so that every
command starts with its files in the page cache); the runs are interleaved
round-robin across commands, so a change in the machine's load during the run
affects every command alike. For each command the median wall time and the
median CPU time (user + system, of the child process) are printed, and the
ratio of Shieldwall's median wall time to trivy's for the matching command
(``scan --help`` is compared with ``trivy image --help``). ``python -c pass``
is measured too: the interpreter's own floor.

Usage (from the repository root)::

    PYTHONPATH=src python benchmarks/perf/startup.py --runs 21 [--trivy /path/to/trivy] [--json out.json]

``--src DIR`` times another source tree (``git archive <commit> src | tar -x -C DIR``,
then ``--src DIR/src``) in the same way, for a before/after comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Command:
    """One command line to time, with what it stands beside."""

    label: str
    argv: list[str]
    peer: str = ""  # label of the trivy command it is compared with
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)


def run_once(command: Command, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + sys) seconds of one run; a failing command stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command.argv, env=env, capture_output=True, timeout=60, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{command.label}: exit {proc.returncode}: {proc.stderr.decode(errors='replace')[:500]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def commands(trivy: str | None) -> list[Command]:
    """Shieldwall's three startup commands, the interpreter floor, and trivy's matching ones."""
    shieldwall = [sys.executable, "-m", "shieldwall"]
    found = [
        Command("python -c pass", [sys.executable, "-c", "pass"]),
        Command("shieldwall --help", [*shieldwall, "--help"], "trivy --help"),
        Command("shieldwall --version", [*shieldwall, "--version"], "trivy --version"),
        Command("shieldwall scan --help", [*shieldwall, "scan", "--help"], "trivy image --help"),
    ]
    if trivy:
        found += [
            Command("trivy --help", [trivy, "--help"]),
            Command("trivy --version", [trivy, "--version"]),
            Command("trivy image --help", [trivy, "image", "--help"]),
        ]
    return found


def main() -> None:
    """Run the benchmark and print (or write) the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--trivy", default=shutil.which("trivy") or str(Path(sys.executable).with_name("trivy")))
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the Shieldwall source tree to time")
    args = parser.parse_args()
    trivy = args.trivy if args.trivy and Path(args.trivy).is_file() else None
    if trivy is None:
        print("trivy not found: measuring Shieldwall alone", file=sys.stderr)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.src), env.get("PYTHONPATH", "")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled bytecode is part of a normal installation
    todo = commands(trivy)
    for command in todo:  # warm-up: page cache and __pycache__
        run_once(command, env)
    for _ in range(args.runs):
        for command in todo:
            wall, cpu = run_once(command, env)
            command.walls.append(wall)
            command.cpus.append(cpu)
    medians = {c.label: (statistics.median(c.walls), statistics.median(c.cpus)) for c in todo}
    rows = []
    for command in todo:
        wall, cpu = medians[command.label]
        ratio = wall / medians[command.peer][0] if command.peer in medians else None
        rows.append(
            {
                "command": command.label,
                "median_wall_s": round(wall, 4),
                "median_cpu_s": round(cpu, 4),
                "min_wall_s": round(min(command.walls), 4),
                "max_wall_s": round(max(command.walls), 4),
                "vs": command.peer if ratio is not None else None,
                "wall_ratio": round(ratio, 2) if ratio is not None else None,
            }
        )
    print(f"{'command':<26}{'median wall':>12}{'median cpu':>12}{'min':>8}{'max':>8}  ratio")
    for row in rows:
        ratio = f"{row['wall_ratio']:.2f}x {row['vs']}" if row["wall_ratio"] is not None else ""
        print(
            f"{row['command']:<26}{row['median_wall_s']:>11.3f}s{row['median_cpu_s']:>11.3f}s"
            f"{row['min_wall_s']:>7.3f}s{row['max_wall_s']:>7.3f}s  {ratio}"
        )
    load = os.getloadavg()
    print(f"runs={args.runs} load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json:
        doc = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, {platform.platform()}",
            "python": sys.version.split()[0],
            "runs": args.runs,
            "loadavg_end": load,
            "results": rows,
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
