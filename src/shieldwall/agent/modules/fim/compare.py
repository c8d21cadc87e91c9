"""A check is a diff against the baseline: added, deleted, modified or attributes changed, per path.

Only the attributes the path's rule watches are compared. ``modified`` means
the content changed (hash, size, link target or type); ``attributes_changed``
means only metadata did (mode, owner, group, inode, mtime, xattrs, and a
directory's size, which grows with its entries as AIDE also reports). A path
whose directory could not be read, or any path when the walk was truncated,
is never reported deleted: not seeing something is not evidence it is gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from shieldwall.agent.modules.fim.attributes import Attrs, changed, project
from shieldwall.agent.modules.fim.rules import CONTENT_ATTRIBUTES, Policy, Rule


class ChangeKind(StrEnum):
    """The four FIM event kinds (``fim.<value>``)."""

    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    ATTRIBUTES_CHANGED = "attributes_changed"


@dataclass(frozen=True, slots=True)
class Change:
    """One path's change with its old and new attributes (as the rule watches them)."""

    kind: ChangeKind
    path: str
    rule: Rule
    old: Attrs | None
    new: Attrs | None
    changed: tuple[str, ...] = ()


def classify(path: str, rule: Rule, old: Attrs | None, new: Attrs | None) -> Change | None:
    """The change between two observations of ``path``, or ``None`` when the watched attributes are equal."""
    if old is None and new is None:
        return None
    if old is None:
        return Change(ChangeKind.ADDED, path, rule, None, project(new or {}, rule.attributes))
    if new is None:
        return Change(ChangeKind.DELETED, path, rule, project(old, rule.attributes), None)
    diff = changed(old, new, rule.attributes)
    if not diff:
        return None
    content = CONTENT_ATTRIBUTES - {"size"} if new.get("type") == "d" == old.get("type") else CONTENT_ATTRIBUTES
    kind = ChangeKind.MODIFIED if content & set(diff) else ChangeKind.ATTRIBUTES_CHANGED
    return Change(kind, path, rule, project(old, rule.attributes), project(new, rule.attributes), tuple(diff))


def compare(
    policy: Policy,
    baseline: Mapping[str, Attrs],
    current: Mapping[str, Attrs],
    rules: Mapping[str, Rule],
    unseen: frozenset[str] = frozenset(),
    truncated: bool = False,
) -> list[Change]:
    """Every change from ``baseline`` to ``current``; paths under ``unseen`` (and all, if truncated) never deleted."""
    changes: list[Change] = []
    for path, new in current.items():
        found = classify(path, rules[path], baseline.get(path), new)
        if found is not None:
            changes.append(found)
    if truncated:
        return changes
    for path, old in baseline.items():
        if path in current or _under_any(path, unseen):
            continue
        rule = policy.rule_for(path)
        if rule is not None:
            changes.append(Change(ChangeKind.DELETED, path, rule, project(old, rule.attributes), None))
    return changes


def _under_any(path: str, prefixes: frozenset[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)
