"""An in-process stand-in for clamd speaking the INSTREAM/PING protocol on a UNIX or TCP socket.

It reports ``Fake.Test.Signature FOUND`` for any stream containing
``marker``, answers ``INSTREAM size limit exceeded. ERROR`` past
``max_stream`` (closing early, as clamd does), and records every stream it
received and the chunk sizes, so tests can check the client's framing.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FakeClamd:
    unix_path: str = ""
    marker: bytes = b"FAKE-MALWARE-MARKER"
    signature: str = "Fake.Test.Signature"
    max_stream: int = 1 << 20
    streams: list[bytes] = field(default_factory=list)
    chunk_sizes: list[int] = field(default_factory=list)
    commands: list[bytes] = field(default_factory=list)
    port: int = 0
    _server: socket.socket | None = None
    _thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return self.unix_path if self.unix_path else f"127.0.0.1:{self.port}"

    def start(self) -> FakeClamd:
        if self.unix_path:
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(self.unix_path)
        else:
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.bind(("127.0.0.1", 0))
            self.port = server.getsockname()[1]
        server.listen(16)
        self._server = server
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self.unix_path:
            Path(self.unix_path).unlink(missing_ok=True)

    def _serve(self) -> None:
        while self._server is not None:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                self._handle(conn)

    @staticmethod
    def _recv_exact(conn: socket.socket, size: int) -> bytes:
        buf = b""
        while len(buf) < size:
            chunk = conn.recv(size - len(buf))
            if not chunk:
                raise OSError("client hung up")
            buf += chunk
        return buf

    def _handle(self, conn: socket.socket) -> None:
        command = b""
        while not command.endswith(b"\0"):
            byte = conn.recv(1)
            if not byte:
                return
            command += byte
        self.commands.append(command)
        if command == b"zPING\0":
            conn.sendall(b"PONG\0")
            return
        if command == b"zVERSION\0":
            conn.sendall(b"ClamAV 0.0.0-fake\0")
            return
        if command != b"zINSTREAM\0":
            conn.sendall(b"UNKNOWN COMMAND\0")
            return
        data = b""
        while True:
            (size,) = struct.unpack("!L", self._recv_exact(conn, 4))
            if size == 0:
                break
            self.chunk_sizes.append(size)
            data += self._recv_exact(conn, size)
            if len(data) > self.max_stream:
                conn.sendall(b"INSTREAM size limit exceeded. ERROR\0")
                return
        self.streams.append(data)
        if self.marker in data:
            conn.sendall(f"stream: {self.signature} FOUND\0".encode())
        else:
            conn.sendall(b"stream: OK\0")
