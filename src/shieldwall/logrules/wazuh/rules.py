"""Wazuh rules: parsing ``<rule>`` elements and evaluating the rule tree on an event.

Rules form a tree: a rule without ``if_sid``/``if_group``/``if_matched_*``
is a root; ``if_sid`` makes it a child of those rules, ``if_group`` a child of
every rule in that group, ``if_matched_sid``/``if_matched_group`` (frequency
rules) a child of that rule or group. Children are kept in descending level
order (stable in load order), as Wazuh does, and the deepest matching rule is
the result. Frequency rules count earlier events that ended on the matched
rule or group within ``timeframe`` seconds, with ``same_*``/``different_*``
constraints, and mark the counted events so they are not counted twice.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from shieldwall.logrules.saferegex import RegexStats
from shieldwall.logrules.wazuh.cdb import ListLookup
from shieldwall.logrules.wazuh.event import Event
from shieldwall.logrules.wazuh.matchers import IpMatcher, TextMatcher, build_matcher

MAX_HISTORY = 4096
"""Events remembered per rule or group for frequency rules."""

SAME_FIELDS = {
    "same_source_ip": "srcip",
    "same_srcip": "srcip",
    "same_dst_ip": "dstip",
    "same_dstip": "dstip",
    "same_user": "user",
    "same_srcuser": "srcuser",
    "same_dstuser": "dstuser",
    "same_id": "id",
    "same_location": "location",
    "same_srcport": "srcport",
    "same_dstport": "dstport",
    "same_protocol": "protocol",
    "same_action": "action",
    "same_url": "url",
    "same_data": "data",
    "same_extra_data": "extra_data",
    "same_status": "status",
    "same_system_name": "system_name",
}
DIFFERENT_FIELDS = {
    "different_url": "url",
    "different_srcip": "srcip",
    "different_source_ip": "srcip",
    "not_same_source_ip": "srcip",
    "different_id": "id",
    "different_user": "user",
    "different_srcuser": "srcuser",
    "different_dstuser": "dstuser",
    "different_location": "location",
    "different_system_name": "system_name",
}
FIELD_ELEMENTS = (
    "srcport",
    "dstport",
    "user",
    "srcuser",
    "dstuser",
    "id",
    "url",
    "action",
    "status",
    "protocol",
    "system_name",
    "data",
    "extra_data",
    "hostname",
    "location",
)
IGNORED_ELEMENTS = frozenset({"description", "group", "mitre", "info", "options", "check_diff", "var"})
CRAWLER_TOKENS = ("googlebot", "msnbot", "bingbot", "yahoo! slurp")


def is_simple_http_request(ev: Event) -> bool:
    """Wazuh's compiled rule: the URL is ``/`` or carries no query string."""
    url = ev.get("url")
    return url is not None and (url == "/" or "?" not in url)


def is_valid_crawler(ev: Event) -> bool:
    """Wazuh's compiled rule, approximated: the line names a well-known search engine crawler."""
    low = ev.log.lower()
    return any(token in low for token in CRAWLER_TOKENS)


COMPILED_RULES = {"is_simple_http_request": is_simple_http_request, "is_valid_crawler": is_valid_crawler}


class RuleError(ValueError):
    """A rule that cannot be loaded (reported with its id, the rest still load)."""


@dataclass(slots=True)
class Rule:
    """One ``<rule>``."""

    id: int
    level: int
    description: str = ""
    groups: tuple[str, ...] = ()
    noalert: bool = False
    options: tuple[str, ...] = ()
    if_sid: tuple[int, ...] = ()
    if_group: tuple[str, ...] = ()
    if_level: int | None = None
    if_matched_sid: int | None = None
    if_matched_group: str = ""
    frequency: int = 0
    timeframe: int = 0
    ignore: int = 0
    maxsize: int = 0
    decoded_as: str = ""
    category: str = ""
    match: TextMatcher | None = None
    regex: TextMatcher | None = None
    program_name: TextMatcher | None = None
    srcip: IpMatcher | None = None
    dstip: IpMatcher | None = None
    field_checks: list[tuple[str, TextMatcher]] = field(default_factory=list)
    lists: list[ListLookup] = field(default_factory=list)
    same: tuple[str, ...] = ()
    different: tuple[str, ...] = ()
    if_fts: bool = False
    compiled: str = ""
    action: str | None = None
    unsupported: tuple[str, ...] = ()
    mitre: tuple[str, ...] = ()
    children: list[Rule] = field(default_factory=list)

    @property
    def is_frequency(self) -> bool:
        """Whether this rule correlates several events."""
        return self.if_matched_sid is not None or bool(self.if_matched_group)

    @property
    def needed_before(self) -> int:
        """Earlier matching events required: ``frequency - 1``, at least one."""
        return max(self.frequency - 1, 1)


def _text(el: Element) -> str:
    return (el.text or "").strip()


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.replace(",", " ").split() if p.strip())


def expand_vars(text: str, variables: dict[str, str]) -> str:
    """Substitute ``$NAME`` with the ruleset's ``<var>`` values."""
    if "$" not in text:
        return text
    for name in sorted(variables, key=len, reverse=True):
        text = text.replace(f"${name}", variables[name])
    return text


def parse_rule(
    el: Element,
    groups: tuple[str, ...],
    variables: dict[str, str],
    stats: RegexStats,
    lists: dict[str, dict[str, str]],
) -> Rule:
    """Build a ``Rule`` from its XML element and the enclosing groups."""
    attrs = {k: expand_vars(v, variables) for k, v in el.attrib.items()}
    try:
        rule = Rule(id=int(attrs.get("id", "")), level=int(attrs.get("level", "0")))
        rule.frequency = int(attrs.get("frequency", "0") or 0)
        rule.timeframe = int(attrs.get("timeframe", "0") or 0)
        rule.ignore = int(attrs.get("ignore", "0") or 0)
        rule.maxsize = int(attrs.get("maxsize", "0") or 0)
    except ValueError as exc:
        raise RuleError(f"rule with a non-numeric id, level, frequency or timeframe: {attrs}") from exc
    rule.noalert = attrs.get("noalert", "") == "1"
    own_groups: list[str] = list(groups)
    unsupported: list[str] = []
    same: list[str] = []
    different: list[str] = []
    match_parts: list[tuple[str, str, bool]] = []
    regex_parts: list[tuple[str, str, bool]] = []
    for child in el:
        tag = child.tag
        raw = (child.text or "") if tag in ("match", "regex", "field") else _text(child)
        text = expand_vars(raw, variables)
        kind = child.get("type", "")
        negate = child.get("negate", "no") == "yes"
        try:
            if tag == "description":
                rule.description = text
            elif tag == "group":
                own_groups.extend(p for p in text.split(",") if p.strip())
            elif tag == "if_sid":
                rule.if_sid = tuple(int(p) for p in _split(text))
            elif tag == "if_group":
                rule.if_group = _split(text)
            elif tag == "if_level":
                rule.if_level = int(text)
            elif tag == "if_matched_sid":
                rule.if_matched_sid = int(text)
            elif tag == "if_matched_group":
                rule.if_matched_group = text
            elif tag == "decoded_as":
                rule.decoded_as = text
            elif tag == "category":
                rule.category = text
            elif tag == "match":
                match_parts.append((text, kind, negate))
            elif tag == "regex":
                regex_parts.append((text, kind, negate))
            elif tag == "program_name":
                rule.program_name = build_matcher(text, kind, "osmatch", stats, negate)
            elif tag == "srcip":
                rule.srcip = IpMatcher.compile(text)
            elif tag == "dstip":
                rule.dstip = IpMatcher.compile(text)
            elif tag == "field":
                name = child.get("name", "")
                rule.field_checks.append((name, build_matcher(text, kind, "osregex", stats, negate)))
            elif tag in FIELD_ELEMENTS and not (tag == "action" and not kind):
                rule.field_checks.append((tag, build_matcher(text, kind, "osmatch", stats, negate)))
            elif tag == "list":
                key = text.removeprefix("etc/lists/")
                table = lists.get(key)
                if table is None:
                    unsupported.append(f"list {text} not found")
                    continue
                check = child.get("check_value")
                rule.lists.append(
                    ListLookup(
                        child.get("field", ""),
                        child.get("lookup", "match_key"),
                        table,
                        build_matcher(check, "", "osregex", stats) if check else None,
                    )
                )
            elif tag in SAME_FIELDS:
                same.append(SAME_FIELDS[tag])
            elif tag in DIFFERENT_FIELDS:
                different.append(DIFFERENT_FIELDS[tag])
            elif tag == "same_field":
                same.append(text)
            elif tag == "different_field":
                different.append(text)
            elif tag == "if_fts":
                rule.if_fts = True
            elif tag == "compiled_rule":
                if text not in COMPILED_RULES:
                    unsupported.append(f"compiled_rule {text}")
                rule.compiled = text
            elif tag == "action" and not kind:
                rule.action = text  # compared exactly, like Wazuh's strcmp
            elif tag == "options":
                rule.options = rule.options + _split(text)
            elif tag == "mitre":
                rule.mitre = tuple(_text(i) for i in child if i.tag == "id")
            elif tag in IGNORED_ELEMENTS:
                continue
            else:
                unsupported.append(tag)
        except (ValueError, RuleError) as exc:
            raise RuleError(f"rule {rule.id}: <{tag}> {text!r}: {exc}") from exc
    try:
        if match_parts:
            src = "".join(p[0] for p in match_parts)
            rule.match = build_matcher(src, match_parts[0][1], "osmatch", stats, match_parts[0][2])
        if regex_parts:
            src = "".join(p[0] for p in regex_parts)
            rule.regex = build_matcher(src, regex_parts[0][1], "osregex", stats, regex_parts[0][2])
    except ValueError as exc:
        raise RuleError(f"rule {rule.id}: {exc}") from exc
    rule.groups = tuple(g.strip() for g in own_groups if g.strip())
    rule.same = tuple(same)
    rule.different = tuple(different)
    rule.unsupported = tuple(unsupported)
    if rule.if_matched_group and not rule.if_sid and not rule.if_group:
        rule.if_group = (rule.if_matched_group,)
    if rule.if_matched_sid is not None and not rule.if_sid and not rule.if_group:
        rule.if_sid = (rule.if_matched_sid,)
    return rule


def _priority(rule: Rule) -> tuple[int, int]:
    return (1 if rule.decoded_as else 0, rule.level)


def insert_by_level(siblings: list[Rule], rule: Rule) -> None:
    """Insert ``rule`` before the first sibling it outranks.

    Rules tied to a decoder (``decoded_as``) come first, then higher levels;
    ties keep load order. This is the order Wazuh evaluates siblings in.
    """
    key = _priority(rule)
    for i, other in enumerate(siblings):
        if key > _priority(other):
            siblings.insert(i, rule)
            return
    siblings.append(rule)


@dataclass(slots=True)
class Correlation:
    """Evidence of a frequency rule: the earlier events it counted."""

    rule_id: int
    count: int
    timeframe: int
    lines: list[str]


class RuleState:
    """Cross-event memory: histories by group and first-time-seen keys."""

    def __init__(self) -> None:
        self.group_history: dict[str, deque[Event]] = {}
        self.rule_history: dict[int, deque[Event]] = {}
        self.ignore_until: dict[int, float] = {}
        self.fts_seen: set[str] = set()

    def remember(self, rule: Rule, ev: Event) -> None:
        """Record that ``ev`` ended on ``rule`` (for later frequency rules)."""
        self.rule_history.setdefault(rule.id, deque(maxlen=MAX_HISTORY)).appendleft(ev)
        for g in rule.groups:
            self.group_history.setdefault(g, deque(maxlen=MAX_HISTORY)).appendleft(ev)


class RuleEvaluator:
    """Walks the rule tree for one event."""

    def __init__(self, roots: list[Rule], by_id: dict[int, Rule], by_group: dict[str, list[Rule]]) -> None:
        self.roots = roots
        self.by_id = by_id
        self.by_group = by_group
        self.state = RuleState()

    def reset(self) -> None:
        """Forget every earlier event (histories, first-time-seen keys)."""
        self.state = RuleState()

    def evaluate(self, ev: Event) -> tuple[Rule | None, Correlation | None]:
        """The deepest matching rule and, for a frequency rule, its evidence."""
        for root in self.roots:
            if (root.category or "syslog") != ev.category:
                continue
            found = self._check(root, ev)
            if found is not None:
                rule, corr = found
                self.state.remember(rule, ev)
                return rule, corr
        return None, None

    def _check(self, rule: Rule, ev: Event) -> tuple[Rule, Correlation | None] | None:
        if not self._matches(rule, ev):
            return None
        corr: Correlation | None = None
        if rule.is_frequency:
            corr = self._frequency(rule, ev)
            if corr is None:
                return None
        if rule.if_fts:
            key = "|".join([ev.decoder, *[ev.get(f) or "" for f in ev.fts]])
            if key in self.state.fts_seen:
                return None
            self.state.fts_seen.add(key)
        decoder, parent = ev.decoder, ev.decoder_parent
        for child in rule.children:
            wanted = child.decoded_as
            if wanted and wanted != parent and wanted != decoder:
                continue
            found = self._check(child, ev)
            if found is not None:
                return found
        return rule, corr

    def _matches(self, rule: Rule, ev: Event) -> bool:
        if rule.unsupported:
            return False
        if rule.maxsize and len(ev.full_log) <= rule.maxsize:
            return False
        if rule.action is not None and ev.get("action") != rule.action:
            return False
        if rule.compiled and not COMPILED_RULES[rule.compiled](ev):
            return False
        if rule.decoded_as and rule.decoded_as != ev.decoder_parent and rule.decoded_as != ev.decoder:
            return False
        if rule.program_name is not None and not (ev.program_name and rule.program_name.matches(ev.program_name)):
            return False
        if rule.match is not None and not rule.match.matches(ev.log):
            return False
        if rule.regex is not None and not rule.regex.matches(ev.log):
            return False
        if rule.srcip is not None:
            value = ev.get("srcip")
            if value is None or not rule.srcip.matches(value):
                return False
        if rule.dstip is not None:
            value = ev.get("dstip")
            if value is None or not rule.dstip.matches(value):
                return False
        for name, matcher in rule.field_checks:
            value = ev.get(name)
            if value is None or not matcher.matches(value):
                return False
        return all(lookup.matches(ev.get(lookup.field)) for lookup in rule.lists)

    def _frequency(self, rule: Rule, ev: Event) -> Correlation | None:
        if ev.time < self.state.ignore_until.get(rule.id, 0.0):
            return None
        history: deque[Event]
        if rule.if_matched_sid is not None:
            history = self.state.rule_history.get(rule.if_matched_sid, deque())
        else:
            history = self.state.group_history.get(rule.if_matched_group, deque())
        counted: list[Event] = []
        seen_values: dict[str, set[str]] = {f: {ev.get(f) or ""} for f in rule.different}
        for old in history:
            if ev.time - old.time > rule.timeframe:
                break
            if old.matched_level >= rule.level:
                continue
            if any((old.get(f) or None) != (ev.get(f) or None) or ev.get(f) is None for f in rule.same):
                continue
            if rule.different:
                values = {f: old.get(f) or "" for f in rule.different}
                if any(values[f] in seen_values[f] for f in rule.different):
                    continue
                for f, v in values.items():
                    seen_values[f].add(v)
            counted.append(old)
            if len(counted) >= rule.needed_before:
                break
        if len(counted) < rule.needed_before:
            return None
        for old in counted:
            old.matched_level = rule.level
        ev.matched_level = rule.level
        if rule.ignore:
            self.state.ignore_until[rule.id] = ev.time + rule.ignore
        return Correlation(rule.id, len(counted) + 1, rule.timeframe, [o.full_log for o in reversed(counted)])
