"""Engines and sessions for the catalogue database: a SQLite file by default, PostgreSQL in
production (`VOD_DATABASE_URL=postgresql+psycopg://user@host/db`).

The only place that knows about drivers and connection settings; everything else takes a
Session. Writers commit through `session_scope` so a failed import leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from core.settings import settings

ENV_URL = "VOD_DATABASE_URL"  # declared in core.settings; click options name it
DEFAULT_SQLITE = "catalogue.db"


def database_url(path: str | Path | None = None) -> str:
    """`VOD_DATABASE_URL` (core.settings) when set, else a SQLite file (default ./catalogue.db,
    made absolute so a later change of directory does not move it)."""
    configured = settings().database_url if path is None else None
    return configured or f"sqlite:///{Path(path or DEFAULT_SQLITE).resolve()}"


def normalise_url(url: str) -> str:
    """Bare `postgresql://` means psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An Engine with the per-backend settings the catalogue relies on."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        # Threads share the file (uvicorn's worker pool); WAL lets readers run during writes.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def setup(url: str, **kwargs: Any) -> Engine:
    """Migrate the database at `url` to the newest schema and return an Engine for it."""
    from catalogue.migrations import upgrade

    upgrade(normalise_url(url))
    return make_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for single-statement reads: autocommit, so no BEGIN/ROLLBACK round trips."""
    return sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    with session_factory(engine)() as session, session.begin():
        yield session
