"""Atomic publication of a finished title onto a local origin directory.

A title is built in `ORIGIN/.staging/<id>-<random>/` on the same filesystem, then renamed into
place, so a player or a crawler never sees a half-written title. A previous version is swapped
out by rename too and removed only after the new one is in place.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path

from core.errors import PipelineError

TITLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
STAGING = ".staging"


def check_title_id(title_id: str) -> str:
    """Title ids become path segments and object keys: refuse anything that could traverse."""
    if not TITLE_ID.match(title_id) or ".." in title_id:
        raise PipelineError(
            None,
            f"invalid title id {title_id!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            stage="publish",
        )
    return title_id


def staging_dir(origin: Path, title_id: str) -> Path:
    path = origin / STAGING / f"{check_title_id(title_id)}-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def publish_local(staged: Path, origin: Path, title_id: str) -> Path:
    """Move a complete staged title to ORIGIN/<title_id>, replacing an older one atomically."""
    final = origin / check_title_id(title_id)
    old = None
    if final.exists():
        old = origin / STAGING / f"{title_id}-old-{uuid.uuid4().hex[:12]}"
        os.replace(final, old)
    try:
        os.replace(staged, final)
    except OSError:
        if old is not None:
            os.replace(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    _remove_if_empty(origin / STAGING)
    return final


def discard(staged: Path, origin: Path) -> None:
    shutil.rmtree(staged, ignore_errors=True)
    _remove_if_empty(origin / STAGING)


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()
