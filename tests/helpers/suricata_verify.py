"""A runner for OISF suricata-verify cases with Shieldwall's generated configuration.

Implements the part of suricata-verify's ``test.yaml`` language the stored
cases need: ``args``, ``requires`` (``min-version``, ``lt-version``,
``gt-version``, ``features``), ``pcap``, and ``filter`` checks with ``count``
and ``match`` over dotted eve paths (with ``[n]`` indexes and the ``__len``
operator). Anything else (``shell``, ``stats``, ``file-compare`` checks,
unknown requirements) is a counted skip with its reason, never a pass.
Suricata is always run with the configuration Shieldwall's ``ips`` module
generates (a case's own ``suricata.yaml`` is not used; such cases are counted).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from shieldwall.agent.modules.ips.commands import Tools
from shieldwall.agent.modules.ips.config import ConfigOptions
from shieldwall.agent.modules.ips.layout import Layout
from shieldwall.agent.modules.ips.replay import prepare, replay

EVE_TYPES = ("flow", "http", "dns", "tls", "ssh", "anomaly", "files", "quic", "http2", "smtp", "netflow", "stats")


@cache
def suricata_version() -> tuple[int, ...]:
    """The installed Suricata's version."""
    out = subprocess.run(["suricata", "-V"], capture_output=True, text=True, check=True, timeout=30).stdout
    m = re.search(r"version (\d+)\.(\d+)\.(\d+)", out)
    assert m, out
    return tuple(int(x) for x in m.groups())


@cache
def suricata_features() -> frozenset[str]:
    """Feature words from ``suricata --build-info``."""
    out = subprocess.run(["suricata", "--build-info"], capture_output=True, text=True, check=True, timeout=30).stdout
    for line in out.splitlines():
        if line.startswith("Features:"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def _version(text: Any) -> tuple[int, ...]:
    parts = [int(p) for p in re.findall(r"\d+", str(text))[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def unmet(requires: dict[str, Any] | None) -> str | None:
    """Why ``requires`` is not met by this Suricata, or None."""
    if not requires:
        return None
    ours = suricata_version()
    for key, value in requires.items():
        if key == "min-version":
            if ours < _version(value):
                return f"min-version {value}"
        elif key == "lt-version":
            if ours >= _version(value):
                return f"lt-version {value}"
        elif key == "gt-version":
            if ours <= _version(value):
                return f"gt-version {value}"
        elif key == "features":
            missing = [f for f in value if f not in suricata_features()]
            if missing:
                return "feature " + ",".join(missing)
        elif key in ("pcap",):
            continue
        else:
            return f"requires {key}"
    return None


_INDEX = re.compile(r"^(.*)\[(\d+)\]$")
_MISSING = object()


def lookup(record: Any, path: str) -> Any:
    """A dotted eve path (``alert.metadata.cve[0]``) in ``record``, or a missing marker."""
    value = record
    for part in path.split("."):
        indexes: list[int] = []
        m = _INDEX.match(part)
        while m:
            indexes.insert(0, int(m.group(2)))
            part = m.group(1)
            m = _INDEX.match(part)
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
        for i in indexes:
            if not isinstance(value, list) or i >= len(value):
                return _MISSING
            value = value[i]
    return value


class Unsupported(Exception):
    """A check uses a part of the language this runner does not implement."""


def matches(record: dict[str, Any], match: dict[str, Any]) -> bool:
    """Does ``record`` satisfy every entry of a ``match`` block?"""
    for key, expected in match.items():
        if key in ("has-key", "not-has-key"):
            present = lookup(record, str(expected)) is not _MISSING
            if present != (key == "has-key"):
                return False
            continue
        if key.endswith("__len"):
            value = lookup(record, key[: -len("__len")])
            if value is _MISSING or len(value) != expected:
                return False
            continue
        if "__" in key:
            raise Unsupported(f"operator {key.split('__', 1)[1]}")
        value = lookup(record, key)
        if value is _MISSING:
            return False
        if value != expected and str(value) != str(expected):
            return False
    return True


@dataclass
class CaseResult:
    """The outcome of one case."""

    name: str
    status: str  # pass | fail | skip
    reason: str = ""
    own_yaml: bool = False


@dataclass
class Summary:
    """Counts over a run."""

    results: list[CaseResult] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        """pass/fail/skip counts."""
        return Counter(r.status for r in self.results)

    def skip_reasons(self) -> Counter[str]:
        """Why cases were skipped."""
        return Counter(r.reason for r in self.results if r.status == "skip")

    def table(self) -> str:
        """A printable table of the run."""
        c = self.counts()
        ran = c["pass"] + c["fail"]
        rate = 100.0 * c["pass"] / ran if ran else 0.0
        lines = [
            "suricata-verify with Shieldwall's generated configuration "
            f"(Suricata {'.'.join(map(str, suricata_version()))})",
            f"  cases: {len(self.results)}  ran: {ran}  pass: {c['pass']}  fail: {c['fail']}  skip: {c['skip']}",
            f"  pass rate of cases run: {rate:.1f}%",
            f"  cases shipping their own suricata.yaml (replaced by ours): "
            f"{sum(r.own_yaml for r in self.results)} "
            f"(pass {sum(r.own_yaml and r.status == 'pass' for r in self.results)})",
        ]
        by_suite: dict[str, Counter[str]] = {}
        for r in self.results:
            suite = "http-evader" if r.name.startswith("http-evader") else "other"
            by_suite.setdefault(suite, Counter())[r.status] += 1
        for suite, counts in sorted(by_suite.items()):
            lines.append(f"  {suite:12s} pass {counts['pass']:4d} fail {counts['fail']:4d} skip {counts['skip']:4d}")
        for reason, n in self.skip_reasons().most_common():
            lines.append(f"  skipped ({n}): {reason}")
        for r in self.results:
            if r.status == "fail":
                lines.append(f"  FAIL {r.name}: {r.reason}")
        return "\n".join(lines)


def _args(raw: Any, out_dir: Path) -> list[str]:
    items = raw if isinstance(raw, list) else ([raw] if raw else [])
    argv: list[str] = []
    for item in items:
        argv += shlex.split(str(item).replace("${OUTPUT_DIR}", str(out_dir)))
    return argv


def run_case(case_dir: Path, name: str, work: Path, verify_root: Path) -> CaseResult:
    """Run one case in ``work`` (emptied first)."""
    test_yaml = case_dir / "test.yaml"
    spec: dict[str, Any] = {}
    if test_yaml.exists():
        spec = yaml.safe_load(test_yaml.read_text(encoding="utf-8")) or {}
    own_yaml = (case_dir / "suricata.yaml").exists()
    reason = unmet(spec.get("requires"))
    if reason:
        return CaseResult(name, "skip", reason, own_yaml)
    pcap_spec = spec.get("pcap", None)
    if pcap_spec is False:
        return CaseResult(name, "skip", "no pcap", own_yaml)
    if isinstance(pcap_spec, str):
        pcap = (case_dir / pcap_spec).resolve()
    else:
        pcaps = sorted(case_dir.glob("*.pcap")) + sorted(case_dir.glob("*.pcapng"))
        if len(pcaps) != 1:
            return CaseResult(name, "skip", "not exactly one pcap", own_yaml)
        pcap = pcaps[0]
    if not pcap.is_relative_to(verify_root.resolve()):
        return CaseResult(name, "skip", "pcap outside the suite", own_yaml)
    checks = spec.get("checks") or []
    filters = []
    for check in checks:
        if not isinstance(check, dict) or "filter" not in check:
            continue
        f = check["filter"]
        if unmet(f.get("requires")) or "count" not in f:
            continue
        if any(k not in ("count", "match", "requires", "comment") for k in f):
            continue
        filters.append(f)
    if not filters:
        return CaseResult(name, "skip", "no filter check this runner can evaluate", own_yaml)
    if work.exists():
        shutil.rmtree(work)
    layout = Layout(work)
    rules = case_dir / "test.rules"
    prepare(
        layout,
        "",
        ConfigOptions(unix_socket=False, checksum_validation=False, extra_eve_types=EVE_TYPES, stats=True),
        classification=verify_root / "etc" / "classification.config",
        reference=verify_root / "etc" / "reference.config",
    )
    args = _args(spec.get("args"), layout.log_dir)
    if "ips" in name and "--simulate-ips" not in args:
        args.append("--simulate-ips")
    result = replay(Tools(), layout, pcap, extra_args=args, rule_file=rules if rules.exists() else None)
    if result.returncode != 0:
        return CaseResult(name, "fail", f"suricata exit {result.returncode}: {' '.join(result.errors[:2])}", own_yaml)
    events = list(result.events)
    for f in filters:
        match = f.get("match") or {}
        try:
            got = sum(1 for e in events if matches(e, match))
        except Unsupported as exc:
            return CaseResult(name, "skip", str(exc), own_yaml)
        if got != int(f["count"]):
            return CaseResult(name, "fail", f"{match}: expected {f['count']}, got {got}", own_yaml)
    return CaseResult(name, "pass", "", own_yaml)


def case_dirs(root: Path) -> list[tuple[str, Path]]:
    """Every case directory (one holding a test.yaml) under ``root/tests``."""
    tests = root / "tests"
    return sorted((str(p.parent.relative_to(tests)), p.parent) for p in tests.rglob("test.yaml"))


def run_all(root: Path, work: Path, names: list[str] | None = None) -> Summary:
    """Run every case (or those named)."""
    summary = Summary()
    for name, path in case_dirs(root):
        if names is not None and name not in names:
            continue
        summary.results.append(run_case(path, name, work / "case", root))
    return summary
