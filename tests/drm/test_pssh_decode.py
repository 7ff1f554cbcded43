"""`vod pssh decode` (drm/signalling/decode.py): PSSH boxes, init segments and PlayReady
Objects in every input form, real-world data from the W3C web-platform-tests included."""

from __future__ import annotations

import base64
import json
import struct
import uuid
from pathlib import Path

import pytest

from drm.keys import DrmError
from drm.signalling import playready, pssh, systems
from drm.signalling.decode import decode, format_decoded, pssh_decode_command
from drm.signalling.hls import hls_key_lines
from tests.support.drm_vectors import (
    COMMON_UUID,
    KEY1,
    KID1,
    KID2,
    WPT_INIT_DATA,
    WPT_KID,
    WV_UUID,
    hand_pssh,
)

# --- decode ---------------------------------------------------------------------------------


def test_decode_real_world_widevine_and_playready():
    entries = decode(WPT_INIT_DATA)
    assert [e["system"] for e in entries] == ["Widevine", "PlayReady"]
    wv, pr = entries
    kid = str(uuid.UUID(bytes=WPT_KID))
    assert wv["version"] == 0 and wv["system_id"] == WV_UUID
    assert wv["data"]["key_ids"] == [kid] and wv["data"]["provider"] == "castlabs"
    assert wv["data"]["algorithm"] == "AESCTR" and wv["data"]["policy"] == "default"
    content = base64.b64decode(wv["data"]["content_id_text"])
    assert json.loads(content) == {"assetId": "eme-test-single"}
    assert pr["kids"] == [kid] and pr["data"]["version"] == "4.0.0.0"
    assert pr["data"]["kids"][0]["checksum"] == "jYFNf0yf4is="
    assert pr["data"]["la_url"].startswith("http://playready.directtaps.net/pr/svc/")
    assert "&UseSimpleNonPersistentLicense=1" in pr["data"]["la_url"]  # &amp; unescaped
    text = format_decoded(entries)
    assert "provider: castlabs" in text and "CHECKSUM jYFNf0yf4is=" in text
    assert "LA_URL: http://playready.directtaps.net" in text


def test_decode_our_boxes_in_every_input_form(tmp_path: Path):
    boxes = pssh.system_pssh_boxes(
        ["widevine", "playready", "clearkey"], "cbcs", KID1, la_url="https://l.example"
    )
    blob = b"".join(boxes.values())
    b64 = base64.b64encode(blob).decode()
    expected = ["Widevine", "PlayReady", "W3C Common"]
    for form in (blob, b64, base64.urlsafe_b64encode(blob).decode().rstrip("="), blob.hex()):
        entries = decode(form)
        assert [e["system"] for e in entries] == expected
    wv, pr, common = decode(b64)
    kid = str(uuid.UUID(bytes=KID1))
    assert wv["data"]["key_ids"] == [kid] and wv["data"]["protection_scheme"] == "cbcs"
    assert pr["data"]["version"] == "4.3.0.0" and pr["data"]["la_url"] == "https://l.example"
    assert pr["kids"] == [kid]
    assert common["version"] == 1 and common["kids"] == [kid] and common["data"] == {}
    # a file holding base64 text, and a binary file
    (tmp_path / "p.txt").write_text(b64 + "\n")
    (tmp_path / "p.bin").write_bytes(blob)
    for name in ("p.txt", "p.bin"):
        text = pssh_decode_command(str(tmp_path / name))
        assert "[3] W3C Common" in text and f"KID: {kid}" in text
    assert pssh_decode_command(b64) == pssh_decode_command(str(tmp_path / "p.bin"))


def test_decode_hand_assembled_and_unknown_systems():
    fairplay_box = hand_pssh(systems.FAIRPLAY_UUID, [KID2], b"", 1)
    other = hand_pssh("01020304-0506-0708-090a-0b0c0d0e0f10", [], b"\xde\xad", 0)
    common = hand_pssh(COMMON_UUID, [KID1, KID2], b"", 1)
    entries = decode(fairplay_box + other + common)
    assert entries[0]["system"] == "FairPlay"
    assert entries[0]["kids"] == [str(uuid.UUID(bytes=KID2))]
    assert entries[1]["system"] == "01020304-0506-0708-090a-0b0c0d0e0f10"
    assert entries[1]["data"] == {"raw_hex": "dead"}
    assert entries[2]["kids"] == [str(uuid.UUID(bytes=k)) for k in (KID1, KID2)]


def test_decode_mspr_pro_and_data_uri():
    pro = playready.playready_object(KID1, "cenc", key=KEY1, la_url="https://pr.example/")
    (entry,) = decode(base64.b64encode(pro).decode())
    assert entry["system"] == "PlayReady" and entry["version"] is None
    assert entry["data"]["kids"][0]["checksum"] == "uFY/OirQj/U="
    assert "(PlayReady Object)" in format_decoded([entry])
    (line,) = hls_key_lines("playready", "cenc", KID1, key=KEY1)
    uri = line.split('URI="')[1].split('"')[0]
    assert decode(uri)[0]["data"]["kids"] == entry["data"]["kids"]


def test_decode_finds_pssh_inside_an_init_segment():
    def box(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(body), kind) + body

    wv = hand_pssh(WV_UUID, [], b"\x12\x10" + KID1, 0)
    ftyp = box(b"ftyp", b"iso6\0\0\0\0iso6cmfc")
    moov = box(b"moov", box(b"mvhd", bytes(100)) + wv)
    init = ftyp + moov + box(b"mdat", b"\0" * 64)
    (entry,) = decode(init)
    assert entry["system"] == "Widevine"
    assert entry["data"]["key_ids"] == [str(uuid.UUID(bytes=KID1))]
    with pytest.raises(DrmError, match="no pssh"):
        decode(ftyp)


def test_decode_reports_bad_input_clearly():
    with pytest.raises(DrmError, match="neither base64 nor hex"):
        decode("not base64 at all!")
    with pytest.raises(DrmError, match="not a pssh box"):
        decode(b"\x00\x01\x02\x03\x04\x05\x06\x07\x08")
    with pytest.raises(DrmError, match="malformed"):
        decode(hand_pssh(WV_UUID, [], b"abcd", 0)[:-2])
    with pytest.raises(DrmError, match="empty"):
        decode("   ")
    # a corrupt Widevine payload is reported on its box, the other boxes still decode
    bad = hand_pssh(WV_UUID, [], b"\x12\x50abc", 0) + pssh.common_pssh([KID1])
    entries = decode(bad)
    assert "error" in entries[0] and entries[1]["system"] == "W3C Common"
    assert "could not be decoded" in format_decoded(entries)
