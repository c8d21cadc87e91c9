"""``shieldwall secrets ...`` and the secret-baseline flags of ``shieldwall scan``.

``shieldwall secrets baseline TARGET --output .shieldwall-secrets-baseline.json``
records today's secrets (fingerprints and redacted forms, never a secret)
with a ``verdict`` and ``note`` per entry for a reviewer to fill in; a
rerun keeps those. ``shieldwall scan --secrets-baseline FILE`` then sets the
baselined secrets aside (listed as suppressed, with their verdict) and
``--fail-on-secrets`` exits 1 when a secret that is not in the baseline
remains.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shieldwall.cli.common import stderr_console
from shieldwall.errors import InputError, ShieldwallError

if TYPE_CHECKING:  # `shieldwall scan --help` imports this module for its options: the rest comes when used
    from rich.console import Console

    from shieldwall.analyze.secret.baseline import SecretsBaseline
    from shieldwall.model import ScanResult

DEFAULT_BASELINE = ".shieldwall-secrets-baseline.json"

SecretsBaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--secrets-baseline",
        help="A file from `shieldwall secrets baseline`: secrets listed there are set aside, only new ones stay.",
    ),
]
FailOnSecretsOpt = Annotated[
    bool, typer.Option("--fail-on-secrets", help="Exit 1 when a secret or sensitive file is found (new ones only).")
]

secrets_app = typer.Typer(
    name="secrets", help="Secret scanner tools: baselines of known secrets.", no_args_is_help=True
)


def fingerprint_key_id() -> str:
    """The ID (not the value) of this installation's secret fingerprint key."""
    from shieldwall import paths
    from shieldwall.analyze.secret.fingerprint import Fingerprinter, load_or_create_key

    return Fingerprinter(load_or_create_key(paths.data_dir())).key_id


def apply_scan_baseline(result: ScanResult, path: Path | None, console: Console | None = None) -> ScanResult:
    """``--secrets-baseline``: set aside the secrets ``path`` lists; warn when it used another key."""
    from shieldwall.analyze.secret.baseline import apply_baseline, load_baseline

    if path is None:
        return result
    baseline = load_baseline(path)
    key_id = fingerprint_key_id()
    if baseline.fingerprint_key_id and baseline.fingerprint_key_id != key_id and console is not None:
        console.print(
            f"[yellow]warning:[/] {path} was made with another secret fingerprint key "
            f"({baseline.fingerprint_key_id}, this machine has {key_id}); its entries cannot match. "
            "Share the key file (secret-fingerprint.key in the data directory) between machines.",
            highlight=False,
            soft_wrap=True,
        )
    return apply_baseline(result, baseline, str(path))


def secrets_gate(result: ScanResult, fail: bool, console: Console, *, quiet: bool = False) -> int:
    """``--fail-on-secrets``: 1 when an active (new) secret finding remains, else 0."""
    from shieldwall.analyze.secret.baseline import new_secrets

    if not fail:
        return 0
    remaining = new_secrets(result)
    if remaining and not quiet:
        console.print(f"[red]secrets:[/] {len(remaining)} new secret finding(s) not in the baseline", highlight=False)
    return 1 if remaining else 0


@secrets_app.command("baseline")
def baseline(
    target: Annotated[str, typer.Argument(help="Any target `scan` accepts (dir:PATH, docker-archive:FILE...).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Baseline file to write (kept verdicts).")] = Path(
        DEFAULT_BASELINE
    ),
    platform: Annotated[str, typer.Option("--platform", help="os/arch of a multi-platform image.")] = "",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore the per-layer cache.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary on stderr.")] = False,
) -> None:
    """Record today's secrets of TARGET (fingerprints and redacted forms) with a verdict field per entry."""
    from shieldwall.analyze.secret.baseline import build_baseline, load_baseline, write_baseline
    from shieldwall.report.safe_text import print_error
    from shieldwall.scanopts import ScanOptions
    from shieldwall.service.scan import scan_target

    console = stderr_console()
    try:
        previous: SecretsBaseline | None = load_baseline(output) if output.exists() else None
        options = ScanOptions(platform=platform, use_cache=not no_cache, scanners=frozenset({"secret"}))
        result = scan_target(target, options)
        made = build_baseline(result, fingerprint_key_id(), previous)
        write_baseline(made, output)
    except InputError as exc:
        print_error(console, str(exc))
        raise typer.Exit(2) from None
    except ShieldwallError as exc:
        print_error(console, str(exc))
        raise typer.Exit(3) from None
    if not quiet:
        kept = sum(1 for e in made.entries if e.verdict != "unreviewed")
        console.print(
            f"wrote {len(made.entries)} secret(s) to {output} ({kept} with a verdict kept); "
            "set each entry's verdict to true-positive or false-positive",
            highlight=False,
        )
