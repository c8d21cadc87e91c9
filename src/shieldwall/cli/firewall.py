"""``shieldwall firewall``: explain and compile a firewall policy section without an agent.

``explain`` prints the effective rules of the policy named by ``use`` with the
policy each came from (the inheritance resolved); ``compile`` prints the
nftables JSON batch the agent would apply, and with ``--check`` has ``nft -c``
validate it (optionally in a network namespace). Exit codes: 0 success, 2 an
invalid policy or a batch nft refuses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from shieldwall.firewall.compile import CompileError, compile_ruleset
from shieldwall.firewall.model import AddressSpec, ResolvedPolicy
from shieldwall.firewall.nft import Nft, NftError
from shieldwall.firewall.schema import FirewallSchemaError, resolve_section

MAX_POLICY_BYTES = 16 * 1024 * 1024
EXIT_INPUT = 2

firewall_app = typer.Typer(name="firewall", help="Explain and compile host firewall policies.", no_args_is_help=True)

PolicyArg = Annotated[
    Path, typer.Argument(help="A firewall policy section (YAML or JSON).", exists=True, dir_okay=False)
]


def _load(path: Path) -> ResolvedPolicy:
    err = Console(stderr=True)
    with path.open("rb") as handle:
        data = handle.read(MAX_POLICY_BYTES + 1)
    if len(data) > MAX_POLICY_BYTES:
        err.print(f"error: {path} is larger than {MAX_POLICY_BYTES} bytes")
        raise typer.Exit(EXIT_INPUT)
    try:
        raw: Any = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        err.print(f"error: {path} is not YAML or JSON: {exc}")
        raise typer.Exit(EXIT_INPUT) from None
    if isinstance(raw, dict) and isinstance(raw.get("modules"), dict):
        raw = raw["modules"].get("firewall")  # a whole agent policy document
    if not isinstance(raw, dict):
        err.print("error: the file holds no firewall section (a mapping with use/policies)")
        raise typer.Exit(EXIT_INPUT)
    policy_keys = ("use", "policies", "ip_lists")
    try:
        return resolve_section({k: v for k, v in raw.items() if k in policy_keys})
    except FirewallSchemaError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(EXIT_INPUT) from None


def _addresses(spec: AddressSpec) -> str:
    return ", ".join([*(str(n) for n in spec.networks), *(f"@{name}" for name in spec.lists)]) or "any"


@firewall_app.command()
def explain(path: PolicyArg) -> None:
    """Print the effective rules, in evaluation order, with the policy each one came from."""
    policy = _load(path)
    out = Console()
    if not out.is_terminal:
        out = Console(width=240)  # piped or captured: never truncate addresses
    out.print(f"policy {policy.name} (chain: {' -> '.join(policy.chain)})")
    out.print(f"default in: {policy.default_in.value}, default out: {policy.default_out.value}")
    table = Table("id", "dir", "action", "proto", "ports", "source", "destination", "iface", "from")
    for rule in policy.rules:
        ports = ", ".join(str(p.first) if p.first == p.last else f"{p.first}-{p.last}" for p in rule.ports) or "any"
        table.add_row(
            rule.id,
            rule.direction.value,
            rule.action.value,
            rule.protocol.value,
            ports,
            _addresses(rule.source),
            _addresses(rule.destination),
            ", ".join(rule.interfaces) or "any",
            rule.origin,
        )
    out.print(table)


@firewall_app.command("compile")
def compile_cmd(
    path: PolicyArg,
    check: Annotated[bool, typer.Option("--check", help="Validate the batch with nft -c (needs root).")] = False,
    netns: Annotated[str, typer.Option("--netns", help="Run nft inside this network namespace.")] = "",
) -> None:
    """Print the nftables JSON batch for the policy (reputation sets and blocks are the agent's)."""
    policy = _load(path)
    try:
        batch = compile_ruleset(policy)
    except CompileError as exc:
        Console(stderr=True).print(f"error: {exc}")
        raise typer.Exit(EXIT_INPUT) from None
    if check:
        try:
            Nft(netns=netns or None).run_batch(batch, check=True)
        except (NftError, ValueError) as exc:
            Console(stderr=True).print(f"error: {exc}")
            raise typer.Exit(EXIT_INPUT) from None
    typer.echo(json.dumps(batch, indent=1))
