"""Session fixtures for integration tests: real registries (Debian's ``docker-registry``) on 127.0.0.1.

The registry binary is a hard requirement of the integration suite: when it
is missing the fixtures fail (they never skip), because CI must run these
tests. ``.ci/run`` installs it with ``apt-get install -y docker-registry skopeo``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.registry_server import (
    AuthRegistry,
    RunningRegistry,
    TlsRegistry,
    TokenServer,
    htpasswd_auth,
    registry_binary,
    self_signed_certificate,
    start_registry,
)
from shieldwall.target.registry_auth import Credentials

BASIC_USER = "basic-user"
BASIC_PASSWORD = "basic-s3cret-Pw"  # a throw-away password for a throw-away registry
TOKEN_USER = "token-user"
TOKEN_PASSWORD = "token-s3cret-Pw"


def _require_registry_binary() -> None:
    if registry_binary() is None:
        pytest.fail(
            "docker-registry is not installed: the integration tests need Debian's docker-registry package; "
            ".ci/run must install it (apt-get install -y docker-registry skopeo)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """An anonymous registry; yields it running (``registry.host`` is ``127.0.0.1:<port>``)."""
    _require_registry_binary()
    running = start_registry(tmp_path_factory.mktemp("registry-anon"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRegistry]:
    """An anonymous https registry whose certificate only ``ca`` vouches for."""
    _require_registry_binary()
    workdir = tmp_path_factory.mktemp("registry-tls")
    cert, key = self_signed_certificate(workdir)
    running = start_registry(workdir, tls=(cert, key))
    try:
        yield TlsRegistry(running, cert)
    finally:
        running.stop()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """A registry with htpasswd (bcrypt) Basic auth."""
    _require_registry_binary()
    workdir = tmp_path_factory.mktemp("registry-basic")
    running = start_registry(workdir, htpasswd_auth(workdir, {BASIC_USER: BASIC_PASSWORD}))
    try:
        yield AuthRegistry(running, Credentials(BASIC_USER, BASIC_PASSWORD, "test"))
    finally:
        running.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """A registry with Bearer token auth, issued by an in-process token server it trusts."""
    _require_registry_binary()
    workdir = tmp_path_factory.mktemp("registry-token")
    tokens = TokenServer(workdir, {TOKEN_USER: TOKEN_PASSWORD})
    try:
        running = start_registry(workdir, tokens.auth_config())
        try:
            yield AuthRegistry(running, Credentials(TOKEN_USER, TOKEN_PASSWORD, "test"), tokens)
        finally:
            running.stop()
    finally:
        tokens.stop()


@pytest.fixture
def clean_registry_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No credentials from the machine: an empty ``$DOCKER_CONFIG`` directory (returned) and no overrides."""
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    for name in (
        "REGISTRY_AUTH_FILE",
        "XDG_RUNTIME_DIR",
        "SHIELDWALL_REGISTRY_USERNAME",
        "SHIELDWALL_REGISTRY_PASSWORD",
        "SHIELDWALL_INSECURE_REGISTRIES",
    ):
        monkeypatch.delenv(name, raising=False)
    return config_dir
