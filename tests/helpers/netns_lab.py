"""Three network namespaces (client -> router -> server) on 10.232.x.y for inline IPS tests.

Everything is created with unique names and removed in ``close``; nothing is
configured outside the namespaces. Commands are argument lists.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SERVER_SCRIPT = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def _ok(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n: self.rfile.read(min(n, 1 << 20))
        body = b"ok\n"
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close"); self.end_headers(); self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_HEAD = _ok
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
"""

CLIENT_SCRIPT = r"""
import socket, sys, time
host, port, path, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
data = open(path, "rb").read()
t0 = time.perf_counter()
try:
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    s.sendall(data)
    buf = b""
    while b"\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk: break
        buf += chunk
    s.close()
    line = buf.split(b"\r\n", 1)[0].decode("latin-1")
    print(line if line else "CLOSED", time.perf_counter() - t0)
except (socket.timeout, TimeoutError):
    print("TIMEOUT", time.perf_counter() - t0)
except OSError as e:
    print("ERROR " + type(e).__name__, time.perf_counter() - t0)
"""


TX_CSUM_OFF = r"""
import ctypes, fcntl, socket, struct, sys
value = ctypes.create_string_buffer(struct.pack("II", 0x17, 0))  # ETHTOOL_STXCSUM, off
request = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(value))
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fcntl.ioctl(sock.fileno(), 0x8946, request)  # SIOCETHTOOL
"""


def _run(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=timeout)


@dataclass
class Lab:
    """client (10.232.1.2) -> router (10.232.1.1 / 10.232.2.1) -> server (10.232.2.2:8080)."""

    work: Path
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    server_port: int = 8080
    server_ip: str = "10.232.2.2"
    _server: subprocess.Popen[bytes] | None = None

    @property
    def client(self) -> str:
        """Client namespace name."""
        return f"swc-{self.tag}"

    @property
    def router(self) -> str:
        """Router namespace name (Suricata and the NFQUEUE rules live here)."""
        return f"swr-{self.tag}"

    @property
    def server(self) -> str:
        """Server namespace name."""
        return f"sws-{self.tag}"

    def up(self) -> None:
        """Create the namespaces, links, addresses and routes; start the HTTP server."""
        for ns in (self.client, self.router, self.server):
            _run("ip", "netns", "add", ns)
        t = self.tag
        _run("ip", "link", "add", f"swc{t}", "type", "veth", "peer", "name", f"swrc{t}")
        _run("ip", "link", "add", f"sws{t}", "type", "veth", "peer", "name", f"swrs{t}")
        _run("ip", "link", "set", f"swc{t}", "netns", self.client)
        _run("ip", "link", "set", f"swrc{t}", "netns", self.router)
        _run("ip", "link", "set", f"sws{t}", "netns", self.server)
        _run("ip", "link", "set", f"swrs{t}", "netns", self.router)
        ex = ("ip", "netns", "exec")
        _run(*ex, self.client, "ip", "addr", "add", "10.232.1.2/24", "dev", f"swc{t}")
        _run(*ex, self.router, "ip", "addr", "add", "10.232.1.1/24", "dev", f"swrc{t}")
        _run(*ex, self.router, "ip", "addr", "add", "10.232.2.1/24", "dev", f"swrs{t}")
        _run(*ex, self.server, "ip", "addr", "add", "10.232.2.2/24", "dev", f"sws{t}")
        for ns, dev in (
            (self.client, f"swc{t}"),
            (self.router, f"swrc{t}"),
            (self.router, f"swrs{t}"),
            (self.server, f"sws{t}"),
        ):
            _run(*ex, ns, "ip", "link", "set", dev, "up")
            _run(*ex, ns, "ip", "link", "set", "lo", "up")
        _run(*ex, self.client, "ip", "route", "add", "default", "via", "10.232.1.1")
        _run(*ex, self.server, "ip", "route", "add", "default", "via", "10.232.2.1")
        _run(*ex, self.router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        self._start_server()

    def _start_server(self) -> None:
        script = self.work / "server.py"
        script.write_text(SERVER_SCRIPT)
        (self.work / "client.py").write_text(CLIENT_SCRIPT)
        self._server = subprocess.Popen(
            ["ip", "netns", "exec", self.server, sys.executable, str(script), str(self.server_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = _run("ip", "netns", "exec", self.server, "ss", "-ltn", check=False)
            if f":{self.server_port}" in probe.stdout:
                return
            time.sleep(0.1)
        raise RuntimeError("test HTTP server did not start")

    def request(self, raw: bytes, timeout: float = 3.0) -> tuple[str, float]:
        """Send raw request bytes from the client namespace; (status line or TIMEOUT/ERROR, seconds)."""
        path = self.work / f"req-{secrets.token_hex(4)}"
        path.write_bytes(raw)
        out = _run(
            "ip",
            "netns",
            "exec",
            self.client,
            sys.executable,
            str(self.work / "client.py"),
            self.server_ip,
            str(self.server_port),
            str(path),
            str(timeout),
            timeout=timeout + 20,
        ).stdout.strip()
        path.unlink()
        status, _, seconds = out.rpartition(" ")
        return status, float(seconds)

    def close(self) -> None:
        """Stop the server and delete the namespaces (their veths go with them)."""
        if self._server is not None:
            self._server.terminate()
            try:
                self._server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait(timeout=10)
        for ns in (self.client, self.router, self.server):
            _run("ip", "netns", "del", ns, check=False)


@dataclass
class BridgeLab(Lab):
    """client (10.232.3.2) <-> router bridging two interfaces with no address <-> server (10.232.3.3).

    Only Suricata (AF_PACKET copy mode) moves frames between the router's two
    interfaces. Transmit checksum offload is switched off on the endpoints (an
    ethtool ioctl, no ethtool binary needed): frames copied by a packet socket
    must carry complete checksums.
    """

    server_ip: str = "10.232.3.3"

    @property
    def bridge_interfaces(self) -> tuple[str, str]:
        """The router's two interfaces (client side, server side)."""
        return f"swra{self.tag}", f"swrb{self.tag}"

    def up(self) -> None:
        """Create the namespaces and links; start the HTTP server."""
        for ns in (self.client, self.router, self.server):
            _run("ip", "netns", "add", ns)
        t = self.tag
        a, b = self.bridge_interfaces
        _run("ip", "link", "add", f"swc{t}", "type", "veth", "peer", "name", a)
        _run("ip", "link", "add", f"sws{t}", "type", "veth", "peer", "name", b)
        _run("ip", "link", "set", f"swc{t}", "netns", self.client)
        _run("ip", "link", "set", a, "netns", self.router)
        _run("ip", "link", "set", b, "netns", self.router)
        _run("ip", "link", "set", f"sws{t}", "netns", self.server)
        ex = ("ip", "netns", "exec")
        _run(*ex, self.client, "ip", "addr", "add", "10.232.3.2/24", "dev", f"swc{t}")
        _run(*ex, self.server, "ip", "addr", "add", "10.232.3.3/24", "dev", f"sws{t}")
        for ns, dev in ((self.client, f"swc{t}"), (self.router, a), (self.router, b), (self.server, f"sws{t}")):
            _run(*ex, ns, "ip", "link", "set", dev, "up")
        script = self.work / "txoff.py"
        script.write_text(TX_CSUM_OFF)
        for ns, dev in ((self.client, f"swc{t}"), (self.server, f"sws{t}")):
            _run(*ex, ns, sys.executable, str(script), dev)
        self._start_server()
