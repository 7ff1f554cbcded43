"""The catalogue stage of a packaging run: record what was published, keys never included.

Called by the orchestrations (in-process `vod ingest`, the Celery canvas) after publication,
so a title's entry always points at manifests that exist.
"""

from __future__ import annotations

from typing import Any, Literal

from catalogue.db import session_scope, setup
from catalogue.store import record_presentation


def record_title(
    summary: dict[str, Any], database_url: str, base_url: str
) -> Literal["created", "updated", "unchanged"]:
    """Create or update the catalogue entry of `summary["title_id"]` (an ingest summary)."""
    engine = setup(database_url)
    try:
        with session_scope(engine) as session:
            return record_presentation(session, summary["title_id"], summary, base_url)
    finally:
        engine.dispose()
