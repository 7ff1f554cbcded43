"""Content keys, operator --key flags, and the local key store (permissions, idempotency,
two processes at once). No content key may ever reach a repr, an error or a log line."""

from __future__ import annotations

import base64
import logging
import multiprocessing
import os
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest

from drm.keys import (
    LABELS,
    ContentKey,
    DrmError,
    KeyProvider,
    StaticKeyProvider,
    label_for,
    label_for_height,
    parse_key_arg,
    parse_kid,
)
from drm.keystore import KeyStoreError, LocalKeyStore

KID = bytes.fromhex("00112233445566778899aabbccddeeff")
KEY = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")
KID_UUID = "00112233-4455-6677-8899-aabbccddeeff"


def _secret_forms(key: bytes) -> list[str]:
    return [key.hex(), key.hex().upper(), base64.b64encode(key).decode()[:20], repr(key)]


def _assert_no_secret(text: str, key: bytes) -> None:
    for form in _secret_forms(key):
        assert form not in text


# --- ContentKey -----------------------------------------------------------------------------


def test_content_key_repr_and_str_hide_the_key(caplog: pytest.LogCaptureFixture):
    ck = ContentKey("HD", KID, KEY, iv=bytes(16))
    for text in (repr(ck), str(ck), f"{ck}", f"{ck!r}", repr([ck]), repr({"k": ck})):
        _assert_no_secret(text, KEY)
        assert KID_UUID in text and "<redacted>" in text
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("vod.test").info("using %s / %r", ck, ck)
        logging.getLogger("vod.test").info(f"key object {ck}")
    assert KID_UUID in caplog.text
    _assert_no_secret(caplog.text, KEY)


def test_content_key_validation_never_echoes_the_key():
    with pytest.raises(DrmError, match="unknown key label"):
        ContentKey("4K", KID, KEY)
    with pytest.raises(DrmError, match="KID must be 16 bytes"):
        ContentKey("SD", KID[:8], KEY)
    with pytest.raises(DrmError, match="content key must be 16 bytes") as err:
        ContentKey("SD", KID, KEY + b"\x01")
    _assert_no_secret(str(err.value), KEY)
    with pytest.raises(DrmError, match="IV"):
        ContentKey("SD", KID, KEY, iv=b"\0" * 12)


# --- parse_key_arg / StaticKeyProvider ------------------------------------------------------


def test_parse_key_arg_forms():
    ck = parse_key_arg(f"HD:{KID.hex()}:{KEY.hex()}")
    assert (ck.label, ck.kid, ck.key, ck.iv) == ("HD", KID, KEY, None)
    assert parse_key_arg(f"audio:{KID_UUID}:{KEY.hex().upper()}").kid == KID
    assert parse_key_arg(f"UHD:{KID.hex()}:{KEY.hex()}:{'ab' * 8}").iv == b"\xab" * 8
    assert parse_kid(KID_UUID.upper()) == KID == parse_kid(f"{{{KID_UUID}}}")


@pytest.mark.parametrize(
    "arg, message",
    [
        (f"HD:{KID.hex()}", "LABEL:KIDHEX:KEYHEX"),
        (f"XHD:{KID.hex()}:{KEY.hex()}", "unknown label 'XHD'"),
        (f"SD:{KID.hex()[:-2]}:{KEY.hex()}", "must be 32 hex digits"),
        (f"SD:{KID.hex()[:-1]}g:{KEY.hex()}", "not hexadecimal"),
        (f"SD:0011-2233:{KEY.hex()}", "not a valid UUID"),
        (f"SD:{KID.hex()}:{KEY.hex()[:-1]}z", "content key is not hexadecimal"),
        (f"SD:{KID.hex()}:{KEY.hex()}00", "content key must be 32 hex digits, got 34"),
        (f"SD:{KID.hex()}:{KEY.hex()}:abc", "IV must be 16 or 32 hex digits"),
    ],
)
def test_parse_key_arg_errors(arg: str, message: str):
    with pytest.raises(DrmError, match=message) as err:
        parse_key_arg(arg)
    _assert_no_secret(str(err.value), KEY)
    assert str(err.value).startswith("[drm]")


def test_static_provider(caplog: pytest.LogCaptureFixture):
    other = bytes(range(16))
    provider = StaticKeyProvider.from_args(
        [f"SD:{KID.hex()}:{KEY.hex()}", f"AUDIO:{other.hex()}:{other[::-1].hex()}"]
    )
    assert isinstance(provider, KeyProvider)
    with caplog.at_level(logging.DEBUG):
        keys = provider.keys_for("title-1", ["AUDIO", "SD"])
    assert keys["SD"].key == KEY and keys["AUDIO"].kid == other
    _assert_no_secret(caplog.text, KEY)
    with pytest.raises(DrmError, match="no --key for label.*HD.*given: SD, AUDIO"):
        provider.keys_for("title-1", ["SD", "HD"])
    with pytest.raises(DrmError, match="label SD given twice"):
        StaticKeyProvider.from_args([f"SD:{KID.hex()}:{KEY.hex()}"] * 2)
    with pytest.raises(DrmError, match="share one KID"):
        StaticKeyProvider.from_args([f"SD:{KID.hex()}:{KEY.hex()}", f"HD:{KID.hex()}:{KEY.hex()}"])


def test_labels_by_height():
    cases = {1: "SD", 480: "SD", 576: "SD", 577: "HD", 720: "HD", 1080: "HD", 1081: "UHD"}
    cases[2160] = "UHD"
    for height, label in cases.items():
        assert label_for_height(height) == label
        assert label_for("video", height) == label
    assert label_for("audio") == "AUDIO"
    with pytest.raises(DrmError, match="video height must be positive, got 0$"):
        label_for_height(0)
    with pytest.raises(DrmError, match="not encrypted"):
        label_for("text")


# --- LocalKeyStore --------------------------------------------------------------------------


@pytest.fixture
def loose_umask():
    """A permissive umask, so the 0600/0700 modes must come from the code itself."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_store_file_is_private_and_directory_0700(tmp_path: Path, loose_umask):
    path = tmp_path / "new" / "deeper" / "keys.db"
    store = LocalKeyStore(path)
    store.keys_for("t1", LABELS)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path.parent.parent).st_mode) == 0o700
    for sibling in path.parent.iterdir():  # no journal left readable by others
        assert stat.S_IMODE(sibling.stat().st_mode) & 0o077 == 0
    assert isinstance(store, KeyProvider)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_store_readable_by_others_is_refused(tmp_path: Path, mode: int):
    path = tmp_path / "keys.db"
    LocalKeyStore(path).keys_for("t1", ["SD"])
    os.chmod(path, mode)
    with pytest.raises(KeyStoreError) as err:
        LocalKeyStore(path)
    msg = str(err.value)
    assert str(path) in msg and f"{mode:04o}" in msg and "chmod 600" in msg


def test_store_is_idempotent_and_keys_are_distinct(tmp_path: Path, caplog):
    path = tmp_path / "keys.db"
    with caplog.at_level(logging.DEBUG):
        first = LocalKeyStore(path).keys_for("title-1", LABELS)
        again = LocalKeyStore(path).keys_for("title-1", ["HD", "SD", "HD"])
        other = LocalKeyStore(path).keys_for("title-2", ["HD"])
    assert again == {"HD": first["HD"], "SD": first["SD"]}
    assert len({k.key for k in first.values()}) == 4 and len({k.kid for k in first.values()}) == 4
    assert other["HD"].kid != first["HD"].kid and other["HD"].key != first["HD"].key
    for k in (*first.values(), *other.values()):
        _assert_no_secret(caplog.text, k.key)
    assert first["UHD"].kid_uuid in caplog.text  # creation is logged, by KID

    store = LocalKeyStore(path)
    assert store.list_kids("title-1") == {lb: first[lb].kid for lb in LABELS}
    assert store.list_kids("nope") == {}
    assert store.get("title-1", "AUDIO") == first["AUDIO"]
    assert store.get("title-2", "SD") is None  # lookups never create
    assert store.list_kids("title-2") == {"HD": other["HD"].kid}
    assert store.key_for_kid(other["HD"].kid) == other["HD"]
    assert store.key_for_kid(bytes(16)) is None
    with pytest.raises(DrmError, match="unknown key label"):
        store.keys_for("title-1", ["FHD"])
    with pytest.raises(DrmError, match="title id"):
        store.keys_for("  ", ["SD"])


def test_store_refuses_non_database(tmp_path: Path):
    path = tmp_path / "keys.db"
    path.write_bytes(b"this is not sqlite, just text" * 100)
    os.chmod(path, 0o600)
    with pytest.raises(KeyStoreError, match="not a usable key store"):
        LocalKeyStore(path)


def _worker(path: str, barrier, queue) -> None:
    barrier.wait()
    keys = LocalKeyStore(path).keys_for("race-title", LABELS)
    queue.put({lb: (k.kid.hex(), k.key.hex()) for lb, k in keys.items()})


def test_two_processes_get_the_same_keys(tmp_path: Path):
    path = str(tmp_path / "store" / "keys.db")  # neither process finds a store yet
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(path, barrier, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert all(r == results[0] for r in results)
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT COUNT(*) FROM content_keys").fetchone()[0] == 4
    stored = LocalKeyStore(path).keys_for("race-title", LABELS)
    assert {lb: (k.kid.hex(), k.key.hex()) for lb, k in stored.items()} == results[0]
    assert uuid.UUID(bytes=stored["SD"].kid)  # well-formed 16-byte KIDs
