"""Shieldwall's own YAML log rules: conditions on a line, then correlation over matches.

A *base* rule matches one line: ``program`` (regex on the syslog program
name), ``regex`` (its named groups become fields, e.g. ``(?P<srcip>...)``),
``not_regex`` and ``fields`` (regex per decoded field). A *correlation* rule
refers to base rules by id:

- ``frequency: {of: ID, count: N, within: S, same: [field...]}`` fires when
  N matches of ID with equal ``same`` fields fall within S seconds;
- ``sequence: {first: ID, count: N, then: ID2, within: S, same: [...]}`` fires
  when ID2 follows at least N matches of ID (same fields, within S seconds):
  "5 failed SSH logins from one address in 2 minutes, then a success";
- ``first_seen: {of: ID, fields: [user, srcip]}`` fires the first time a
  combination of field values is seen (kept in memory, bounded).

Patterns run on re2 (time-boxed fallback otherwise); lines are bounded.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shieldwall.logrules.common import LogMatch
from shieldwall.logrules.saferegex import RegexStats, SafeRegex, bound_line
from shieldwall.logrules.wazuh.predecode import predecode

MAX_RULE_FILE_BYTES = 2 * 1024 * 1024
MAX_KEYS = 100_000
"""Correlation keys remembered per rule (oldest dropped first)."""


class FrequencySpec(BaseModel):
    """N matches of one rule within a time window."""

    model_config = ConfigDict(extra="forbid")
    of: str
    count: int = Field(ge=2, le=100_000)
    within: int = Field(ge=1, le=86_400)
    same: list[str] = Field(default_factory=list)


class SequenceSpec(BaseModel):
    """N matches of ``first`` then one of ``then``."""

    model_config = ConfigDict(extra="forbid")
    first: str
    then: str
    count: int = Field(default=1, ge=1, le=100_000)
    within: int = Field(ge=1, le=86_400)
    same: list[str] = Field(default_factory=list)


class FirstSeenSpec(BaseModel):
    """The first time a combination of field values appears."""

    model_config = ConfigDict(extra="forbid")
    of: str
    fields: list[str] = Field(min_length=1)


class RuleSpec(BaseModel):
    """One YAML rule."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=128)
    description: str
    level: int = Field(ge=0, le=15)
    groups: list[str] = Field(default_factory=list)
    program: str | None = None
    regex: str | None = None
    not_regex: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    frequency: FrequencySpec | None = None
    sequence: SequenceSpec | None = None
    first_seen: FirstSeenSpec | None = None
    mitre: list[str] = Field(default_factory=list)

    @property
    def kind(self) -> Literal["base", "frequency", "sequence", "first_seen"]:
        """Which of the four rule shapes this is."""
        if self.frequency is not None:
            return "frequency"
        if self.sequence is not None:
            return "sequence"
        if self.first_seen is not None:
            return "first_seen"
        return "base"


class RuleFile(BaseModel):
    """A YAML rule file: ``rules: [...]``."""

    model_config = ConfigDict(extra="forbid")
    rules: list[RuleSpec]


def parse_yaml_rules(text: str, origin: str = "") -> list[RuleSpec]:
    """Validate a rule file's text (every error at once)."""
    if len(text) > MAX_RULE_FILE_BYTES:
        raise ValueError(f"{origin}: rule file larger than {MAX_RULE_FILE_BYTES} bytes")
    try:
        data = yaml.safe_load(text)
        return RuleFile.model_validate(data).rules
    except (yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"{origin}: {exc}") from exc


def load_yaml_rules(path: Path) -> list[RuleSpec]:
    """Read and validate one rule file."""
    return parse_yaml_rules(path.read_text(encoding="utf-8"), str(path))


def builtin_pack() -> list[RuleSpec]:
    """The shipped Linux rule pack (``packs/linux.yaml``)."""
    text = resources.files("shieldwall.logrules.packs").joinpath("linux.yaml").read_text(encoding="utf-8")
    return parse_yaml_rules(text, "builtin linux pack")


@dataclass(slots=True)
class _Base:
    spec: RuleSpec
    program: SafeRegex | None
    regex: SafeRegex | None
    not_regex: SafeRegex | None
    fields: list[tuple[str, SafeRegex]]


@dataclass(slots=True)
class _History:
    events: OrderedDict[tuple[str, ...], deque[tuple[float, str]]] = field(default_factory=OrderedDict)

    def add(self, key: tuple[str, ...], when: float, line: str, keep: int) -> deque[tuple[float, str]]:
        q = self.events.get(key)
        if q is None:
            q = deque(maxlen=keep)
            self.events[key] = q
            if len(self.events) > MAX_KEYS:
                self.events.popitem(last=False)
        else:
            self.events.move_to_end(key)
        q.append((when, line))
        return q


class YamlRules:
    """Evaluates a set of YAML rules over a stream of lines."""

    name = "shieldwall"

    def __init__(self, specs: list[RuleSpec]) -> None:
        self.stats = RegexStats()
        ids = [s.id for s in specs]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate rule ids: {sorted(dupes)}")
        self.base: list[_Base] = []
        self.derived: list[RuleSpec] = []
        by_id = {s.id: s for s in specs}
        for spec in specs:
            if spec.kind == "base":
                if not (spec.regex or spec.program or spec.fields):
                    raise ValueError(f"rule {spec.id}: a base rule needs program, regex or fields")
                self.base.append(
                    _Base(
                        spec,
                        SafeRegex(spec.program, False, self.stats) if spec.program else None,
                        SafeRegex(spec.regex, False, self.stats) if spec.regex else None,
                        SafeRegex(spec.not_regex, False, self.stats) if spec.not_regex else None,
                        [(k, SafeRegex(v, False, self.stats)) for k, v in spec.fields.items()],
                    )
                )
            else:
                refs = _refs(spec)
                missing = [r for r in refs if r not in by_id or by_id[r].kind != "base"]
                if missing:
                    raise ValueError(f"rule {spec.id}: refers to unknown or non-base rules {missing}")
                self.derived.append(spec)
        self._history: dict[str, _History] = {s.id: _History() for s in self.derived}
        self._seen: dict[str, OrderedDict[tuple[str, ...], None]] = {s.id: OrderedDict() for s in self.derived}

    def process(self, line: str, location: str, now: float) -> list[LogMatch]:
        """Every base and correlation rule that fires on ``line``."""
        line = bound_line(line, self.stats)
        pre = predecode(line)
        hits: dict[str, dict[str, str]] = {}
        out: list[LogMatch] = []
        for base in self.base:
            fields = self._match(base, pre.program_name, pre.log)
            if fields is None:
                continue
            if pre.hostname:
                fields.setdefault("hostname", pre.hostname)
            if pre.program_name:
                fields.setdefault("program_name", pre.program_name)
            hits[base.spec.id] = fields
            out.append(_to_match(base.spec, fields))
        if hits:
            for spec in self.derived:
                m = self._correlate(spec, hits, line, now)
                if m is not None:
                    out.append(m)
        return out

    def _match(self, base: _Base, program: str, log: str) -> dict[str, str] | None:
        if base.program is not None and (not program or base.program.search(program) is None):
            return None
        fields: dict[str, str] = {}
        if base.regex is not None:
            m = base.regex.search(log)
            if m is None:
                return None
            names = base.regex.group_names()
            for name, value in zip(names, m.groups, strict=False):
                if name and value is not None:
                    fields[name] = value
        if base.not_regex is not None and base.not_regex.search(log) is not None:
            return None
        for name, rx in base.fields:
            value = fields.get(name)
            if value is None or rx.search(value) is None:
                return None
        return fields

    def _correlate(self, spec: RuleSpec, hits: dict[str, dict[str, str]], line: str, now: float) -> LogMatch | None:
        if spec.frequency is not None:
            f = spec.frequency
            fields = hits.get(f.of)
            if fields is None:
                return None
            key = tuple(fields.get(n, "") for n in f.same)
            if any(k == "" for k in key):
                return None
            q = self._history[spec.id].add(key, now, line, f.count)
            while q and now - q[0][0] > f.within:
                q.popleft()
            if len(q) < f.count:
                return None
            lines = tuple(x[1] for x in q)
            q.clear()
            return _to_match(spec, fields, lines)
        if spec.sequence is not None:
            s = spec.sequence
            hist = self._history[spec.id]
            if s.first in hits:
                fields = hits[s.first]
                key = tuple(fields.get(n, "") for n in s.same)
                if all(key):
                    hist.add(key, now, line, max(s.count, 1) * 4)
            if s.then in hits:
                fields = hits[s.then]
                key = tuple(fields.get(n, "") for n in s.same)
                pending = hist.events.get(key)
                if pending is None:
                    return None
                while pending and now - pending[0][0] > s.within:
                    pending.popleft()
                if len(pending) >= s.count:
                    lines = (*tuple(x[1] for x in pending), line)
                    pending.clear()
                    return _to_match(spec, fields, lines)
            return None
        if spec.first_seen is not None:
            fs = spec.first_seen
            fields = hits.get(fs.of)
            if fields is None:
                return None
            key = tuple(fields.get(n, "") for n in fs.fields)
            seen = self._seen[spec.id]
            if key in seen:
                return None
            seen[key] = None
            if len(seen) > MAX_KEYS:
                seen.popitem(last=False)
            return _to_match(spec, fields)
        return None


def _refs(spec: RuleSpec) -> list[str]:
    if spec.frequency is not None:
        return [spec.frequency.of]
    if spec.sequence is not None:
        return [spec.sequence.first, spec.sequence.then]
    if spec.first_seen is not None:
        return [spec.first_seen.of]
    return []


def _to_match(spec: RuleSpec, fields: dict[str, str], lines: tuple[str, ...] = ()) -> LogMatch:
    return LogMatch(
        engine="shieldwall",
        rule_id=spec.id,
        level=spec.level,
        description=spec.description,
        groups=tuple(spec.groups),
        fields=dict(fields),
        correlated_lines=lines,
        mitre=tuple(spec.mitre),
    )


def rules_from_data(data: Any) -> list[RuleSpec]:
    """Validate already-parsed YAML/JSON data (from a policy)."""
    try:
        return RuleFile.model_validate(data).rules
    except ValidationError as exc:
        raise ValueError(str(exc)) from exc
