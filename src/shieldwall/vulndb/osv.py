"""OSV records (JSON or YAML) to ``Advisory`` values.

Lenient about what the schema makes optional (a record with only an ``id``
is a valid, if useless, advisory; unknown range types and unknown fields are
ignored), strict about structure: a field that must be a list or a mapping
and is not, or a missing ``id``, raises ``CorruptInputError`` naming the file.

YAML is read with a loader that keeps every scalar a string: PyYAML's
default resolvers would turn ``1.10`` into the float ``1.1`` and timestamps
into ``datetime`` objects, silently corrupting versions and dates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from shieldwall.errors import CorruptInputError, FileTooLargeError
from shieldwall.vulndb.model import Advisory, Affected, RangeEvent, RangeType, Severity, VersionRange

MAX_RECORD_BYTES = 32 * 1024 * 1024
"""Largest single OSV file accepted (the biggest real records, Linux kernel ones, are a few MiB)."""

_NULL_TAG = "tag:yaml.org,2002:null"
_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StringLoader(_BaseLoader):  # type: ignore[misc]
    """A safe YAML loader that resolves no implicit types but null: every other scalar stays a string."""


StringLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag == _NULL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_RANGE_TYPES = {t.value: t for t in RangeType}
_EVENT_KEYS = ("introduced", "fixed", "last_affected", "limit")


def load_yaml_strings(text: str | bytes) -> Any:
    """Parse YAML safely into plain dicts, lists, strings and None (``StringLoader`` resolution).

    The C composer builds the node graph; a small walk turns it into data,
    about twice as fast as PyYAML's generic constructor. Tags are never
    acted on (an explicit ``!!python/...`` tag yields plain data, not an
    object), and aliases are refused: no OSV or secdb file uses them, and
    they are how a small YAML document expands into a huge one.
    """
    loader = StringLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is None:
        return None
    try:
        return _node_data(node, set())
    except RecursionError:
        raise yaml.YAMLError("document nested too deeply") from None


def _node_data(node: yaml.Node, seen: set[int]) -> Any:
    if id(node) in seen:
        raise yaml.YAMLError("YAML aliases are not accepted in advisory files")
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        return None if node.tag == _NULL_TAG else node.value
    if isinstance(node, yaml.SequenceNode):
        return [_node_data(item, seen) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _node_data(key_node, seen)
            if not isinstance(key, str | None):
                raise yaml.YAMLError("mapping keys must be scalars")
            out[key] = _node_data(value_node, seen)
        return out
    raise yaml.YAMLError(f"unexpected YAML node {type(node).__name__}")


class _Malformed(ValueError):
    """A structural problem in one record; turned into ``CorruptInputError`` with the file name."""


def _text(value: object, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise _Malformed(f"{field} must be a string, not {type(value).__name__}")


def _list(value: object, field: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise _Malformed(f"{field} must be a list, not {type(value).__name__}")


def _mapping(value: object, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    raise _Malformed(f"{field} must be a mapping, not {type(value).__name__}")


def _strings(value: object, field: str) -> tuple[str, ...]:
    out = []
    for item in _list(value, field):
        text = _text(item, f"{field}[]")
        if text:
            out.append(text)
    return tuple(out)


def _compact(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _severities(value: object, field: str) -> tuple[Severity, ...]:
    out = []
    for item in _list(value, field):
        entry = _mapping(item, f"{field}[]")
        kind, score = _text(entry.get("type"), f"{field}.type"), _text(entry.get("score"), f"{field}.score")
        if kind and score:
            out.append(Severity(kind, score))
    return tuple(out)


def _events(value: object, field: str) -> tuple[RangeEvent, ...]:
    out = []
    for item in _list(value, field):
        event = _mapping(item, f"{field}[]")
        for key in _EVENT_KEYS:
            if key in event:
                text = _text(event[key], f"{field}.{key}")
                if text:
                    out.append(RangeEvent(**{key: text}))
                break
    return tuple(out)


def _ranges(value: object) -> tuple[VersionRange, ...]:
    out = []
    for item in _list(value, "affected.ranges"):
        entry = _mapping(item, "affected.ranges[]")
        kind = _RANGE_TYPES.get(_text(entry.get("type"), "ranges.type").upper())
        if kind is None:
            continue  # a range type this version of the schema does not know: ignored, never guessed
        events = _events(entry.get("events"), "ranges.events")
        out.append(VersionRange(kind, events, _text(entry.get("repo"), "ranges.repo")))
    return tuple(out)


def _specific(value: object, field: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (str(k), _compact(v)) for k, v in sorted(_mapping(value, field).items()) if v not in (None, "", {}, [])
    )


def _affected(item: object) -> Affected:
    entry = _mapping(item, "affected[]")
    package = _mapping(entry.get("package"), "affected.package")
    return Affected(
        ecosystem=_text(package.get("ecosystem"), "package.ecosystem"),
        name=_text(package.get("name"), "package.name"),
        ranges=_ranges(entry.get("ranges")),
        versions=_strings(entry.get("versions"), "affected.versions"),
        purl=_text(package.get("purl"), "package.purl"),
        severity=_severities(entry.get("severity"), "affected.severity"),
        ecosystem_specific=_specific(entry.get("ecosystem_specific"), "affected.ecosystem_specific"),
    )


def _references(value: object) -> tuple[str, ...]:
    out = []
    for item in _list(value, "references"):
        if isinstance(item, str):
            url = item.strip()
        else:
            url = _text(_mapping(item, "references[]").get("url"), "references.url")
        if url:
            out.append(url)
    return tuple(out)


def parse_osv(doc: Mapping[str, Any], *, source: str = "") -> Advisory:
    """Convert one OSV record (already parsed from JSON or YAML) to an ``Advisory``.

    Raises ``CorruptInputError`` when the record's structure is wrong; the
    message names the record's ``id`` (and ``source`` when given).
    """
    try:
        return _parse(doc, source)
    except _Malformed as exc:
        ident = doc.get("id") if isinstance(doc, Mapping) else None
        where = " ".join(part for part in (source, str(ident) if isinstance(ident, str) else "") if part)
        raise CorruptInputError(f"malformed OSV record{' ' + where if where else ''}: {exc}") from None


def _parse(doc: object, source: str) -> Advisory:
    if not isinstance(doc, Mapping):
        raise _Malformed(f"an OSV record must be a mapping, not {type(doc).__name__}")
    record: Mapping[str, Any] = doc
    ident = _text(record.get("id"), "id")
    if not ident:
        raise _Malformed("missing id")
    db_specific = _mapping(record.get("database_specific"), "database_specific")
    extra: list[tuple[str, str]] = []
    for key in ("schema_version",):
        if record.get(key):
            extra.append((key, _text(record.get(key), key)))
    for key in ("url", "informational", "cwe_ids", "review_status"):
        if db_specific.get(key) not in (None, "", []):
            extra.append((key, _compact(db_specific[key])))
    return Advisory(
        id=ident,
        modified=_text(record.get("modified"), "modified"),
        published=_text(record.get("published"), "published"),
        withdrawn=_text(record.get("withdrawn"), "withdrawn"),
        aliases=_strings(record.get("aliases"), "aliases"),
        related=_strings(record.get("related"), "related"),
        summary=_text(record.get("summary"), "summary"),
        details=_text(record.get("details"), "details"),
        severity=_severities(record.get("severity"), "severity"),
        affected=tuple(_affected(item) for item in _list(record.get("affected"), "affected")),
        references=_references(record.get("references")),
        source=source,
        database_specific_severity=_text(db_specific.get("severity"), "database_specific.severity")
        if not isinstance(db_specific.get("severity"), Mapping | list)
        else "",
        extra=tuple(extra),
    )


def parse_osv_bytes(data: bytes, name: str, *, source: str = "") -> list[Advisory]:
    """Parse the bytes of one OSV file (JSON when ``name`` ends in ``.json``, else YAML).

    The file may hold one record, a list of records, or ``{"vulns": [...]}``
    as the OSV API returns. Raises ``CorruptInputError`` naming ``name``.
    """
    if len(data) > MAX_RECORD_BYTES:
        raise FileTooLargeError(f"{name}: {len(data)} bytes is above the {MAX_RECORD_BYTES}-byte limit for a record")
    try:
        doc = json.loads(data) if name.lower().endswith(".json") else load_yaml_strings(data)
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        raise CorruptInputError(f"{name}: not valid {'JSON' if name.endswith('.json') else 'YAML'}: {exc}") from None
    if isinstance(doc, Mapping) and "id" not in doc and isinstance(doc.get("vulns"), list):
        doc = doc["vulns"]
    records = doc if isinstance(doc, list) else [doc]
    out = []
    for record in records:
        if not isinstance(record, Mapping):
            raise CorruptInputError(f"{name}: an OSV record must be a mapping, not {type(record).__name__}")
        try:
            out.append(_parse(record, source))
        except _Malformed as exc:
            raise CorruptInputError(f"{name}: malformed OSV record: {exc}") from None
    return out


def load_osv_path(path: Path) -> list[Advisory]:
    """Read one OSV JSON or YAML file; raises ``CorruptInputError`` naming the file when it is malformed."""
    try:
        size = path.stat().st_size
        if size > MAX_RECORD_BYTES:
            raise FileTooLargeError(f"{path}: {size} bytes is above the {MAX_RECORD_BYTES}-byte limit for a record")
        data = path.read_bytes()
    except OSError as exc:
        raise CorruptInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_osv_bytes(data, str(path))
