"""Read-only sessions for decisions: on SQLite, deferred transactions that never take the write lock.

The store's own sessions start with ``BEGIN IMMEDIATE`` on SQLite (right for
writers); decisions only read, so they get a separate pooled engine whose
transactions are plain ``BEGIN`` with ``query_only`` set: in WAL mode they
never wait for the audit writer or a scan being recorded, and cannot write.
PostgreSQL sessions are the store's own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from shieldwall.store import Store

BUSY_TIMEOUT_MS = 5_000


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()


def _begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def read_sessions(store: Store) -> Callable[[], contextlib.AbstractContextManager[Session]]:
    """A factory of read-only sessions over ``store``'s database."""
    if store.dialect != "sqlite":
        return store.session
    engine = create_engine(store.engine.url, pool_size=8, max_overflow=8, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _pragmas)
    event.listen(engine, "begin", _begin)
    makers = sessionmaker(engine, expire_on_commit=False)

    @contextlib.contextmanager
    def session() -> Iterator[Session]:
        with makers() as own, own.begin():
            yield own

    return session
