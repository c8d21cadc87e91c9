"""The API and dashboard on a real uvicorn server, over SQLite and over a real PostgreSQL.

``backend_url`` is module-scoped and parametrized: each test module runs once
per backend with one seeded store (the bundled demo image, scanned once per
backend) and one server. The PostgreSQL server is the store tests' own
(``helpers.postgres_server``); missing binaries FAIL the tests, never skip them.
Every fixture passes its directories explicitly: module fixtures are created
before the per-test environment of ``tests/conftest.py`` is in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.api_server import ApiServer, Seeded, api_settings, tokens
from helpers.postgres_server import drop_database, fresh_database, shared_postgres
from shieldwall.api.seed import seed_demo
from shieldwall.store import Store

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def api_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory (advisory database, secret fingerprint key) and one per-layer cache for the session.

    Sharing them keeps every scan of the session consistent: the demo image is
    analysed once, and a secret has the same fingerprint whichever module found it.
    """
    home = tmp_path_factory.mktemp("api-home")
    (home / "data").mkdir()
    (home / "cache").mkdir()
    return home


@pytest.fixture(scope="module", params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database: a SQLite file, or a new database on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('api-sqlite') / 'store.db'}"
        return
    try:
        server = shared_postgres()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    name = fresh_database(server, "api")
    try:
        yield server.url(name)
    finally:
        drop_database(server, name)


@pytest.fixture(scope="module")
def seeded(backend_url: str, api_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The demo data in a fresh store and the API serving it (tokens for every role in ``api.tokens``)."""
    backend = "sqlite" if backend_url.startswith("sqlite") else "postgresql"
    data_dir, layer_cache = api_home / "data", api_home / "cache"
    private = tmp_path_factory.mktemp(f"api-{backend}")
    env = pytest.MonkeyPatch()
    _point_at(env, data_dir, layer_cache)
    store = Store.open(backend_url, audit_key_path=private / "audit-key.pem", checkpoint_every=25)
    try:
        seed = seed_demo(store, data_dir=data_dir, cache_dir=layer_cache, work_dir=private / "demo")
        api = ApiServer.start(store, api_settings(data_dir, layer_cache, upload_dir=private / "uploads"))
        api.tokens = tokens(store)
        try:
            yield Seeded(backend, backend_url, store, data_dir, layer_cache, seed, api)
        finally:
            api.stop()
    finally:
        store.close()
        env.undo()


def _point_at(env: pytest.MonkeyPatch, data_dir: Path, cache_dir: Path) -> None:
    # Some analyzers read the data directory from the environment (the secret fingerprint key lives there):
    # the seed, the server's scans and the tests must all see the same one.
    env.setenv("SHIELDWALL_DATA_DIR", str(data_dir))
    env.setenv("SHIELDWALL_CACHE_DIR", str(cache_dir))
    env.setenv("SHIELDWALL_CONFIG_DIR", str(data_dir / "config"))
    env.delenv("SHIELDWALL_DATABASE_URL", raising=False)


@pytest.fixture(autouse=True)
def _seeded_dirs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests over the seeded store run with its directories (``tests/conftest.py`` gives each test its own)."""
    if "seeded" in request.fixturenames:
        seeded: Seeded = request.getfixturevalue("seeded")
        _point_at(monkeypatch, seeded.data_dir, seeded.cache_dir)
