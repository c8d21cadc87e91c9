"""Registry credentials, WWW-Authenticate parsing and the auth flow, against an in-process fake."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from shieldwall.errors import RegistryError
from shieldwall.target import registry_auth
from shieldwall.target.registry_auth import (
    Challenge,
    Credentials,
    RegistryAuth,
    auth_files,
    credentials_from_file,
    find_credentials,
    parse_challenges,
    scope_for,
)

# --- WWW-Authenticate -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/alpine:pull"',
            [
                (
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/alpine:pull",
                    },
                )
            ],
        ),
        (
            'Bearer realm="http://127.0.0.1/t", scope="repository:a/b:pull,push"',
            [("bearer", {"realm": "http://127.0.0.1/t", "scope": "repository:a/b:pull,push"})],
        ),
        ('Basic realm="Registry Realm"', [("basic", {"realm": "Registry Realm"})]),
        ("basic realm=simple", [("basic", {"realm": "simple"})]),
        ("Basic", [("basic", {})]),
        (
            'Basic realm="a", Bearer realm="https://t/x",service=s',
            [("basic", {"realm": "a"}), ("bearer", {"realm": "https://t/x", "service": "s"})],
        ),
        (
            r'Bearer realm="quo\"ted\\x",error="insufficient_scope"',
            [("bearer", {"realm": 'quo"ted\\x', "error": "insufficient_scope"})],
        ),
        ("Negotiate dG9rZW42OA==", [("negotiate", {})]),
        ("", []),
        (",,  ,", []),
        ('realm="orphan"', []),
    ],
)
def test_parse_challenges(header: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    parsed = parse_challenges(header)
    assert [(c.scheme, dict(c.params)) for c in parsed] == expected


def test_challenge_get_is_case_insensitive_and_defaults_to_empty() -> None:
    (challenge,) = parse_challenges('Bearer Realm="https://x/token"')
    assert challenge.get("realm") == challenge.get("REALM") == "https://x/token"
    assert challenge.get("scope") == ""
    assert Challenge("basic").get("realm") == ""


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/v2/team/app/manifests/latest", "repository:team/app:pull"),
        ("HEAD", "/v2/a/blobs/sha256:00", "repository:a:pull"),
        ("GET", "/v2/a/b/c/tags/list", "repository:a/b/c:pull"),
        ("POST", "/v2/team/app/blobs/uploads/", "repository:team/app:pull,push"),
        ("PUT", "/v2/team/app/blobs/uploads/uuid", "repository:team/app:pull,push"),
        ("PUT", "/v2/team/app/manifests/1", "repository:team/app:pull,push"),
        ("GET", "/v2/_catalog", "registry:catalog:*"),
        ("GET", "/v2/", ""),
    ],
)
def test_scope_for(method: str, path: str, scope: str) -> None:
    assert scope_for(method, path) == scope


# --- credentials ----------------------------------------------------------------------------------


def _write(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_auth_files_order(tmp_path: Path) -> None:
    env = {"REGISTRY_AUTH_FILE": "/x/auth.json", "DOCKER_CONFIG": "/d", "XDG_RUNTIME_DIR": "/run/u", "HOME": "/h"}
    assert auth_files(env) == [Path("/x/auth.json"), Path("/d/config.json"), Path("/run/u/containers/auth.json")]
    assert auth_files({"HOME": "/h"}) == [Path("/h/.docker/config.json")]


def test_credentials_from_auth_field_and_username_password(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "config.json",
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": _b64("hubuser:hub:pass")},
                "ghcr.io": {"username": "gh", "password": "ghp"},
                "http://127.0.0.1:5000": {"auth": _b64("local:pw")},
            }
        },
    )
    hub = credentials_from_file(path, "docker.io")
    assert hub is not None and (hub.username, hub.password) == ("hubuser", "hub:pass")
    gh = credentials_from_file(path, "ghcr.io")
    assert gh is not None and (gh.username, gh.password) == ("gh", "ghp")
    local = credentials_from_file(path, "127.0.0.1:5000")
    assert local is not None and local.username == "local"
    assert credentials_from_file(path, "quay.io") is None
    assert credentials_from_file(path, "127.0.0.1:5001") is None


def test_namespace_entry_wins_for_its_repositories(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "auth.json",
        {"auths": {"quay.io": {"auth": _b64("all:1")}, "quay.io/team": {"auth": _b64("team:2")}}},
    )
    team = credentials_from_file(path, "quay.io", "team/app")
    other = credentials_from_file(path, "quay.io", "teamx/app")
    assert team is not None and team.username == "team"
    assert other is not None and other.username == "all"


def test_find_credentials_precedence(tmp_path: Path) -> None:
    auth_file = _write(tmp_path / "podman.json", {"auths": {"r.io": {"auth": _b64("podman:1")}}})
    _write(tmp_path / "docker" / "config.json", {"auths": {"r.io": {"auth": _b64("docker:2")}}})
    env = {"DOCKER_CONFIG": str(tmp_path / "docker"), "HOME": str(tmp_path)}
    found = find_credentials("r.io", env=env)
    assert found is not None and found.username == "docker"
    found = find_credentials("r.io", env={**env, "REGISTRY_AUTH_FILE": str(auth_file)})
    assert found is not None and found.username == "podman"
    found = find_credentials(
        "r.io",
        env={**env, "SHIELDWALL_REGISTRY_USERNAME": "envuser", "SHIELDWALL_REGISTRY_PASSWORD": "envpw"},
    )
    assert found == Credentials("envuser", "envpw", "environment")
    assert find_credentials("other.io", env=env) is None


def test_malformed_files_and_entries_are_ignored_with_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert credentials_from_file(broken, "r.io") is None
    bad_entry = _write(tmp_path / "bad.json", {"auths": {"r.io": {"auth": "***not-base64***"}}})
    assert credentials_from_file(bad_entry, "r.io") is None
    no_colon = _write(tmp_path / "nocolon.json", {"auths": {"r.io": {"auth": _b64("justuser")}}})
    assert credentials_from_file(no_colon, "r.io") is None
    assert credentials_from_file(_write(tmp_path / "list.json", [1, 2]), "r.io") is None
    assert "not JSON" in caplog.text or "cannot be read" in caplog.text
    assert "justuser" not in caplog.text


def test_credential_helpers_are_not_run_and_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_auth, "_warned_helpers", set())
    path = _write(tmp_path / "config.json", {"credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud"}})
    caplog.set_level(logging.WARNING)
    assert credentials_from_file(path, "gcr.io") is None
    assert credentials_from_file(path, "gcr.io") is None
    warnings = [r for r in caplog.records if "credential helpers" in r.getMessage()]
    assert len(warnings) == 1
    assert "does not run them" in warnings[0].getMessage()


def test_password_never_in_repr() -> None:
    creds = Credentials("user", "hunter2-secret", "test")
    assert "hunter2-secret" not in repr(creds)
    assert creds.basic_header() == "Basic " + _b64("user:hunter2-secret")


# --- the auth flow against a fake registry ---------------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


class FakeRegistry:
    """Serves /v2/... behind Bearer or Basic auth and a token endpoint; records every request."""

    def __init__(self, mode: str, *, user: str = "u", password: str = "p", realm: str = "https://auth.test/token"):
        self.mode = mode
        self.user, self.password, self.realm = user, password, realm
        self.requests: list[httpx.Request] = []
        self.seen: list[tuple[str, str, str]] = []  # snapshots: the auth flow re-sends the same Request object
        self.issued = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        header = request.headers.get("authorization", "")
        self.seen.append((request.url.host, request.url.path, header[:6]))
        if request.url.path == "/token":
            if header and header != Credentials(self.user, self.password).basic_header():
                return httpx.Response(401, json={"details": "bad"})
            self.issued += 1
            scopes = request.url.params.get_list("scope")
            return httpx.Response(200, json={"token": f"tok-{self.issued}-{'|'.join(scopes)}", "expires_in": 300})
        scope = scope_for(request.method, request.url.path)
        if self.mode == "bearer":
            if header.startswith("Bearer tok-") and header.endswith(scope):
                return httpx.Response(200, json={"ok": True})
            challenge = f'Bearer realm="{self.realm}",service="fake",scope="{scope}"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        if header == Credentials(self.user, self.password).basic_header():
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="fake"'})

    def paths(self) -> list[tuple[str, str, str]]:
        return self.seen


def _client(fake: FakeRegistry, credentials: Credentials | None) -> httpx.Client:
    transport = httpx.MockTransport(fake)
    auth = RegistryAuth(credentials, token_client=httpx.Client(transport=transport))
    return httpx.Client(base_url="https://reg.test", auth=auth, transport=transport)


def test_bearer_flow_fetches_one_token_per_scope_and_reuses_it() -> None:
    fake = FakeRegistry("bearer")
    with _client(fake, Credentials("u", "p")) as client:
        assert client.get("/v2/team/app/manifests/1").status_code == 200
        assert client.get("/v2/team/app/blobs/sha256:aa").status_code == 200
        assert client.get("/v2/other/manifests/1").status_code == 200
    assert fake.paths() == [
        ("reg.test", "/v2/team/app/manifests/1", ""),
        ("auth.test", "/token", "Basic "),
        ("reg.test", "/v2/team/app/manifests/1", "Bearer"),
        ("reg.test", "/v2/team/app/blobs/sha256:aa", "Bearer"),  # cached token, no new 401
        ("reg.test", "/v2/other/manifests/1", ""),
        ("auth.test", "/token", "Basic "),
        ("reg.test", "/v2/other/manifests/1", "Bearer"),
    ]
    token_request = fake.requests[1]
    assert token_request.url.params.get("service") == "fake"
    assert token_request.url.params.get("scope") == "repository:team/app:pull"


def test_bearer_token_expiry_forces_a_new_token() -> None:
    fake = FakeRegistry("bearer")
    now = [1000.0]
    transport = httpx.MockTransport(fake)
    auth = RegistryAuth(Credentials("u", "p"), token_client=httpx.Client(transport=transport), clock=lambda: now[0])
    with httpx.Client(base_url="https://reg.test", auth=auth, transport=transport) as client:
        client.get("/v2/a/manifests/1")
        now[0] += 100  # within 0.9 * 300 s
        client.get("/v2/a/manifests/1")
        assert fake.issued == 1
        now[0] += 1000
        client.get("/v2/a/manifests/1")
        assert fake.issued == 2


def test_anonymous_bearer_token_is_requested_without_credentials() -> None:
    fake = FakeRegistry("bearer")
    with _client(fake, None) as client:
        assert client.get("/v2/library/alpine/manifests/latest").status_code == 200
    assert "authorization" not in fake.requests[1].headers


def test_refused_credentials_raise_without_leaking_them() -> None:
    fake = FakeRegistry("bearer")
    refusal = r"token server auth\.test: credentials from config\.json refused"
    with (
        _client(fake, Credentials("u", "wrong-secret-value", "config.json")) as client,
        pytest.raises(RegistryError, match=refusal) as err,
    ):
        client.get("/v2/team/app/manifests/1")
    assert "wrong-secret-value" not in str(err.value)
    assert "\n" not in str(err.value)


def test_credentials_are_not_sent_to_a_plain_http_realm_elsewhere(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeRegistry("bearer", realm="http://auth.elsewhere.test/token")
    with _client(fake, Credentials("u", "p")) as client:
        client.get("/v2/team/app/manifests/1")
    token_request = next(r for r in fake.requests if r.url.path == "/token")
    assert "authorization" not in token_request.headers
    assert "plain http" in caplog.text


@pytest.mark.parametrize("realm", ["ftp://x/token", "/relative"])
def test_unusable_realm_is_a_registry_error(realm: str) -> None:
    fake = FakeRegistry("bearer", realm=realm)
    with _client(fake, None) as client, pytest.raises(RegistryError, match="realm"):
        client.get("/v2/a/manifests/1")


def test_basic_flow_retries_once_then_sends_credentials_up_front() -> None:
    fake = FakeRegistry("basic")
    with _client(fake, Credentials("u", "p")) as client:
        assert client.get("/v2/a/manifests/1").status_code == 200
        assert client.get("/v2/a/blobs/sha256:bb").status_code == 200
    assert [p[2] for p in fake.paths()] == ["", "Basic ", "Basic "]


def test_basic_flow_without_or_with_wrong_credentials_returns_401() -> None:
    fake = FakeRegistry("basic")
    with _client(fake, None) as client:
        assert client.get("/v2/a/manifests/1").status_code == 401
    with _client(fake, Credentials("u", "bad")) as client:
        assert client.get("/v2/a/manifests/1").status_code == 401
        assert client.get("/v2/a/manifests/1").status_code == 401  # no retry loop: one request, already Basic
    assert len(fake.requests) == 1 + 2 + 1
