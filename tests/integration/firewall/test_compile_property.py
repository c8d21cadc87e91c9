"""Property: every policy the schema accepts compiles to a batch the real nft accepts (nft -c, in a namespace)."""

from __future__ import annotations

import ipaddress
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.netns import available
from shieldwall.firewall.compile import CompileError, compile_ruleset
from shieldwall.firewall.nft import Nft
from shieldwall.firewall.reputation import ReputationList, collapse
from shieldwall.firewall.schema import resolve_section
from shieldwall.model.finding import Severity

pytestmark = [pytest.mark.integration, pytest.mark.slow]

v4 = st.builds(
    lambda a, p: str(ipaddress.ip_network((a, p), strict=False)), st.integers(0, 2**32 - 1), st.integers(8, 32)
)
v6 = st.builds(
    lambda a, p: str(ipaddress.ip_network((a, p), strict=False)), st.integers(0, 2**128 - 1), st.integers(16, 128)
)
address = st.one_of(v4, v6, st.just("@office"), st.just("@empty"))
port = st.one_of(
    st.integers(1, 65535),
    st.builds(lambda a, n: f"{a}-{min(65535, a + n)}", st.integers(1, 65000), st.integers(0, 500)),
)


@st.composite
def rule(draw: st.DrawFn, index: int) -> dict[str, Any]:
    protocol = draw(st.sampled_from(["any", "tcp", "udp", "icmp", "icmpv6"]))
    out: dict[str, Any] = {
        "id": f"r{index}",
        "direction": draw(st.sampled_from(["in", "out"])),
        "action": draw(st.sampled_from(["accept", "drop", "reject"])),
        "protocol": protocol,
        "log": draw(st.booleans()),
        "priority": draw(st.integers(-5, 5)),
    }
    if protocol in ("tcp", "udp"):
        out["ports"] = draw(st.lists(port, max_size=4))
    out["source"] = draw(st.lists(address, max_size=3))
    out["destination"] = draw(st.lists(address, max_size=2))
    out["interfaces"] = draw(st.lists(st.from_regex(r"\A[a-z][a-z0-9]{0,6}\Z"), max_size=2, unique=True))
    return out


@st.composite
def section(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 8))
    rules = [draw(rule(i)) for i in range(n)]
    split = draw(st.integers(0, n))
    return {
        "use": "child",
        "ip_lists": {"office": draw(st.lists(st.one_of(v4, v6), max_size=5)), "empty": []},
        "policies": {
            "base": {"default_in": draw(st.sampled_from(["accept", "drop", "reject"])), "rules": rules[:split]},
            "child": {"parent": "base", "log_default": draw(st.booleans()), "rules": rules[split:]},
        },
    }


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    reason = available()
    if reason:
        pytest.skip(reason)
    name = f"swfw-prop-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(raw=section(), rep=st.lists(st.one_of(v4, v6), max_size=20))
def test_accepted_policies_compile_for_real_nft(netns: str, raw: dict[str, Any], rep: list[str]) -> None:
    policy = resolve_section(raw)
    networks = collapse(ipaddress.ip_network(r) for r in rep)
    reputation = [ReputationList("p", "c", Severity.LOW, "drop", networks)]
    rules = [r for p in raw["policies"].values() for r in p["rules"]]
    if not all(matchable(r) for r in rules):
        with pytest.raises(CompileError, match="match no packet"):
            compile_ruleset(policy, reputation, networks[:3])
        return
    batch = compile_ruleset(policy, reputation, networks[:3])
    Nft(netns=netns).run_batch(batch, check=True)  # raises NftError with nft's message on any refusal


def matchable(rule: dict[str, Any]) -> bool:
    """An independent statement of when a rule can match: its sides' and protocol's families intersect."""
    families = {"icmp": {4}, "icmpv6": {6}}.get(rule["protocol"], {4, 6})
    for side in ("source", "destination"):
        if rule[side]:
            side_families = {ipaddress.ip_network(a).version for a in rule[side] if not a.startswith("@")}
            if any(a.startswith("@") for a in rule[side]):
                side_families |= {4, 6}
            families &= side_families
    return bool(families)
