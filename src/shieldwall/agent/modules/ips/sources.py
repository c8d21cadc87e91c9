"""Rule sources the agent has on disk: the ET Open snapshot and Shieldwall's own pack.

An index is built once per source (rules by SID, by category) and reused until
the files change (their names, sizes and mtimes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from shieldwall.agent.modules.ips.rules import Rule, parse_rules, read_rule_file

PACK_NAME = "shieldwall.rules"


@dataclass(frozen=True, slots=True)
class RuleIndex:
    """Rules of one source by SID and by category."""

    name: str
    by_sid: dict[int, Rule]
    by_category: dict[str, tuple[int, ...]]
    duplicates: tuple[int, ...] = ()
    classification: str = ""
    """The source's classification.config text, if it ships one."""
    warnings: tuple[str, ...] = field(default=())


def build_index(name: str, rules: list[Rule], classification: str = "") -> RuleIndex:
    """Index ``rules``; a repeated SID keeps the first occurrence and is reported."""
    by_sid: dict[int, Rule] = {}
    by_category: dict[str, list[int]] = {}
    duplicates: list[int] = []
    for rule in rules:
        if rule.sid in by_sid:
            duplicates.append(rule.sid)
            continue
        by_sid[rule.sid] = rule
        by_category.setdefault(rule.category, []).append(rule.sid)
    return RuleIndex(
        name=name,
        by_sid=by_sid,
        by_category={k: tuple(v) for k, v in by_category.items()},
        duplicates=tuple(duplicates),
        classification=classification,
    )


def pack_text() -> str:
    """The text of Shieldwall's own rule pack (package data)."""
    return files("shieldwall.agent.modules.ips").joinpath(f"data/{PACK_NAME}").read_text(encoding="utf-8")


def pack_index() -> RuleIndex:
    """Shieldwall's own rule pack."""
    return build_index("shieldwall", list(parse_rules(pack_text().splitlines(), source=PACK_NAME)))


_CACHE: dict[tuple[str, tuple[tuple[str, int, int], ...]], RuleIndex] = {}


def _signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    out = []
    for path in sorted(directory.glob("*.rules")):
        st = path.stat()
        out.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def directory_index(directory: Path, name: str = "et_open") -> RuleIndex:
    """Every ``*.rules`` file of a ruleset directory (ET Open layout), cached while unchanged."""
    if not directory.is_dir():
        raise FileNotFoundError(f"rule directory {directory} does not exist")
    key = (str(directory.resolve()), _signature(directory))
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    rules: list[Rule] = []
    for path in sorted(directory.glob("*.rules")):
        if path.is_symlink():
            continue
        rules.extend(read_rule_file(path))
    classification = ""
    cls = directory / "classification.config"
    if cls.is_file() and not cls.is_symlink() and cls.stat().st_size < 1024 * 1024:
        classification = cls.read_text(encoding="utf-8", errors="replace")
    index = build_index(name, rules, classification)
    _CACHE.clear()
    _CACHE[key] = index
    return index
