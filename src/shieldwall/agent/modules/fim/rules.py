"""The FIM policy section: rules (paths, globs, depth, attribute sets) and limits, validated at the edge.

A rule names a path (absolute, interpreted relative to the agent's root), how
deep to descend, which names to include or exclude (``fnmatch`` globs matched
against the path relative to the rule's path and against the base name), and
which attributes matter there. Attribute sets follow AIDE's rule groups: a
group name (``content``, ``perms``, ``full``, ``log``, ``dir``) or a list of
single attributes.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shieldwall.agent.module import PolicyError

ATTRIBUTES: tuple[str, ...] = (
    "type",
    "sha256",
    "size",
    "mode",
    "owner",
    "group",
    "inode",
    "mtime",
    "xattrs",
    "target",
)
"""Every attribute the collector can record (``owner``/``group`` are numeric uid/gid)."""

CONTENT_ATTRIBUTES = frozenset({"sha256", "size", "target", "type"})
"""A change in one of these is ``fim.modified``; a change in the others only is ``fim.attributes_changed``."""

GROUPS: Mapping[str, tuple[str, ...]] = {
    "full": ("type", "sha256", "size", "mode", "owner", "group", "inode", "mtime", "xattrs", "target"),
    "content": ("type", "sha256", "size", "target"),
    "perms": ("type", "mode", "owner", "group", "xattrs", "target"),
    "normal": ("type", "sha256", "size", "mode", "owner", "group", "inode", "xattrs", "target"),
    "log": ("type", "mode", "owner", "group", "inode", "target"),
    "dir": ("type", "mode", "owner", "group", "xattrs"),
}
"""AIDE-like rule groups: ``normal`` is AIDE's ``R`` without mtime, ``log`` is for growing files."""

MAX_RULES = 512
MAX_DEPTH = 64


class RuleSpec(BaseModel):
    """One rule as written in the policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    depth: int = Field(default=MAX_DEPTH, ge=0, le=MAX_DEPTH)
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    attributes: str | tuple[str, ...] = "normal"
    diff: bool = True
    severity: str = "MEDIUM"

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or "\x00" in value:
            raise ValueError("a rule path must be absolute (relative to the agent's root)")
        normal = posixpath.normpath(value)
        if normal.startswith("//"):
            normal = "/" + normal.lstrip("/")
        return normal

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        if value.upper() not in ("LOW", "MEDIUM", "HIGH", "CRITICAL"):
            raise ValueError("severity must be LOW, MEDIUM, HIGH or CRITICAL")
        return value.upper()


class LimitsSpec(BaseModel):
    """Bounds on work: files per scan, bytes hashed per file, bytes of text diffed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_files: int = Field(default=500_000, ge=1, le=10_000_000)
    max_hash_bytes: int = Field(default=1 << 30, ge=0)
    diff_max_bytes: int = Field(default=64 * 1024, ge=0, le=1 << 20)
    coalesce_seconds: float = Field(default=0.2, ge=0.0, le=30.0)
    max_watches: int = Field(default=100_000, ge=1)


class PolicySpec(BaseModel):
    """The whole ``fim`` policy section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    templates: tuple[str, ...] = ()
    rules: tuple[RuleSpec, ...] = ()
    scan_interval: float = Field(default=3600.0, ge=1.0)
    realtime: bool = True
    audit: bool = True
    system: bool = True
    limits: LimitsSpec = LimitsSpec()


@dataclass(frozen=True, slots=True)
class Rule:
    """A validated rule: the attributes it watches as a frozen set."""

    path: str
    depth: int
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    attributes: frozenset[str]
    diff: bool
    severity: str

    def selects(self, rel: str) -> bool:
        """Whether ``rel`` (a path relative to the rule's path, ``""`` for the path itself) is watched."""
        if rel == "":
            return True
        base = rel.rsplit("/", 1)[-1]
        if any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(base, g) for g in self.exclude):
            return False
        return any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(base, g) for g in self.include)

    def excludes_dir(self, rel: str) -> bool:
        """Whether a directory ``rel`` is pruned (an exclude glob names it)."""
        base = rel.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(base, g) for g in self.exclude)


@dataclass(frozen=True, slots=True)
class Policy:
    """The FIM policy the module runs."""

    rules: tuple[Rule, ...]
    scan_interval: float
    realtime: bool
    audit: bool
    system: bool
    limits: LimitsSpec
    ignore: tuple[str, ...] = ()
    """Paths never recorded nor entered (the agent's own state directory when it lies under the root)."""

    def ignored(self, path: str) -> bool:
        """Whether ``path`` is one of ``ignore`` or below one."""
        return any(relative_to(path, prefix) is not None for prefix in self.ignore)

    def rule_for(self, path: str) -> Rule | None:
        """The most specific rule covering ``path`` (longest rule path wins), or ``None``."""
        if self.ignore and self.ignored(path):
            return None
        best: Rule | None = None
        for rule in self.rules:
            rel = relative_to(path, rule.path)
            if rel is None or rel.count("/") + (1 if rel else 0) > rule.depth:
                continue
            if best is None or len(rule.path) > len(best.path):
                best = rule
        if best is None:
            return None
        rel = relative_to(path, best.path)
        return best if rel is not None and best.selects(rel) else None


def relative_to(path: str, base: str) -> str | None:
    """``path`` relative to ``base`` (``""`` when equal), or ``None`` when outside it."""
    if path == base:
        return ""
    prefix = base if base.endswith("/") else base + "/"
    return path[len(prefix) :] if path.startswith(prefix) else None


def _attributes(value: str | tuple[str, ...]) -> frozenset[str]:
    names = GROUPS.get(value) if isinstance(value, str) else None
    if isinstance(value, str) and names is None:
        raise PolicyError(f"fim: unknown attribute group {value!r} (known: {', '.join(GROUPS)})")
    chosen = set(names or value)
    unknown = chosen - set(ATTRIBUTES)
    if unknown:
        raise PolicyError(f"fim: unknown attributes {sorted(unknown)} (known: {', '.join(ATTRIBUTES)})")
    return frozenset(chosen | {"type"})


def parse_policy(section: Mapping[str, Any]) -> Policy:
    """Validate a ``fim`` section (templates expanded) into a ``Policy``; ``PolicyError`` on any problem."""
    from shieldwall.agent.modules.fim.templates import load_template

    try:
        spec = PolicySpec.model_validate(dict(section))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PolicyError(f"fim: {where}: {first['msg']} ({exc.error_count()} error(s))") from exc
    specs: list[RuleSpec] = []
    for name in spec.templates:
        specs.extend(load_template(name))
    specs.extend(spec.rules)
    if not specs:
        raise PolicyError("fim: the policy has no rules and no templates (an empty policy watches nothing)")
    if len(specs) > MAX_RULES:
        raise PolicyError(f"fim: {len(specs)} rules (at most {MAX_RULES})")
    by_path: dict[str, Rule] = {}
    for item in specs:  # a later rule for the same path replaces an earlier one (policy rules override templates)
        by_path[item.path] = Rule(
            path=item.path,
            depth=item.depth,
            include=item.include,
            exclude=item.exclude,
            attributes=_attributes(item.attributes),
            diff=item.diff,
            severity=item.severity,
        )
    return Policy(
        rules=tuple(by_path.values()),
        scan_interval=spec.scan_interval,
        realtime=spec.realtime,
        audit=spec.audit,
        system=spec.system,
        limits=spec.limits,
    )
