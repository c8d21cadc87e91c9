"""Registry push notifications: Docker distribution's notification envelope and Harbor's webhook payload.

Both are turned into ``PushEvent`` values (registry host, repository, tag,
digest). Only manifest pushes count (a distribution registry also notifies
blob uploads and pulls). Bodies are bounded, and malformed documents raise
``NotificationError`` (answered with HTTP 400), never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shieldwall.errors import InputError

DISTRIBUTION_ENVELOPE = "application/vnd.docker.distribution.events.v1+json"
MANIFEST_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    }
)
HARBOR_PUSH = frozenset({"PUSH_ARTIFACT", "pushImage"})
MAX_EVENTS = 1000


class NotificationError(InputError):
    """A notification body that is not one of the supported payloads."""


@dataclass(frozen=True, slots=True)
class PushEvent:
    """A manifest pushed to a registry: ``host`` as the notification names it ('' when it does not)."""

    host: str
    repository: str
    tag: str
    digest: str
    source: str


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _host_of(url: str) -> str:
    if not url:
        return ""
    parts = urlsplit(url if "://" in url else f"//{url}")
    return parts.netloc


def parse_distribution(doc: dict[str, Any]) -> list[PushEvent]:
    """Events of a distribution notification envelope (``{"events": [...]}``)."""
    events = doc.get("events")
    if not isinstance(events, list):
        raise NotificationError("notification envelope without an events list")
    out: list[PushEvent] = []
    for event in events[:MAX_EVENTS]:
        if not isinstance(event, dict) or event.get("action") != "push":
            continue
        target = event.get("target")
        if not isinstance(target, dict):
            continue
        media_type = _text(target.get("mediaType"))
        if media_type and media_type not in MANIFEST_TYPES:
            continue  # a blob (layer) upload
        repository, digest = _text(target.get("repository")), _text(target.get("digest"))
        if not repository or not digest:
            continue
        request = event.get("request") if isinstance(event.get("request"), dict) else {}
        host = _text(request.get("host")) if isinstance(request, dict) else ""
        host = host or _host_of(_text(target.get("url")))
        out.append(PushEvent(host, repository, _text(target.get("tag")), digest, "distribution"))
    return out


def parse_harbor(doc: dict[str, Any]) -> list[PushEvent]:
    """Push events of a Harbor webhook (``type: PUSH_ARTIFACT``)."""
    if doc.get("type") not in HARBOR_PUSH:
        return []
    data = doc.get("event_data")
    if not isinstance(data, dict):
        raise NotificationError("Harbor webhook without event_data")
    repo = data.get("repository") if isinstance(data.get("repository"), dict) else {}
    full_name = _text(repo.get("repo_full_name")) if isinstance(repo, dict) else ""
    resources = data.get("resources")
    if not isinstance(resources, list):
        raise NotificationError("Harbor webhook without resources")
    out: list[PushEvent] = []
    for resource in resources[:MAX_EVENTS]:
        if not isinstance(resource, dict):
            continue
        digest, tag = _text(resource.get("digest")), _text(resource.get("tag"))
        url = _text(resource.get("resource_url"))
        host = url.split("/", 1)[0] if "/" in url else ""
        repository = full_name
        if not repository and "/" in url:
            repository = url.split("/", 1)[1].split("@", 1)[0].rsplit(":", 1)[0]
        if digest and repository:
            out.append(PushEvent(host, repository, tag, digest, "harbor"))
    return out


def parse_notification(body: bytes) -> list[PushEvent]:
    """Push events of a notification body of either kind."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise NotificationError("notification body is not JSON") from None
    if not isinstance(doc, dict):
        raise NotificationError("notification body is not a JSON object")
    if "events" in doc:
        return parse_distribution(doc)
    if "event_data" in doc or "type" in doc:
        return parse_harbor(doc)
    raise NotificationError("neither a distribution notification envelope nor a Harbor webhook")
