"""Alembic environment: run migrations on the connection the store hands over (never from a config file)."""

from __future__ import annotations

from alembic import context

from shieldwall.store.schema import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Migrate over ``config.attributes["connection"]`` (set by ``shieldwall.store.db.migrate``)."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("shieldwall migrations run only through shieldwall.store.db.migrate")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
