"""The exposure, components and vulnerabilities tests run on SQLite and on a real PostgreSQL server."""

from helpers.store_fixtures import postgres_server, store, store_url

__all__ = ["postgres_server", "store", "store_url"]
