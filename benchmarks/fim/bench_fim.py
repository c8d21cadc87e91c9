"""FIM benchmark: Shieldwall's FIM module vs Debian's AIDE on the same 100,000 real files and the same changes.

The tree is a copy of real files from outside the project (the host's
/usr/share, ../shared/data, /usr/lib, in that order, until --files regular
files), so nothing is written together with the rules that measure it.

Measured in one run, each tool in its own child process (peak RSS from
wait4): baseline time (``aide --init`` vs the module's first ``apply``), re-check
time after the same changes (``aide --check`` vs ``check_now``), both with the
same attributes (type, mode, inode, owner, group, size, SHA-256, link target,
xattrs) and whether both report the same changed paths. Then real-time
detection latency under a write storm (the module with inotify; AIDE has no
real-time mode): p50/p99 from each write to its event.

    PYTHONPATH=src /work/venv/bin/python benchmarks/fim/bench_fim.py --write benchmarks/fim/RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCES = [Path("/usr/share"), Path(__file__).resolve().parents[3] / "shared" / "data", Path("/usr/lib")]
AIDE_GROUP = "ftype+p+i+u+g+s+sha256+l+xattrs"


def build_tree(root: Path, count: int) -> int:
    """Copy regular files and symlinks (as links) from SOURCES until ``count`` regular files."""
    copied = 0
    for source in SOURCES:
        if not source.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames.sort()
            rel = Path(dirpath).relative_to(source.parent)
            target_dir = root / rel
            target_dir.mkdir(parents=True, exist_ok=True)
            for name in sorted(filenames):
                src = Path(dirpath) / name
                dst = target_dir / name
                try:
                    if src.is_symlink():
                        dst.symlink_to(os.readlink(src))
                        continue
                    if not src.is_file():
                        continue
                    shutil.copy2(src, dst)
                except OSError:
                    continue
                copied += 1
                if copied >= count:
                    return copied
    return copied


def timed_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stdout of one child process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        return seconds, usage.ru_maxrss, out.read().decode()


def mutate(root: Path, seed: int = 7) -> dict[str, int]:
    """The same changes for both tools: content, mode, new, deleted, link retargets."""
    rng = random.Random(seed)
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    links = sorted(p for p in root.rglob("*") if p.is_symlink())
    picked = rng.sample(files, 800)
    for path in picked[:200]:
        with path.open("ab") as handle:
            handle.write(b"\nchanged by the benchmark\n")
    for path in picked[200:400]:
        path.chmod(0o600 if path.stat().st_mode & 0o777 != 0o600 else 0o644)
    for i, path in enumerate(picked[400:600]):
        (path.parent / f"bench-new-{i}.txt").write_text(f"new file {i}\n")
    for path in picked[600:800]:
        path.unlink()
    retargeted = 0
    for link in rng.sample(links, min(50, len(links))):
        link.unlink()
        link.symlink_to(f"/nonexistent/bench-{retargeted}")
        retargeted += 1
    return {"content": 200, "mode": 200, "added": 200, "deleted": 200, "link_retarget": retargeted}


def aide_conf(work: Path, root: Path) -> Path:
    conf = work / "aide.conf"
    conf.write_text(
        f"database_in=file:{work}/aide.db\ndatabase_out=file:{work}/aide.db.new\n"
        f"report_format=json\nreport_url=stdout\nnum_workers=1\nBENCH = {AIDE_GROUP}\n{root} BENCH\n"
    )
    return conf


def storm_latency(root: Path, state: Path, writes: int) -> dict[str, Any]:
    """Run the module with inotify on the tree and write ``writes`` distinct files as fast as possible."""
    from shieldwall.agent.events import AgentEvent
    from shieldwall.agent.module import ModuleContext
    from shieldwall.agent.modules.fim import Module

    seen: dict[str, float] = {}
    lock = threading.Lock()

    def emit(event: AgentEvent) -> None:
        with lock:
            seen.setdefault(str(event.attributes.get("path")), time.monotonic())

    module = Module()
    module.start(ModuleContext(root, state, emit, logging.getLogger("bench")))
    policy = {
        "realtime": True,
        "audit": False,
        "system": False,
        "limits": {"coalesce_seconds": 0.2},
        "rules": [{"path": "/", "attributes": "normal", "diff": False}],
    }
    module.apply(policy, 1)
    rng = random.Random(11)
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    targets = rng.sample(files, writes)
    written: dict[str, float] = {}
    started = time.monotonic()
    for path in targets:
        with path.open("ab") as handle:
            handle.write(b"storm\n")
        written["/" + str(path.relative_to(root))] = time.monotonic()
    storm_seconds = time.monotonic() - started
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with lock:
            if all(p in seen for p in written):
                break
        time.sleep(0.05)
    state_now = module.state()
    module.stop()
    latencies = sorted(seen[p] - t for p, t in written.items() if p in seen)
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    return {
        "writes": writes,
        "storm_seconds": storm_seconds,
        "detected": len(latencies),
        "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "p99_ms": 1000 * q[98],
        "max_ms": 1000 * latencies[-1] if latencies else None,
        "overflows": state_now.counters.get("overflows", 0),
        "watches": state_now.counters.get("watches", 0),
    }


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
    mem = int(next(ln.split()[1] for ln in meminfo if ln.startswith("MemTotal"))) / 1024 / 1024
    aide = subprocess.run(["aide", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return {
        "cpu": cpu,
        "nproc": str(os.cpu_count()),
        "memory": f"{mem:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aide": aide,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--storm", type=int, default=5_000)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="swfimbench_", dir="/tmp"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    try:
        root = work / "root"
        root.mkdir()
        files = build_tree(root, args.files)
        conf = aide_conf(work, root)
        runner = [sys.executable, str(HERE / "fim_runner.py")]
        results: dict[str, Any] = {"files": files}
        results["aide_init"] = timed_child(["aide", "--init", "-c", str(conf)])[:2]
        (work / "aide.db.new").replace(work / "aide.db")
        for label, extra in (("sw", []), ("sw_diff", ["--diff"])):
            state = work / f"state-{label}"
            state.mkdir(mode=0o700)
            seconds, rss, out = timed_child([*runner, "baseline", str(root), str(state), *extra], env)
            results[f"{label}_baseline"] = (json.loads(out)["seconds"], rss, seconds)
        results["changes"] = mutate(root)
        seconds, rss, out = timed_child(["aide", "--check", "-c", str(conf)])
        aide_report = json.loads(out)
        aide_sets = {k: set((aide_report.get(k) or {}).keys()) for k in ("added", "removed", "changed")}
        results["aide_check"] = (seconds, rss)
        for label, extra in (("sw", []), ("sw_diff", ["--diff"])):
            seconds, rss, out = timed_child([*runner, "check", str(root), str(work / f"state-{label}"), *extra], env)
            parsed = json.loads(out)
            results[f"{label}_check"] = (parsed["seconds"], rss, seconds)
            ours = {k: set(v) for k, v in parsed["groups"].items()}
            results[f"{label}_same_as_aide"] = ours == aide_sets
            results[f"{label}_counts"] = {k: len(v) for k, v in ours.items()}
            results[f"{label}_only"] = {k: sorted(ours[k] - aide_sets[k])[:5] for k in ours}
            results[f"aide_only_vs_{label}"] = {k: sorted(aide_sets[k] - ours[k])[:5] for k in ours}
        results["aide_counts"] = {k: len(v) for k, v in aide_sets.items()}
        results["storm"] = storm_latency(root, work / "state-sw", args.storm)
        results["machine"] = machine()
        results["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        results["self_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(results, indent=2, default=list))
        if args.write:
            args.write.write_text(render(results))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    storm = r["storm"]
    mb = 1024
    lines = [
        "# FIM benchmark: Shieldwall's FIM module vs Debian's AIDE",
        "",
        f"- Date: {r['date']}",
        "- Command: `PYTHONPATH=src /work/venv/bin/python benchmarks/fim/bench_fim.py "
        "--write benchmarks/fim/RESULTS.md`",
        f"- Machine: {m['cpu']}, {m['nproc']} cores (shared with other work; load {m['load']} at the end), "
        f"{m['memory']}, kernel {m['kernel']}, Python {m['python']}, {m['aide']}",
        f"- Tree: {r['files']:,} regular files copied from the host's /usr/share, ../shared/data and /usr/lib "
        "(real files from outside the project), plus their directories and symbolic links",
        f"- Attributes, both tools: type, mode, inode, owner, group, size, SHA-256, link target, xattrs "
        f"(AIDE `{AIDE_GROUP}`, `num_workers=1`; Shieldwall group `normal`)",
        f"- Changes: {r['changes']}",
        "",
        "| | baseline (s) | baseline peak RSS (MiB) | re-check (s) | re-check peak RSS (MiB) | same paths as AIDE |",
        "|---|---|---|---|---|---|",
        f"| AIDE `--init` / `--check` | {r['aide_init'][0]:.1f} | {r['aide_init'][1] / mb:.0f} | "
        f"{r['aide_check'][0]:.1f} | {r['aide_check'][1] / mb:.0f} | — |",
    ]
    labels = (("sw", "Shieldwall, `diff: false`"), ("sw_diff", "Shieldwall, `diff: true` (masked text kept)"))
    for label, name in labels:
        b, c = r[f"{label}_baseline"], r[f"{label}_check"]
        lines.append(
            f"| {name} | {b[0]:.1f} (process {b[2]:.1f}) | {b[1] / mb:.0f} | {c[0]:.1f} (process {c[2]:.1f}) | "
            f"{c[1] / mb:.0f} | "
            f"{'yes' if r[f'{label}_same_as_aide'] else 'NO'} |"
        )
    lines += [
        "",
        f"Changed paths: AIDE {r['aide_counts']}, Shieldwall {r['sw_counts']} "
        f"(with diffs {r['sw_diff_counts']}). Only Shieldwall: {r['sw_only']}; only AIDE: {r['aide_only_vs_sw']}.",
        "",
        "Shieldwall's times are the module's own (apply / check_now) measured inside its process; the process "
        "also pays Python start-up and imports (the process wall time in brackets). Peak RSS is wait4's "
        "ru_maxrss of each child process. The tree was copied just before, so every run reads from the page cache "
        "(2.5 GB, far below the machine's free memory); AIDE runs first in each phase. `diff: true` keeps the "
        "masked text of every small text file (secret-scanned once at baseline time), which is what costs the "
        "extra time and memory; the re-check reuses it for unchanged hashes.",
        "",
        "## Real-time detection latency under a write storm",
        "",
        f"The module watching the whole tree with inotify ({storm['watches']:,} directory watches, "
        f"`coalesce_seconds: 0.2`); {storm['writes']:,} distinct files appended to as fast as one Python thread "
        f"can ({storm['storm_seconds']:.2f} s), latency from each write to its `fim.modified` event:",
        "",
        "| writes | detected | p50 (ms) | p99 (ms) | max (ms) | queue overflows |",
        "|---|---|---|---|---|---|",
        f"| {storm['writes']:,} | {storm['detected']:,} | {storm['p50_ms']:.0f} | {storm['p99_ms']:.0f} | "
        f"{storm['max_ms']:.0f} | {storm['overflows']} |",
        "",
        "AIDE has no real-time mode (it detects at the next `aide --check`), so there is no peer row here. The "
        "latency includes the coalescing window (0.2 s of quiet per path, at most 1 s) by design: a burst of writes "
        "to one file is one event.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
