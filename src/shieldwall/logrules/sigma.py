"""Sigma rules through pySigma: parse each rule, compile its detection tree to a matcher.

pySigma parses the YAML, applies the value modifiers (``contains``,
``startswith``, ``endswith``, ``re``, ``base64offset``, ``windash``...) and
the condition (``1 of selection*``, ``not filter``...) into a tree of
AND/OR/NOT over field=value and keyword leaves. This module evaluates that
tree over the fields of ``sigma_fields.line_fields``; string values are
case-insensitive wildcard matches compiled for re2. A rule whose tree holds
something this evaluator does not implement (field references, placeholders,
correlation rules, unknown value types) is not loaded and the reason is kept.
"""

from __future__ import annotations

import ipaddress
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from shieldwall.logrules.common import LogMatch
from shieldwall.logrules.saferegex import RegexStats, SafeRegex, bound_line
from shieldwall.logrules.sigma_fields import line_fields

Predicate = Callable[[dict[str, str], str], bool]
PRODUCED: dict[str, frozenset[str]] = {
    "web": frozenset(
        {
            "c-ip",
            "cs-method",
            "c-uri",
            "cs-uri",
            "cs-uri-stem",
            "cs-uri-query",
            "c-uri-query",
            "sc-status",
            "cs-referer",
            "cs-user-agent",
            "c-useragent",
            "hostname",
            "program_name",
        }
    ),
    "syslog": frozenset({"hostname", "program_name"}),
}
"""Fields ``line_fields`` produces per kind; auditd records carry their own keys (checked per line)."""
LEVELS = {"informational": 2, "low": 4, "medium": 7, "high": 10, "critical": 13}
MAX_RULE_BYTES = 512 * 1024
MAX_AUDIT_EVENTS = 1024
_AUDIT_ID = re.compile(r"msg=audit\(([0-9.]+:\d+)\)")


class UnsupportedSigma(ValueError):
    """A Sigma construct this evaluator does not implement."""


def _string_regex(value: SigmaString) -> str:
    parts: list[str] = []
    for p in value.s:
        if p == SpecialChars.WILDCARD_MULTI:
            parts.append(".*")
        elif p == SpecialChars.WILDCARD_SINGLE:
            parts.append(".")
        elif isinstance(p, str):
            parts.append(re.escape(p))
        else:
            raise UnsupportedSigma(f"placeholder in value {value}")
    return "^" + "".join(parts) + "$"


@dataclass(slots=True)
class _Compiler:
    stats: RegexStats
    fields: set[str] = field(default_factory=set)

    def value_test(self, value: Any) -> Callable[[str | None], bool]:
        if isinstance(value, SigmaString):
            rx = SafeRegex(_string_regex(value), not type(value).__name__.startswith("SigmaCased"), self.stats)
            return lambda v: v is not None and rx.search(v) is not None
        if isinstance(value, SigmaRegularExpression):
            flags = {str(f).rsplit(".", 1)[-1] for f in value.flags}
            rx = SafeRegex(str(value.regexp), "IGNORECASE" in flags, self.stats)
            return lambda v: v is not None and rx.search(v) is not None
        if isinstance(value, SigmaNumber):
            num = str(value.number)
            return lambda v: v is not None and v.strip() == num
        if isinstance(value, SigmaBool):
            want = "true" if value.boolean else "false"
            return lambda v: v is not None and v.lower() == want
        if isinstance(value, SigmaNull):
            return lambda v: v is None or v == ""
        if isinstance(value, SigmaExists):
            exists = value.exists
            return lambda v: (v is not None) == exists
        if isinstance(value, SigmaCIDRExpression):
            net = ipaddress.ip_network(str(value.network), strict=False)

            def in_net(v: str | None) -> bool:
                try:
                    return v is not None and ipaddress.ip_address(v) in net
                except ValueError:
                    return False

            return in_net
        if isinstance(value, SigmaCompareExpression):
            raise UnsupportedSigma("numeric comparison (gt/lt) values")
        raise UnsupportedSigma(f"value type {type(value).__name__}")

    def node(self, node: Any) -> Predicate:
        if isinstance(node, ConditionAND):
            subs = [self.node(a) for a in node.args]
            return lambda f, m: all(s(f, m) for s in subs)
        if isinstance(node, ConditionOR):
            subs = [self.node(a) for a in node.args]
            return lambda f, m: any(s(f, m) for s in subs)
        if isinstance(node, ConditionNOT):
            sub = self.node(node.args[0])
            return lambda f, m: not sub(f, m)
        if isinstance(node, ConditionFieldEqualsValueExpression):
            name = str(node.field)
            self.fields.add(name)
            test = self.value_test(node.value)
            return lambda f, m: test(f.get(name))
        if isinstance(node, ConditionValueExpression):
            value = node.value
            if isinstance(value, SigmaString):
                rx = SafeRegex(_string_regex(value).removeprefix("^").removesuffix("$"), True, self.stats)
                if not value.startswith(SpecialChars.WILDCARD_MULTI) and not value.endswith(
                    SpecialChars.WILDCARD_MULTI
                ):
                    pass  # keywords match anywhere in the message, like Sigma backends do
                return lambda f, m: rx.search(m) is not None
            test = self.value_test(value)
            return lambda f, m: test(m)
        raise UnsupportedSigma(f"condition node {type(node).__name__}")


@dataclass(slots=True)
class CompiledSigma:
    """One loaded Sigma rule."""

    id: str
    title: str
    level: int
    tags: tuple[str, ...]
    logsource: tuple[str, str, str]
    predicate: Predicate
    author: str = ""
    fields: frozenset[str] = frozenset()

    @property
    def evaluable(self) -> bool:
        """Whether Shieldwall's line decoding produces every field the rule tests."""
        return self.fields <= PRODUCED.get(self.kind, frozenset())

    @property
    def kind(self) -> str:
        """``auditd``, ``web`` or ``syslog``: which decoding feeds this rule."""
        category, _product, service = self.logsource
        if service == "auditd" or category in ("process_creation", "file_event", "network_connection"):
            return "auditd"
        if category in ("webserver", "proxy"):
            return "web"
        return "syslog"

    def applies_to(self, fields: dict[str, str]) -> bool:
        """Whether the line is of this rule's log source."""
        category, product, service = self.logsource
        if product and product not in ("linux", "unix", "") and category not in ("webserver", "proxy"):
            return False
        program = fields.get("program_name", "")
        if service and service not in ("auditd", "syslog", "auth"):
            return program.startswith(service) or (service == "sshd" and program.startswith("sshd"))
        if service == "auditd" or category in ("process_creation", "file_event", "network_connection"):
            return "type" in fields
        if category in ("webserver", "proxy"):
            return "cs-method" in fields
        return True


@dataclass(slots=True)
class SigmaLoad:
    """Rules loaded and the reason each other file was not."""

    rules: list[CompiledSigma] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def compile_rule(text: str, stats: RegexStats, origin: str = "") -> CompiledSigma:
    """Parse and compile one Sigma rule (raises ``UnsupportedSigma`` or ``SigmaError``)."""
    if len(text) > MAX_RULE_BYTES:
        raise UnsupportedSigma("rule file too large")
    if "\ncorrelation:" in text or text.startswith("correlation:"):
        raise UnsupportedSigma("correlation rule (meta-rule over other rules)")
    rule = SigmaRule.from_yaml(text)
    if rule.errors:
        raise UnsupportedSigma(f"pySigma: {rule.errors[0]}")
    conditions = rule.detection.parsed_condition
    compiler = _Compiler(stats)
    preds = [compiler.node(c.parsed) for c in conditions]
    ls = rule.logsource
    level = LEVELS.get(str(rule.level.name).lower() if rule.level else "medium", 7)
    author = str(rule.author or "")
    return CompiledSigma(
        id=str(rule.id or origin),
        title=str(rule.title),
        level=level,
        tags=tuple(str(t) for t in rule.tags),
        logsource=(ls.category or "", ls.product or "", ls.service or ""),
        predicate=lambda f, m: any(p(f, m) for p in preds),
        author=author,
        fields=frozenset(compiler.fields),
    )


def load_sigma(paths: list[Path]) -> tuple[SigmaLoad, RegexStats]:
    """Load every ``*.yml`` under ``paths``; failures are counted with reasons."""
    stats = RegexStats()
    out = SigmaLoad()
    for base in paths:
        files = sorted(base.rglob("*.yml")) if base.is_dir() else [base]
        for path in files:
            if path.is_symlink():
                out.skipped[str(path)] = "symbolic link"
                continue
            try:
                out.rules.append(compile_rule(path.read_text(encoding="utf-8"), stats, path.stem))
            except UnsupportedSigma as exc:
                out.skipped[str(path)] = str(exc)
            except SigmaError as exc:
                out.skipped[str(path)] = f"pySigma: {type(exc).__name__}: {exc}"[:300]
            except (ValueError, re.error, OSError) as exc:
                out.skipped[str(path)] = f"{type(exc).__name__}: {exc}"[:300]
    return out, stats


class SigmaRules:
    """Evaluates loaded Sigma rules over lines (one match per firing rule)."""

    name = "sigma"

    def __init__(self, rules: list[CompiledSigma]) -> None:
        self.rules = rules
        self._audit: OrderedDict[str, dict[str, str]] = OrderedDict()

    def _merge_audit(self, fields: dict[str, str], message: str) -> dict[str, str]:
        """Give an EXECVE record the fields of its SYSCALL record (same audit event id)."""
        m = _AUDIT_ID.search(message)
        if m is None:
            return fields
        event = self._audit.setdefault(m.group(1), {})
        if len(self._audit) > MAX_AUDIT_EVENTS:
            self._audit.popitem(last=False)
        merged = {**event, **fields}
        for k, v in fields.items():
            event.setdefault(k, v)
        if "exe" in merged:
            merged["Image"] = merged["exe"]
        return merged

    def process(self, line: str, location: str, now: float) -> list[LogMatch]:
        """Every Sigma rule that matches ``line``."""
        fields, message = line_fields(bound_line(line))
        if "type" in fields and "msg" in fields:
            fields = self._merge_audit(fields, message)
        out: list[LogMatch] = []
        for rule in self.rules:
            if rule.applies_to(fields) and rule.predicate(fields, message):
                out.append(
                    LogMatch(
                        engine="sigma",
                        rule_id=rule.id,
                        level=rule.level,
                        description=f"{rule.title} (Sigma, by {rule.author or 'SigmaHQ'})",
                        groups=rule.tags,
                        fields=fields,
                    )
                )
        return out
