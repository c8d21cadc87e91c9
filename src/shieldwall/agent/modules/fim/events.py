"""Turn one change into one ``AgentEvent`` (``fim.added|modified|deleted|attributes_changed``).

The event carries the rule, the old and new watched attributes, the names of
the attributes that changed, a unified diff of the masked text when the rule
asks for one and both sides are small text, how the change was seen
(``scheduled``, ``realtime``, ``rescan``) and, only when Linux audit recorded
it, who made it. The raw text is never in an event: only masked text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from shieldwall.agent.events import MAX_ATTRIBUTES_BYTES, AgentEvent
from shieldwall.agent.modules.fim.compare import Change, ChangeKind
from shieldwall.agent.modules.fim.textdiff import unified
from shieldwall.model.finding import Severity

MODULE = "fim"
KINDS: tuple[str, ...] = tuple(f"fim.{k.value}" for k in ChangeKind)
"""Every file event kind this module emits."""


def _texts(change: Change, old_full: Mapping[str, Any] | None, new_full: Mapping[str, Any] | None) -> str | None:
    if not change.rule.diff or change.kind is ChangeKind.ATTRIBUTES_CHANGED:
        return None
    old = None if old_full is None else old_full.get("text")
    new = None if new_full is None else new_full.get("text")
    if (old is None and old_full is not None) or (new is None and new_full is not None):
        return None  # one side is binary or too large: no diff
    if old is None and new is None:
        return None
    return unified(old, new, change.path)


def build_event(
    change: Change,
    old_full: Mapping[str, Any] | None,
    new_full: Mapping[str, Any] | None,
    *,
    seen_by: str,
    who: Mapping[str, Any] | None = None,
    observed_at: dt.datetime | None = None,
) -> AgentEvent:
    """The event for ``change`` (``old_full``/``new_full`` are the full baseline rows, for the diff)."""
    kind = f"fim.{change.kind.value}"
    attributes: dict[str, Any] = {
        "path": change.path,
        "rule": change.rule.path,
        "old": change.old,
        "new": change.new,
        "changed": list(change.changed),
        "seen_by": seen_by,
    }
    diff = _texts(change, old_full, new_full)
    if diff:
        attributes["diff"] = diff
    if who:
        attributes["who"] = dict(who)
    _fit(attributes)
    what = f" ({', '.join(change.changed)})" if change.changed else ""
    event = AgentEvent(
        module=MODULE,
        kind=kind,
        severity=Severity(change.rule.severity),
        summary=f"{change.kind.value.replace('_', ' ')}: {change.path}{what}",
        attributes=attributes,
        observed_at=observed_at or dt.datetime.now(dt.UTC),
    )
    return event.with_key()


def _fit(attributes: dict[str, Any]) -> None:
    """Keep the serialised attributes under the manager's limit: drop the diff first, then xattr details."""
    import json

    def size() -> int:
        return len(json.dumps(attributes, default=str).encode())

    if size() <= MAX_ATTRIBUTES_BYTES:
        return
    if "diff" in attributes:
        attributes["diff"] = attributes["diff"][: MAX_ATTRIBUTES_BYTES // 2] + "\n... diff cut to fit the event\n"
        if size() <= MAX_ATTRIBUTES_BYTES:
            return
        del attributes["diff"]
        attributes["diff_omitted"] = "too large for one event"
    for side in ("old", "new"):
        if isinstance(attributes.get(side), dict) and "xattrs" in attributes[side]:
            attributes[side] = {**attributes[side], "xattrs": {"omitted": str(len(attributes[side]["xattrs"]))}}
