"""Real registries for integration tests: Debian's ``docker-registry`` (distribution 2.8) as a subprocess.

``start_registry(workdir)`` writes a config into ``workdir`` (filesystem
storage there, ``127.0.0.1:<free port>``, deletes enabled), starts the
binary and waits until ``GET /v2/`` answers. ``auth`` adds an ``auth:``
section: ``htpasswd_auth(...)`` for Basic, ``TokenServer(...).auth_config()``
for the Bearer token flow. ``TokenServer`` is an in-process token issuer
(``http.server`` in a thread) that signs RS256 JWTs with a throw-away key
whose self-signed certificate the registry trusts (``rootcertbundle``).

Every server binds to 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml

from shieldwall.target.registry_auth import Credentials

REGISTRY_BINARY = "docker-registry"


def registry_binary() -> str | None:
    """Path of Debian's ``docker-registry`` binary, or ``None`` when it is not installed."""
    return shutil.which(REGISTRY_BINARY)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningRegistry:
    """A started registry: ``host`` is ``127.0.0.1:<port>``; ``storage`` is its root directory."""

    host: str
    storage: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def blob_data(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes on disk (tests tamper with it)."""
        algo, _, hexpart = digest.partition(":")
        return self.storage / "docker/registry/v2/blobs" / algo / hexpart[:2] / hexpart / "data"

    def stop(self) -> None:
        """Terminate the process (kill it if it does not exit within 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class AuthRegistry:
    """A registry that requires credentials, the credentials it accepts, and its token server if any."""

    server: RunningRegistry
    credentials: Credentials
    tokens: TokenServer | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``."""
        return self.server.host


@dataclass
class TlsRegistry:
    """A registry that speaks https only, with a self-signed certificate (``ca``)."""

    server: RunningRegistry
    ca: Path


def htpasswd_auth(workdir: Path, users: Mapping[str, str]) -> dict[str, Any]:
    """An ``auth:`` section for Basic auth with a bcrypt htpasswd file written into ``workdir``."""
    import bcrypt

    path = workdir / "htpasswd"
    lines = [f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}" for user, pw in users.items()]
    path.write_text("\n".join(lines) + "\n")
    return {"htpasswd": {"realm": "shieldwall-test", "path": str(path)}}


def self_signed_certificate(workdir: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throw-away certificate for ``host`` (an IP address SAN) and its key, as PEM files ``(cert, key)``."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    workdir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = workdir / "tls-cert.pem", workdir / "tls-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def start_registry(
    workdir: Path,
    auth: Mapping[str, Any] | None = None,
    *,
    tls: tuple[Path, Path] | None = None,
    attempts: int = 3,
) -> RunningRegistry:
    """Start ``docker-registry serve`` on a free loopback port; raise RuntimeError if it never answers.

    ``tls`` is ``(certificate, key)``: the registry then speaks https only.
    """
    binary = registry_binary()
    if binary is None:
        raise RuntimeError("docker-registry is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    last_error = ""
    for attempt in range(attempts):
        port = free_port()
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
        }
        if auth:
            config["auth"] = dict(auth)
        if tls:
            config["http"]["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
        config_path = workdir / "config.yml"
        config_path.write_text(yaml.safe_dump(config))
        log_path = workdir / f"registry-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [binary, "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        running = RunningRegistry(f"127.0.0.1:{port}", storage, process, log_path)
        if _wait_ready(running, "https" if tls else "http"):
            return running
        running.stop()
        last_error = log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"docker-registry did not start: {last_error}")


def _wait_ready(registry: RunningRegistry, scheme: str, deadline_seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if registry.process.poll() is not None:
            return False
        try:
            response = httpx.get(f"{scheme}://{registry.host}/v2/", timeout=2, verify=False)
            if response.status_code in (200, 401):
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


# --- token server ---------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class TokenRequest:
    """One request the token server saw: the user ('' = anonymous) and the scopes asked for."""

    user: str
    scopes: list[str]
    service: str


@dataclass
class TokenServer:
    """An in-process Bearer token issuer for the registry's ``auth: token:`` mode.

    ``users`` may pull and push anything; anonymous callers may pull
    repositories under ``public/`` only. ``requests`` records every call.
    """

    workdir: Path
    users: Mapping[str, str]
    service: str = "shieldwall-test-registry"
    issuer: str = "shieldwall-test-issuer"
    requests: list[TokenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shieldwall test token issuer")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cert_path = self.workdir / "token-root.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def realm(self) -> str:
        """URL of the token endpoint."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def auth_config(self) -> dict[str, Any]:
        """The registry's ``auth:`` section that trusts this issuer."""
        return {
            "token": {
                "realm": self.realm,
                "service": self.service,
                "issuer": self.issuer,
                "rootcertbundle": str(self.cert_path),
            }
        }

    def stop(self) -> None:
        """Shut the HTTP server down."""
        self._server.shutdown()
        self._server.server_close()

    def issue(self, user: str, scopes: list[str]) -> str:
        """A signed JWT granting ``user`` the actions it may have on ``scopes``."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            if not user:
                actions = [a for a in actions if a == "pull" and name.startswith("public/")]
            if actions:
                access.append({"type": kind, "name": name, "actions": actions})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": self.issuer,
            "sub": user,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 30,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                user = ""
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    name, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    if server.users.get(name) != password or parts.path != "/token":
                        self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
                        return
                    user = name
                scopes = query.get("scope", [])
                server.requests.append(TokenRequest(user, scopes, query.get("service", [""])[0]))
                token = server.issue(user, scopes)
                self._send(200, {"token": token, "access_token": token, "expires_in": 300})

            def _send(self, status: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
