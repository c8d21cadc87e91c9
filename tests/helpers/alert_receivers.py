"""Local alert receivers for tests: an HTTP webhook endpoint and an SMTP server, both on 127.0.0.1.

``WebhookReceiver`` keeps every request (``raw``) and the deduplicated view
a well-behaved receiver acts on (``unique``: first request per
``Idempotency-Key``). ``SmtpReceiver`` (aiosmtpd) keeps every message and
dedupes on ``Message-ID`` the same way.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One HTTP request the receiver got."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class WebhookReceiver:
    """An HTTP server that answers ``status`` (200 by default) to every POST."""

    status: int = 200
    raw: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL of the receiver."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def unique(self) -> list[Received]:
        """The first request of each idempotency key."""
        seen: set[str] = set()
        out = []
        for item in self.raw:
            key = item.headers.get("idempotency-key", "")
            if key in seen:
                continue
            seen.add(key)
            out.append(item)
        return out

    def stop(self) -> None:
        """Shut the server down."""
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(length)
                try:
                    body = json.loads(data)
                except ValueError:
                    body = data.decode(errors="replace")
                with receiver._lock:
                    receiver.raw.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        return Handler


class SmtpReceiver:
    """An aiosmtpd server on a free loopback port that keeps every message."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from helpers.registry_server import free_port

        self.messages: list[Message] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                receiver.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    @property
    def unique(self) -> list[Message]:
        """The first message of each Message-ID."""
        seen: set[str] = set()
        out = []
        for message in self.messages:
            key = str(message["Message-ID"])
            if key not in seen:
                seen.add(key)
                out.append(message)
        return out

    def stop(self) -> None:
        """Stop the server."""
        self._controller.stop()
