"""The ``Store``: an engine, sessions, the audit trail's signer, opened (and migrated) in one call."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from shieldwall import paths
from shieldwall.store.db import create_store_engine, database_url, migrate, normalize_url
from shieldwall.store.http_witness import HttpWitness
from shieldwall.store.schema import Setting
from shieldwall.store.witness import default_witness_path

ENV_AUDIT_KEY = "SHIELDWALL_AUDIT_KEY"
ENV_CHECKPOINT_EVERY = "SHIELDWALL_AUDIT_CHECKPOINT_EVERY"
DEFAULT_CHECKPOINT_EVERY = 100


def utcnow() -> dt.datetime:
    """The current UTC instant (one place, so tests can reason about it)."""
    return dt.datetime.now(dt.UTC)


def default_audit_key_path(environ: Mapping[str, str] | None = None) -> Path:
    """``SHIELDWALL_AUDIT_KEY``, else ``<config dir>/audit/ed25519-private.pem`` (outside the data directory).

    A key already created by an older version under ``<data dir>/audit/`` keeps being used (and said so by
    ``audit verify``) until it is moved: see docs/trust.md, "Rotating the audit key".
    """
    env = os.environ if environ is None else environ
    value = env.get(ENV_AUDIT_KEY, "").strip()
    if value:
        return Path(value).expanduser()
    configured = paths.config_dir(environ) / "audit" / "ed25519-private.pem"
    legacy = paths.data_dir(environ) / "audit" / "ed25519-private.pem"
    return legacy if legacy.is_file() and not configured.exists() else configured


class Store:
    """The persistent store (SQLite or PostgreSQL) and the settings every part of it shares.

    ``session()`` yields a SQLAlchemy session inside one transaction:
    committed when the block ends, rolled back when it raises.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        audit_key_path: Path,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        witness_path: Path | None = None,
    ) -> None:
        self.engine = engine
        self.audit_key_path = audit_key_path
        self.witness_path = witness_path  # every checkpoint is also appended there (store/witness.py)
        self.http_witness: HttpWitness | None = None  # and POSTed there (store/http_witness.py)
        self.checkpoint_every = max(0, checkpoint_every)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        audit_key_path: Path | None = None,
        checkpoint_every: int | None = None,
        run_migrations: bool = True,
        witness_path: Path | None = None,
    ) -> Store:
        """Open the store at ``url`` (default: ``SHIELDWALL_DATABASE_URL`` or the SQLite file) and migrate it."""
        env = os.environ if environ is None else environ
        resolved = normalize_url(url) if url else database_url(env)
        engine = create_store_engine(resolved)
        if run_migrations:
            migrate(engine)
        if checkpoint_every is None:
            text = env.get(ENV_CHECKPOINT_EVERY, "").strip()
            checkpoint_every = int(text) if text.isdigit() else DEFAULT_CHECKPOINT_EVERY
        store = cls(
            engine,
            audit_key_path=audit_key_path or default_audit_key_path(env),
            checkpoint_every=checkpoint_every,
            witness_path=witness_path or default_witness_path(env, trail=_without_password(resolved)),
        )
        store.http_witness = HttpWitness.from_environ(env)
        return store

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL without its password."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- small key/value settings ------------------------------------------------------------

    def get_setting(self, key: str) -> Any:
        """A JSON value of the settings table, or None."""
        with self.session() as session:
            row = session.get(Setting, key)
            return json.loads(row.value) if row is not None else None

    def put_setting(self, key: str, value: Any, session: Session | None = None) -> None:
        """Store a JSON value (inside ``session`` when given, else in its own transaction)."""
        if session is None:
            with self.session() as own:
                self.put_setting(key, value, own)
            return
        text = json.dumps(value, sort_keys=True)
        row = session.get(Setting, key)
        if row is None:
            session.add(Setting(key=key, value=text, updated_at=utcnow()))
        else:
            row.value = text
            row.updated_at = utcnow()

    def settings(self) -> dict[str, Any]:
        """Every setting (for diagnostics)."""
        with self.session() as session:
            return {row.key: json.loads(row.value) for row in session.scalars(select(Setting))}


def _without_password(url: str) -> str:
    """The store URL as a trail's name: the password is never part of a file name's input."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL failed earlier; keep the name stable anyway
        return url.split("@")[-1]
