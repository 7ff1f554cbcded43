"""The one way the ingest side writes to the catalogue: a published title, or a sidecar's
rights windows. Keys are never included (the summary carries KIDs only).

Called by both workflow drivers after publication (so an entry always points at manifests that
exist) and by `vod watch` for sidecar rights. The database is migrated once per process and
URL, not per job, and every engine is disposed after use, so a long-running worker neither
repeats migrations nor leaks connections. Without a database, a worker writes the entry as
`<folder>/<title_id>.json` (written whole: temp file + rename).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from catalogue.db import make_engine, normalise_url, session_scope
from catalogue.model import AvailabilityWindow
from catalogue.store import ImportCounts, import_windows, record_presentation

_migrated: set[str] = set()
_migrating = threading.Lock()


def record_title(
    summary: dict[str, Any],
    *,
    database_url: str | None,
    base_url: str = "",
    folder: Path | None = None,
) -> str:
    """Create or update the entry of `summary["title_id"]` (a title summary); returns
    created / updated / unchanged, or the JSON file written when there is no database."""
    title_id = summary["title_id"]
    if database_url:
        with catalogue_session(database_url) as session:
            return record_presentation(session, title_id, summary, base_url)
    if folder is None:
        raise ValueError("no catalogue database and no folder for catalogue entries")
    path = Path(folder) / f"{title_id}.json"
    _write_json(path, summary)
    return str(path)


def record_rights(windows: Iterable[AvailabilityWindow], database_url: str) -> ImportCounts:
    """Import rights windows (e.g. from an ingest sidecar); returns the store's counts."""
    with catalogue_session(database_url) as session:
        return import_windows(session, windows)


@contextmanager
def catalogue_session(database_url: str) -> Iterator[Session]:
    """One transaction on the catalogue at `database_url`, migrated on first use in this
    process; the engine is disposed when the transaction ends."""
    url = normalise_url(database_url)
    with _migrating:
        if url not in _migrated:
            from catalogue.migrations import upgrade

            upgrade(url)
            _migrated.add(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:10]}.tmp"
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
