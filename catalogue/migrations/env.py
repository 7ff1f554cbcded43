"""Alembic environment: one database URL (from the Config) or a caller's connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from catalogue.tables import Base

config = context.config
target_metadata = Base.metadata  # for `alembic revision --autogenerate` only


def _default_url() -> str:
    from catalogue.db import database_url

    return database_url()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or _default_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from catalogue.db import database_url, normalise_url

    url = normalise_url(config.get_main_option("sqlalchemy.url") or database_url())
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # noqa: ANN001 - alembic hands us a Connection
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER via table copy
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
