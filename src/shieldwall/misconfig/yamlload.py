"""Safe YAML loading with line numbers, multi-document, and a guard against alias bombs.

Mappings load as ``YamlMap`` and sequences as ``YamlList``: plain ``dict``
and ``list`` subclasses that also know their 1-based start and end lines and
the lines of each key or item, so a check can point at ``privileged: true``
rather than at the whole document. Scalars are plain Python values.

Anchors and aliases are allowed (compose files use them) but a document whose
size with every alias expanded exceeds ``max_nodes`` is refused: that is the
"billion laughs" shape, harmless to load and ruinous to walk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from shieldwall.analyze.base import AnalyzerError

try:  # the C parser when libyaml is present; same results, faster
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Base = yaml.SafeLoader

MAX_NODES = 200_000


class YamlMap(dict[Any, Any]):
    """A mapping that remembers where it and each of its keys sit in the file."""

    __slots__ = ("end", "key_lines", "start")

    def __init__(self) -> None:
        super().__init__()
        self.start = 0
        self.end = 0
        self.key_lines: dict[Any, tuple[int, int]] = {}

    def lines_of(self, key: Any) -> tuple[int, int]:
        """Line range of ``key`` and its value, or of the mapping when the key is absent."""
        return self.key_lines.get(key, (self.start, self.end))


class YamlList(list[Any]):
    """A sequence that remembers where it and each item sit in the file."""

    __slots__ = ("end", "item_lines", "start")

    def __init__(self) -> None:
        super().__init__()
        self.start = 0
        self.end = 0
        self.item_lines: list[tuple[int, int]] = []

    def lines_of(self, index: int) -> tuple[int, int]:
        """Line range of item ``index``."""
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return (self.start, self.end)


def _span(node: yaml.Node) -> tuple[int, int]:
    start = node.start_mark.line + 1
    end_mark = node.end_mark
    # a block collection ends at the start of the next token: column 0 of the following line
    end = end_mark.line if end_mark.column == 0 and end_mark.line > node.start_mark.line else end_mark.line + 1
    return start, max(start, end)


class _Loader(_Base):  # type: ignore[misc]
    """SafeLoader that builds ``YamlMap``/``YamlList``."""


def _construct_map(loader: Any, node: yaml.MappingNode) -> Iterator[YamlMap]:
    data = YamlMap()
    data.start, data.end = _span(node)
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable mapping key", key_node.start_mark
            ) from exc
        data[key] = loader.construct_object(value_node, deep=True)
        key_line = key_node.start_mark.line + 1
        data.key_lines[key] = (key_line, max(key_line, _span(value_node)[1]))


def _construct_seq(loader: Any, node: yaml.SequenceNode) -> Iterator[YamlList]:
    data = YamlList()
    data.start, data.end = _span(node)
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.item_lines.append(_span(item))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
# timestamps stay strings: checks compare text, and datetime values do not round-trip to JSON
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_str)


class _Cyclic(Exception):
    pass


def _expanded_size(node: yaml.Node, limit: int) -> int:
    """Node count with aliases expanded, memoised on node identity, so linear in the file.

    Raises ``_Cyclic`` for a collection that contains itself (a walk would never end).
    """
    memo: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, done = stack.pop()
        key = id(current)
        children: list[yaml.Node] = []
        if isinstance(current, yaml.MappingNode):
            for k, v in current.value:
                children.extend((k, v))
        elif isinstance(current, yaml.SequenceNode):
            children.extend(current.value)
        if done:
            open_nodes.discard(key)
            total = 1 + sum(memo[id(c)] for c in children)
            memo[key] = total
            if total > limit:
                return total
            continue
        if key in memo:
            continue
        if key in open_nodes:
            raise _Cyclic
        open_nodes.add(key)
        stack.append((current, True))
        for child in children:
            if id(child) in open_nodes:
                raise _Cyclic
            if id(child) not in memo:
                stack.append((child, False))
    return memo[id(node)]


def load_documents(text: str, label: str, *, max_nodes: int = MAX_NODES) -> list[Any]:
    """Every document of ``text`` (``None`` for empty ones); malformed or hostile input -> ``AnalyzerError``."""
    loader = _Loader(text)
    documents: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            try:
                size = _expanded_size(node, max_nodes)
            except _Cyclic:
                raise AnalyzerError(f"{label}: YAML document refers to itself through an alias") from None
            if size > max_nodes:
                raise AnalyzerError(f"{label}: YAML expands to more than {max_nodes} nodes (alias bomb?)")
            documents.append(loader.construct_document(node))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise AnalyzerError(f"{label}: invalid YAML{where}: {problem}") from exc
    except RecursionError as exc:
        raise AnalyzerError(f"{label}: YAML nested too deeply") from exc
    finally:
        loader.dispose()
    return documents
