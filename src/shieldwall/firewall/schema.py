"""The firewall policy section at the edge (pydantic), and inheritance resolution.

A section names several policies; each may name a ``parent``. The effective
policy of ``use`` is resolved from the root of its chain down to it, like
Deep Security's policy tree:

- settings (``default_in``, ``default_out``, ``state``, ``log_default``):
  the nearest policy on the chain that sets one wins (child over parent);
  unset everywhere, the built-in default applies (in: drop, out: accept);
- rules, by ``id``: the root's rules come first in their order; a child rule
  with an id already inherited replaces that rule *in its place* (so an
  override keeps the parent's ordering); ``remove: true`` deletes the
  inherited rule; new ids are appended after the inherited ones;
- finally rules are ordered by ``priority`` (higher first; stable, so equal
  priorities keep the order above). The first matching rule decides;
- ``ip_lists`` of the section are shared by every policy; a policy's own
  ``ip_lists`` add to them and a child's list of the same name replaces it.

Everything is bounded (counts of policies, rules, addresses, ports, depth)
and a cycle in ``parent`` links is refused.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shieldwall.firewall.model import (
    Action,
    AddressSpec,
    Direction,
    Network,
    PortRange,
    Protocol,
    ResolvedPolicy,
    Rule,
    StateHandling,
)

MAX_POLICIES = 256
MAX_RULES = 20_000
MAX_DEPTH = 16
MAX_ADDRESSES_PER_RULE = 1024
MAX_PORTS_PER_RULE = 64
MAX_LIST_ENTRIES = 200_000
MAX_LISTS = 64

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
RULE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
IFACE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")  # exact names (no wildcards)


class FirewallSchemaError(ValueError):
    """The section is malformed or its inheritance cannot be resolved."""


class StrictModel(BaseModel):
    """Frozen, no unknown keys: the base of every policy model."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StateIn(StrictModel):
    """Connection-state handling (``None`` = inherit)."""

    accept_established: bool | None = None
    drop_invalid: bool | None = None
    accept_loopback: bool | None = None
    accept_ipv6_nd: bool | None = None


class RuleIn(StrictModel):
    """One rule as written in a policy."""

    id: str
    direction: Literal["in", "out"] | None = None
    action: Literal["accept", "drop", "reject"] | None = None
    protocol: Literal["any", "tcp", "udp", "icmp", "icmpv6"] = "any"
    ports: list[int | str] = Field(default_factory=list, max_length=MAX_PORTS_PER_RULE)
    source: list[str] = Field(default_factory=list, max_length=MAX_ADDRESSES_PER_RULE)
    destination: list[str] = Field(default_factory=list, max_length=MAX_ADDRESSES_PER_RULE)
    interfaces: list[str] = Field(default_factory=list, max_length=16)
    log: bool = False
    priority: int = Field(default=0, ge=-1000, le=1000)
    remove: bool = False
    description: str = Field(default="", max_length=200)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not RULE_ID_RE.match(value):
            raise ValueError(f"rule id {value!r} must match {RULE_ID_RE.pattern}")
        return value

    @field_validator("interfaces")
    @classmethod
    def _ifaces(cls, value: list[str]) -> list[str]:
        for name in value:
            if not IFACE_RE.match(name):
                raise ValueError(f"interface name {name!r} is not valid")
        return value


class PolicyIn(StrictModel):
    """One named policy: settings, rules and an optional parent."""

    parent: str | None = None
    default_in: Literal["accept", "drop", "reject"] | None = None
    default_out: Literal["accept", "drop", "reject"] | None = None
    log_default: bool | None = None
    state: StateIn = StateIn()
    rules: list[RuleIn] = Field(default_factory=list, max_length=MAX_RULES)
    ip_lists: dict[str, list[str]] = Field(default_factory=dict, max_length=MAX_LISTS)


class FirewallPolicySection(StrictModel):
    """The ``firewall`` section's policy part (the module adds its own runtime keys)."""

    use: str
    policies: dict[str, PolicyIn] = Field(max_length=MAX_POLICIES)
    ip_lists: dict[str, list[str]] = Field(default_factory=dict, max_length=MAX_LISTS)


def parse_network(text: str) -> Network:
    """One address or CIDR (host bits must be zero), or ``FirewallSchemaError``."""
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise FirewallSchemaError(f"{text[:60]!r} is not an IP address or network: {exc}") from None


def parse_port(item: int | str) -> PortRange:
    """``22``, ``"22"`` or ``"1000-2000"`` as an inclusive range within 1..65535."""
    text = str(item).strip()
    first_text, _, last_text = text.partition("-")
    try:
        first = int(first_text)
        last = int(last_text) if last_text else first
    except ValueError:
        raise FirewallSchemaError(f"port {text[:20]!r} is not a number or range") from None
    if not (1 <= first <= last <= 65535):
        raise FirewallSchemaError(f"port range {text[:20]!r} is outside 1-65535 or reversed")
    return PortRange(first, last)


def _addresses(items: list[str], lists: Mapping[str, object], rule_id: str) -> AddressSpec:
    networks: list[Network] = []
    names: list[str] = []
    for item in items:
        if item.startswith("@"):
            name = item[1:]
            if name not in lists:
                raise FirewallSchemaError(f"rule {rule_id}: unknown IP list {item!r}")
            names.append(name)
        else:
            networks.append(parse_network(item))
    return AddressSpec(tuple(networks), tuple(dict.fromkeys(names)))


def _check_name(kind: str, name: str) -> None:
    if not NAME_RE.match(name):
        raise FirewallSchemaError(f"{kind} name {name!r} must match {NAME_RE.pattern}")


def _chain(section: FirewallPolicySection) -> list[str]:
    chain: list[str] = []
    current: str | None = section.use
    while current is not None:
        if current not in section.policies:
            raise FirewallSchemaError(f"policy {current!r} is not defined")
        if current in chain:
            raise FirewallSchemaError(f"policy inheritance has a cycle: {' -> '.join([*chain, current])}")
        chain.append(current)
        if len(chain) > MAX_DEPTH:
            raise FirewallSchemaError(f"policy inheritance deeper than {MAX_DEPTH}")
        current = section.policies[current].parent
    return list(reversed(chain))


def _parse_lists(raw: Mapping[str, list[str]]) -> dict[str, tuple[Network, ...]]:
    out: dict[str, tuple[Network, ...]] = {}
    for name, entries in raw.items():
        _check_name("IP list", name)
        if len(entries) > MAX_LIST_ENTRIES:
            raise FirewallSchemaError(f"IP list {name!r} has more than {MAX_LIST_ENTRIES} entries")
        out[name] = tuple(dict.fromkeys(parse_network(e) for e in entries))
    return out


def resolve(section: FirewallPolicySection) -> ResolvedPolicy:
    """The effective policy named by ``section.use`` (see the module docstring for the rule)."""
    for name in section.policies:
        _check_name("policy", name)
    chain = _chain(section)
    ip_lists = _parse_lists(section.ip_lists)
    for name in chain:
        ip_lists.update(_parse_lists(section.policies[name].ip_lists))

    default_in, default_out = Action.DROP, Action.ACCEPT
    log_default = False
    state = StateHandling()
    merged: dict[str, tuple[RuleIn, str]] = {}
    for name in chain:
        policy = section.policies[name]
        default_in = Action(policy.default_in) if policy.default_in else default_in
        default_out = Action(policy.default_out) if policy.default_out else default_out
        log_default = policy.log_default if policy.log_default is not None else log_default
        state = StateHandling(
            accept_established=_pick(policy.state.accept_established, state.accept_established),
            drop_invalid=_pick(policy.state.drop_invalid, state.drop_invalid),
            accept_loopback=_pick(policy.state.accept_loopback, state.accept_loopback),
            accept_ipv6_nd=_pick(policy.state.accept_ipv6_nd, state.accept_ipv6_nd),
        )
        seen: set[str] = set()
        for rule in policy.rules:
            if rule.id in seen:
                raise FirewallSchemaError(f"policy {name!r} defines rule {rule.id!r} twice")
            seen.add(rule.id)
            if rule.remove:
                if rule.id not in merged:
                    raise FirewallSchemaError(f"policy {name!r} removes rule {rule.id!r}, which it does not inherit")
                del merged[rule.id]
                continue
            if rule.id in merged:  # an override: the fields it sets replace the inherited ones, in place
                inherited = merged[rule.id][0]
                rule = inherited.model_copy(update={k: getattr(rule, k) for k in rule.model_fields_set - {"id"}})
            merged[rule.id] = (rule, name)  # dict keeps the first insertion position on replace

    rules: list[Rule] = []
    for rule_id, (raw, origin) in merged.items():
        if raw.direction is None or raw.action is None:
            raise FirewallSchemaError(f"rule {rule_id!r} (policy {origin!r}) needs a direction and an action")
        if raw.ports and raw.protocol not in ("tcp", "udp"):
            raise FirewallSchemaError(f"rule {rule_id!r}: ports need protocol tcp or udp")
        rules.append(
            Rule(
                id=rule_id,
                direction=Direction(raw.direction),
                action=Action(raw.action),
                protocol=Protocol(raw.protocol),
                ports=tuple(parse_port(p) for p in raw.ports),
                source=_addresses(raw.source, ip_lists, rule_id),
                destination=_addresses(raw.destination, ip_lists, rule_id),
                interfaces=tuple(raw.interfaces),
                log=raw.log,
                priority=raw.priority,
                origin=origin,
                description=raw.description,
            )
        )
    if len(rules) > MAX_RULES:
        raise FirewallSchemaError(f"the effective policy has more than {MAX_RULES} rules")
    rules.sort(key=lambda r: -r.priority)
    return ResolvedPolicy(
        name=section.use,
        chain=tuple(chain),
        default_in=default_in,
        default_out=default_out,
        state=state,
        rules=tuple(rules),
        ip_lists=ip_lists,
        log_default=log_default,
    )


def _pick(value: bool | None, inherited: bool) -> bool:
    return inherited if value is None else value


def resolve_section(raw: Mapping[str, Any]) -> ResolvedPolicy:
    """Validate a raw mapping and resolve it; every problem is a ``FirewallSchemaError``."""
    try:
        section = FirewallPolicySection.model_validate(raw)
    except ValidationError as exc:
        raise FirewallSchemaError(f"invalid firewall policy: {exc.error_count()} error(s): {_brief(exc)}") from None
    return resolve(section)


def _brief(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
