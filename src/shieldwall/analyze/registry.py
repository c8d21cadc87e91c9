"""Which analyzers run: the built-ins, listed explicitly, plus entry-point plugins.

Third-party analyzers register a zero-argument factory (usually the class)
in the ``shieldwall.analyzers`` entry point group.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from importlib.metadata import entry_points

from shieldwall.analyze.base import Analyzer

ENTRY_POINT_GROUP = "shieldwall.analyzers"

AnalyzerFactory = Callable[[], Analyzer]

INVENTORY = "inventory"
INVENTORY_CONSUMERS = frozenset({INVENTORY, "vuln", "license"})


def builtin_factories() -> list[AnalyzerFactory]:
    """Every built-in analyzer, in a fixed order. Add new ones here."""
    from shieldwall.analyze.lang import dotnet, golang, java, javascript, php, python, ruby, rust
    from shieldwall.analyze.os import apk, dpkg, owned, release, rpm

    factories: list[AnalyzerFactory] = [release.OSReleaseAnalyzer]
    factories += [dpkg.DpkgStatusAnalyzer, dpkg.DpkgCopyrightAnalyzer, apk.ApkAnalyzer, rpm.RpmAnalyzer]
    factories += [owned.OwnedLanguageFilesAnalyzer]
    factories += [*ruby.ANALYZERS, *php.ANALYZERS, *dotnet.ANALYZERS]
    factories += [*python.ANALYZERS, *javascript.ANALYZERS]
    factories += [*golang.ANALYZERS, *java.ANALYZERS, *rust.ANALYZERS]
    from shieldwall.analyze.misconfig import ANALYZERS as MISCONFIG_ANALYZERS

    factories += [*MISCONFIG_ANALYZERS]
    from shieldwall.analyze.malware import MalwareAnalyzer, malware_analyzer

    factories += [declare(malware_analyzer, name=MalwareAnalyzer.name, scanner=MalwareAnalyzer.scanner)]
    from shieldwall.analyze.reputation import ReputationAnalyzer, reputation_analyzer

    factories += [declare(reputation_analyzer, name=ReputationAnalyzer.name, scanner=ReputationAnalyzer.scanner)]
    from shieldwall.analyze.secret import ANALYZERS as SECRET_ANALYZERS

    factories += [*SECRET_ANALYZERS]
    return factories


def plugin_factories() -> list[AnalyzerFactory]:
    """Analyzers published by installed distributions through entry points."""
    return [ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)]


def scanner_of(analyzer: Analyzer) -> str:
    """The scanner family an analyzer belongs to (its optional ``scanner`` attribute).

    Catalogers need not say anything: they are ``inventory`` and always run.
    Detectors set ``scanner = "secret"`` (or ``malware``, ``misconfig``...)
    so ``--scanners`` can switch them off.
    """
    return str(getattr(analyzer, "scanner", INVENTORY))


def _family_wanted(family: str, scanners: Collection[str] | None, wants_inventory: bool) -> bool:
    if family == INVENTORY:
        return wants_inventory
    return scanners is None or family in scanners


def declare(factory: AnalyzerFactory, *, name: str, scanner: str) -> AnalyzerFactory:
    """Tag a function factory with the analyzer name and scanner family it builds.

    ``load_analyzers`` reads the tags to skip unwanted detectors without
    constructing them (classes carry the same information as class attributes).
    """
    setattr(factory, "name", name)  # noqa: B010 - functions take attributes only this way under mypy
    setattr(factory, "scanner", scanner)  # noqa: B010
    return factory


def load_analyzers(
    *,
    include_plugins: bool = True,
    only: Sequence[str] | None = None,
    scanners: Collection[str] | None = None,
) -> list[Analyzer]:
    """Instantiate the analyzers for a scan.

    ``only`` restricts to analyzer names; ``scanners`` to scanner families.
    Inventory analyzers run when ``scanners`` is None or names a family that
    reads the inventory (``vuln``, ``license``, or ``inventory`` itself), or is
    empty (an inventory-only scan such as ``sbom``), so a pure
    ``--scanners secret`` scan does not catalogue packages.
    """
    factories = builtin_factories() + (plugin_factories() if include_plugins else [])
    wants_inventory = scanners is None or not scanners or bool(INVENTORY_CONSUMERS & set(scanners))
    analyzers: list[Analyzer] = []
    seen: set[str] = set()
    for factory in factories:
        # Skip what is not wanted before paying for construction (detectors compile rule sets);
        # factories may declare ``name``/``scanner`` (classes do as class attributes).
        declared_name = getattr(factory, "name", None)
        if only is not None and isinstance(declared_name, str) and declared_name not in only:
            continue
        declared = getattr(factory, "scanner", INVENTORY if isinstance(factory, type) else None)
        if isinstance(declared, str) and not _family_wanted(declared, scanners, wants_inventory):
            continue
        analyzer = factory()
        if analyzer.name in seen:
            continue
        if only is not None and analyzer.name not in only:
            continue
        if not _family_wanted(scanner_of(analyzer), scanners, wants_inventory):
            continue
        seen.add(analyzer.name)
        analyzers.append(analyzer)
    return analyzers


def analyzer_versions(analyzers: Sequence[Analyzer]) -> tuple[tuple[str, int], ...]:
    """Sorted (name, version) pairs: part of every cache key."""
    return tuple(sorted((a.name, a.version) for a in analyzers))
