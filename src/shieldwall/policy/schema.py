"""The policy YAML (``policy:`` in shieldwall.yaml or a file of its own), validated and compiled.

A policy says when the gate fails::

    name: release-gate
    fail_when:
      any:
        - severity: critical                 # any kind, at or above
        - {severity: high, fixable: true}    # every key of one entry must hold
        - kev: true
        - epss_above: 0.5
        - secret: true                       # any secret
        - malware: true
        - misconfig: high                    # misconfiguration at or above HIGH
        - license: [GPL-*, AGPL-*]
    overrides:
      - target: "*legacy*"                   # glob on the target name or reference
        fail_when: {secret: true}

Conditions are predicates over one active finding, combined with ``all``,
``any`` and ``not``; the gate fails when some active finding matches. A
policy without any condition is an error, never a pass.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shieldwall.config.yamlsource import YamlDocument, load_yaml_file
from shieldwall.errors import ConfigError
from shieldwall.model import FindingKind, Severity
from shieldwall.policy.model import AllOf, AnyOf, Condition, NotOf, Override, Policy, Predicate

_MAX_DEPTH = 16


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class ConditionDoc(BaseModel):
    """One node of ``fail_when``; keys given together must all hold."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: str | None = None
    severity: Severity | None = None
    fixable: bool | None = None
    kev: bool | None = None
    epss_above: float | None = Field(default=None, ge=0.0, le=1.0)
    kind: tuple[FindingKind, ...] | None = None
    secret: bool | None = None
    malware: bool | None = None
    misconfig: Severity | None = None
    vulnerability: Severity | None = None
    license: tuple[str, ...] | None = None
    id: tuple[str, ...] | None = None
    all_: tuple[ConditionDoc, ...] | None = Field(default=None, alias="all")
    any_: tuple[ConditionDoc, ...] | None = Field(default=None, alias="any")
    not_: ConditionDoc | None = Field(default=None, alias="not")

    _upper_severity = field_validator("severity", "misconfig", "vulnerability", mode="before")(
        classmethod(lambda cls, v: _upper(v))
    )
    _lists = field_validator("kind", "license", "id", mode="before")(classmethod(lambda cls, v: _listify(v)))


class OverrideDoc(BaseModel):
    """``overrides[]``: a target glob and the conditions that replace ``fail_when`` for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field(min_length=1)
    fail_when: ConditionDoc


class PolicyDoc(BaseModel):
    """The whole policy document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "policy"
    description: str = ""
    fail_when: ConditionDoc | None = None
    overrides: tuple[OverrideDoc, ...] = ()


def compile_policy(data: Any, document: YamlDocument | None, prefix: tuple[str | int, ...] = ()) -> Policy:
    """Validate ``data`` (a policy mapping) and build the gate's ``Policy``; errors name file, line and key."""
    source = document.source if document else "policy"
    if not isinstance(data, dict):
        raise ConfigError(f"{_where(document, prefix)}: policy must be a mapping with fail_when")
    if not data:
        raise ConfigError(f"{_where(document, prefix)}: the policy is empty (an empty policy is an error, not a pass)")
    try:
        doc = PolicyDoc.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = (*prefix, *error["loc"])
            key = ".".join(str(p) for p in loc)
            message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{_where(document, loc)}: {key}: {message.removeprefix('Value error, ')}")
        raise ConfigError("invalid policy: " + "; ".join(problems)) from None
    if doc.fail_when is None:
        raise ConfigError(
            f"{_where(document, prefix)}: policy {doc.name!r} has no fail_when conditions"
            " (an empty policy is an error, not a pass)"
        )
    condition = _compile(doc.fail_when, document, (*prefix, "fail_when"), 0)
    overrides = tuple(
        Override(o.target, _compile(o.fail_when, document, (*prefix, "overrides", i, "fail_when"), 0))
        for i, o in enumerate(doc.overrides)
    )
    return Policy(name=doc.name, condition=condition, overrides=overrides, source=source)


def load_policy_file(path: Any) -> Policy:
    """Read a policy YAML file (the policy at top level or under ``policy:``)."""
    from pathlib import Path

    document = load_yaml_file(Path(path))
    data = document.data
    if isinstance(data, dict) and set(data) == {"policy"}:
        return compile_policy(data["policy"], document, ("policy",))
    if data is None:
        raise ConfigError(f"{document.source}: the policy file is empty (an empty policy is an error, not a pass)")
    return compile_policy(data, document)


def _where(document: YamlDocument | None, loc: tuple[str | int, ...]) -> str:
    return document.where(loc) if document else "policy"


def _compile(node: ConditionDoc, document: YamlDocument | None, loc: tuple[str | int, ...], depth: int) -> Condition:
    if depth > _MAX_DEPTH:
        raise ConfigError(f"{_where(document, loc)}: conditions nested deeper than {_MAX_DEPTH}")
    label = node.name or ""
    parts: list[Condition] = []
    kinds: set[FindingKind] = set(node.kind or ())
    severity = node.severity
    if node.secret:
        kinds.add(FindingKind.SECRET)
    if node.malware:
        kinds.add(FindingKind.MALWARE)
    for shorthand, kind in ((node.misconfig, FindingKind.MISCONFIG), (node.vulnerability, FindingKind.VULNERABILITY)):
        if shorthand is not None:
            parts.append(Predicate(kinds=frozenset({kind}), min_severity=shorthand))
    if node.license:
        kinds.add(FindingKind.LICENSE)
    has_leaf = bool(
        kinds
        or severity is not None
        or node.fixable is not None
        or node.kev is not None
        or node.epss_above is not None
        or node.license
        or node.id
    )
    if has_leaf:
        parts.append(
            Predicate(
                kinds=frozenset(kinds),
                min_severity=severity,
                fixable=node.fixable,
                kev=node.kev,
                epss_above=node.epss_above,
                licenses=node.license or (),
                ids=node.id or (),
            )
        )
    for key, children in (("all", node.all_), ("any", node.any_)):
        if children is None:
            continue
        if not children:
            raise ConfigError(f"{_where(document, (*loc, key))}: {key}: an empty list of conditions")
        compiled = tuple(_compile(c, document, (*loc, key, i), depth + 1) for i, c in enumerate(children))
        parts.append(AllOf(compiled) if key == "all" else AnyOf(compiled))
    if node.not_ is not None:
        parts.append(NotOf(_compile(node.not_, document, (*loc, "not"), depth + 1)))
    if not parts:
        raise ConfigError(f"{_where(document, loc)}: an empty condition (name at least one fact to fail on)")
    if len(parts) == 1:
        return _labelled(parts[0], label)
    return AllOf(tuple(parts), label)


def _labelled(condition: Condition, label: str) -> Condition:
    if not label:
        return condition
    if isinstance(condition, Predicate):
        return Predicate(
            condition.kinds,
            condition.min_severity,
            condition.fixable,
            condition.kev,
            condition.epss_above,
            condition.licenses,
            condition.ids,
            label,
        )
    if isinstance(condition, NotOf):
        return NotOf(condition.condition, label)
    return type(condition)(condition.conditions, label)
