"""LocalKeyStore: the embedded default key source, one SQLite file readable by its owner only.

Each (title, label) gets one random 16-byte key and KID from `secrets`, made on first request
and returned unchanged afterwards, so re-packaging a title keeps its keys and licences valid.
Two processes asking at once get the same key: every request runs in one write transaction
(BEGIN IMMEDIATE) doing INSERT OR IGNORE then SELECT. The file is created 0600 (SQLite gives
its journal the same mode) and a store that group or others can read is refused.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

from core.settings import settings
from drm.keys import LABELS, ContentKey, DrmError, kid_uuid

__all__ = ["LocalKeyStore", "KeyStoreError", "default_store_path"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS content_keys (
    title_id TEXT NOT NULL,
    label    TEXT NOT NULL,
    kid      BLOB NOT NULL UNIQUE,
    key      BLOB NOT NULL,
    created  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (title_id, label)
)
"""
_BUSY_TIMEOUT_S = 30.0


def default_store_path() -> Path:
    """$VOD_KEY_STORE, else ~/.local/share/vod-pipeline/keys.sqlite (never on the origin)."""
    configured = settings().key_store
    if configured is not None and configured != Path():  # VOD_KEY_STORE="" reads as Path(".")
        return configured.expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "vod-pipeline" / "keys.sqlite"


class KeyStoreError(DrmError):
    """The key store cannot be used safely (permissions, not a file, corrupt)."""


class LocalKeyStore:
    """Keys per (title, label) in a private SQLite file; implements KeyProvider."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._prepare()

    # -- KeyProvider -----------------------------------------------------------------------
    def keys_for(self, title_id: str, labels: Sequence[str]) -> dict[str, ContentKey]:
        """The keys of `labels` for a title, creating the missing ones (idempotent)."""
        _check_title(title_id)
        for label in labels:
            _check_label(label)
        out: dict[str, ContentKey] = {}
        with self._write() as con:
            for label in dict.fromkeys(labels):
                out[label] = self._get_or_create(con, title_id, label)
        return out

    # -- lookups (never create) ------------------------------------------------------------
    def get(self, title_id: str, label: str) -> ContentKey | None:
        """The stored key of (title, label), or None if it was never created."""
        _check_label(label)
        with closing(self._connect()) as con:
            row = con.execute(
                "SELECT kid, key FROM content_keys WHERE title_id = ? AND label = ?",
                (title_id, label),
            ).fetchone()
        return ContentKey(label, bytes(row[0]), bytes(row[1])) if row else None

    def list_kids(self, title_id: str) -> dict[str, bytes]:
        """{label: KID} of a title's stored keys, in AUDIO, SD, HD, UHD order."""
        with closing(self._connect()) as con:
            rows = con.execute(
                "SELECT label, kid FROM content_keys WHERE title_id = ?", (title_id,)
            ).fetchall()
        found = {label: bytes(kid) for label, kid in rows}
        return {lb: found[lb] for lb in LABELS if lb in found}

    def key_for_kid(self, kid: bytes) -> ContentKey | None:
        """The key with this KID, whatever its title (what a licence server looks up)."""
        with closing(self._connect()) as con:
            row = con.execute(
                "SELECT label, key FROM content_keys WHERE kid = ?", (bytes(kid),)
            ).fetchone()
        return ContentKey(row[0], bytes(kid), bytes(row[1])) if row else None

    # -- internals -------------------------------------------------------------------------
    def _get_or_create(self, con: sqlite3.Connection, title_id: str, label: str) -> ContentKey:
        for _ in range(5):  # a retry only on a (2^-128) KID collision with another title
            cur = con.execute(
                "INSERT OR IGNORE INTO content_keys (title_id, label, kid, key) VALUES (?,?,?,?)",
                (title_id, label, secrets.token_bytes(16), secrets.token_bytes(16)),
            )
            row = con.execute(
                "SELECT kid, key FROM content_keys WHERE title_id = ? AND label = ?",
                (title_id, label),
            ).fetchone()
            if row:
                key = ContentKey(label, bytes(row[0]), bytes(row[1]))
                if cur.rowcount == 1:
                    log.info("key store: new %s key %s for %s", label, kid_uuid(key.kid), title_id)
                return key
        raise KeyStoreError(f"could not create a unique KID for {title_id}/{label}", self._where)

    @property
    def _where(self) -> str:
        return str(self.path)

    def _connect(self) -> sqlite3.Connection:
        self._check_mode()
        try:
            return sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as e:
            raise KeyStoreError(f"cannot open key store: {e}", self._where) from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as con:
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:  # busy past the timeout, read-only, ...
                raise KeyStoreError(f"cannot lock key store: {e}", self._where) from None
            except sqlite3.DatabaseError as e:
                raise KeyStoreError(f"not a usable key store: {e}", self._where) from None
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _prepare(self) -> None:
        parent = self.path.parent
        if not parent.exists():
            _make_private_dirs(parent)
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except FileExistsError:
            pass  # existing store (or another process just made it): checked below
        except OSError as e:
            raise KeyStoreError(f"cannot create key store: {e.strerror}", self._where) from None
        else:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.close(fd)
        try:
            with self._write() as con:
                con.execute(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise KeyStoreError(f"not a usable key store: {e}", self._where) from None

    def _check_mode(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise KeyStoreError("key store has disappeared", self._where) from None
        if not stat.S_ISREG(st.st_mode):
            raise KeyStoreError("key store is not a regular file", self._where)
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise KeyStoreError(
                f"key store has mode {mode:04o}: group/others can access the content keys; "
                f"run 'chmod 600 {self.path}' (and rotate the keys if it was exposed)",
                self._where,
            )


def _make_private_dirs(path: Path) -> None:
    """Create `path` and any missing parents with mode 0700."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            continue  # created concurrently: leave its mode to whoever made it
        os.chmod(d, 0o700)


def _check_title(title_id: str) -> None:
    if not isinstance(title_id, str) or not title_id.strip():
        raise DrmError("a title id is needed to look up keys")


def _check_label(label: str) -> None:
    if label not in LABELS:
        raise DrmError(f"unknown key label {label!r}; expected one of {', '.join(LABELS)}")
