"""Secret rules: the data model, the strict loader, and the bundled rule set.

A rule is data (YAML under ``shieldwall/data/secrets/``): an ID, a title, a
severity, keywords (case-insensitive literals, at least one of which must
occur near a match: they feed the one-pass prefilter), a Python regular
expression, an optional entropy floor for the secret, an optional secret
group, and examples of lines that must and must not match. Everything is
validated when loaded; a bad rule is a ``ConfigError`` naming the file and
the rule, never a silent skip.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shieldwall.errors import ConfigError
from shieldwall.model import Severity

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,80}$")
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
DATA_PACKAGE = "shieldwall.data.secrets"


class RuleTests(BaseModel):
    """Lines a rule must and must not flag."""

    model_config = ConfigDict(extra="forbid")

    match: list[str] = Field(default_factory=list)
    no_match: list[str] = Field(default_factory=list)


class RuleSpec(BaseModel):
    """The on-disk form of one rule (validated, then frozen into ``Rule``)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    severity: Severity = Severity.HIGH
    keywords: list[str] = Field(min_length=1)
    regex: str
    secret_group: int | None = Field(default=None, ge=-1)
    entropy: float | None = Field(default=None, ge=0.0, le=8.0)
    multiline: bool = False
    binary: bool = False
    generic: bool = False
    random: bool = False
    min_length: int = Field(default=0, ge=0)
    allow: list[str] = Field(default_factory=list)
    allow_match: list[str] = Field(default_factory=list)
    stopwords: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    tests: RuleTests = Field(default_factory=RuleTests)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"rule id {value!r} must be lower-case letters, digits, '.', '_' or '-'")
        return value

    @field_validator("keywords")
    @classmethod
    def _keywords_shape(cls, value: list[str]) -> list[str]:
        out = []
        for word in value:
            word = word.lower()
            if len(word) < 2:
                raise ValueError(f"keyword {word!r} is shorter than 2 characters")
            if not word.isascii():
                raise ValueError(f"keyword {word!r} is not ASCII")
            out.append(word)
        return list(dict.fromkeys(out))

    @model_validator(mode="after")
    def _regexes_compile(self) -> RuleSpec:
        try:
            compiled = re.compile(self.regex.encode())
        except (re.error, UnicodeEncodeError) as exc:
            raise ValueError(f"regex does not compile: {exc}") from exc
        if self.secret_group is not None and self.secret_group > compiled.groups:
            raise ValueError(f"secret_group {self.secret_group} but the regex has {compiled.groups} group(s)")
        for pattern in [*self.allow, *self.allow_match, *self.paths]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"allow/paths regex {pattern!r} does not compile: {exc}") from exc
        return self


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """A validated, compiled secret rule (identity is the object: rules are built once).

    ``secret_group`` -1 means "the first capture group that matched" (gitleaks' convention).
    """

    id: str
    title: str
    severity: Severity
    keywords: tuple[str, ...]
    regex: str
    pattern: re.Pattern[bytes] = field(repr=False)
    secret_group: int = 0
    entropy: float | None = None
    multiline: bool = False
    binary: bool = False
    generic: bool = False
    random: bool = False
    min_length: int = 0
    allow: tuple[re.Pattern[str], ...] = field(default=(), repr=False)
    allow_match: tuple[re.Pattern[bytes], ...] = field(default=(), repr=False)
    stopwords: tuple[bytes, ...] = ()
    paths: tuple[re.Pattern[str], ...] = field(default=(), repr=False)
    references: tuple[str, ...] = ()
    match_examples: tuple[str, ...] = field(default=(), repr=False)
    no_match_examples: tuple[str, ...] = field(default=(), repr=False)
    source: str = ""

    def applies_to(self, path: str) -> bool:
        """True when the rule has no path restriction or ``path`` matches one."""
        return not self.paths or any(p.search(path) for p in self.paths)


def compile_rule(spec: RuleSpec, source: str = "") -> Rule:
    """Freeze a validated spec into a ``Rule`` with compiled patterns."""
    pattern = re.compile(spec.regex.encode())
    group = spec.secret_group if spec.secret_group is not None else (1 if pattern.groups else 0)
    return Rule(
        id=spec.id,
        title=spec.title,
        severity=spec.severity,
        keywords=tuple(spec.keywords),
        regex=spec.regex,
        pattern=pattern,
        secret_group=group,
        entropy=spec.entropy,
        multiline=spec.multiline,
        binary=spec.binary,
        generic=spec.generic,
        random=spec.random,
        min_length=spec.min_length,
        allow=tuple(re.compile(p) for p in spec.allow),
        allow_match=tuple(re.compile(p.encode()) for p in spec.allow_match),
        stopwords=tuple(w.lower().encode() for w in spec.stopwords),
        paths=tuple(re.compile(p) for p in spec.paths),
        references=tuple(spec.references),
        match_examples=tuple(spec.tests.match),
        no_match_examples=tuple(spec.tests.no_match),
        source=source,
    )


def _error_text(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else str(err["msg"]))
    return "; ".join(parts)


def parse_rules(raw: Any, source: str) -> list[Rule]:
    """Validate a list of rule mappings (from YAML or a config file) into rules."""
    if isinstance(raw, dict) and "rules" in raw:
        raw = raw["rules"]
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: expected a list of rules")
    rules: list[Rule] = []
    for position, item in enumerate(raw):
        name = item.get("id", f"#{position}") if isinstance(item, dict) else f"#{position}"
        try:
            spec = RuleSpec.model_validate(item)
        except ValidationError as exc:
            raise ConfigError(f"{source}: rule {name}: {_error_text(exc)}") from None
        rules.append(compile_rule(spec, source))
    return rules


def check_unique(rules: Iterable[Rule]) -> None:
    """Refuse two rules with the same ID (a later one would silently shadow the first)."""
    seen: dict[str, str] = {}
    for rule in rules:
        if rule.id in seen:
            raise ConfigError(f"duplicate secret rule id {rule.id!r} ({seen[rule.id]} and {rule.source})")
        seen[rule.id] = rule.source


@lru_cache(maxsize=1)
def builtin_rules() -> tuple[Rule, ...]:
    """Every bundled rule, from the ``rules-*.yaml`` files of ``shieldwall.data.secrets``."""
    rules: list[Rule] = []
    folder = resources.files(DATA_PACKAGE)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith("rules-") and entry.name.endswith(".yaml"):
            raw = yaml.load(entry.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
            rules.extend(parse_rules(raw, entry.name))
    check_unique(rules)
    return tuple(rules)


@dataclass(frozen=True, slots=True)
class Allowlist:
    """What is never a finding: paths, secret regexes, stop-words, documented example values."""

    paths: tuple[re.Pattern[str], ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()
    stopwords: tuple[str, ...] = ()
    examples: frozenset[str] = frozenset()

    def merged(self, other: Allowlist) -> Allowlist:
        """Both allowlists together."""
        return Allowlist(
            self.paths + other.paths,
            self.regexes + other.regexes,
            tuple(dict.fromkeys(self.stopwords + other.stopwords)),
            self.examples | other.examples,
        )

    def path_allowed(self, path: str) -> bool:
        """True when ``path`` is never scanned for secrets."""
        return any(p.search(path) for p in self.paths)


class AllowlistSpec(BaseModel):
    """The on-disk form of an allowlist."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(default_factory=list)
    regexes: list[str] = Field(default_factory=list)
    stopwords: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)


def compile_allowlist(spec: AllowlistSpec, source: str) -> Allowlist:
    """Compile an allowlist spec, naming the bad pattern on error."""
    compiled: dict[str, list[re.Pattern[str]]] = {"paths": [], "regexes": []}
    for key in ("paths", "regexes"):
        for pattern in getattr(spec, key):
            try:
                compiled[key].append(re.compile(pattern))
            except re.error as exc:
                raise ConfigError(f"{source}: allowlist {key} pattern {pattern!r}: {exc}") from None
    return Allowlist(
        tuple(compiled["paths"]),
        tuple(compiled["regexes"]),
        tuple(w.lower() for w in spec.stopwords),
        frozenset(spec.examples),
    )


@lru_cache(maxsize=1)
def builtin_allowlist() -> Allowlist:
    """The bundled global allowlist (``allowlist.yaml``)."""
    text = resources.files(DATA_PACKAGE).joinpath("allowlist.yaml").read_text(encoding="utf-8")
    try:
        spec = AllowlistSpec.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        raise ConfigError(f"allowlist.yaml: {_error_text(exc)}") from None
    return compile_allowlist(spec, "allowlist.yaml")


def ruleset_digest(rules: Sequence[Rule], allowlist: Allowlist) -> str:
    """A digest of everything that decides findings: part of the analyzer's cache version."""
    material = json.dumps(
        [
            [
                (
                    r.id,
                    r.regex,
                    r.secret_group,
                    r.entropy,
                    r.multiline,
                    r.binary,
                    r.generic,
                    r.random,
                    r.min_length,
                    str(r.severity),
                    r.keywords,
                    [p.pattern for p in r.allow],
                    [p.pattern.decode() for p in r.allow_match],
                    [w.decode() for w in r.stopwords],
                    [p.pattern for p in r.paths],
                )
                for r in rules
            ],
            [p.pattern for p in allowlist.paths],
            [p.pattern for p in allowlist.regexes],
            list(allowlist.stopwords),
            sorted(allowlist.examples),
        ],
        default=str,
    )
    return hashlib.sha256(material.encode()).hexdigest()
