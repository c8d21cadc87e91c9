"""YAML documents that remember where each key was written.

Configuration, policy and exception files are read through ``load_yaml``:
the plain data comes back together with a map from each key path to its
line, so a validation error can say ``shieldwall.yaml:12: fail_on: ...``.
Aliases and anchors are refused (a billion-laughs document cannot expand),
duplicate keys are an error (the second would silently win), and the file
size is bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shieldwall.errors import ConfigError

MAX_YAML_BYTES = 1 << 20
"""Configuration files larger than this are refused."""

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """The data of one YAML file and the line (1-based) of every key and item."""

    data: Any
    source: str
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def where(self, path: Sequence[str | int]) -> str:
        """``file:line`` of ``path`` (just the file when no line is known)."""
        line = self.line_of(path)
        return f"{self.source}:{line}" if line else self.source


def load_yaml_file(path: Path, *, display: str | None = None) -> YamlDocument:
    """Read and parse ``path``; a missing, huge or malformed file is a ``ConfigError``."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(f"{name}: file is {size} bytes, more than the {MAX_YAML_BYTES} allowed")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{name}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot read: {exc}") from None
    return load_yaml(text, name)


def load_yaml(text: str, source: str) -> YamlDocument:
    """Parse ``text`` (one document) keeping the line of each key; an empty document is ``None`` data."""
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(f"{source}: document larger than {MAX_YAML_BYTES} bytes")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        where = f"{source}:{line}" if line else source
        raise ConfigError(f"{where}: invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    lines: dict[KeyPath, int] = {}
    if node is None:
        return YamlDocument(None, source, lines)
    lines[()] = node.start_mark.line + 1
    data = _convert(node, (), lines, source, set())
    return YamlDocument(data, source, lines)


def _convert(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], source: str, seen: set[int]) -> Any:
    if id(node) in seen:
        raise ConfigError(f"{source}:{node.start_mark.line + 1}: YAML aliases are not allowed")
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{source}:{key_node.start_mark.line + 1}: mapping keys must be plain scalars")
            key = str(key_node.value)
            if key == "<<":
                raise ConfigError(f"{source}:{key_node.start_mark.line + 1}: YAML merge keys are not allowed")
            if key in out:
                raise ConfigError(f"{source}:{key_node.start_mark.line + 1}: duplicate key {key!r}")
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, (*path, key), lines, source, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        items: list[Any] = []
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            items.append(_convert(item, (*path, index), lines, source, seen))
        return items
    constructor = yaml.SafeLoader("")
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}:{node.start_mark.line + 1}: invalid value: {exc}") from None
    finally:
        constructor.dispose()
