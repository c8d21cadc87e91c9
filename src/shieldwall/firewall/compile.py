"""Compile a resolved policy (plus reputation lists and active blocks) into one nftables JSON batch.

The batch owns ``inet shieldwall`` only: it starts with ``add table`` then
``delete table`` (so it works whether or not the table exists) and recreates
everything, so ``nft -j -f`` applies it in one kernel transaction: the old
table or the new one, never half of either. Layout:

- sets ``list_<name>_v4/_v6`` (interval) for named IP lists;
- ``block_v4/_v6`` (interval, timeout): active-response blocks, each element
  with its own timeout; the module re-adds live blocks when it recompiles;
- ``rep_<list>_v4/_v6`` (interval) per reputation list, ``rep_allow_v4/_v6``
  for the allow-list, ``rep_hits_<list>_v4/_v6`` (dynamic, timeout) filled by
  the kernel with the addresses that hit a list, named counters ``rep_<list>``
  and ``block``;
- base chains ``input`` and ``output`` (filter hook, priority 0): loopback
  accept, ``jump reputation_in/out``, block-set drop, IPv6 neighbour and
  router discovery accept, ``ct state
  established,related`` accept, ``ct state invalid`` drop, the rules in
  order, then an explicit, counted default rule.

Every rule carries the comment ``sw:<rule id>`` (state and default rules
``sw:state:*``/``sw:default:*``) so counters can be read back per rule, and
logging rules log with the prefix ``sw:<rule id> ``.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shieldwall.firewall.model import (
    Action,
    AddressSpec,
    Direction,
    Network,
    PortRange,
    Protocol,
    ResolvedPolicy,
    Rule,
)
from shieldwall.firewall.reputation import ReputationList, collapse

FAMILY = "inet"
TABLE = "shieldwall"
HITS_TIMEOUT_SECONDS = 3600
ND_TYPES = ("nd-router-solicit", "nd-router-advert", "nd-neighbor-solicit", "nd-neighbor-advert")

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class BlockEntry:
    """An active-response block: a network and the seconds it still has to live."""

    network: Network
    remaining_seconds: int


class CompileError(ValueError):
    """The policy cannot be expressed (a rule matches nothing, names clash...)."""


def element(network: Network) -> Any:
    """The JSON form of a set element or a match value for one network."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return {"prefix": {"addr": str(network.network_address), "len": network.prefixlen}}


def split_families(networks: Iterable[Network]) -> tuple[list[Network], list[Network]]:
    """(IPv4, IPv6) networks, each collapsed."""
    collapsed = collapse(networks)
    v4: list[Network] = [n for n in collapsed if isinstance(n, ipaddress.IPv4Network)]
    v6: list[Network] = [n for n in collapsed if isinstance(n, ipaddress.IPv6Network)]
    return v4, v6


def _set(name: str, addr_type: str, flags: Sequence[str], elems: Sequence[Any] = (), **extra: Any) -> Json:
    body: Json = {"family": FAMILY, "table": TABLE, "name": name, "type": addr_type, "flags": list(flags)}
    body.update(extra)
    if elems:
        body["elem"] = list(elems)
    return {"add": {"set": body}}


def _rule(chain: str, expr: list[Json], comment: str) -> Json:
    return {"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": chain, "expr": expr, "comment": comment}}}


def _match(left: Json, right: Any, op: str = "==") -> Json:
    return {"match": {"op": op, "left": left, "right": right}}


def _addr(family: str, side: str) -> Json:
    return {"payload": {"protocol": "ip" if family == "v4" else "ip6", "field": side}}


def _verdict(action: Action) -> Json:
    return {action.value: None}


def _log(prefix: str) -> Json:
    return {"log": {"prefix": prefix[:120] + " "}}


def table_batch_head() -> list[Json]:
    """``add table`` + ``delete table`` + ``add table``: replace ours whether or not it exists."""
    table = {"table": {"family": FAMILY, "name": TABLE}}
    return [{"add": table}, {"delete": table}, {"add": table}]


def block_elements(blocks: Sequence[BlockEntry], family: str) -> list[Any]:
    """Elements of the block set for one family, each with its remaining timeout."""
    out: list[Any] = []
    wanted = ipaddress.IPv4Network if family == "v4" else ipaddress.IPv6Network
    for block in blocks:
        if isinstance(block.network, wanted) and block.remaining_seconds > 0:
            out.append({"elem": {"val": element(block.network), "timeout": block.remaining_seconds}})
    return out


def reputation_elements(rep: ReputationList, family: str) -> list[Any]:
    """Elements of a reputation set for one family."""
    wanted = ipaddress.IPv4Network if family == "v4" else ipaddress.IPv6Network
    return [element(n) for n in rep.networks if isinstance(n, wanted)]  # already collapsed by the loader


def compile_ruleset(
    policy: ResolvedPolicy,
    reputation: Sequence[ReputationList] = (),
    reputation_allow: Sequence[Network] = (),
    blocks: Sequence[BlockEntry] = (),
) -> Json:
    """The whole ``{"nftables": [...]}`` batch for ``nft -j -f``."""
    cmds: list[Json] = table_batch_head()
    for name, networks in sorted(policy.ip_lists.items()):
        v4, v6 = split_families(networks)
        cmds.append(_set(f"list_{name}_v4", "ipv4_addr", ["interval"], [element(n) for n in v4]))
        cmds.append(_set(f"list_{name}_v6", "ipv6_addr", ["interval"], [element(n) for n in v6]))
    cmds.append(_set("block_v4", "ipv4_addr", ["interval", "timeout"], block_elements(blocks, "v4")))
    cmds.append(_set("block_v6", "ipv6_addr", ["interval", "timeout"], block_elements(blocks, "v6")))
    cmds.append({"add": {"counter": {"family": FAMILY, "table": TABLE, "name": "block"}}})
    allow_v4, allow_v6 = split_families(reputation_allow)
    cmds.append(_set("rep_allow_v4", "ipv4_addr", ["interval"], [element(n) for n in allow_v4]))
    cmds.append(_set("rep_allow_v6", "ipv6_addr", ["interval"], [element(n) for n in allow_v6]))
    names = [r.name for r in reputation]
    if len(set(names)) != len(names):
        raise CompileError("two reputation lists share a name")
    for rep in reputation:
        for fam, addr_type in (("v4", "ipv4_addr"), ("v6", "ipv6_addr")):
            cmds.append(_set(f"rep_{rep.name}_{fam}", addr_type, ["interval"], reputation_elements(rep, fam)))
            cmds.append(
                _set(f"rep_hits_{rep.name}_{fam}", addr_type, ["timeout"], timeout=HITS_TIMEOUT_SECONDS, size=65535)
            )
        cmds.append({"add": {"counter": {"family": FAMILY, "table": TABLE, "name": f"rep_{rep.name}"}}})

    for direction in (Direction.IN, Direction.OUT):
        cmds += _base_chain(policy, direction)
        cmds += _reputation_chain(reputation, direction)
    for direction in (Direction.IN, Direction.OUT):
        cmds += _prologue(policy, direction)
        for rule in policy.rules:
            if rule.direction is direction:
                cmds += compile_rule(rule)
        cmds += _epilogue(policy, direction)
    return {"nftables": cmds}


def chain_of(direction: Direction) -> str:
    """The base chain a direction is filtered in."""
    return "input" if direction is Direction.IN else "output"


def _base_chain(policy: ResolvedPolicy, direction: Direction) -> list[Json]:
    default = policy.default_in if direction is Direction.IN else policy.default_out
    chain_policy = "accept" if default is Action.ACCEPT else "drop"
    name = chain_of(direction)
    base = {"family": FAMILY, "table": TABLE, "name": name, "type": "filter", "hook": name, "prio": 0}
    base["policy"] = chain_policy
    return [
        {"add": {"chain": base}},
        {"add": {"chain": {"family": FAMILY, "table": TABLE, "name": f"reputation_{direction.value}"}}},
    ]


def _reputation_chain(reputation: Sequence[ReputationList], direction: Direction) -> list[Json]:
    chain = f"reputation_{direction.value}"
    side = "saddr" if direction is Direction.IN else "daddr"
    out: list[Json] = []
    for fam in ("v4", "v6"):
        out.append(_rule(chain, [_match(_addr(fam, side), f"@rep_allow_{fam}"), {"return": None}], "sw:rep:allow"))
    for rep in reputation:
        for fam in ("v4", "v6"):
            expr: list[Json] = [
                _match(_addr(fam, side), f"@rep_{rep.name}_{fam}"),
                {"set": {"op": "update", "elem": _addr(fam, side), "set": f"@rep_hits_{rep.name}_{fam}"}},
                {"counter": f"rep_{rep.name}"},
                _log(f"swrep:{rep.name}"),
            ]
            if rep.action == "drop":
                expr.append({"drop": None})
            out.append(_rule(chain, expr, f"sw:rep:{rep.name}"))
    return out


def _prologue(policy: ResolvedPolicy, direction: Direction) -> list[Json]:
    chain = chain_of(direction)
    iface_key = "iifname" if direction is Direction.IN else "oifname"
    side = "saddr" if direction is Direction.IN else "daddr"
    out: list[Json] = []
    if policy.state.accept_loopback:
        out.append(_rule(chain, [_match({"meta": {"key": iface_key}}, "lo"), {"accept": None}], "sw:state:loopback"))
    out.append(_rule(chain, [{"jump": {"target": f"reputation_{direction.value}"}}], "sw:rep:jump"))
    for fam in ("v4", "v6"):
        expr = [_match(_addr(fam, side), f"@block_{fam}"), {"counter": "block"}, _log("swblock"), {"drop": None}]
        out.append(_rule(chain, expr, "sw:block"))
    if policy.state.accept_ipv6_nd:
        nd = _match({"payload": {"protocol": "icmpv6", "field": "type"}}, {"set": list(ND_TYPES)})
        out.append(_rule(chain, [nd, {"accept": None}], "sw:state:ipv6-nd"))
    if policy.state.accept_established:
        state = _match({"ct": {"key": "state"}}, {"set": ["established", "related"]}, "in")
        out.append(_rule(chain, [state, {"counter": None}, {"accept": None}], "sw:state:established"))
    if policy.state.drop_invalid:
        invalid = _match({"ct": {"key": "state"}}, {"set": ["invalid"]}, "in")
        out.append(_rule(chain, [invalid, {"counter": None}, {"drop": None}], "sw:state:invalid"))
    return out


def _epilogue(policy: ResolvedPolicy, direction: Direction) -> list[Json]:
    default = policy.default_in if direction is Direction.IN else policy.default_out
    expr: list[Json] = [{"counter": None}]
    if policy.log_default:
        expr.append(_log(f"sw:default:{direction.value}"))
    expr.append(_verdict(default))
    return [_rule(chain_of(direction), expr, f"sw:default:{direction.value}")]


def _ports(ports: Sequence[PortRange]) -> Any:
    values: list[Any] = [p.first if p.first == p.last else {"range": [p.first, p.last]} for p in ports]
    return values[0] if len(values) == 1 and not isinstance(values[0], dict) else {"set": values}


def _side_alternatives(spec: AddressSpec, family: str) -> list[Any]:
    """Match values for one side and family: one literal anonymous set and one per named list."""
    alternatives: list[Any] = []
    v4, v6 = split_families(spec.networks)
    literal = v4 if family == "v4" else v6
    if literal:
        alternatives.append({"set": [element(n) for n in literal]})
    alternatives += [f"@list_{name}_{family}" for name in spec.lists]
    return alternatives


def _families(rule: Rule) -> list[str | None]:
    if rule.source.empty and rule.destination.empty:
        if rule.protocol is Protocol.ICMP:
            return ["v4"]
        if rule.protocol is Protocol.ICMPV6:
            return ["v6"]
        return [None]
    families: list[str | None] = ["v4", "v6"]
    if rule.protocol is Protocol.ICMP:
        families = ["v4"]
    elif rule.protocol is Protocol.ICMPV6:
        families = ["v6"]
    return families


def compile_rule(rule: Rule) -> list[Json]:
    """The nftables rules for one policy rule (one per address family and address alternative)."""
    chain = chain_of(rule.direction)
    common: list[Json] = []
    if rule.interfaces:
        key = "iifname" if rule.direction is Direction.IN else "oifname"
        names = list(rule.interfaces)
        common.append(_match({"meta": {"key": key}}, names[0] if len(names) == 1 else {"set": names}))
    if rule.protocol in (Protocol.TCP, Protocol.UDP) and rule.ports:
        common.append(_match({"payload": {"protocol": rule.protocol.value, "field": "dport"}}, _ports(rule.ports)))
    elif rule.protocol is not Protocol.ANY:
        l4 = "ipv6-icmp" if rule.protocol is Protocol.ICMPV6 else rule.protocol.value
        common.append(_match({"meta": {"key": "l4proto"}}, l4))
    tail: list[Json] = [{"counter": None}]
    if rule.log:
        tail.append(_log(f"sw:{rule.id}"))
    tail.append(_verdict(rule.action))
    comment = f"sw:{rule.id}"

    out: list[Json] = []
    for family in _families(rule):
        if family is None:
            out.append(_rule(chain, [*common, *tail], comment))
            continue
        sources = _side_alternatives(rule.source, family) if not rule.source.empty else [None]
        dests = _side_alternatives(rule.destination, family) if not rule.destination.empty else [None]
        for src, dst in itertools.product(sources, dests):
            expr: list[Json] = []
            if src is not None:
                expr.append(_match(_addr(family, "saddr"), src))
            if dst is not None:
                expr.append(_match(_addr(family, "daddr"), dst))
            if not expr:
                expr.append(_match({"meta": {"key": "nfproto"}}, "ipv4" if family == "v4" else "ipv6"))
            out.append(_rule(chain, [*expr, *common, *tail], comment))
    if not out:
        raise CompileError(f"rule {rule.id!r}: its addresses and protocol match no packet")
    return out


def reputation_reload_batch(rep: ReputationList) -> Json:
    """Replace one reputation list's elements in one transaction (flush + add, atomically)."""
    cmds: list[Json] = []
    for fam in ("v4", "v6"):
        ident = {"family": FAMILY, "table": TABLE, "name": f"rep_{rep.name}_{fam}"}
        cmds.append({"flush": {"set": ident}})
        elems = reputation_elements(rep, fam)
        if elems:
            cmds.append({"add": {"element": {**ident, "elem": elems}}})
    return {"nftables": cmds}


def block_add_batch(block: BlockEntry) -> Json:
    """Add one timed element to the block set."""
    fam = "v4" if isinstance(block.network, ipaddress.IPv4Network) else "v6"
    ident = {"family": FAMILY, "table": TABLE, "name": f"block_{fam}"}
    return {"nftables": [{"add": {"element": {**ident, "elem": block_elements([block], fam)}}}]}
