"""eve.json alert records -> ``AgentEvent`` (kind ``ips.alert`` or ``ips.drop``).

An alert whose ``alert.action`` is ``blocked`` (a drop rule in inline mode)
is an ``ips.drop``; ``allowed`` is an ``ips.alert``. Suricata's per-packet
``drop`` records repeat what the blocking alert already says and are only
counted. CVE references come from the rule's ``metadata: cve ...`` (as eve
reports it) and from what Shieldwall knows about the SID (``reference: cve``).

A reputation rule (``metadata: shieldwall_reputation ...``) names its list's
category and severity in its metadata: the event carries that category (and
the list) and takes that severity instead of Suricata's priority.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from shieldwall.agent.events import AgentEvent, event_key
from shieldwall.agent.modules.ips.rules import normalise_cve
from shieldwall.model.finding import Severity

MODULE = "ips"
MAX_TEXT = 1024


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    text = str(value) if value is not None else ""
    return text if len(text) <= limit else text[:limit] + "…"


def _timestamp(value: Any) -> dt.datetime:
    try:
        parsed = dt.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return dt.datetime.now(dt.UTC)
    return parsed.astimezone(dt.UTC)


_SEVERITY = {1: Severity.HIGH, 2: Severity.MEDIUM, 3: Severity.LOW}


def _cves(alert: Mapping[str, Any], known: tuple[str, ...]) -> list[str]:
    out = list(known)
    metadata = alert.get("metadata")
    if isinstance(metadata, Mapping):
        values = metadata.get("cve")
        if isinstance(values, list):
            out.extend(normalise_cve(str(v)) for v in values[:50])
    return sorted(set(out))


_TOKEN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _first(metadata: Mapping[str, Any], key: str) -> str | None:
    values = metadata.get(key)
    if isinstance(values, list) and values and isinstance(values[0], str) and _TOKEN.match(values[0].lower()):
        return values[0].lower()
    return None


def _reputation(alert: Mapping[str, Any]) -> tuple[str, str, Severity] | None:
    """(list, category, severity) of a Shieldwall reputation rule's alert, None for any other rule."""
    metadata = alert.get("metadata")
    if not isinstance(metadata, Mapping) or _first(metadata, "shieldwall_reputation") is None:
        return None
    category = _first(metadata, "category")
    severity = _first(metadata, "severity")
    if category is None or severity is None or severity.upper() not in Severity.__members__:
        return None
    list_name = metadata.get("list")
    name = str(list_name[0]) if isinstance(list_name, list) and list_name else ""
    return _text(name, 64), category, Severity(severity.upper())


def to_event(record: Mapping[str, Any], known_cves: Mapping[int, tuple[str, ...]]) -> AgentEvent | None:
    """The agent event for one eve record, or None when the record is not an alert."""
    if record.get("event_type") != "alert":
        return None
    alert = record.get("alert")
    if not isinstance(alert, Mapping):
        return None
    try:
        sid = int(alert.get("signature_id", 0))
    except (TypeError, ValueError):
        return None
    blocked = alert.get("action") == "blocked"
    kind = "ips.drop" if blocked else "ips.alert"
    cves = _cves(alert, tuple(known_cves.get(sid, ())))
    try:
        severity = _SEVERITY.get(int(alert.get("severity", 3)), Severity.LOW)
    except (TypeError, ValueError):
        severity = Severity.LOW
    reputation = _reputation(alert)
    if reputation is not None:
        severity = reputation[2]
    msg = _text(alert.get("signature"), 512)
    attributes: dict[str, Any] = {
        "sid": sid,
        "rev": alert.get("rev"),
        "msg": msg,
        "category": _text(alert.get("category"), 128),
        "action": "blocked" if blocked else "allowed",
        "cves": cves,
        "src_ip": _text(record.get("src_ip"), 64),
        "src_port": record.get("src_port"),
        "dest_ip": _text(record.get("dest_ip"), 64),
        "dest_port": record.get("dest_port"),
        "proto": _text(record.get("proto"), 16),
        "app_proto": _text(record.get("app_proto"), 32),
        "flow_id": record.get("flow_id"),
    }
    if reputation is not None:
        attributes["category"] = reputation[1]
        attributes["reputation"] = {"list": reputation[0], "category": reputation[1], "severity": reputation[2].value}
    http = record.get("http")
    if isinstance(http, Mapping):
        attributes["http"] = {
            "hostname": _text(http.get("hostname"), 256),
            "url": _text(http.get("url")),
            "method": _text(http.get("http_method"), 16),
        }
    for proto, field_name in (("dns", "rrname"), ("tls", "sni")):
        value = record.get(proto)
        if isinstance(value, Mapping) and field_name in value:
            attributes[proto] = {field_name: _text(value.get(field_name), 256)}
    observed = _timestamp(record.get("timestamp"))
    verb = "Blocked" if blocked else "Alert"
    summary = f"{verb}: {msg} (sid {sid}) {attributes['src_ip']} -> {attributes['dest_ip']}:{attributes['dest_port']}"
    key = event_key(MODULE, kind, record.get("timestamp"), record.get("flow_id"), sid, record.get("pcap_cnt"))
    return AgentEvent(
        module=MODULE,
        kind=kind,
        severity=severity,
        summary=_text(summary, 512),
        attributes=attributes,
        observed_at=observed,
        key=key,
    )
