"""Differences between two inventories, as events (osquery's differential results, per section).

Each change is one event whose key is derived from the change itself and the
new inventory's hash, so re-emitting the same diff after a crash is recorded
once by the manager.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from shieldwall.agent.events import AgentEvent, event_key
from shieldwall.agent.modules.inventory.host import in_writable_dir
from shieldwall.model import Severity

MODULE = "inventory"
Row = Mapping[str, Any]


def _index(rows: Iterable[Row], key: Callable[[Row], Any]) -> dict[Any, Row]:
    return {key(r): r for r in rows}


def _event(kind: str, severity: Severity, summary: str, attributes: dict[str, Any], new_hash: str) -> AgentEvent:
    return AgentEvent(
        module=MODULE,
        kind=f"inventory.{kind}",
        severity=severity,
        summary=summary[:2000],
        attributes=attributes,
        key=event_key(MODULE, kind, attributes, new_hash),
    )


def diff_inventories(old: Mapping[str, Any], new: Mapping[str, Any], new_hash: str) -> list[AgentEvent]:
    """Events for every change from ``old`` to ``new``."""
    events: list[AgentEvent] = []
    events += _packages(old.get("packages", []), new.get("packages", []), new_hash)
    events += _listening(old.get("listening", []), new.get("listening", []), new_hash)
    events += _setid(old.get("suid", []), new.get("suid", []), new_hash)
    events += _simple(
        old.get("users", []), new.get("users", []), "user", lambda r: r.get("name"), Severity.MEDIUM, new_hash
    )
    events += _simple(
        old.get("groups", []),
        new.get("groups", []),
        "group",
        lambda r: (r.get("name"), tuple(r.get("members", []))),
        Severity.LOW,
        new_hash,
    )
    events += _simple(
        old.get("sudoers", []),
        new.get("sudoers", []),
        "sudoers",
        lambda r: (r.get("file"), r.get("line")),
        Severity.HIGH,
        new_hash,
    )
    events += _simple(
        old.get("kernel_modules", []),
        new.get("kernel_modules", []),
        "kernel_module",
        lambda r: r.get("name"),
        Severity.MEDIUM,
        new_hash,
    )
    events += _simple(
        old.get("containers", []), new.get("containers", []), "container", lambda r: r.get("id"), Severity.LOW, new_hash
    )
    return events


def _packages(old: Iterable[Row], new: Iterable[Row], new_hash: str) -> list[AgentEvent]:
    def ident(r: Row) -> tuple[Any, ...]:
        return (
            r.get("type"),
            r.get("name"),
            r.get("arch"),
            r.get("path") if r.get("type") not in ("deb", "rpm", "apk") else "",
        )

    before, after = _index(old, ident), _index(new, ident)
    events = []
    for key in sorted(set(after) - set(before), key=str):
        p = after[key]
        events.append(
            _event(
                "package_added",
                Severity.LOW,
                f"package installed: {p['name']} {p.get('version', '')}",
                {"type": p["type"], "name": p["name"], "version": p.get("version", "")},
                new_hash,
            )
        )
    for key in sorted(set(before) - set(after), key=str):
        p = before[key]
        events.append(
            _event(
                "package_removed",
                Severity.LOW,
                f"package removed: {p['name']} {p.get('version', '')}",
                {"type": p["type"], "name": p["name"], "version": p.get("version", "")},
                new_hash,
            )
        )
    for key in sorted(set(before) & set(after), key=str):
        a, b = before[key], after[key]
        if a.get("version") != b.get("version"):
            events.append(
                _event(
                    "package_changed",
                    Severity.LOW,
                    f"package {b['name']} changed: {a.get('version', '')} -> {b.get('version', '')}",
                    {
                        "type": b["type"],
                        "name": b["name"],
                        "old_version": a.get("version", ""),
                        "new_version": b.get("version", ""),
                    },
                    new_hash,
                )
            )
    return events


def _listening(old: Iterable[Row], new: Iterable[Row], new_hash: str) -> list[AgentEvent]:
    def ident(r: Row) -> tuple[Any, ...]:
        return (r.get("proto"), r.get("address"), r.get("port"), r.get("exe"))

    before, after = _index(old, ident), _index(new, ident)
    events = []
    for key in sorted(set(after) - set(before), key=str):
        r = after[key]
        exe = str(r.get("exe") or r.get("process") or "unknown process")
        severity = Severity.HIGH if in_writable_dir(exe) else Severity.MEDIUM
        events.append(
            _event(
                "port_opened",
                severity,
                f"new listening port {r.get('port')}/{r.get('proto')} by {exe}",
                {
                    "proto": r.get("proto"),
                    "address": r.get("address"),
                    "port": r.get("port"),
                    "exe": r.get("exe", ""),
                    "process": r.get("process", ""),
                    "pid": r.get("pid"),
                },
                new_hash,
            )
        )
    for key in sorted(set(before) - set(after), key=str):
        r = before[key]
        events.append(
            _event(
                "port_closed",
                Severity.LOW,
                f"port {r.get('port')}/{r.get('proto')} no longer listening",
                {"proto": r.get("proto"), "address": r.get("address"), "port": r.get("port"), "exe": r.get("exe", "")},
                new_hash,
            )
        )
    return events


def _setid(old: Iterable[Row], new: Iterable[Row], new_hash: str) -> list[AgentEvent]:
    before, after = _index(old, lambda r: r.get("path")), _index(new, lambda r: r.get("path"))
    events = []
    for key in sorted(set(after) - set(before), key=str):
        r = after[key]
        which = "SUID" if r.get("setuid") else "SGID"
        events.append(
            _event(
                "setid_added", Severity.HIGH, f"new {which} file {r['path']} (mode {r.get('mode')})", dict(r), new_hash
            )
        )
    for key in sorted(set(before) - set(after), key=str):
        events.append(_event("setid_removed", Severity.LOW, f"SUID/SGID file gone: {key}", {"path": key}, new_hash))
    for key in sorted(set(before) & set(after), key=str):
        if before[key].get("mode") != after[key].get("mode") or before[key].get("uid") != after[key].get("uid"):
            events.append(
                _event(
                    "setid_changed",
                    Severity.HIGH,
                    f"SUID/SGID file changed: {key}",
                    {"old": dict(before[key]), "new": dict(after[key])},
                    new_hash,
                )
            )
    return events


def _simple(
    old: Iterable[Row], new: Iterable[Row], what: str, key: Callable[[Row], Any], severity: Severity, new_hash: str
) -> list[AgentEvent]:
    before, after = _index(old, key), _index(new, key)
    events = []
    for k in sorted(set(after) - set(before), key=str):
        events.append(
            _event(
                f"{what}_added",
                severity,
                f"{what.replace('_', ' ')} added: {_label(after[k])}",
                dict(after[k]),
                new_hash,
            )
        )
    for k in sorted(set(before) - set(after), key=str):
        events.append(
            _event(
                f"{what}_removed",
                Severity.LOW,
                f"{what.replace('_', ' ')} removed: {_label(before[k])}",
                dict(before[k]),
                new_hash,
            )
        )
    return events


def _label(row: Row) -> str:
    for field in ("name", "line", "path", "id"):
        if row.get(field):
            return str(row[field])[:200]
    return str(dict(row))[:200]
