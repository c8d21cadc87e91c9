"""Layering: the parts below the service layer never import it, and CLI subcommands never import the entry point.

Every import counts, wherever it is written: at module level, inside a function
or under ``if TYPE_CHECKING:`` (a type-only import still ties the layers
together for a reader and for mypy). The walk reads the source with ``ast``;
nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import shieldwall

PACKAGE = Path(shieldwall.__file__).resolve().parent

# folders (and top-level modules) that sit below the service layer
BELOW_SERVICE = (
    "analyze",
    "match",
    "misconfig",
    "report",
    "model",
    "policy",
    "merge",
    "target",
    "vulndb",
    "cache",
    "config",
    "scanopts.py",
    "postscan.py",
    "errors.py",
    "paths.py",
)
UPPER = ("shieldwall.service", "shieldwall.cli")


def module_name(path: Path) -> str:
    """``.../shieldwall/match/coverage.py`` -> ``shieldwall.match.coverage`` (a package is its ``__init__``)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, name: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the module ``name``) imports, relative imports resolved, ``from X import y`` as X.y."""
    found: set[str] = set()
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    """``file: module`` for each import of a forbidden module (or anything under it)."""
    bad: list[str] = []
    for path in files:
        name = module_name(path)
        for imported in sorted(imported_modules(path.read_text(), name, path.name == "__init__.py")):
            if any(imported == f or imported.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(PACKAGE)}: {imported}")
    return bad


def python_files(entry: str) -> list[Path]:
    path = PACKAGE / entry
    return [path] if path.is_file() else sorted(path.rglob("*.py"))


def test_the_walk_sees_every_kind_of_import() -> None:
    """The checker itself: imports in functions, under TYPE_CHECKING and relative ones are all found."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from shieldwall.service.scan import ScanOptions\n"
        "def f():\n    import shieldwall.cli.main\n"
        "from ..service import postscan\n"
        "from . import sibling\n"
    )
    found = imported_modules(source, "shieldwall.match.example")
    assert {"shieldwall.service.scan", "shieldwall.cli.main", "shieldwall.service.postscan"} <= found
    assert "shieldwall.match.sibling" in found
    assert "shieldwall.model.finding" in imported_modules("from .finding import X\n", "shieldwall.model", True)


def test_lower_layers_never_import_the_service_layer_or_the_cli() -> None:
    files = [path for entry in BELOW_SERVICE for path in python_files(entry)]
    assert len(files) > 100  # the folders exist and were walked
    assert violations(files, UPPER) == []


def test_model_imports_only_the_model() -> None:
    """The frozen core types depend on nothing else in Shieldwall."""
    files = python_files("model")
    bad = [
        v
        for v in violations(files, ("shieldwall",))
        if not v.split(": ", 1)[1].startswith("shieldwall.model") and v.split(": ", 1)[1] != "shieldwall"
    ]
    assert bad == []


def test_cli_subcommands_never_import_the_entry_point() -> None:
    """Subcommand modules share helpers through ``cli.common``; ``cli.main`` imports them, never the reverse."""
    files = [path for path in python_files("cli") if path.name != "main.py"]
    assert len(files) > 10
    assert violations(files, ("shieldwall.cli.main",)) == []
