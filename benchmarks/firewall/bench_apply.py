"""Time to resolve, compile and apply 10,000 rules and 100,000 set elements inside a network namespace.

Run as root (it creates and removes its own namespace, never touching the host's firewall):

    PYTHONPATH=src /work/venv/bin/python benchmarks/firewall/bench_apply.py [--rules 10000] [--elements 100000]

Set elements: every IPv4 entry of ../shared/data/reputation (ET IP lists and the
URLhaus host list's addresses), topped up to ``--elements`` with addresses drawn
by a seeded generator from 100.64.0.0/10 (documented in RESULTS.md). Rules:
a generated policy (a base policy with half the rules and a child overriding
every tenth rule by id and adding the rest), tcp/udp ports and ranges, source CIDRs.

Peers on the same input in the same run: the raw ``nft -j -f`` of the batch
Shieldwall produced (the kernel/nft floor), and iptables-legacy-restore with
the equivalent rules (one ``-A`` per port/CIDR pair).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shieldwall.firewall.compile import compile_ruleset, reputation_reload_batch
from shieldwall.firewall.drift import compare
from shieldwall.firewall.guard import guarded_apply
from shieldwall.firewall.nft import Nft
from shieldwall.firewall.reputation import ReputationList, parse_entries
from shieldwall.firewall.schema import resolve_section
from shieldwall.model.finding import Severity

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "reputation"


def shared_ipv4() -> list[str]:
    """Every IPv4 entry of the shared reputation lists."""
    out: list[str] = []
    for path in sorted((DATA / "et-ip-lists").glob("*.txt")):
        out += [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    urlhaus = DATA / "urlhaus-filter" / "urlhaus-filter-online.txt"
    for line in urlhaus.read_text().splitlines():
        try:
            ipaddress.IPv4Address(line.strip())
        except ValueError:
            continue
        out.append(line.strip())
    return out


def elements(count: int) -> tuple[list[str], int]:
    """``count`` entries: the shared lists first, then seeded addresses from 100.64.0.0/10."""
    real = shared_ipv4()[:count]
    rng = random.Random(20261207)
    extra: set[str] = set()
    base = int(ipaddress.IPv4Address("100.64.0.0"))
    while len(real) + len(extra) < count:
        extra.add(str(ipaddress.IPv4Address(base + rng.randrange(1 << 22))))
    return real + sorted(extra), len(real)


def policy(rules: int) -> dict[str, Any]:
    """A base policy with half the rules, a child overriding every tenth and adding the rest."""
    rng = random.Random(7)

    def rule(i: int) -> dict[str, Any]:
        proto = "tcp" if i % 3 else "udp"
        port: Any = 1024 + (i % 60000)
        if i % 7 == 0:
            port = f"{port}-{port + 10}"
        return {
            "id": f"r{i}",
            "direction": "in" if i % 4 else "out",
            "action": "accept" if i % 5 else "drop",
            "protocol": proto,
            "ports": [port],
            ("source" if i % 4 else "destination"): [f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24"],
        }

    half = rules // 2
    base_rules = [rule(i) for i in range(half)]
    child_rules = [{**rule(i), "action": "reject"} for i in range(0, half, 10)] + [rule(i) for i in range(half, rules)]
    return {
        "use": "child",
        "policies": {
            "base": {"default_in": "drop", "rules": base_rules},
            "child": {"parent": "base", "rules": child_rules},
        },
    }


def iptables_rules(section: dict[str, Any]) -> str:
    """The same effective rules for iptables-legacy-restore."""
    resolved = resolve_section(section)
    lines = ["*filter", ":INPUT DROP [0:0]", ":OUTPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]"]
    lines += ["-A INPUT -i lo -j ACCEPT", "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"]
    for r in resolved.rules:
        chain = "INPUT" if r.direction.value == "in" else "OUTPUT"
        side = "-s" if r.direction.value == "in" else "-d"
        nets = [*r.source.networks, *r.destination.networks]
        target = {"accept": "ACCEPT", "drop": "DROP", "reject": "REJECT"}[r.action.value]
        for p in r.ports:
            port = str(p.first) if p.first == p.last else f"{p.first}:{p.last}"
            for n in nets:
                lines.append(f"-A {chain} {side} {n} -p {r.protocol.value} --dport {port} -j {target}")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median seconds of ``repeat`` runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--elements", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ns = f"swfw-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        return run(ns, args.rules, args.elements, args.repeat)
    finally:
        subprocess.run(["ip", "netns", "delete", ns], check=False)


def run(ns: str, n_rules: int, n_elements: int, repeat: int) -> int:
    nft = Nft(netns=ns, timeout_seconds=600)
    section = policy(n_rules)
    entries, real = elements(n_elements)
    rep = ReputationList("bench", "mixed", Severity.HIGH, "drop", parse_entries(entries).networks)
    rows: list[tuple[str, float]] = []

    rows.append(("resolve (pydantic + inheritance)", timed(lambda: resolve_section(section), repeat)))
    resolved = resolve_section(section)
    rows.append(("compile rules only", timed(lambda: compile_ruleset(resolved), repeat)))
    rows.append(("compile rules + set", timed(lambda: compile_ruleset(resolved, [rep]), repeat)))
    batch = compile_ruleset(resolved, [rep])
    nft_rules = sum(1 for c in batch["nftables"] if "rule" in c.get("add", {}))
    rows.append(("nft -c (check) rules + set", timed(lambda: nft.run_batch(batch, check=True), repeat)))
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)

        def shieldwall_apply() -> None:
            fresh = compile_ruleset(resolve_section(section), [rep])
            guarded_apply(nft, fresh, state_dir=state, confirm=lambda: True, deadline_seconds=60)
            nft.list_table()  # the drift baseline

        rows.append(("Shieldwall: resolve+compile+check+save+guarded apply+read back", timed(shieldwall_apply, repeat)))
        raw_path = state / "raw.json"
        raw_path.write_text(json.dumps(batch))
        rows.append(
            ("peer: nft -j -f of the same batch (no check)", timed(lambda: nft.run("-j", "-f", str(raw_path)), repeat))
        )
        rule_batch = compile_ruleset(resolved)
        rules_path = state / "rules.json"
        rules_path.write_text(json.dumps(rule_batch))
        rows.append(("peer: nft -j -f rules only", timed(lambda: nft.run("-j", "-f", str(rules_path)), repeat)))
        nft.run_batch(batch)
        rows.append(
            (
                "reputation reload (flush + add, one transaction)",
                timed(lambda: nft.run_batch(reputation_reload_batch(rep)), repeat),
            )
        )
        baseline = nft.list_table()
        rows.append(
            ("drift check, full (list table + compare)", timed(lambda: compare(baseline, nft.list_table()), repeat))
        )
        rows.append(
            (
                "drift check, structure only (nft -t list table + compare)",
                timed(lambda: compare(baseline, nft.list_table(terse=True), elements=False), repeat),
            )
        )
        nft.delete_table()
        ipt = iptables_rules(section)
        ipt_lines = ipt.count("\n-A ")

        def iptables_apply() -> None:
            subprocess.run(["ip", "netns", "exec", ns, "iptables-legacy-restore"], input=ipt, text=True, check=True)

        rows.append((f"peer: iptables-legacy-restore ({ipt_lines} rules, no set)", timed(iptables_apply, repeat)))
        subprocess.run(["ip", "netns", "exec", ns, "iptables-legacy", "-F"], check=False)

    print(
        f"policy rules {n_rules} -> nft rules {nft_rules}; set elements {n_elements} "
        f"({real} from ../shared/data, {n_elements - real} seeded; {len(rep.networks)} after collapsing)"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"median of {repeat} runs; load average at the end {load} on {os.cpu_count()} CPUs\n")
    print("| step | seconds |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
