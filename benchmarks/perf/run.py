#!/usr/bin/env python3
"""Scan speed of Shieldwall against trivy and syft on the benchmark image, in one run (issue #18).

Build the image first (as root: ``benchmarks/build_image.py``); trivy and syft
must be on PATH or in the interpreter's bin directory. From the repository root::

    /work/venv/bin/python benchmarks/perf/run.py [--repeat 3] [--write-results benchmarks/perf/RESULTS.md]

For the docker-archive and the OCI layout, each repetition runs, interleaved:

- full scan, cold: ``shieldwall scan`` (every scanner; ``--parallel 1`` = the
  serial path, and the default ``--parallel`` = CPU count) with no layer result
  cached (the compiled YARA and secret rules are, as an installed scanner has
  them; trivy's checks are built in), against ``trivy image --scanners secret,misconfig
  --list-all-pkgs`` with ``--cache-backend memory`` (trivy cannot match offline:
  packages, secrets and misconfiguration only);
- inventory only, cold: ``shieldwall sbom`` vs trivy (CycloneDX) vs syft;
- warm rescan of the unchanged image: the same full scans again over the
  caches their cold run filled (trivy with its fs cache).

Shieldwall matches against an advisory database imported (untimed, once) from
``../shared/data/osv`` (Debian, PyPI, npm GHSA, Go). Wall time, CPU time
(user+system of the process and its children), peak RSS of the largest process
and of the whole process tree (sampled every 50 ms), and the peak summed PSS
of the tree (shared pages of forked workers counted once) are recorded; the
report gives medians and the ratios issue #18 asks for. ``--baseline REV``
also runs the full cold scan with ``git archive REV src`` (the code before).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))

from compare_inventory import machine_info, tool_version  # noqa: E402

IMAGE_DIR = HERE.parent / "work" / "image"
TARGETS = {"docker-archive": "shieldwall-bench.docker.tar", "oci": "shieldwall-bench.oci"}
SHARED = REPO.parent / "shared" / "data"
FEEDS = (
    SHARED / "osv" / "debian" / "all.zip",
    SHARED / "osv" / "pypi" / "vulns",
    SHARED / "osv" / "npm-ghsa" / "all.zip",
    SHARED / "osv" / "go" / "data" / "osv",
)
TRIVY_COMMON = (
    "--skip-db-update",
    "--skip-java-db-update",
    "--offline-scan",
    "--skip-check-update",
    "--disable-telemetry",
    "--skip-version-check",
    "--no-progress",
    "--quiet",
)


@dataclass(frozen=True)
class Run:
    """One measured command."""

    wall_s: float
    cpu_s: float
    max_rss_mb: float
    tree_rss_mb: float
    tree_pss_mb: float
    returncode: int


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = defaultdict(list)
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            raw = Path(f"/proc/{name}/stat").read_bytes()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        kids[int(fields[1])].append(int(name))
    return kids


def _memory(root: int) -> tuple[int, int]:
    """(summed RSS, summed PSS) in kB over the process tree under ``root``."""
    kids = _children()
    rss = pss = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
        stack.extend(kids.get(pid, ()))
    return rss, pss


def measure(cmd: list[str], env: dict[str, str], log: Path) -> Run:
    """Run ``cmd`` to the end, sampling the memory of its process tree."""
    peak_rss = peak_pss = 0
    done = threading.Event()
    with log.open("ab") as err:
        err.write(f"$ {' '.join(cmd)}\n".encode())
        err.flush()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)

        def sample() -> None:
            nonlocal peak_rss, peak_pss
            while not done.is_set():
                rss, pss = _memory(proc.pid)
                peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
    return Run(
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        max(peak_rss, usage.ru_maxrss) / 1024,
        max(peak_pss, 1) / 1024,
        os.waitstatus_to_exitcode(status),
    )


def _exe(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found (on PATH or beside {sys.executable})")
    return found


class Bench:
    """Commands and environments of every case, in scratch directories."""

    def __init__(self, scratch: Path, baseline: str = "") -> None:
        self.scratch = scratch
        self.baseline = baseline
        self.baseline_src = scratch / "baseline-src"
        if baseline:  # the code before this work, to compare memory and time with "today's"
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", baseline, "src"], capture_output=True, check=True
            )
            self.baseline_src.mkdir()
            subprocess.run(["tar", "-x", "-C", str(self.baseline_src)], input=archive.stdout, check=True)
        self.trivy = _exe("trivy")
        self.syft = _exe("syft")
        self.shieldwall = [sys.executable, "-m", "shieldwall"]
        self.data = scratch / "shieldwall-data"
        self.log = scratch / "stderr.log"
        self.cpus = len(os.sched_getaffinity(0))

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO / "src")
        env["SHIELDWALL_DATA_DIR"] = str(self.data)
        env["SHIELDWALL_CONFIG_DIR"] = str(self.scratch / "shieldwall-config")
        env["SYFT_CHECK_FOR_APP_UPDATE"] = "false"
        env["TMPDIR"] = str(self.scratch / "tmp")
        env.update(extra)
        return env

    def import_db(self) -> None:
        """The advisory database Shieldwall matches against (not timed)."""
        (self.scratch / "tmp").mkdir(exist_ok=True)
        for feed in FEEDS:
            if not feed.exists():
                print(f"  (no {feed}: not imported)", file=sys.stderr)
                continue
            subprocess.run([*self.shieldwall, "db", "import", "-q", str(feed)], env=self.env(), check=True)

    def compile_rules(self, ref: str) -> None:
        """One untimed scan without the layer cache: what it leaves are the compiled YARA and secret rules."""
        template = self.scratch / "rules-template"
        cmd = [*self.shieldwall, "scan", ref, "-q", "--no-cache", "-o", f"json={self.scratch / 'warmup.json'}"]
        subprocess.run(cmd, env=self.env(SHIELDWALL_CACHE_DIR=str(template)), check=True)
        assert not (template / "layers").exists(), "the rules template must hold no layer results"

    def fresh(self, name: str) -> Path:
        """An empty layer cache (compiled rules copied in, as an installed scanner has them)."""
        path = self.scratch / name
        shutil.rmtree(path, ignore_errors=True)
        template = self.scratch / "rules-template"
        if template.exists() and name.startswith("sw-"):
            shutil.copytree(template, path)
        else:
            path.mkdir(parents=True)
        return path

    def shieldwall_scan(self, ref: str, cache: Path, parallel: int) -> Run:
        out = self.scratch / "out-sw.json"
        cmd = [*self.shieldwall, "scan", ref, "-q", "-o", f"json={out}", "--parallel", str(parallel)]
        return measure(cmd, self.env(SHIELDWALL_CACHE_DIR=str(cache)), self.log)

    def baseline_scan(self, ref: str, cache: Path) -> Run:
        """The same full scan with the code of ``--baseline`` (no --parallel there: serial)."""
        out = self.scratch / "out-sw-baseline.json"
        cmd = [*self.shieldwall, "scan", ref, "-q", "-o", f"json={out}"]
        env = self.env(SHIELDWALL_CACHE_DIR=str(cache), PYTHONPATH=str(self.baseline_src / "src"))
        return measure(cmd, env, self.log)

    def shieldwall_sbom(self, ref: str, cache: Path) -> Run:
        out = self.scratch / "out-sw.cdx.json"
        cmd = [*self.shieldwall, "sbom", ref, "-q", "-o", str(out), "--parallel", str(self.cpus)]
        return measure(cmd, self.env(SHIELDWALL_CACHE_DIR=str(cache)), self.log)

    def _trivy_input(self, path: Path) -> list[str]:
        return ["--input", str(path)]

    def trivy_scan(self, path: Path, cache: Path | None) -> Run:
        out = self.scratch / "out-trivy.json"
        backend = ["--cache-backend", "memory"] if cache is None else ["--cache-dir", str(cache)]
        cmd = [self.trivy, "image", *self._trivy_input(path), "--scanners", "secret,misconfig", "--list-all-pkgs"]
        cmd += ["-f", "json", "-o", str(out), *backend, *TRIVY_COMMON]
        return measure(cmd, self.env(TRIVY_CACHE_DIR=str(cache or self.scratch / "trivy-none")), self.log)

    def trivy_sbom(self, path: Path) -> Run:
        out = self.scratch / "out-trivy.cdx.json"
        cmd = [self.trivy, "image", *self._trivy_input(path), "-f", "cyclonedx", "-o", str(out)]
        cmd += ["--cache-backend", "memory", *TRIVY_COMMON]
        return measure(cmd, self.env(TRIVY_CACHE_DIR=str(self.scratch / "trivy-none")), self.log)

    def syft_sbom(self, kind: str, path: Path) -> Run:
        out = self.scratch / "out-syft.json"
        cache = self.fresh("syft-cache")
        cmd = [self.syft, f"{'oci-dir' if kind == 'oci' else kind}:{path}", "-o", f"cyclonedx-json={out}", "-q"]
        return measure(cmd, self.env(SYFT_CACHE_DIR=str(cache)), self.log)


Case = tuple[str, Callable[[], Run]]


def cases(bench: Bench, kind: str, path: Path) -> list[Case]:
    """Every measured command for one target, in the order they run."""
    ref = f"{kind}:{path}"
    n = bench.cpus
    warm = {1: bench.scratch / f"sw-warm-{kind}-1", n: bench.scratch / f"sw-warm-{kind}-{n}"}
    trivy_warm = bench.scratch / f"trivy-warm-{kind}"

    def sw_cold(p: int) -> Run:
        cache = bench.fresh(f"sw-cold-{kind}")
        run = bench.shieldwall_scan(ref, cache, p)
        shutil.rmtree(warm[p], ignore_errors=True)
        shutil.move(str(cache), warm[p])  # the warm rescan reuses what this cold run cached
        return run

    def trivy_fill() -> Run:
        shutil.rmtree(trivy_warm, ignore_errors=True)
        return bench.trivy_scan(path, trivy_warm)

    before: list[Case] = []
    if bench.baseline:
        label = f"shieldwall full cold, before ({bench.baseline})"
        before.append((label, lambda: bench.baseline_scan(ref, bench.fresh(f"sw-base-{kind}"))))
    return [
        *before,
        ("shieldwall full cold --parallel 1", lambda: sw_cold(1)),
        (f"shieldwall full cold --parallel {n}", lambda: sw_cold(n)),
        ("trivy full cold", lambda: bench.trivy_scan(path, None)),
        ("shieldwall sbom cold", lambda: bench.shieldwall_sbom(ref, bench.fresh(f"sw-sbom-{kind}"))),
        ("trivy sbom cold", lambda: bench.trivy_sbom(path)),
        ("syft sbom cold", lambda: bench.syft_sbom(kind, path)),
        ("shieldwall full warm --parallel 1", lambda: bench.shieldwall_scan(ref, warm[1], 1)),
        (f"shieldwall full warm --parallel {n}", lambda: bench.shieldwall_scan(ref, warm[n], n)),
        ("trivy fill fs cache (not reported)", trivy_fill),
        ("trivy full warm", lambda: bench.trivy_scan(path, trivy_warm)),
    ]


def _median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(r, field) for r in runs)


def report(results: dict[tuple[str, str], list[Run]], bench: Bench, repeat: int, argv: list[str], load: str) -> str:
    """The markdown report: medians per case, then the ratios of issue #18."""
    n = bench.cpus
    info = machine_info()
    lines = [
        "# Scan speed: Shieldwall vs trivy vs syft (issue #18)",
        "",
        f"- Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Command: `{Path(sys.executable)} benchmarks/perf/run.py {' '.join(argv)}`".rstrip(),
        f"- Machine: {info['CPU']}, {info['nproc']} CPUs, {info['Memory']}, {info['OS']}, kernel {info['Kernel']}, "
        f"Python {info['Python']}",
        "- The machine is shared with 7 other engineers' builds and tests: absolute times vary from run to run;"
        " every case ran interleaved in this one run, so compare the ratios.",
        f"- Load average (1/5/15 min): {load}",
        f"- trivy {tool_version([bench.trivy, '--version'])}, syft {tool_version([bench.syft, 'version'])}",
        f"- Image: `{TARGETS['docker-archive']}` (5 layers, 404 MB: Debian 12 + Python + Node + Go) and its OCI layout",
        f"- Medians of {repeat} repetition(s). CPU = user+system of the process tree. RSS max = largest process;"
        " tree RSS/PSS = peak of the sum over the process tree (PSS counts pages shared by forked workers once).",
        "",
        "| target | case | wall s | CPU s | RSS max MB | tree RSS MB | tree PSS MB | exit |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for (kind, name), runs in results.items():
        if "not reported" in name:
            continue
        codes = ",".join(str(r.returncode) for r in runs)
        lines.append(
            f"| {kind} | {name} | {_median(runs, 'wall_s'):.2f} | {_median(runs, 'cpu_s'):.2f} | "
            f"{_median(runs, 'max_rss_mb'):.0f} | {_median(runs, 'tree_rss_mb'):.0f} | "
            f"{_median(runs, 'tree_pss_mb'):.0f} | {codes} |"
        )
    lines += ["", "## Ratios (Shieldwall / peer; goal in brackets)", ""]
    lines += ["| target | ratio | value | goal | met |", "|---|---|---:|---|---|"]

    def ratio(kind: str, mine: str, theirs: str, field: str = "wall_s") -> float:
        return _median(results[(kind, mine)], field) / _median(results[(kind, theirs)], field)

    for kind in sorted({k for k, _ in results}):
        par = f"--parallel {n}"
        rows = [
            ("full scan cold, wall vs trivy", ratio(kind, f"shieldwall full cold {par}", "trivy full cold"), 1.0),
            (
                "full scan cold, CPU vs trivy",
                ratio(kind, f"shieldwall full cold {par}", "trivy full cold", "cpu_s"),
                None,
            ),
            (
                f"full scan cold, wall {par} vs --parallel 1",
                ratio(kind, f"shieldwall full cold {par}", "shieldwall full cold --parallel 1"),
                None,
            ),
            ("sbom cold, wall vs trivy", ratio(kind, "shieldwall sbom cold", "trivy sbom cold"), 1.5),
            ("sbom cold, wall vs syft", ratio(kind, "shieldwall sbom cold", "syft sbom cold"), 0.35),
            ("warm rescan, wall vs trivy warm", ratio(kind, f"shieldwall full warm {par}", "trivy full warm"), 0.5),
            (
                f"peak tree PSS {par} vs --parallel 1",
                ratio(kind, f"shieldwall full cold {par}", "shieldwall full cold --parallel 1", "tree_pss_mb"),
                1.2,
            ),
            *(
                []
                if not bench.baseline
                else [
                    (
                        f"peak tree PSS {par} vs before ({bench.baseline})",
                        ratio(
                            kind,
                            f"shieldwall full cold {par}",
                            f"shieldwall full cold, before ({bench.baseline})",
                            "tree_pss_mb",
                        ),
                        1.2,
                    ),
                    (
                        f"full scan cold, wall {par} vs before ({bench.baseline})",
                        ratio(kind, f"shieldwall full cold {par}", f"shieldwall full cold, before ({bench.baseline})"),
                        None,
                    ),
                ]
            ),
            (
                f"peak tree RSS {par} vs --parallel 1",
                ratio(kind, f"shieldwall full cold {par}", "shieldwall full cold --parallel 1", "tree_rss_mb"),
                1.2,
            ),
        ]
        for label, value, goal in rows:
            goal_text = f"<= {goal}x" if goal is not None else ""
            met = "" if goal is None else ("yes" if value <= goal else "**no**")
            lines.append(f"| {kind} | {label} | {value:.2f}x | {goal_text} | {met} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run every case ``--repeat`` times, interleaved; print (and optionally write) the report."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write-results", type=Path, default=None)
    parser.add_argument("--targets", default="docker-archive,oci", help="comma-separated: docker-archive,oci")
    parser.add_argument("--baseline", default="", help="a git revision whose src/ also runs the full cold scan")
    args = parser.parse_args(args_list)
    paths = {k: IMAGE_DIR / TARGETS[k] for k in args.targets.split(",")}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise SystemExit(f"build the image first (as root: benchmarks/build_image.py): missing {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="sw-perf-") as tmp:
        bench = Bench(Path(tmp), args.baseline)
        print("importing the advisory database (not timed)...", file=sys.stderr)
        bench.import_db()
        print("compiling the rules once (not timed)...", file=sys.stderr)
        bench.compile_rules(f"{next(iter(paths))}:{next(iter(paths.values()))}")
        load_before = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        results: dict[tuple[str, str], list[Run]] = defaultdict(list)
        for rep in range(args.repeat):
            for kind, path in paths.items():
                for name, run in cases(bench, kind, path):
                    result = run()
                    results[(kind, name)].append(result)
                    print(f"[{rep + 1}/{args.repeat}] {kind:14s} {name:40s} {result.wall_s:7.2f}s "
                          f"cpu {result.cpu_s:6.2f}s pss {result.tree_pss_mb:5.0f}MB rc={result.returncode}",
                          file=sys.stderr)  # fmt: skip
        load = f"{load_before} before, {' / '.join(f'{x:.2f}' for x in os.getloadavg())} after"
        failed = [f"{k}: {n}" for (k, n), runs in results.items() if any(r.returncode != 0 for r in runs)]
        text = report(results, bench, args.repeat, args_list, load)
        if failed:
            text += "\nFailed runs (see stderr.log): " + "; ".join(failed) + "\n"
            sys.stderr.write((bench.log).read_text(errors="replace")[-4000:])
    print(text)
    if args.write_results:
        args.write_results.write_text(text)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
