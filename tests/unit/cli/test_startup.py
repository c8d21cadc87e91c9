"""Startup: ``--help``, ``--version`` and ``scan --help`` import nothing heavy, and every command still answers.

No wall-clock assertion: what is checked is *which modules a fresh interpreter
imported* (``python -X importtime`` lists every one), which is what startup
time is made of. The numbers are in benchmarks/perf/STARTUP.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from shieldwall import __version__
from shieldwall.cli.lazy import LazyCommands, LazyGroup, Placeholder, help_line
from shieldwall.cli.main import app, subcommands

# what a help or version request must not pay for: third-party stacks and Shieldwall's engines
HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "yara",
    "hyperscan",
    "cryptography",
    "celery",
    "kombu",
    "redis",
    "httpx",
    "jinja2",
    "pydantic",
    "yaml",
    "univers",
    "rich.markdown",
    "rich.traceback",
    "shieldwall.service",
    "shieldwall.store",
    "shieldwall.api",
    "shieldwall.analyze",
    "shieldwall.match",
    "shieldwall.vulndb",
    "shieldwall.misconfig",
    "shieldwall.policy",
    "shieldwall.config",
    "shieldwall.model",
    "shieldwall.merge",
    "shieldwall.cache",
    "shieldwall.agent",
    "shieldwall.worker",
    "shieldwall.admission",
    "shieldwall.harbor",
    "shieldwall.firewall",
    "shieldwall.logrules",
    "shieldwall.vpatch",
    "shieldwall.alert",
    "shieldwall.report.table",
    "shieldwall.report.safe_text",
    "shieldwall.cli.store_cmds",
    "shieldwall.cli.db",
    "shieldwall.cli.agent",
    "shieldwall.cli.compliance",
)


def imported_by(argv: list[str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime ARGV`` in a fresh interpreter; its result and every module it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, timeout=120, check=False
    )
    modules = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "imported package":
                modules.add(name)
    return proc, modules


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_the_import_list_sees_heavy_imports() -> None:
    """The check itself: a heavy import in a fresh interpreter shows up (so an empty list means something)."""
    proc, modules = imported_by(["-c", "import httpx, shieldwall.model"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "httpx" in heavy(modules) and "shieldwall.model" in heavy(modules)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], "Commands:"),
        (["--version"], __version__),
        (["scan", "--help"], "--scanners"),
        (["version"], __version__),
    ],
    ids=["help", "version", "scan-help", "version-command"],
)
def test_startup_imports_nothing_heavy(args: list[str], expected: str) -> None:
    proc, modules = imported_by(["-m", "shieldwall", *args])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert expected in proc.stdout
    assert "shieldwall.cli.main" in modules  # the entry point did run in this interpreter
    assert heavy(modules) == []


def test_version_flag_and_command_agree() -> None:
    runner = CliRunner()
    flag = runner.invoke(app, ["--version"])
    command = runner.invoke(app, ["version"])
    assert flag.exit_code == 0 and command.exit_code == 0
    assert flag.output.strip() == command.output.strip() == __version__


def _root() -> LazyGroup:
    group = typer.main.get_command(app)
    assert isinstance(group, LazyGroup)
    return group


def test_every_lazy_command_lists_its_real_help_line() -> None:
    """The help line registered in cli/main.py is the one the loaded command has (no drift after edits)."""
    group = _root()
    assert {spec.name for spec in subcommands.specs} <= set(group.commands)
    for spec in subcommands.specs:
        listed = group.commands[spec.name]
        assert isinstance(listed, Placeholder), spec.name  # nothing was imported to list it
        real = group.load(spec.name)
        assert real is not None and not isinstance(real, Placeholder)
        assert real.name == spec.name
        assert help_line(real) == " ".join(spec.help.split()), spec.name


def test_help_lists_every_command_in_registration_order() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    section = result.output.split("Commands:", 1)[1].splitlines()
    listed = [line.split()[0] for line in section if line.startswith("  ") and not line.startswith("   ")]
    root = _root()
    names = root.list_commands(typer.Context(root))
    assert listed == names
    assert names[:3] == ["scan", "scan-files", "sbom"]


def _paths(command: object, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every command path under ``command`` (groups and their leaves)."""
    found = [prefix]
    if isinstance(command, LazyGroup):
        for name in command.list_commands(typer.Context(command)):
            found += _paths(command.load(name), (*prefix, name))
    elif hasattr(command, "commands"):
        for name, sub in command.commands.items():  # type: ignore[attr-defined]
            found += _paths(sub, (*prefix, name))
    return found


def test_every_command_answers_help() -> None:
    """All registered commands and subcommands still build and print their help (each module imports)."""
    paths = _paths(_root(), ())
    assert len(paths) > 50
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output, result.exception)
        assert "Usage:" in result.output, path


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_a_lazy_command_runs_when_invoked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert '"settings"' in result.output


def test_registry_refuses_a_name_twice_and_placeholders_never_run() -> None:
    registry = LazyCommands()
    registry.command("x", "shieldwall.cli.main:version", "Print the Shieldwall version.")
    with pytest.raises(ValueError, match="twice"):
        registry.add_typer("x", "shieldwall.cli.db:db_app", "db")
    placeholder = Placeholder(registry.specs[0])
    with pytest.raises(RuntimeError, match="before it was loaded"):
        placeholder.invoke(typer.Context(placeholder))
