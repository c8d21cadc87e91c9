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

``--before DIR`` also times another source tree in the same interleaved loop
(rows marked ``[before]``), for a before/after comparison in one run::

    git archive <commit> src | tar -x -C /tmp/before
    PYTHONPATH=src python benchmarks/perf/startup.py --runs 21 --before /tmp/before/src
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
    src: Path | None = None  # the source tree on PYTHONPATH (Shieldwall commands only)
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    failed: str = ""  # why it could not be timed (it exited non-zero): shown, never counted


def run_once(command: Command, env: dict[str, str]) -> tuple[float, float] | None:
    """Wall and CPU (user + sys) seconds of one run; None (and ``command.failed`` set) when it fails."""
    if command.src is not None:
        env = {**env, "PYTHONPATH": str(command.src)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command.argv, env=env, capture_output=True, timeout=60, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        lines = [line.strip("│╭╰─╮╯ ") for line in proc.stderr.decode(errors="replace").splitlines()]
        first = ([line for line in lines if line] or [""])[-1]
        command.failed = f"exit {proc.returncode}: {first[:80]}"
        return None
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def shieldwall_commands(src: Path, tag: str = "") -> list[Command]:
    """``--help``, ``--version``, ``version`` and ``scan --help`` of the Shieldwall tree at ``src``."""
    shieldwall = [sys.executable, "-m", "shieldwall"]
    return [
        Command(f"{tag}shieldwall --help", [*shieldwall, "--help"], "trivy --help", src),
        Command(f"{tag}shieldwall --version", [*shieldwall, "--version"], "trivy --version", src),
        Command(f"{tag}shieldwall version", [*shieldwall, "version"], "trivy --version", src),
        Command(f"{tag}shieldwall scan --help", [*shieldwall, "scan", "--help"], "trivy image --help", src),
    ]


def commands(src: Path, before: Path | None, trivy: str | None) -> list[Command]:
    """The interpreter floor, Shieldwall's startup commands (and the tree before), and trivy's matching ones."""
    found = [Command("python -c pass", [sys.executable, "-c", "pass"]), *shieldwall_commands(src)]
    if before is not None:
        found += shieldwall_commands(before, "[before] ")
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
    parser.add_argument("--before", type=Path, help="another source tree to time beside it (before a change)")
    args = parser.parse_args()
    trivy = args.trivy if args.trivy and Path(args.trivy).is_file() else None
    if trivy is None:
        print("trivy not found: measuring Shieldwall alone", file=sys.stderr)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # each Shieldwall command puts its own tree first
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled bytecode is part of a normal installation
    todo = commands(args.src.resolve(), args.before.resolve() if args.before else None, trivy)
    for command in todo:  # warm-up: page cache and __pycache__
        run_once(command, env)
    for _ in range(args.runs):
        for command in todo:
            if command.failed:
                continue
            timed = run_once(command, env)
            if timed is not None:
                command.walls.append(timed[0])
                command.cpus.append(timed[1])
    medians = {c.label: (statistics.median(c.walls), statistics.median(c.cpus)) for c in todo if not c.failed}
    rows = []
    for command in todo:
        if command.failed:
            rows.append({"command": command.label, "failed": command.failed})
            continue
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
    print(f"{'command':<36}{'median wall':>12}{'median cpu':>12}{'min':>8}{'max':>8}  ratio")
    for row in rows:
        if "failed" in row:
            print(f"{row['command']:<36}  not timed: {row['failed']}")
            continue
        ratio = f"{row['wall_ratio']:.2f}x {row['vs']}" if row["wall_ratio"] is not None else ""
        print(
            f"{row['command']:<36}{row['median_wall_s']:>11.3f}s{row['median_cpu_s']:>11.3f}s"
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
            "src": str(args.src),
            "before": str(args.before) if args.before else None,
            "loadavg_end": load,
            "results": rows,
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
