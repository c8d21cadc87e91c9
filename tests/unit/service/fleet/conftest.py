"""The store tests run on SQLite and on a real PostgreSQL server (see helpers.store_fixtures)."""

from helpers.store_fixtures import postgres_server, store, store_url

__all__ = ["postgres_server", "store", "store_url"]
