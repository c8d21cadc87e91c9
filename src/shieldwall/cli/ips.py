"""``shieldwall ips``: check an IPS policy with Suricata, look up virtual patches, run a recommendation pass."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

ips_app = typer.Typer(
    help="Intrusion prevention: policy validation, virtual patches, recommendations.", no_args_is_help=True
)

EtOpt = Annotated[
    Path | None, typer.Option("--et-open", help="ET Open rules directory (the one holding emerging-*.rules).")
]


@ips_app.command("validate")
def validate_cmd(
    policy_file: Annotated[Path, typer.Argument(help="JSON file with the ips policy section.")],
    et_open: EtOpt = None,
    reputation_dir: Annotated[Path | None, typer.Option("--reputation-dir", help="Directory of list files.")] = None,
) -> None:
    """Build the Suricata configuration for a policy and check it with ``suricata -T`` (nothing is run)."""
    from shieldwall.agent.module import PolicyError
    from shieldwall.agent.modules.ips.build import build
    from shieldwall.agent.modules.ips.commands import Tools
    from shieldwall.agent.modules.ips.layout import Layout
    from shieldwall.agent.modules.ips.policy import parse_policy

    try:
        raw = json.loads(policy_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {policy_file}: {exc}", err=True)
        raise typer.Exit(2) from None
    section = raw.get("modules", {}).get("ips", raw) if isinstance(raw, dict) else None
    if not isinstance(section, dict):
        typer.echo("error: the file holds no ips policy section", err=True)
        raise typer.Exit(2)
    settings: dict[str, Any] = {"capture": "none"}
    if et_open is not None:
        settings["et_open_dir"] = str(et_open)
    if reputation_dir is not None:
        settings["reputation_dir"] = str(reputation_dir)
    work = Path(tempfile.mkdtemp(prefix="sw-ips-"))
    try:
        policy = parse_policy(section)
        built = build(policy, settings, Tools(), Layout(work / "staging"), Layout(work / "live"))
    except PolicyError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    actions: dict[str, int] = {}
    for rule in built.ruleset.rules:
        actions[rule.action] = actions.get(rule.action, 0) + 1
    typer.echo(f"valid: {len(built.ruleset.rules)} rules {actions}, {len(built.reputation_rules)} reputation rules")
    for warning in built.ruleset.warnings:
        typer.echo(f"warning: {warning}")


@ips_app.command("rules-for")
def rules_for_cmd(
    cves: Annotated[list[str], typer.Argument(help="CVE IDs.")],
    et_open: EtOpt = None,
) -> None:
    """The IPS rules (Shieldwall's pack, ET Open) whose metadata or references name each CVE."""
    from shieldwall.vpatch.catalog import build_catalog

    catalog = build_catalog(et_open)
    for cve in cves:
        rules = catalog.rules_for(cve.upper())
        if not rules:
            typer.echo(f"{cve.upper()}: no network shield")
        for ref in rules:
            state = "" if ref.enabled else " (disabled in the source)"
            typer.echo(f"{cve.upper()}: {ref.sid} [{ref.source}] {ref.msg}{state}")


@ips_app.command("recommend")
def recommend_cmd(asset_id: Annotated[int | None, typer.Option("--asset-id", min=1)] = None) -> None:
    """Run a virtual-patching recommendation pass over the store's open findings."""
    from shieldwall.store import Store
    from shieldwall.vpatch.recommend import recommendation_pass

    with Store.open() as store:
        result = recommendation_pass(store, asset_ids=None if asset_id is None else [asset_id])
    typer.echo(
        f"findings {result.findings}: {result.created} recommendations created, "
        f"{result.removed} removed ({result.unassigned} rules unassigned)"
    )
