"""Alembic migrations for the catalogue schema, run from code (no alembic.ini needed).

`upgrade(url)` brings a database to the newest revision; it is idempotent and cheap when the
database is already there, so every entry point (CLI, API, bench) calls it before use. New
revisions: `alembic -c catalogue/migrations/alembic.ini revision --autogenerate -m "..."`
with `VOD_DATABASE_URL` set; autogenerate never runs at runtime.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

HERE = Path(__file__).resolve().parent


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    """A Config pointing at this directory; `connection` lets callers share a transaction."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser interpolation
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision` (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
