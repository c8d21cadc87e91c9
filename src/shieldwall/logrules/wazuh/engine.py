"""Load a Wazuh ruleset directory and evaluate log lines with it.

``load_ruleset(dir)`` reads ``decoders/*.xml`` and ``rules/*.xml`` in file
name order (as Wazuh does) and ``lists/``; one broken element is a counted
load error, never a crash. ``WazuhEngine.process(line)`` pre-decodes, decodes
and walks the rule tree, returning an ``Alert`` (also for level 0 results,
which callers normally drop).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shieldwall.logrules.osregex import OsRegexError
from shieldwall.logrules.saferegex import RegexStats, bound_line
from shieldwall.logrules.wazuh.cdb import read_cdb
from shieldwall.logrules.wazuh.decoders import DecoderSet, parse_decoder
from shieldwall.logrules.wazuh.event import Event
from shieldwall.logrules.wazuh.predecode import predecode
from shieldwall.logrules.wazuh.rules import (
    Correlation,
    Rule,
    RuleError,
    RuleEvaluator,
    insert_by_level,
    parse_rule,
)
from shieldwall.logrules.wazuh.xmlload import RulesetError, read_fragment

TEMPLATE_LIMIT = 10
"""Rules with ids below this are the per-category templates at the top of the tree."""


@dataclass(frozen=True, slots=True)
class Alert:
    """The result of one line: the rule it ended on and what was decoded."""

    rule_id: int
    level: int
    description: str
    groups: tuple[str, ...]
    decoder: str
    fields: dict[str, str]
    full_log: str
    program_name: str
    hostname: str
    mitre: tuple[str, ...] = ()
    correlation: Correlation | None = None
    noalert: bool = False


@dataclass(slots=True)
class LoadReport:
    """What loaded and what did not (with reasons)."""

    decoders: int = 0
    rules: int = 0
    errors: list[str] = field(default_factory=list)
    unsupported_rules: dict[int, tuple[str, ...]] = field(default_factory=dict)


class WazuhEngine:
    """A loaded ruleset plus the correlation state of one event stream."""

    def __init__(self, decoders: DecoderSet, rules: dict[int, Rule], report: LoadReport, stats: RegexStats) -> None:
        self.decoders = decoders
        self.rules = rules
        self.report = report
        self.stats = stats
        roots: list[Rule] = []
        by_group: dict[str, list[Rule]] = {}
        for rule in rules.values():
            if rule.id < TEMPLATE_LIMIT:
                insert_by_level(roots, rule)
        for rule in rules.values():
            if rule.id < TEMPLATE_LIMIT:
                for g in rule.groups:
                    by_group.setdefault(g, []).append(rule)
                continue
            # if_group links to rules loaded before this one, as Wazuh does
            earlier_groups = {g: list(v) for g, v in by_group.items() if g in rule.if_group}
            for g in rule.groups:
                by_group.setdefault(g, []).append(rule)
            parents: list[Rule] = []
            if not rule.if_sid and not rule.if_group and rule.if_level is None:
                category = rule.category or "syslog"
                template = next((r for r in roots if (r.category or "syslog") == category), None)
                if template is None:
                    report.errors.append(f"rule {rule.id}: no template rule for category {category}")
                else:
                    insert_by_level(template.children, rule)
                continue
            for sid in rule.if_sid:
                parent = rules.get(sid)
                if parent is None:
                    report.errors.append(f"rule {rule.id}: if_sid {sid} does not exist")
                else:
                    parents.append(parent)
            for g in rule.if_group:
                parents.extend(p for p in earlier_groups.get(g, []) if p is not rule)
            if rule.if_level is not None:
                parents.extend(p for p in rules.values() if p.level == rule.if_level and p is not rule)
            for parent in parents:
                if rule not in parent.children:
                    insert_by_level(parent.children, rule)
        self.evaluator = RuleEvaluator(roots, rules, by_group)

    def reset(self) -> None:
        """Forget correlation state (a new, independent stream)."""
        self.evaluator.reset()

    def decode(self, line: str, location: str = "") -> Event:
        """Pre-decode and decode ``line`` (bounded) without evaluating rules."""
        line = bound_line(line.rstrip("\r\n"), self.stats)
        pre = predecode(line)
        ev = Event(
            full_log=pre.full_log,
            log=pre.log,
            location=location,
            timestamp=pre.timestamp,
            hostname=pre.hostname,
            program_name=pre.program_name,
        )
        self.decoders.decode(ev)
        return ev

    def process(self, line: str, *, location: str = "", now: float | None = None) -> Alert | None:
        """The rule ``line`` ends on, or None when no rule matches."""
        ev = self.decode(line, location)
        ev.time = time.time() if now is None else now
        rule, corr = self.evaluator.evaluate(ev)
        if rule is None:
            return None
        return Alert(
            rule_id=rule.id,
            level=rule.level,
            description=rule.description,
            groups=rule.groups,
            decoder=ev.decoder,
            fields=dict(ev.fields),
            full_log=ev.full_log,
            program_name=ev.program_name,
            hostname=ev.hostname,
            mitre=rule.mitre,
            correlation=corr,
            noalert=rule.noalert,
        )


def _xml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".xml" and p.is_file() and not p.is_symlink())


def _read_lists(folder: Path, report: LoadReport) -> dict[str, dict[str, str]]:
    lists: dict[str, dict[str, str]] = {}
    if not folder.is_dir():
        return lists
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.suffix not in (".cdb", ".md"):
            try:
                lists[path.relative_to(folder).as_posix()] = read_cdb(path)
            except (OSError, ValueError) as exc:
                report.errors.append(f"list {path.name}: {exc}")
    return lists


def load_ruleset(
    root: Path,
    *,
    decoder_files: Iterable[Path] | None = None,
    rule_files: Iterable[Path] | None = None,
) -> WazuhEngine:
    """Load ``root/decoders``, ``root/rules`` and ``root/lists`` (or the given files)."""
    stats = RegexStats()
    report = LoadReport()
    decoders = DecoderSet()
    for path in decoder_files if decoder_files is not None else _xml_files(root / "decoders"):
        try:
            tree = read_fragment(path)
        except (RulesetError, OSError) as exc:
            report.errors.append(str(exc))
            continue
        for el in tree.iter("decoder"):
            try:
                decoders.add(parse_decoder(el, stats))
                report.decoders += 1
            except (ValueError, OsRegexError) as exc:
                report.errors.append(f"{path.name}: decoder {el.get('name')}: {exc}")
    for orphan in decoders.orphans:
        report.errors.append(f"decoder {orphan}: parent not found")
    lists = _read_lists(root / "lists", report)
    variables: dict[str, str] = {}
    rules: dict[int, Rule] = {}
    for path in rule_files if rule_files is not None else _xml_files(root / "rules"):
        try:
            tree = read_fragment(path)
        except (RulesetError, OSError) as exc:
            report.errors.append(str(exc))
            continue
        _load_rules(tree, (), variables, stats, lists, rules, report, path.name)
    report.rules = len(rules)
    for rule in rules.values():
        if rule.unsupported:
            report.unsupported_rules[rule.id] = rule.unsupported
    return WazuhEngine(decoders, rules, report, stats)


def _load_rules(
    el: object,
    groups: tuple[str, ...],
    variables: dict[str, str],
    stats: RegexStats,
    lists: dict[str, dict[str, str]],
    rules: dict[int, Rule],
    report: LoadReport,
    origin: str,
) -> None:
    from xml.etree.ElementTree import Element

    assert isinstance(el, Element)
    for child in el:
        if child.tag == "var":
            variables[child.get("name", "")] = (child.text or "").strip()
        elif child.tag == "group":
            names = tuple(g.strip() for g in child.get("name", "").split(",") if g.strip())
            _load_rules(child, groups + names, variables, stats, lists, rules, report, origin)
        elif child.tag == "rule":
            try:
                rule = parse_rule(child, groups, variables, stats, lists)
            except (RuleError, OsRegexError, ValueError) as exc:
                report.errors.append(f"{origin}: {exc}")
                continue
            if rule.id in rules and child.get("overwrite", "no") != "yes":
                report.errors.append(f"{origin}: rule {rule.id} defined twice (kept the first)")
                continue
            rules[rule.id] = rule
