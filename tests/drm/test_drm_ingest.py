"""`vod ingest --drm`: keys per label, both schemes, KIDs (never keys) in the summary."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from drm.keystore import LocalKeyStore
from pipeline.mp4.reader import read_init
from tests.support.common import run_vod
from vod.errors import EXIT_ERROR

pytestmark = pytest.mark.slow


def _init_tenc(path: Path):
    _, moov = read_init(path)
    entry = moov.find("trak/mdia/minf/stbl/stsd").children[0]
    return entry.box_type, entry.find("sinf/schm").scheme_type, entry.find("sinf/schi/tenc")


def test_both_schemes_from_the_local_key_store(media_factory, tmp_path: Path) -> None:
    store = tmp_path / "private" / "keys.sqlite"
    origin = tmp_path / "origin"
    proc = run_vod(
        "ingest",
        str(media_factory("short")),
        "--title-id",
        "t",
        "--origin",
        str(origin),
        "--device-class",
        "mobile",
        "--drm",
        "all",
        "--scheme",
        "both",
        "--key-store",
        str(store),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    keys = LocalKeyStore(store).keys_for("t", ["SD", "AUDIO"])
    assert summary["drm"]["kids"] == {k.label: k.kid_uuid for k in keys.values()}
    # The content keys appear nowhere: not in the summary, not on the origin.
    for key in keys.values():
        assert key.key.hex() not in proc.stdout + proc.stderr
        for f in origin.rglob("*"):
            if f.is_file():
                assert key.key not in f.read_bytes()
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    title = origin / "t"
    video = next(p for p in (title / "cenc").iterdir() if p.name.startswith("v"))
    assert _init_tenc(video / "init.mp4")[:2] == ("encv", "cenc")
    entry, scheme, tenc = _init_tenc(title / "cbcs" / video.name / "init.mp4")
    assert (entry, scheme) == ("encv", "cbcs")
    assert tenc.default_kid == keys["SD"].kid and tenc.pattern == 0x19
    mpd = (title / "manifest.mpd").read_text()
    assert 'value="cenc"' in mpd and "cenc/" in mpd and "cbcs/" not in mpd
    master = (title / "master.m3u8").read_text()
    assert "EXT-X-SESSION-KEY:METHOD=SAMPLE-AES," in master
    assert "com.apple.streamingkeydelivery" in master
    media = (title / f"{video.name}.m3u8").read_text()
    assert "cbcs/" in media and "cenc/" not in media
    decoded = run_vod("pssh", "decode", str(video / "init.mp4"))
    assert decoded.returncode == 0
    assert "Widevine" in decoded.stdout and "PlayReady" in decoded.stdout
    assert keys["SD"].kid_uuid in decoded.stdout
    # Thumbnails stay clear, once for both schemes, with no key signalling of their own
    assert not (title / "cenc" / "thumbs320x180").exists()
    tile = title / "thumbs320x180" / "1.jpg"
    assert tile.read_bytes()[:2] == b"\xff\xd8"
    assert subprocess.run(["ffmpeg", "-v", "error", "-i", str(tile), "-f", "null", "-"],
                          capture_output=True).stderr == b""  # fmt: skip
    image_set = mpd[mpd.index('contentType="image"') :].split("</AdaptationSet>")[0]
    assert "ContentProtection" not in image_set and 'media="thumbs320x180/' in image_set
    playlist = (title / "thumbs320x180.m3u8").read_text()
    assert "EXT-X-KEY" not in playlist and "thumbs320x180/1.jpg" in playlist


def test_operator_keys_and_bad_key_arguments(media_factory, tmp_path: Path) -> None:
    vid = "SD:00112233445566778899aabbccddeeff:000102030405060708090a0b0c0d0e0f"
    aud = "AUDIO:ffeeddccbbaa99887766554433221100:0f0e0d0c0b0a09080706050403020100"
    origin = tmp_path / "o"
    proc = run_vod(
        "ingest",
        str(media_factory("short")),
        "--title-id",
        "k",
        "--origin",
        str(origin),
        "--device-class",
        "mobile",
        "--drm",
        "clearkey",
        "--scheme",
        "cenc",
        "--key",
        vid,
        "--key",
        aud,
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    kids = json.loads(proc.stdout)["drm"]["kids"]
    assert kids == {
        "SD": "00112233-4455-6677-8899-aabbccddeeff",
        "AUDIO": "ffeeddcc-bbaa-9988-7766-554433221100",
    }
    assert "000102030405060708090a0b0c0d0e0f" not in proc.stdout + proc.stderr
    bad = run_vod(
        "ingest",
        str(media_factory("short")),
        "--title-id",
        "k2",
        "--origin",
        str(origin),
        "--drm",
        "clearkey",
        "--key",
        "SD:00112233:zz",
    )
    assert bad.returncode == 2, bad.stderr  # click's usage error, before any work
    assert bad.stderr.endswith(
        "Error: Invalid value for --key: KID '00112233' must be 32 hex digits (16 bytes), got 8\n"
    )
    assert not (origin / "k2").exists()
    missing = run_vod(
        "ingest",
        str(media_factory("short")),
        "--title-id",
        "k3",
        "--origin",
        str(origin),
        "--device-class",
        "mobile",
        "--drm",
        "clearkey",
        "--key",
        vid,
    )  # no AUDIO key for the audio track
    assert missing.returncode == EXIT_ERROR
    assert missing.stderr == "error: [drm] k3: no --key for label(s) AUDIO (given: SD)\n"
    fairplay_cenc = run_vod(
        "ingest",
        str(media_factory("short")),
        "--title-id",
        "k4",
        "--origin",
        str(origin),
        "--drm",
        "fairplay",
        "--scheme",
        "cenc",
    )
    assert fairplay_cenc.returncode == EXIT_ERROR
    assert fairplay_cenc.stderr == (
        "error: [drm] FairPlay needs cbcs: use --scheme cbcs or --scheme both\n"
    )
    assert not (origin / "k3").exists() and not (origin / "k4").exists()


def test_keys_from_a_cpix_key_server_over_http(media_factory, tmp_path: Path) -> None:
    import threading

    from drm.keyexchange.keyserver import make_keyserver

    store = LocalKeyStore(tmp_path / "server-keys.sqlite")
    server = make_keyserver(store, token="s3cret")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        proc = run_vod(
            "ingest",
            str(media_factory("short")),
            "--title-id",
            "speke",
            "--origin",
            str(tmp_path / "o"),
            "--device-class",
            "mobile",
            "--drm",
            "widevine,playready,clearkey",
            "--scheme",
            "cenc",
            "--key-server",
            f"{server.url}/speke/v2/copyProtection",
            "--key-server-token",
            "s3cret",
            "--json",
        )
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr
    served = store.list_kids("speke")
    assert json.loads(proc.stdout)["drm"]["kids"] == {
        label: str(uuid.UUID(bytes=kid)) for label, kid in served.items()
    }
