"""The firewall module with real traffic between two network namespaces."""

from __future__ import annotations

import ipaddress
import json
import time
from pathlib import Path
from typing import Any

import pytest

from helpers.firewall_rig import ModuleRig
from helpers.netns import NetPair
from shieldwall.agent.module import ModuleStatus, PolicyError
from shieldwall.agent.modules.firewall import BlockRefused
from shieldwall.firewall.drift import compare
from shieldwall.firewall.guard import start_watchdog
from shieldwall.firewall.nft import Nft, restore_batch, write_private

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def base_section(**extra: Any) -> dict[str, Any]:
    """A server policy: inbound tcp 8080 and udp 5353 only; outbound tcp 9090 only (strict egress)."""
    section: dict[str, Any] = {
        "use": "web",
        "policies": {
            "base": {
                "default_in": "drop",
                "default_out": "drop",
                "rules": [{"id": "mgr", "direction": "out", "action": "accept", "protocol": "tcp", "ports": [7070]}],
            },
            "web": {
                "parent": "base",
                "rules": [
                    {"id": "http", "direction": "in", "action": "accept", "protocol": "tcp", "ports": [8080]},
                    {"id": "mdns", "direction": "in", "action": "accept", "protocol": "udp", "ports": ["5353"]},
                    {"id": "rej", "direction": "in", "action": "reject", "protocol": "tcp", "ports": [8082]},
                    {"id": "api-out", "direction": "out", "action": "accept", "protocol": "tcp", "ports": [9090]},
                ],
            },
        },
        "guard": {"confirm_deadline_seconds": 3},
        "drift_check_seconds": 0.1,
        "report_seconds": 0.1,
    }
    section.update(extra)
    return section


def eventually(check: Any, timeout: float = 15.0) -> bool:
    """Poll ``check`` until it is true or ``timeout`` passes (a bound, not a measured time)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.2)
    return bool(check())


def test_allowed_pass_denied_drop_replies_pass_and_counters_count(pair: NetPair, rig: ModuleRig) -> None:
    pair.serve(pair.host, "tcp", 8080, 8081, 8082)
    pair.serve(pair.host, "udp", 5353, 5354)
    pair.serve(pair.peer, "tcp", 9090, 9091)
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8081) == "ok"  # no firewall yet

    state = rig.module.apply(base_section(), 1)
    assert state.status is ModuleStatus.RUNNING

    for _ in range(3):
        assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080) == "ok"
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8081) == "timeout"
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8082) == "refused"
    assert pair.connect(pair.peer, "udp", pair.host_ip, 5353) == "ok"
    assert pair.connect(pair.peer, "udp", pair.host_ip, 5354) == "timeout"
    # Outbound: the reply of an allowed outbound connection comes back although no inbound rule allows it.
    assert pair.connect(pair.host, "tcp", pair.peer_ip(), 9090) == "ok"
    assert pair.connect(pair.host, "tcp", pair.peer_ip(), 9091) == "timeout"

    rig.module.tick(time.time())
    counters = rig.module.state().counters
    assert counters["rule:http"] >= 3  # three SYNs matched the rule (later packets are established)
    assert counters["rule:rej"] >= 1
    assert counters["rule:state:established"] > 0
    assert counters["rule:default:in"] >= 2
    assert counters["rule:default:out"] >= 1
    assert "firewall.applied" in rig.kinds()

    state = rig.module.apply(base_section(), 2)  # the same section again: nothing re-applied, counts kept
    assert state.policy_version == 2
    assert state.counters["rule:http"] == counters["rule:http"]
    assert rig.kinds().count("firewall.applied") == 1


def test_ipv6_rules_lists_and_blocks(pair: NetPair, rig: ModuleRig, tmp_path: Path) -> None:
    pair.serve(pair.host, "tcp", 8080, 8081)
    Path(rig.settings["reputation_dir"], "v6.txt").write_text(f"{pair.peer_ip6(3)}\n")
    section = base_section(reputation={"lists": [{"name": "v6", "path": "v6.txt"}]})
    section["ip_lists"] = {"trusted": [f"{pair.peer_ip6(4)}/128", f"{pair.peer_ip(4)}"]}
    section["policies"]["web"]["rules"].append(
        {
            "id": "trusted",
            "direction": "in",
            "action": "accept",
            "protocol": "tcp",
            "ports": [8081],
            "source": ["@trusted"],
        }
    )
    rig.module.apply(section, 1)
    assert pair.connect(pair.peer, "tcp", pair.host_ip6, 8080, source=pair.peer_ip6(2)) == "ok"
    assert pair.connect(pair.peer, "tcp", pair.host_ip6, 8081, source=pair.peer_ip6(2)) == "timeout"
    assert pair.connect(pair.peer, "tcp", pair.host_ip6, 8081, source=pair.peer_ip6(4)) == "ok"
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8081, source=pair.peer_ip(4)) == "ok"
    assert pair.connect(pair.peer, "tcp", pair.host_ip6, 8080, source=pair.peer_ip6(3)) == "timeout"
    rig.module.block_address(pair.peer_ip6(5), 300, "v6 attacker")
    assert pair.connect(pair.peer, "tcp", pair.host_ip6, 8080, source=pair.peer_ip6(5)) == "timeout"
    rig.module.tick(time.time() + 1)
    hits = [e.attributes["address"] for e in rig.events if e.kind == "firewall.reputation_blocked"]
    assert hits == [pair.peer_ip6(3)]


def test_bad_policy_is_rolled_back_when_the_manager_is_unreachable(pair: NetPair, rig: ModuleRig) -> None:
    pair.serve(pair.host, "tcp", 8080)
    pair.serve(pair.peer, "tcp", 7070)  # the "manager"
    rig.confirm = lambda: pair.connect(pair.host, "tcp", pair.peer_ip(), 7070, timeout=0.5) == "ok"
    rig.module.apply(base_section(), 1)
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080) == "ok"

    lockout = base_section()
    lockout["policies"]["base"]["rules"] = []
    lockout["policies"]["web"]["rules"] = []  # nothing allowed: the manager is cut off, so is 8080
    with pytest.raises(PolicyError, match="not confirmed"):
        rig.module.apply(lockout, 2)
    assert "firewall.rolled_back" in rig.kinds()
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080) == "ok"
    assert rig.module.state().policy_version == 1
    assert not rig.module.check_drift()  # what runs is exactly the previous policy


def test_watchdog_restores_even_when_the_agent_is_gone(pair: NetPair, tmp_path: Path) -> None:
    pair.serve(pair.host, "tcp", 8080)
    nft = Nft(netns=pair.host)
    saved = restore_batch(nft.list_table())  # no table yet: restoring means removing ours
    path = tmp_path / "rollback.json"
    write_private(path, json.dumps(saved))
    pair.nft(pair.host, "add", "table", "inet", "shieldwall")
    pair.nft(
        pair.host, "add", "chain", "inet", "shieldwall", "input", "{ type filter hook input priority 0; policy drop; }"
    )
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080) == "timeout"
    proc = start_watchdog(nft, path, 0.5)
    try:
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080) == "ok"


def test_policy_nft_refuses_is_refused_whole_and_running_ruleset_stays(
    pair: NetPair, rig: ModuleRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair.serve(pair.host, "tcp", 8080, 8081)
    rig.module.apply(base_section(), 1)
    before = Nft(netns=pair.host).list_table()

    from shieldwall.agent.modules.firewall import module as fwmodule

    real = fwmodule.compile_ruleset

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        batch = real(*args, **kwargs)
        rule = {"family": "inet", "table": "shieldwall", "chain": "input", "expr": [{"jump": {"target": "nowhere"}}]}
        batch["nftables"].append({"add": {"rule": rule}})
        return batch

    monkeypatch.setattr(fwmodule, "compile_ruleset", broken)
    opened = base_section()
    opened["policies"]["web"]["rules"].append(
        {"id": "alt", "direction": "in", "action": "accept", "protocol": "tcp", "ports": [8081]}
    )
    with pytest.raises(PolicyError, match=r"refused.*nft failed"):
        rig.module.apply(opened, 2)
    assert not compare(before, Nft(netns=pair.host).list_table()).changed  # same table (counters may move)
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8081) == "timeout"
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080) == "ok"
    assert rig.module.state().policy_version == 1


def test_invalid_policy_is_refused_before_nft(rig: ModuleRig, pair: NetPair) -> None:
    rig.module.apply(base_section(), 1)
    before = Nft(netns=pair.host).list_table()
    bad = base_section()
    bad["policies"]["web"]["rules"].append({"id": "x", "direction": "in", "action": "accept", "source": ["@nolist"]})
    with pytest.raises(PolicyError, match="unknown IP list"):
        rig.module.apply(bad, 2)
    assert not compare(before, Nft(netns=pair.host).list_table()).changed


def test_drift_is_detected_and_put_back_other_tables_untouched(pair: NetPair, rig: ModuleRig) -> None:
    pair.serve(pair.host, "tcp", 8080, 8081)
    pair.nft(pair.host, "add", "table", "ip", "someone_else")
    pair.nft(pair.host, "add", "chain", "ip", "someone_else", "c")
    pair.nft(pair.host, "add", "rule", "ip", "someone_else", "c", "tcp", "dport", "1234", "counter")
    rig.module.apply(base_section(), 1)
    assert not rig.module.check_drift()

    pair.nft(pair.host, "insert", "rule", "inet", "shieldwall", "input", "tcp", "dport", "8081", "accept")
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8081) == "ok"
    rig.module.tick(time.time() + 1)
    assert "firewall.drift" in rig.kinds()
    drift = next(e for e in rig.events if e.kind == "firewall.drift")
    assert drift.attributes["added_count"] == 1
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8081) == "timeout"
    assert rig.module.state().counters["drift_repairs"] == 1

    pair.nft(pair.host, "insert", "rule", "inet", "shieldwall", "input", "tcp", "dport", "8081", "accept")
    assert rig.module.check_drift(elements=False)  # the cheap structural check sees rules
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8081) == "timeout"

    pair.nft(pair.host, "delete", "table", "inet", "shieldwall")  # removed entirely: put back too
    assert rig.module.check_drift()
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080) == "ok"
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8081) == "timeout"
    assert "tcp dport 1234" in pair.nft(pair.host, "list", "table", "ip", "someone_else")


def test_reputation_list_blocks_then_unblocks_after_update(pair: NetPair, rig: ModuleRig, tmp_path: Path) -> None:
    pair.serve(pair.host, "tcp", 8080)
    listed = rig.settings["reputation_dir"] + "/bad.txt"
    Path(listed).write_text(f"# test list\n{pair.peer_ip(3)}\n{pair.peer_ip(5)}\n198.51.100.0/24 ; SBL1\n")
    section = base_section(
        reputation={
            "lists": [{"name": "bad", "path": "bad.txt", "category": "botnet", "severity": "HIGH"}],
            "allow": [pair.peer_ip(5)],
            "check_seconds": 0.1,
        }
    )
    rig.module.apply(section, 1)
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(2)) == "ok"
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(3)) == "timeout"
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(5)) == "ok"  # allow-list wins
    rig.module.tick(time.time() + 1)
    hits = [e for e in rig.events if e.kind == "firewall.reputation_blocked"]
    assert [e.attributes["address"] for e in hits] == [pair.peer_ip(3)]
    assert hits[0].attributes["category"] == "botnet"
    assert rig.module.state().counters["counter:rep_bad"] >= 1

    Path(listed).write_text(f"{pair.peer_ip(4)}\nnot-an-ip\n")  # .3 delisted, .4 listed, one hostile line
    rig.module.tick(time.time() + 2)
    updated = [e for e in rig.events if e.kind == "firewall.reputation_updated"]
    assert updated and updated[-1].attributes["bad_lines"] == 1
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(3)) == "ok"
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(4)) == "timeout"
    assert not rig.module.check_drift()  # the reload moved the baseline too

    pair.nft(pair.host, "delete", "element", "inet", "shieldwall", "rep_bad_v4", "{", pair.peer_ip(4), "}")
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(4)) == "ok"  # unlisted by hand
    assert not rig.module.check_drift(elements=False)  # elements are only seen by the full check
    assert rig.module.check_drift()
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(4)) == "timeout"


def test_block_address_expires_and_refuses_protected(pair: NetPair, rig: ModuleRig) -> None:
    pair.serve(pair.host, "tcp", 8080)
    rig.settings["protected_addresses"] = [pair.peer_ip(7)]
    rig.module.apply(base_section(block={"allow": [pair.peer_ip(6)], "max_ttl_seconds": 600}), 1)
    for address in ("127.0.0.1", "::1", pair.peer_ip(6), pair.peer_ip(7), "not-an-ip"):
        with pytest.raises(BlockRefused):
            rig.module.block_address(address, 60, "test")
    with pytest.raises(BlockRefused, match="ttl"):
        rig.module.block_address(pair.peer_ip(2), 10_000, "too long")
    assert rig.kinds().count("firewall.block_refused") == 5  # the non-address is refused before any event

    rig.module.block_address(pair.peer_ip(2), 2, "ssh brute force")
    assert "firewall.blocked" in rig.kinds()
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(2)) == "timeout"
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(3)) == "ok"
    assert not rig.module.check_drift()  # a block is not drift
    assert eventually(lambda: pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(2)) == "ok")
    rig.module.tick(time.time() + 5)
    assert rig.module.active_blocks() == {}


def test_live_block_survives_a_policy_change(pair: NetPair, rig: ModuleRig) -> None:
    pair.serve(pair.host, "tcp", 8080)
    rig.module.apply(base_section(), 1)
    rig.module.block_address(pair.peer_ip(2), 300, "attacker")
    rig.module.block_address(pair.peer_ip(2), 300, "attacker again")  # renewed, not an error
    rig.module._blocks.clear()  # a registry that lost track: the kernel's element is renewed anyway
    rig.module.block_address(pair.peer_ip(2), 300, "attacker a third time")
    rig.module.apply(base_section(), 2)
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(2)) == "timeout"
    restarted = ModuleRig(pair, Path(rig.settings["reputation_dir"]))  # a new agent process finds the live block
    try:
        assert pair.peer_ip(2) in restarted.module.active_blocks()
        restarted.module.apply(base_section(), 3)
        assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(2)) == "timeout"
        restarted.module.apply(None, 4)
        assert Nft(netns=pair.host).list_table() is None
        assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(2)) == "ok"
    finally:
        restarted.module.stop()


def test_detect_mode_list_passes_traffic_and_reports(pair: NetPair, rig: ModuleRig) -> None:
    pair.serve(pair.host, "tcp", 8080)
    Path(rig.settings["reputation_dir"], "tor.txt").write_text(f"{pair.peer_ip(3)}\n")
    lists = [{"name": "tor", "path": "tor.txt", "category": "anonymizer", "severity": "MEDIUM", "action": "log"}]
    rig.module.apply(base_section(reputation={"lists": lists, "check_seconds": 0.1}), 1)
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(3)) == "ok"
    rig.module.tick(time.time() + 1)
    seen = [e for e in rig.events if e.kind == "firewall.reputation_seen"]
    assert [e.attributes["address"] for e in seen] == [pair.peer_ip(3)]
    assert seen[0].severity.value == "MEDIUM"
    assert rig.module.state().counters["counter:rep_tor"] >= 1


def test_unusable_list_update_keeps_previous_entries(
    pair: NetPair, rig: ModuleRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shieldwall.firewall import reputation

    pair.serve(pair.host, "tcp", 8080)
    listed = Path(rig.settings["reputation_dir"], "bad.txt")
    listed.write_text(f"{pair.peer_ip(3)}\n")
    rig.module.apply(base_section(reputation={"lists": [{"name": "bad", "path": "bad.txt"}], "check_seconds": 0.1}), 1)
    monkeypatch.setattr(reputation, "MAX_FILE_BYTES", 1000)
    listed.write_text("192.0.2.1\n" * 200)  # over the (lowered) size bound: refused whole
    rig.module.tick(time.time() + 1)
    errors = [e for e in rig.events if e.kind == "firewall.reputation_list_error"]
    assert errors and "larger than" in errors[0].attributes["error"]
    assert rig.module.state().status is ModuleStatus.DEGRADED
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080, source=pair.peer_ip(3)) == "timeout"
    assert not rig.module.check_drift()


def test_shared_et_lists_load_into_sets(pair: NetPair, rig: ModuleRig, shared_data: Path) -> None:
    base = shared_data / "reputation" / "et-ip-lists"
    names = ["spamhaus_drop", "ciarmy_cins", "tor_nodes", "compromised", "dshield_top_blocks", "feodo_botcc"]
    lists = [{"name": n, "path": str(base / f"{n}.txt"), "category": n} for n in names]
    rig.module.apply(base_section(reputation={"lists": lists}), 1)
    listing = Nft(netns=pair.host).list_table()
    from shieldwall.firewall.drift import set_elements

    def covers(set_name: str, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(e) for e in set_elements(listing, set_name))

    assert covers("rep_spamhaus_drop_v4", "2.57.232.1")  # 2.57.232.0/23 (merged with its neighbour)
    assert covers("rep_compromised_v4", "101.96.119.195")
    assert covers("rep_tor_nodes_v4", "1.161.183.90")
    assert not any(covers(f"rep_{n}_v4", "10.1.2.3") for n in names)
    applied = next(e for e in rig.events if e.kind == "firewall.applied")
    assert applied.attributes["reputation_lists"]["spamhaus_drop"] > 1000
    assert not rig.module.check_drift()


def test_monitor_finds_drift_without_listing_periodically(pair: NetPair, rig: ModuleRig) -> None:
    pair.serve(pair.host, "tcp", 8080, 8081)
    section = base_section(drift_check_seconds=3600, drift_full_check_seconds=3600)
    rig.module.apply(section, 1)
    start = time.time()
    rig.module.tick(start)  # first tick: the full check and the monitor start
    rig.module.block_address(pair.peer_ip(3), 300, "not drift")
    time.sleep(0.5)
    rig.module.tick(start + 1)
    assert "firewall.drift" not in rig.kinds()
    pair.nft(pair.host, "insert", "rule", "inet", "shieldwall", "input", "tcp", "dport", "8081", "accept")
    step = [start + 2]

    def ticked() -> bool:
        step[0] += 2  # simulated clock, well inside the 3600 s periods
        rig.module.tick(step[0])
        return "firewall.drift" in rig.kinds()

    assert eventually(ticked)
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8081) == "timeout"


def test_interface_rules(pair: NetPair, rig: ModuleRig) -> None:
    pair.serve(pair.host, "tcp", 8083, 8084)
    section = base_section()
    section["policies"]["web"]["rules"] += [
        {
            "id": "on-veth",
            "direction": "in",
            "action": "accept",
            "protocol": "tcp",
            "ports": [8083],
            "interfaces": [pair.host_dev],
        },
        {
            "id": "elsewhere",
            "direction": "in",
            "action": "accept",
            "protocol": "tcp",
            "ports": [8084],
            "interfaces": ["eth9"],
        },
    ]
    rig.module.apply(section, 1)
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8083) == "ok"
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8084) == "timeout"


def test_stop_leaves_the_firewall_in_place(pair: NetPair, rig: ModuleRig) -> None:
    pair.serve(pair.host, "tcp", 8081)
    rig.module.apply(base_section(), 1)
    rig.module.stop()
    assert Nft(netns=pair.host).list_table() is not None
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8081) == "timeout"


AGENT_THAT_DIES = """
import sys, time
from pathlib import Path
from shieldwall.firewall.guard import guarded_apply
from shieldwall.firewall.nft import Nft
netns, state = sys.argv[1], Path(sys.argv[2])
lockout = {"nftables": [
    {"add": {"table": {"family": "inet", "name": "shieldwall"}}},
    {"add": {"chain": {"family": "inet", "table": "shieldwall", "name": "input", "type": "filter",
                       "hook": "input", "prio": 0, "policy": "drop"}}},
]}
def confirm():
    print("applied", flush=True)
    time.sleep(3600)
    return True
guarded_apply(Nft(netns=netns), lockout, state_dir=state, confirm=confirm, deadline_seconds=8)
"""


def test_agent_killed_during_confirmation_is_rolled_back_by_the_watchdog(pair: NetPair, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    pair.serve(pair.host, "tcp", 8080)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT_THAT_DIES, pair.host, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert agent.stdout is not None
        assert agent.stdout.readline().strip() == "applied"
        assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080) == "timeout"  # locked out
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=10)
        if agent.stdout:
            agent.stdout.close()
    assert pair.connect(pair.peer, "tcp", pair.host_ip, 8080) == "timeout"  # the agent is gone, still locked out
    assert eventually(lambda: pair.connect(pair.peer, "tcp", pair.host_ip, 8080) == "ok", timeout=40)
    assert Nft(netns=pair.host).list_table() is None  # restored to "no Shieldwall table"
