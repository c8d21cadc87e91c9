"""Custom checks written in YAML, with a small condition language over the parsed document.

A file holds one check, or a list of them under ``checks:``::

    checks:
      - id: ACME-K8S-001                # stable ID: upper case, dash-separated
        title: Deployments carry a team label
        severity: MEDIUM                 # LOW, MEDIUM, HIGH, CRITICAL
        input: kubernetes                # dockerfile, kubernetes, compose, image-config, ...
        kinds: [Deployment, StatefulSet] # optional: resource kinds of that input
        description: Every workload names the team that owns it.
        remediation: Add metadata.labels.team.
        controls: [acme-policy:7.1]      # optional
        references: [https://wiki.example/labels]
        message: workload has no team label   # optional; defaults to the title
        condition:                       # TRUE means misconfigured: the check fires
          not:
            path: metadata.labels.team
            exists: true

Conditions:

- ``all: [c, ...]``, ``any: [c, ...]``, ``not: c``.
- A leaf names a ``path`` and one operator: ``eq``, ``ne``, ``in`` (a list),
  ``regex`` (Python ``re.search`` on the text of the value), ``exists``
  (true/false), ``gt``/``lt`` (numbers), or ``where`` (a condition evaluated
  with each selected value as the document, to test several fields of the
  same container or rule together).
- Paths are dotted keys; ``*`` selects every key of a mapping or item of a
  list; ``[n]`` one item, ``[*]`` every item; ``["a.b/c"]`` a key with dots
  or slashes. A path may select several values: by default the leaf holds when
  *any* selected value satisfies the operator (``match: all`` requires at
  least one value and every value to satisfy it). A path that selects
  nothing makes every operator false except ``exists: false``.

The check points at the lines of the values that made its condition true,
or at the whole resource when the condition holds through ``not``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shieldwall.analyze.base import AnalyzerError
from shieldwall.errors import ConfigError
from shieldwall.misconfig.check import CHECK_ID, Check, Hit, Resource
from shieldwall.misconfig.yamlload import YamlList, YamlMap, load_documents
from shieldwall.model import Severity

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
_OPERATORS = ("eq", "ne", "in", "regex", "exists", "gt", "lt", "where")
_SEGMENT = re.compile(r'\["([^"]*)"\]|\[(\*|\d+)\]|([^.\[\]]+)')

Span = tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class Selected:
    """A value a path selected, with its line range when known."""

    value: Any
    span: Span


def parse_path(path: str) -> list[str | int]:
    """``a.b[*].c["x.y"]`` -> ``["a", "b", "*", "c", "x.y"]`` (ints for indexes)."""
    out: list[str | int] = []
    position = 0
    text = path.strip()
    while position < len(text):
        if text[position] == ".":
            position += 1
            continue
        match = _SEGMENT.match(text, position)
        if match is None:
            raise ConfigError(f"bad path {path!r} at {position}")
        quoted, index, plain = match.groups()
        if quoted is not None:
            out.append(quoted)
        elif index is not None:
            out.append("*" if index == "*" else int(index))
        else:
            out.append(plain)
        position = match.end()
    if not out:
        raise ConfigError(f"empty path {path!r}")
    return out


def _span_of(container: Any, key: Any) -> Span:
    if isinstance(container, YamlMap):
        return container.lines_of(key)
    if isinstance(container, YamlList) and isinstance(key, int):
        return container.lines_of(key)
    return None


def select(document: Any, segments: list[str | int]) -> list[Selected]:
    """Every value ``segments`` reach from ``document``."""
    current = [Selected(document, None)]
    for segment in segments:
        following: list[Selected] = []
        for item in current:
            node = item.value
            if segment == "*":
                if isinstance(node, dict):
                    following.extend(Selected(v, _span_of(node, k)) for k, v in node.items())
                elif isinstance(node, list):
                    following.extend(Selected(v, _span_of(node, i)) for i, v in enumerate(node))
            elif isinstance(segment, int):
                if isinstance(node, list) and -len(node) <= segment < len(node):
                    following.append(Selected(node[segment], _span_of(node, segment)))
            elif isinstance(node, dict) and segment in node:
                following.append(Selected(node[segment], _span_of(node, segment)))
        current = following
    return current


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition: a tree of ``all``/``any``/``not`` and leaves."""

    op: str
    children: tuple[Condition, ...] = ()
    path: tuple[str | int, ...] = ()
    operand: Any = None
    match_all: bool = False

    def evaluate(self, document: Any, depth: int = 0) -> tuple[bool, list[Span]]:
        """Truth value and the line ranges of the values that made it true."""
        if depth > MAX_DEPTH:
            raise ConfigError("condition nested too deeply")
        if self.op == "all":
            spans: list[Span] = []
            for child in self.children:
                ok, child_spans = child.evaluate(document, depth + 1)
                if not ok:
                    return False, []
                spans.extend(child_spans)
            return True, spans
        if self.op == "any":
            for child in self.children:
                ok, child_spans = child.evaluate(document, depth + 1)
                if ok:
                    return True, child_spans
            return False, []
        if self.op == "not":
            ok, _ = self.children[0].evaluate(document, depth + 1)
            return (not ok), []
        return self._leaf(document, depth)

    def _leaf(self, document: Any, depth: int) -> tuple[bool, list[Span]]:
        selected = select(document, list(self.path))
        if self.op == "exists":
            return (bool(selected) == bool(self.operand)), [s.span for s in selected]
        if not selected:
            return False, []
        good = [s for s in selected if self._test(s.value, depth)]
        if self.match_all:
            return (len(good) == len(selected)), [s.span for s in good]
        return bool(good), [s.span for s in good[:1]]

    def _test(self, value: Any, depth: int) -> bool:
        op, operand = self.op, self.operand
        if op == "eq":
            return bool(value == operand)
        if op == "ne":
            return bool(value != operand)
        if op == "in":
            return value in operand if isinstance(value, str | int | float | bool) or value is None else False
        if op == "regex":
            return isinstance(value, str | int | float | bool) and operand.search(_text(value)) is not None
        if op in ("gt", "lt"):
            number = _number(value)
            if number is None:
                return False
            return bool(number > operand) if op == "gt" else bool(number < operand)
        if op == "where":
            return bool(operand.evaluate(value, depth + 1)[0])
        raise ConfigError(f"unknown operator {op!r}")


def compile_condition(raw: Any, where: str = "condition") -> Condition:
    """Validate and compile the YAML form of a condition; ``ConfigError`` names the bad part."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a condition is a mapping, got {type(raw).__name__}")
    for combinator in ("all", "any"):
        if combinator in raw:
            items = raw[combinator]
            if set(raw) != {combinator} or not isinstance(items, list) or not items:
                raise ConfigError(f"{where}: '{combinator}' takes a non-empty list and nothing else")
            children = tuple(compile_condition(c, f"{where}.{combinator}[{i}]") for i, c in enumerate(items))
            return Condition(combinator, children)
    if "not" in raw:
        if set(raw) != {"not"}:
            raise ConfigError(f"{where}: 'not' stands alone")
        return Condition("not", (compile_condition(raw["not"], f"{where}.not"),))
    if "path" not in raw:
        raise ConfigError(f"{where}: needs all/any/not or a path with an operator")
    ops = [k for k in raw if k in _OPERATORS]
    unknown = set(raw) - set(_OPERATORS) - {"path", "match"}
    if len(ops) != 1 or unknown:
        raise ConfigError(f"{where}: a leaf has exactly one operator of {', '.join(_OPERATORS)}")
    op = ops[0]
    operand = raw[op]
    if op == "regex":
        try:
            operand = re.compile(str(operand))
        except re.error as exc:
            raise ConfigError(f"{where}: bad regex: {exc}") from exc
    elif op == "in" and not isinstance(operand, list):
        raise ConfigError(f"{where}: 'in' takes a list")
    elif op in ("gt", "lt"):
        number = _number(operand)
        if number is None:
            raise ConfigError(f"{where}: '{op}' takes a number")
        operand = number
    elif op == "exists":
        operand = bool(operand)
    elif op == "where":
        operand = compile_condition(operand, f"{where}.where")
    match = raw.get("match", "any")
    if match not in ("any", "all"):
        raise ConfigError(f"{where}: match is 'any' or 'all'")
    return Condition(op, (), tuple(parse_path(str(raw["path"]))), operand, match == "all")


def _evaluator(condition: Condition, message: str) -> Any:
    def evaluate(resource: Resource) -> Iterator[Hit]:
        ok, spans = condition.evaluate(resource.plain)
        if not ok:
            return
        first = next((s for s in spans if s is not None), None)
        if first is None:
            yield Hit(message)
        else:
            yield Hit(message, first[0], first[1])

    return evaluate


def _check_from(raw: Any, source: str) -> Check:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a check is a mapping")
    missing = [k for k in ("id", "title", "severity", "input", "condition") if k not in raw]
    if missing:
        raise ConfigError(f"{source}: missing {', '.join(missing)}")
    check_id = str(raw["id"])
    if not CHECK_ID.match(check_id):
        raise ConfigError(f"{source}: check ID {check_id!r} is not like ACME-K8S-001")
    try:
        severity = Severity(str(raw["severity"]).upper())
    except ValueError:
        raise ConfigError(f"{source}: {check_id}: unknown severity {raw['severity']!r}") from None
    condition = compile_condition(raw["condition"], f"{source}: {check_id}: condition")
    title = str(raw["title"])
    kinds = raw.get("kinds") or []
    if isinstance(kinds, str):
        kinds = [kinds]
    return Check(
        id=check_id,
        title=title,
        severity=severity,
        input=str(raw["input"]),
        description=str(raw.get("description", title)),
        remediation=str(raw.get("remediation", "")),
        evaluate=_evaluator(condition, str(raw.get("message", title))),
        resource_kinds=frozenset(str(k) for k in kinds),
        controls=tuple(str(c) for c in raw.get("controls") or []),
        references=tuple(str(r) for r in raw.get("references") or []),
        source=source,
    )


def load_yaml_checks(path: Path) -> list[Check]:
    """Checks of one YAML file; ``ConfigError`` names the file and the problem."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: custom check file larger than {MAX_FILE_BYTES} bytes")
        documents = load_documents(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, AnalyzerError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read custom checks: {exc}") from exc
    checks: list[Check] = []
    for document in documents:
        if document is None:
            continue
        items = document.get("checks") if isinstance(document, dict) and "checks" in document else [document]
        if not isinstance(items, list):
            raise ConfigError(f"{path}: 'checks' is a list")
        checks.extend(_check_from(item, str(path)) for item in items)
    return checks


def load_directory(directory: Path) -> list[Check]:
    """Every ``*.yaml``/``*.yml`` check file directly under ``directory``, in name order."""
    if not directory.is_dir():
        raise ConfigError(f"{directory}: custom checks directory does not exist")
    checks: list[Check] = []
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() in (".yaml", ".yml") and path.is_file():
            checks.extend(load_yaml_checks(path))
    return checks
