"""Monitor integration tests: the registry fixtures of tests/integration plus the store on SQLite and PostgreSQL."""

from helpers.store_fixtures import postgres_server, store, store_url

__all__ = ["postgres_server", "store", "store_url"]
