"""Alert payloads: one neutral document per alert, rendered per channel type.

The neutral document (``alert_document``) is what the generic JSON webhook
receives. Slack gets ``text`` + Block Kit ``blocks``; Microsoft Teams an
Adaptive Card in a ``message`` envelope (what Teams workflow webhooks accept);
email a subject and a plain-text body. Every format carries the
``idempotency_key`` so a receiver can drop a redelivery.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, assert_never

from shieldwall import __version__
from shieldwall.alert.config import ChannelConfig, ChannelType


def alert_document(
    *,
    event: str,
    asset: str,
    repository: str,
    tags: list[str],
    golden: bool,
    fingerprint: str,
    rule_id: str,
    severity: str,
    title: str,
    package: str,
    installed_version: str,
    fixed_version: str,
    status: str,
    reason: str,
) -> dict[str, Any]:
    """The neutral alert document (JSON webhook body)."""
    return {
        "type": "shieldwall.alert",
        "version": 1,
        "event": event,
        "reason": reason,
        "asset": {"identifier": asset, "repository": repository, "tags": tags, "golden": golden},
        "finding": {
            "fingerprint": fingerprint,
            "rule_id": rule_id,
            "severity": severity,
            "title": title,
            "package": package,
            "installed_version": installed_version,
            "fixed_version": fixed_version,
            "status": status,
        },
        "tool": f"shieldwall {__version__}",
    }


def _headline(doc: dict[str, Any]) -> str:
    finding = doc["finding"]
    asset = doc["asset"]
    where = (asset["tags"][0] if asset["tags"] else asset["identifier"]) or "an asset"
    package = f" in {finding['package']} {finding['installed_version']}".rstrip() if finding["package"] else ""
    return f"[{finding['severity']}] {finding['rule_id']}{package} — {where}"


def _fix(doc: dict[str, Any]) -> str:
    fixed = doc["finding"]["fixed_version"]
    return f"upgrade to {fixed}" if fixed else "no fix available yet"


def slack_payload(doc: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message (text fallback + blocks)."""
    finding, asset = doc["finding"], doc["asset"]
    golden = " (golden image)" if asset["golden"] else ""
    fields = [
        {"type": "mrkdwn", "text": f"*Severity*\n{finding['severity']}"},
        {"type": "mrkdwn", "text": f"*Fix*\n{_fix(doc)}"},
        {"type": "mrkdwn", "text": f"*Asset*\n`{asset['identifier'][:80]}`{golden}"},
        {"type": "mrkdwn", "text": f"*Why now*\n{doc['reason']}"},
    ]
    return {
        "text": _headline(doc),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _headline(doc)[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": finding["title"][:2000] or finding["rule_id"]}},
            {"type": "section", "fields": fields},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"idempotency key {doc['idempotency_key']}"}]},
        ],
        "idempotency_key": doc["idempotency_key"],
    }


def teams_payload(doc: dict[str, Any]) -> dict[str, Any]:
    """A Microsoft Teams message carrying an Adaptive Card."""
    finding, asset = doc["finding"], doc["asset"]
    facts = [
        {"title": "Severity", "value": finding["severity"]},
        {"title": "Package", "value": f"{finding['package']} {finding['installed_version']}".strip() or "-"},
        {"title": "Fix", "value": _fix(doc)},
        {"title": "Asset", "value": asset["identifier"]},
        {"title": "Golden", "value": "yes" if asset["golden"] else "no"},
        {"title": "Why now", "value": doc["reason"]},
    ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": _headline(doc), "wrap": True},
            {"type": "TextBlock", "text": finding["title"] or finding["rule_id"], "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
    }
    return {
        "type": "message",
        "summary": _headline(doc),
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
        "idempotency_key": doc["idempotency_key"],
    }


def email_message(doc: dict[str, Any], channel: ChannelConfig) -> EmailMessage:
    """A plain-text email; ``Message-ID`` is derived from the idempotency key (receivers dedupe on it)."""
    finding, asset = doc["finding"], doc["asset"]
    message = EmailMessage()
    message["Subject"] = _headline(doc)[:200]
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Date"] = formatdate(usegmt=True)
    domain = channel.sender.rpartition("@")[2] or "shieldwall.invalid"
    message["Message-ID"] = f"<{doc['idempotency_key']}@{domain}>"
    message["X-Shieldwall-Idempotency-Key"] = doc["idempotency_key"]
    lines = [
        _headline(doc),
        "",
        finding["title"],
        "",
        f"Severity:  {finding['severity']}",
        f"Package:   {finding['package']} {finding['installed_version']}",
        f"Fix:       {_fix(doc)}",
        f"Asset:     {asset['identifier']}{' (golden image)' if asset['golden'] else ''}",
        f"Tags:      {', '.join(asset['tags']) or '-'}",
        f"Why now:   {doc['reason']}",
        f"Finding:   {finding['fingerprint']}",
        "",
        f"Idempotency key: {doc['idempotency_key']}",
    ]
    message.set_content("\n".join(lines) + "\n")
    return message


def render_http(channel: ChannelConfig, doc: dict[str, Any]) -> dict[str, Any]:
    """The JSON body for an HTTP channel."""
    match channel.type:
        case ChannelType.WEBHOOK:
            return doc
        case ChannelType.SLACK:
            return slack_payload(doc)
        case ChannelType.TEAMS:
            return teams_payload(doc)
        case ChannelType.EMAIL:
            raise ValueError("email channels are not HTTP channels")
        case _:
            assert_never(channel.type)
