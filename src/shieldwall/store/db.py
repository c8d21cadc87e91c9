"""Connecting to the store: the URL, the engine (SQLite in WAL mode or PostgreSQL) and migrations.

``SHIELDWALL_DATABASE_URL`` selects PostgreSQL (``postgresql://user@host/db``
is rewritten to the psycopg 3 driver); without it the store is the SQLite
file ``<data dir>/shieldwall.db``. Opening runs the Alembic migrations shipped
in ``store/migrations`` up to ``head``, so an upgrade of Shieldwall upgrades
the schema the first time it touches the store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from shieldwall import paths
from shieldwall.errors import ConfigError

ENV_DATABASE_URL = "SHIELDWALL_DATABASE_URL"
DB_FILENAME = "shieldwall.db"
MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """The store's URL: ``SHIELDWALL_DATABASE_URL`` or the SQLite file in the data directory."""
    env = os.environ if environ is None else environ
    url = env.get(ENV_DATABASE_URL, "").strip()
    if url:
        return normalize_url(url)
    return f"sqlite:///{paths.data_dir(environ) / DB_FILENAME}"


def normalize_url(url: str) -> str:
    """Point ``postgres://`` / ``postgresql://`` URLs at the psycopg 3 driver; refuse unknown backends."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"{ENV_DATABASE_URL}: not a database URL ({exc})") from None
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        return url
    raise ConfigError(f"{ENV_DATABASE_URL}: unsupported database {backend!r} (use sqlite or postgresql)")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level; SQLAlchemy's "begin" event below opens the transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front: two writers queue on busy_timeout instead of one
    # failing with "database is locked" when it upgrades a read transaction (WAL readers never wait).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_store_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout, foreign keys and immediate transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, poolclass=NullPool, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def alembic_config() -> Config:
    """An Alembic configuration pointing at the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this Shieldwall."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships one
        raise RuntimeError("no store migrations found")
    return head


def migrate(engine: Engine) -> None:
    """Bring the schema to ``head`` (a no-op when it is there already)."""
    if current_revision(engine) == head_revision():
        return
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
