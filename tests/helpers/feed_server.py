"""A small HTTP file server on 127.0.0.1 for updater tests.

It honours ``If-None-Match`` / ``If-Modified-Since`` (304), ``Range`` with
``If-Range`` (206, or 200 when the validator no longer matches), can cut a
body short and close the connection (an interrupted download), and logs
every request with the headers the client sent and the bytes it received.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Served:
    """One file: its bytes and validators."""

    body: bytes
    etag: str = ""
    last_modified: str = ""


@dataclass
class LoggedRequest:
    """What the client asked for and what it got."""

    path: str
    headers: dict[str, str]
    status: int
    sent: int


@dataclass
class FeedServer:
    """State shared with the handler; tests mutate ``files`` and ``cut_after`` between runs."""

    files: dict[str, Served] = field(default_factory=dict)
    cut_after: dict[str, int] = field(default_factory=dict)
    use_etags: bool = True
    log: list[LoggedRequest] = field(default_factory=list)
    base_url: str = ""
    _clock: int = 1_700_000_000

    def publish(self, path: str, body: bytes) -> Served:
        """Serve ``body`` at ``path`` with a fresh ETag and a later Last-Modified."""
        self._clock += 3600
        served = Served(
            body,
            f'"{hashlib.sha256(body).hexdigest()[:16]}"' if self.use_etags else "",
            formatdate(self._clock, usegmt=True),
        )
        self.files[path] = served
        return served

    def requests_for(self, path: str) -> list[LoggedRequest]:
        """The logged requests of one path, oldest first."""
        return [r for r in self.log if r.path == path]

    def clear_log(self) -> None:
        """Forget the logged requests."""
        self.log.clear()


def _handler(state: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _finish(self, status: int, sent: int) -> None:
            state.log.append(LoggedRequest(self.path, dict(self.headers.items()), status, sent))

        def do_GET(self) -> None:
            served = state.files.get(self.path)
            if served is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self._finish(404, 0)
                return
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            not_modified = False
            if inm is not None:
                not_modified = bool(served.etag) and inm == served.etag
            elif ims is not None and served.last_modified:
                not_modified = parsedate_to_datetime(served.last_modified) <= parsedate_to_datetime(ims)
            if not_modified:
                self.send_response(304)
                if served.etag:
                    self.send_header("ETag", served.etag)
                self.end_headers()
                self._finish(304, 0)
                return
            body, status, start = served.body, 200, 0
            rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if_range = self.headers.get("If-Range")
            if rng and (if_range is None or if_range in (served.etag, served.last_modified)):
                start = int(rng.group(1))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    self._finish(416, 0)
                    return
                status = 206
            chunk = body[start:]
            self.send_response(status)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(chunk)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            if served.etag:
                self.send_header("ETag", served.etag)
            if served.last_modified:
                self.send_header("Last-Modified", served.last_modified)
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            cut = state.cut_after.get(self.path)
            if cut is not None and cut < len(chunk):
                self.wfile.write(chunk[:cut])
                self.wfile.flush()
                self._finish(status, cut)
                self.close_connection = True
                return
            self.wfile.write(chunk)
            self._finish(status, len(chunk))

    return Handler


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    """Run a ``FeedServer`` on an ephemeral 127.0.0.1 port for the duration of the block."""
    state = FeedServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
