"""``shieldwall logs test``: run log lines through rule sets, like ``wazuh-logtest`` or ``fail2ban-regex``.

Reads lines from files or standard input and prints one JSON object per match
(engine, rule, level, severity, decoder, fields). Rule engines are imported
inside the command so ``shieldwall --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

logs_app = typer.Typer(help="Log inspection rules: test them on log lines.", no_args_is_help=True)


@logs_app.command("test")
def test_cmd(
    files: Annotated[list[Path] | None, typer.Argument(help="Log files (default: standard input).")] = None,
    wazuh: Annotated[list[Path] | None, typer.Option("--wazuh", help="A Wazuh ruleset directory.")] = None,
    sigma: Annotated[list[Path] | None, typer.Option("--sigma", help="A Sigma rule file or directory.")] = None,
    fail2ban: Annotated[list[Path] | None, typer.Option("--fail2ban", help="A fail2ban filter.conf.")] = None,
    yaml_rules: Annotated[list[Path] | None, typer.Option("--rules", help="A Shieldwall YAML rule file.")] = None,
    builtin: Annotated[bool, typer.Option("--builtin/--no-builtin", help="Use the shipped Linux rule pack.")] = True,
    min_level: Annotated[int, typer.Option("--min-level", min=0, max=15, help="Only show matches of this level.")] = 0,
) -> None:
    """Print every rule match for each line as JSON (exit 1 when no rule set could be loaded)."""
    from shieldwall.agent.modules.logs.severity import level_severity
    from shieldwall.logrules.fail2ban import Fail2banRules, FilterError, load_filter
    from shieldwall.logrules.sigma import SigmaRules, load_sigma
    from shieldwall.logrules.wazuh.adapter import WazuhRules
    from shieldwall.logrules.wazuh.engine import load_ruleset
    from shieldwall.logrules.yamlrules import YamlRules, builtin_pack, load_yaml_rules

    engines: list[Any] = []
    for directory in wazuh or []:
        engine = load_ruleset(directory)
        for err in engine.report.errors[:20]:
            typer.echo(f"warning: {err}", err=True)
        engines.append(WazuhRules(engine))
    if sigma:
        loaded, _stats = load_sigma(list(sigma))
        for path, reason in list(loaded.skipped.items())[:20]:
            typer.echo(f"warning: sigma {path}: {reason}", err=True)
        engines.append(SigmaRules(loaded.rules))
    for conf in fail2ban or []:
        try:
            engines.append(Fail2banRules([load_filter(conf)]))
        except FilterError as exc:
            typer.echo(f"warning: {exc}", err=True)
    specs = list(builtin_pack()) if builtin else []
    for rule_file in yaml_rules or []:
        specs += load_yaml_rules(rule_file)
    if specs:
        engines.append(YamlRules(specs))
    if not engines:
        typer.echo("error: no rule set loaded", err=True)
        raise typer.Exit(1)
    sources: list[tuple[str, TextIO]] = [(str(p), p.open(encoding="utf-8", errors="replace")) for p in files or []]
    if not sources:
        sources = [("stdin", sys.stdin)]
    now = time.time()
    for location, stream in sources:
        for number, line in enumerate(stream, 1):
            for engine in engines:
                for m in engine.process(line.rstrip("\n"), location, now + number):
                    if m.level < min_level:
                        continue
                    out = {
                        "location": location,
                        "line": number,
                        "engine": m.engine,
                        "rule": m.rule_id,
                        "level": m.level,
                        "severity": level_severity(m.level).value,
                        "description": m.description,
                        "decoder": m.decoder,
                        "fields": m.fields,
                    }
                    typer.echo(json.dumps(out, sort_keys=True))
