"""Registry credentials and the distribution auth flow (anonymous, Basic, Bearer token).

Credentials come, first match wins, from:

1. ``SHIELDWALL_REGISTRY_USERNAME`` / ``SHIELDWALL_REGISTRY_PASSWORD`` (both set);
2. ``$REGISTRY_AUTH_FILE`` (podman / skopeo);
3. ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``;
4. ``$XDG_RUNTIME_DIR/containers/auth.json`` (podman's default).

Only ``auths`` entries are read (``auth`` = base64 ``user:pass``, or
``username`` / ``password``). Credential helpers (``credsStore``,
``credHelpers``) are never executed: running a program named in a config
file is not something a scanner should do; a warning says so once.

Secrets never appear in logs, ``repr`` or error messages.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shieldwall.egress import EgressPolicy, guarded_transport
from shieldwall.errors import RegistryError

log = logging.getLogger(__name__)

ENV_USERNAME = "SHIELDWALL_REGISTRY_USERNAME"
ENV_PASSWORD = "SHIELDWALL_REGISTRY_PASSWORD"
_MAX_AUTH_FILE_BYTES = 1 << 20
_MAX_TOKEN_RESPONSE_BYTES = 1 << 20
_DEFAULT_TOKEN_SECONDS = 60
_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_warned_helpers: set[str] = set()
_warn_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password for one registry; ``source`` says where they came from."""

    username: str
    password: str = field(repr=False)
    source: str = ""

    def basic_header(self) -> str:
        """The ``Authorization: Basic ...`` value."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def auth_files(env: Mapping[str, str] | None = None) -> list[Path]:
    """Config files searched for credentials, in order of precedence."""
    env = os.environ if env is None else env
    files: list[Path] = []
    if env.get("REGISTRY_AUTH_FILE"):
        files.append(Path(env["REGISTRY_AUTH_FILE"]))
    if env.get("DOCKER_CONFIG"):
        files.append(Path(env["DOCKER_CONFIG"]) / "config.json")
    else:
        home = env.get("HOME") or str(Path.home())
        files.append(Path(home) / ".docker" / "config.json")
    if env.get("XDG_RUNTIME_DIR"):
        files.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    return files


def _host_aliases(registry: str) -> frozenset[str]:
    host = registry.lower()
    return _HUB_HOSTS if host in _HUB_HOSTS else frozenset({host})


def _normalize_key(key: str) -> tuple[str, str]:
    """``https://host[:port]/v1/`` or ``host/namespace`` -> (host, namespace path)."""
    text = key.strip()
    for scheme in ("https://", "http://"):
        text = text.removeprefix(scheme)
    host, _, path = text.partition("/")
    path = path.strip("/")
    if path in ("v1", "v2"):
        path = ""
    return host.lower(), path


def _warn_helpers_once(path: Path, doc: Mapping[str, object]) -> None:
    if not (doc.get("credsStore") or doc.get("credHelpers")):
        return
    with _warn_lock:
        if str(path) in _warned_helpers:
            return
        _warned_helpers.add(str(path))
    log.warning(
        "%s configures docker credential helpers (credsStore/credHelpers); Shieldwall does not run them. "
        "Put the registry in 'auths' or set %s and %s.",
        path,
        ENV_USERNAME,
        ENV_PASSWORD,
    )


def _read_auth_file(path: Path) -> dict[str, object] | None:
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > _MAX_AUTH_FILE_BYTES:
            log.warning("%s is larger than %d bytes; ignored", path, _MAX_AUTH_FILE_BYTES)
            return None
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        log.warning("%s cannot be read as JSON (%s); ignored", path, type(exc).__name__)
        return None
    if not isinstance(doc, dict):
        log.warning("%s is not a JSON object; ignored", path)
        return None
    return doc


def _decode_entry(entry: object, label: str) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, ValueError):
            log.warning("%s: 'auth' is not base64 'user:password'; entry ignored", label)
            return None
        if not sep or not user:
            log.warning("%s: 'auth' is not base64 'user:password'; entry ignored", label)
            return None
        return Credentials(user, password, label)
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and name and isinstance(secret, str):
        return Credentials(name, secret, label)
    return None


def credentials_from_file(path: Path, registry: str, repository: str = "") -> Credentials | None:
    """Credentials for ``registry`` (and optionally ``repository``) from one auth file.

    An entry keyed by ``host/namespace`` (podman) wins over a bare host entry
    when the repository lies under that namespace.
    """
    doc = _read_auth_file(path)
    if doc is None:
        return None
    _warn_helpers_once(path, doc)
    auths = doc.get("auths")
    if not isinstance(auths, dict):
        return None
    hosts = _host_aliases(registry)
    best: tuple[int, Credentials] | None = None
    for key, entry in auths.items():
        host, namespace = _normalize_key(str(key))
        if host not in hosts:
            continue
        if namespace and not (repository == namespace or repository.startswith(namespace + "/")):
            continue
        creds = _decode_entry(entry, f"{path} [{host}{'/' + namespace if namespace else ''}]")
        if creds is not None and (best is None or len(namespace) > best[0]):
            best = (len(namespace), creds)
    return best[1] if best else None


def find_credentials(registry: str, repository: str = "", env: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials for a registry from the environment or auth files; ``None`` means anonymous."""
    env = os.environ if env is None else env
    user, password = env.get(ENV_USERNAME, ""), env.get(ENV_PASSWORD, "")
    if user and password:
        return Credentials(user, password, "environment")
    if user or password:
        log.warning("only one of %s / %s is set; both are needed, ignoring them", ENV_USERNAME, ENV_PASSWORD)
    for path in auth_files(env):
        creds = credentials_from_file(path, registry, repository)
        if creds is not None:
            return creds
    return None


# --- WWW-Authenticate --------------------------------------------------------------------------

_TOKEN_CHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM = re.compile(rf"({_TOKEN_CHARS})[ \t]*=[ \t]*({_TOKEN_CHARS}|{_QUOTED})")
_SCHEME = re.compile(rf"({_TOKEN_CHARS})(?=[ \t,]|$)")
_SEPARATORS = re.compile(r"[ \t,]*")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header: a lower-cased scheme and its parameters."""

    scheme: str
    params: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str:
        """The value of parameter ``name`` (case-insensitive), or ``""``."""
        wanted = name.lower()
        return next((value for key, value in self.params if key == wanted), "")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_challenges(header: str) -> list[Challenge]:
    """Parse ``Bearer realm="...",service="...",scope="..."`` (RFC 7235), several challenges allowed.

    Quoted values may contain commas (``scope="repository:a:pull,push"``);
    unparseable pieces are skipped, never raised on.
    """
    challenges: list[tuple[str, list[tuple[str, str]]]] = []
    pos, end = 0, len(header)
    while pos < end:
        pos = _SEPARATORS.match(header, pos).end()  # type: ignore[union-attr]
        if pos >= end:
            break
        param = _PARAM.match(header, pos)
        if param and challenges:
            challenges[-1][1].append((param.group(1).lower(), _unquote(param.group(2))))
            pos = param.end()
            continue
        scheme = _SCHEME.match(header, pos)
        if scheme:
            challenges.append((scheme.group(1).lower(), []))
            pos = scheme.end()
            continue
        comma = header.find(",", pos)
        pos = end if comma < 0 else comma + 1
    return [Challenge(scheme, tuple(params)) for scheme, params in challenges]


def scope_for(method: str, path: str) -> str:
    """The token scope a request to ``path`` needs (``repository:NAME:pull`` ...), or ``""``."""
    if path.startswith("/v2/_catalog"):
        return "registry:catalog:*"
    match = re.match(r"^/v2/(.+)/(?:manifests|blobs|tags)/", path)
    if not match:
        return ""
    actions = "pull" if method.upper() in ("GET", "HEAD") else "pull,push"
    return f"repository:{match.group(1)}:{actions}"


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


@dataclass(slots=True)
class _Token:
    value: str
    expires: float


class RegistryAuth(httpx.Auth):
    """The distribution auth flow for a synchronous ``httpx.Client``.

    Each request goes out anonymously, or with a cached token for its scope,
    or with Basic credentials once a host asked for them. On ``401`` with a
    ``Bearer`` challenge a token is fetched from the realm (with Basic
    credentials when we have some) and the request is retried once; on a
    ``Basic`` challenge the request is retried with credentials. Tokens are
    cached per (origin, scope) until shortly before they expire.

    Tokens are fetched with ``token_client`` (a separate client, so the token
    body can be read with a size bound); by default a plain one is created
    on first use and closed by ``close()``.
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        token_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self._token_client = token_client
        self._own_token_client = token_client is None
        self._clock = clock
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._basic_origins: set[str] = set()
        self.token_fetches = 0

    def _cached(self, origin: str, scope: str) -> str:
        token = self._tokens.get((origin, scope))
        if token is None or token.expires <= self._clock():
            return ""
        return token.value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send ``request``, answering one authentication challenge if the registry sends it."""
        origin = _origin(request.url)
        scope = scope_for(request.method, request.url.path)
        cached = self._cached(origin, scope)
        if cached:
            request.headers["Authorization"] = f"Bearer {cached}"
        elif origin in self._basic_origins and self.credentials is not None:
            request.headers["Authorization"] = self.credentials.basic_header()
        response = yield request
        if response.status_code != 401:
            return
        header = ", ".join(response.headers.get_list("www-authenticate"))
        challenges = parse_challenges(header)
        bearer = next((c for c in challenges if c.scheme == "bearer" and c.get("realm")), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        if bearer is not None:
            wanted = bearer.get("scope") or scope
            token = self._fetch_token(bearer, wanted, origin)
            expires = token.expires
            self._tokens[(origin, wanted)] = token
            if scope and scope != wanted:
                self._tokens[(origin, scope)] = _Token(token.value, expires)
            request.headers["Authorization"] = f"Bearer {token.value}"
            yield request
        elif basic is not None and self.credentials is not None:
            if request.headers.get("Authorization", "").startswith("Basic "):
                return  # the credentials were already refused
            self._basic_origins.add(origin)
            request.headers["Authorization"] = self.credentials.basic_header()
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Not supported: the token exchange is synchronous."""
        raise NotImplementedError("RegistryAuth works with httpx.Client only")
        yield request  # pragma: no cover - makes this an async generator

    def close(self) -> None:
        """Close the token client if this object created it."""
        if self._own_token_client and self._token_client is not None:
            self._token_client.close()
            self._token_client = None

    def _client(self) -> httpx.Client:
        if self._token_client is None:
            self._token_client = httpx.Client(
                timeout=httpx.Timeout(30.0),
                follow_redirects=True,
                trust_env=False,
                transport=guarded_transport(EgressPolicy.cli()),
            )
        return self._token_client

    def _may_send_credentials(self, realm: httpx.URL, origin: str) -> bool:
        if realm.scheme == "https" or realm.host in _LOOPBACK_HOSTS or _origin(realm) == origin:
            return True
        log.warning("not sending registry credentials over plain http to token realm %s", realm.host)
        return False

    def _fetch_token(self, challenge: Challenge, scope: str, origin: str) -> _Token:
        try:
            realm = httpx.URL(challenge.get("realm"))
        except httpx.InvalidURL as exc:
            raise RegistryError(f"registry {origin}: malformed token realm in WWW-Authenticate") from exc
        if realm.scheme not in ("http", "https") or not realm.host:
            raise RegistryError(f"registry {origin}: token realm {realm.scheme}://{realm.host} is not http(s)")
        params: list[tuple[str, str]] = []
        if challenge.get("service"):
            params.append(("service", challenge.get("service")))
        params.extend(("scope", s) for s in scope.split(" ") if s)
        headers = {"Accept": "application/json"}
        sent_credentials = False
        if self.credentials is not None and self._may_send_credentials(realm, origin):
            headers["Authorization"] = self.credentials.basic_header()
            sent_credentials = True
        self.token_fetches += 1
        started = self._clock()
        url = realm.copy_merge_params(httpx.QueryParams(tuple(params)))
        body = bytearray()
        try:
            with self._client().stream("GET", url, headers=headers) as response:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > _MAX_TOKEN_RESPONSE_BYTES:
                        raise RegistryError(
                            f"token server {realm.host}: response is larger than {_MAX_TOKEN_RESPONSE_BYTES} bytes"
                        )
        except httpx.HTTPError as exc:
            raise RegistryError(f"token server {realm.host}: request failed ({type(exc).__name__})") from exc
        what = f"scope {scope!r}" if scope else "the registry"
        if response.status_code in (401, 403):
            who = (
                f"credentials from {self.credentials.source}"
                if sent_credentials and self.credentials
                else "anonymous access"
            )
            raise RegistryError(f"token server {realm.host}: {who} refused for {what} (HTTP {response.status_code})")
        if response.status_code != 200:
            raise RegistryError(f"token server {realm.host}: HTTP {response.status_code} for {what}")
        try:
            doc = json.loads(bytes(body))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise RegistryError(f"token server {realm.host}: response is not JSON") from exc
        value = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(value, str) or not value:
            raise RegistryError(f"token server {realm.host}: response has no token")
        lifetime = doc.get("expires_in")
        seconds = lifetime if isinstance(lifetime, int) and lifetime > 0 else _DEFAULT_TOKEN_SECONDS
        seconds = max(seconds, _DEFAULT_TOKEN_SECONDS)
        return _Token(value, started + seconds * 0.9)
