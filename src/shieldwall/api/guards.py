"""Inputs no backend can store: a NUL character in the path, the query or a JSON body is refused with 400.

PostgreSQL text cannot hold NUL (SQLite can): without this guard the same
request would be a 500 on one backend and a 200 on the other. Bodies are
checked by the request models (``schemas._In``); this middleware checks the
URL before any route sees it.
"""

from __future__ import annotations

import json
from typing import Any

from shieldwall.api.bodylimit import ASGIApp, Receive, Scope, Send

MESSAGE = "NUL characters are not allowed in requests"


def has_nul(value: Any) -> bool:
    """True when a string anywhere in ``value`` (nested lists and dicts) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


class NulGuard:
    """Answer 400 to a URL whose path or query carries a NUL (raw or ``%00``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the URL, then pass the request on."""
        if scope["type"] == "http":
            raw = bytes(scope.get("raw_path") or b"") + b"?" + bytes(scope.get("query_string") or b"")
            if b"\x00" in raw or b"%00" in raw.lower() or "\x00" in str(scope.get("path", "")):
                body = json.dumps({"detail": MESSAGE}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
