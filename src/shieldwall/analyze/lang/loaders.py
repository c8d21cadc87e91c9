"""Loaders for lock files beyond JSON: TOML and YAML, plus small value helpers.

Sizes and JSON are handled by ``_bounded``; this module adds the formats the
Python and JavaScript lock files use. Every loader turns a syntax error into
``AnalyzerError`` with a one-line message, so a hostile or broken file costs
one warning and the rest of the scan goes on.
"""

from __future__ import annotations

import tomllib
from typing import Any

import yaml

from shieldwall.analyze.base import AnalysisInput, AnalyzerError
from shieldwall.analyze.lang._bounded import MiB, load_json

MAX_LOCK_BYTES = 64 * MiB
MAX_MANIFEST_BYTES = 16 * MiB

# The base loader resolves no tags: every scalar stays a string, so a version
# such as ``1.10`` is not turned into the float ``1.1`` and nothing is constructed.
# The C variant is an order of magnitude faster on large lock files.
try:
    _YamlLoader: type[Any] = yaml.CBaseLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _YamlLoader = yaml.BaseLoader


def decode(data: bytes) -> str:
    """UTF-8 text without a byte-order mark; undecodable bytes replaced."""
    return data.decode("utf-8-sig", errors="replace")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_json_object(input: AnalysisInput, limit: int) -> dict[str, Any]:
    """A bounded JSON file that must hold an object at the top level."""
    value = load_json(input, limit, input.path)
    if not isinstance(value, dict):
        raise AnalyzerError(f"{input.path}: expected a JSON object, found {type(value).__name__}")
    return value


def load_toml(data: bytes, what: str) -> dict[str, Any]:
    """Parse TOML with the standard library's ``tomllib``."""
    try:
        return tomllib.loads(decode(data))
    except (ValueError, RecursionError) as exc:
        raise AnalyzerError(f"{what}: malformed TOML: {_one_line(exc)}") from None


def _reject_shared_containers(root: Any, what: str) -> None:
    """Refuse documents whose YAML aliases make one container appear twice.

    Lock files never use anchors; an alias-heavy document is a classic way to
    make a walker do quadratic (or exponential) work, so it is refused outright.
    """
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list):
            if id(node) in seen:
                raise AnalyzerError(f"{what}: YAML aliases are not expected in a lock file")
            seen.add(id(node))
            stack.extend(node.values() if isinstance(node, dict) else node)


def load_yaml(data: bytes, what: str) -> Any:
    """Parse YAML with every scalar kept as a string; no construction, no shared aliased containers."""
    try:
        value = yaml.load(decode(data), Loader=_YamlLoader)  # noqa: S506 - the base loader constructs nothing
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise AnalyzerError(f"{what}: malformed YAML: {_one_line(exc)}") from None
    _reject_shared_containers(value, what)
    return value


def is_true(value: object) -> bool:
    """True for a JSON/TOML ``true`` or a YAML scalar read as the string ``"true"``."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def str_or_empty(value: object) -> str:
    """``value`` stripped when it is a string (or a bare TOML number), else ``""``."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, str | int | float):
        return str(value).strip()
    return ""
