"""The subscriber tables on the catalogue's database: same URL, same engine helpers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from catalogue import db as catalogue_db
from subscriber.tables import SubscriberBase


def setup(url: str, **kwargs: Any) -> Engine:
    """Migrate the catalogue schema, then create the subscriber tables (idempotent)."""
    engine = catalogue_db.setup(url, **kwargs)
    SubscriberBase.metadata.create_all(engine)
    return engine
