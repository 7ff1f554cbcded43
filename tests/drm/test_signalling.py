"""DRM signalling outside the init segment: ClearKey licences, FairPlay key URIs, HLS key
lines and DASH ContentProtection elements, with Shaka Packager as a peer for the DASH ones."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import m3u8
import pytest
from lxml import etree

from drm.keys import DrmError
from drm.signalling import clearkey, fairplay, playready, pssh
from drm.signalling.dash import dash_content_protection
from drm.signalling.decode import decode
from drm.signalling.hls import hls_key_lines, session_key_lines
from pipeline.manifest.dash import NS_CENC, NS_DASHIF, NS_MPD, NS_MSPR, NSMAP
from pipeline.mp4.base import parse_box
from tests.support.drm_vectors import (
    COMMON_UUID,
    KEY1,
    KID1,
    KID2,
    PR_UUID,
    WV_UUID,
    expected_checksum,
    hand_pssh,
)
from tests.support.requirements import require

# --- ClearKey -------------------------------------------------------------------------------


def test_clearkey_licence_answers_only_requested_kids():
    keys = {KID1: KEY1, KID2: bytes(range(16))}
    request = json.dumps({"kids": [clearkey.b64url(KID1)], "type": "temporary"}).encode()
    resp = clearkey.license_response(request, keys)
    assert resp == {
        "keys": [
            {
                "kty": "oct",
                "kid": base64.urlsafe_b64encode(KID1).decode().rstrip("="),
                "k": base64.urlsafe_b64encode(KEY1).decode().rstrip("="),
            }
        ],
        "type": "temporary",
    }
    assert "=" not in json.dumps(resp)
    unknown = clearkey.license_request([bytes(16), KID2])
    assert [k["kid"] for k in clearkey.license_response(unknown, keys)["keys"]] == [
        clearkey.b64url(KID2)
    ]
    padded = json.dumps({"kids": [base64.urlsafe_b64encode(KID1).decode()]})  # no type
    assert len(clearkey.license_response(padded, keys)["keys"]) == 1


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{", "not JSON"),
        (b"[1]", "JSON object"),
        (b"{}", "non-empty"),
        (b'{"kids": []}', "non-empty"),
        (b'{"kids": [5]}', "base64url string"),
        (b'{"kids": ["a+b/"]}', "not base64url"),
        (b'{"kids": ["AAAA"]}', "3 bytes"),
        (b'{"kids": ["AAAAAAAAAAAAAAAAAAAAAA"], "type": "persistent-license"}', "temporary"),
    ],
)
def test_clearkey_malformed_requests(body: bytes, message: str):
    with pytest.raises(clearkey.ClearKeyRequestError, match=message) as err:
        clearkey.license_response(body, {KID1: KEY1})
    assert isinstance(err.value, ValueError)  # HTTP handlers answer 400 on ValueError


# --- FairPlay -------------------------------------------------------------------------------


def test_skd_uri_round_trip():
    assert fairplay.skd_uri(KID1) == f"skd://{KID1.hex()}"
    assert fairplay.parse_skd_uri(fairplay.skd_uri(KID1)) == (None, KID1)
    uri = fairplay.skd_uri(KID2, "keys.example.com")
    assert uri == f"skd://keys.example.com/{KID2.hex()}"
    assert fairplay.parse_skd_uri(uri) == ("keys.example.com", KID2)
    assert fairplay.parse_skd_uri(f"skd://h/a/{uuid.UUID(bytes=KID1)}") == ("h/a", KID1)
    with pytest.raises(DrmError, match="skd://"):
        fairplay.parse_skd_uri("https://x/" + KID1.hex())


def test_fairplay_key_line_parses_with_m3u8():
    line = fairplay.ext_x_key_line("skd://kid1")
    assert line == (
        '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://kid1",'
        'KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"'
    )


# --- HLS ------------------------------------------------------------------------------------


def _playlist(lines: list[str]) -> m3u8.M3U8:
    text = "\n".join(
        ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:6", *lines]
        + ['#EXT-X-MAP:URI="init.mp4"', "#EXTINF:6.0,", "1.m4s", "#EXT-X-ENDLIST", ""]
    )
    return m3u8.loads(text)


def test_hls_key_lines_cbcs_all_systems():
    lines = hls_key_lines(
        ["widevine", "playready", "fairplay"], "cbcs", KID1, key=KEY1, la_url="https://l/x"
    )
    keys = {k.keyformat: k for k in _playlist(lines).keys}
    assert {k.method for k in keys.values()} == {"SAMPLE-AES"}
    wv = keys[f"urn:uuid:{WV_UUID}"]
    assert wv.keyformatversions == "1"
    assert wv.uri.startswith("data:text/plain;base64,")
    box = base64.b64decode(wv.uri.split(",", 1)[1])
    assert box == pssh.widevine_pssh([KID1], "cbcs")
    assert f"KEYID=0x{KID1.hex().upper()}" in lines[0]
    pr = keys["com.microsoft.playready"]
    assert pr.uri.startswith("data:text/plain;charset=UTF-16;base64,")
    pro = base64.b64decode(pr.uri.split(",", 1)[1])
    assert pro == playready.playready_object(KID1, "cbcs", la_url="https://l/x")
    fp = keys["com.apple.streamingkeydelivery"]
    assert fp.uri == f"skd://{KID1.hex()}" and fp.keyformatversions == "1"


def test_hls_key_lines_cenc_and_session_copies():
    lines = hls_key_lines(["widevine", "clearkey"], "cenc", KID2)
    assert all(",METHOD=" not in ln and ":METHOD=SAMPLE-AES-CTR," in ln for ln in lines)
    ck = lines[1]
    # HLS ClearKey = KEYFORMAT "identity" with a key-delivery URI per KID, never the key.
    assert 'KEYFORMAT="identity"' in ck
    assert f'URI="/license/clearkey/{KID2.hex()}"' in ck
    with_url = hls_key_lines("clearkey", "cenc", KID2, la_url="https://o/lic/")
    assert f'URI="https://o/lic/{KID2.hex()}"' in with_url[0]
    session = session_key_lines(["widevine", "clearkey"], "cenc", KID2)
    assert session == [ln.replace("#EXT-X-KEY:", "#EXT-X-SESSION-KEY:") for ln in lines]
    master = m3u8.loads("#EXTM3U\n" + "\n".join(session) + "\n")
    assert len(master.session_keys) == 2
    with pytest.raises(DrmError, match="cbcs"):
        hls_key_lines("fairplay", "cenc", KID1)
    with pytest.raises(DrmError, match="unknown DRM system"):
        hls_key_lines("marlin", "cenc", KID1)
    with pytest.raises(DrmError, match="cenc or cbcs"):
        hls_key_lines("widevine", "cens", KID1)


# --- DASH -----------------------------------------------------------------------------------


def _in_mpd(elements: list[etree._Element]) -> tuple[str, etree._Element]:
    root = etree.Element(f"{{{NS_MPD}}}MPD", nsmap=NSMAP)
    aset = etree.SubElement(root, f"{{{NS_MPD}}}AdaptationSet")
    aset.extend(elements)
    etree.cleanup_namespaces(root, top_nsmap=NSMAP, keep_ns_prefixes=["cenc", "mspr", "dashif"])
    text = etree.tostring(root, encoding="unicode")
    return text, etree.fromstring(text.encode())


def test_dash_content_protection_elements():
    els = dash_content_protection(
        "cenc",
        KID1,
        ["widevine", "playready", "clearkey"],
        keys={KID1: KEY1},
        la_url={"playready": "https://pr/x", "clearkey": "https://ck/lic"},
    )
    text, root = _in_mpd(els)
    cps = root.findall(f"{{{NS_MPD}}}AdaptationSet/{{{NS_MPD}}}ContentProtection")
    schemes = [cp.get("schemeIdUri") for cp in cps]
    assert schemes == [
        "urn:mpeg:dash:mp4protection:2011",
        f"urn:uuid:{WV_UUID}",
        f"urn:uuid:{PR_UUID}",
        "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e",
        f"urn:uuid:{COMMON_UUID}",
    ]
    assert cps[0].get("value") == "cenc"
    assert cps[0].get(f"{{{NS_CENC}}}default_KID") == str(uuid.UUID(bytes=KID1))
    wv_box = base64.b64decode(cps[1].findtext(f"{{{NS_CENC}}}pssh"))
    assert wv_box == pssh.widevine_pssh([KID1], "cenc")
    pr_box = base64.b64decode(cps[2].findtext(f"{{{NS_CENC}}}pssh"))
    pro = base64.b64decode(cps[2].findtext(f"{{{NS_MSPR}}}pro"))
    assert parse_box(pr_box)[0].data == pro
    assert (
        decode(pro)[0]["data"]["kids"][0]["checksum"]
        == base64.b64encode(expected_checksum(KID1, KEY1)).decode()
    )
    assert cps[3].get("value") == "ClearKey1.0"
    assert cps[3].findtext(f"{{{NS_DASHIF}}}laurl") == "https://ck/lic"
    common = base64.b64decode(cps[4].findtext(f"{{{NS_CENC}}}pssh"))
    assert common == hand_pssh(COMMON_UUID, [KID1], b"", 1)
    # prefixes declared once on the root, as the MPD writer does
    assert text.count("xmlns:cenc=") == 1 and text.count("xmlns:mspr=") == 1
    assert "<cenc:pssh>" in text and "<mspr:pro>" in text and "<dashif:laurl>" in text


def test_dash_cbcs_and_errors():
    els = dash_content_protection("cbcs", KID2, ["playready"])
    assert els[0].get("value") == "cbcs"
    pro = base64.b64decode(els[1].findtext(f"{{{NS_MSPR}}}pro"))
    assert decode(pro)[0]["data"]["version"] == "4.3.0.0"
    with pytest.raises(DrmError, match="HLS only"):
        dash_content_protection("cbcs", KID2, ["fairplay"])


# --- Shaka Packager as a peer ---------------------------------------------------------------

PACKAGER = Path(__file__).resolve().parents[2] / (
    "web/node_modules/shaka-packager/bin/packager-linux-x64"
)


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["cenc", "cbcs"])
def test_same_signalling_as_shaka_packager(tmp_path: Path, scheme: str):
    """Shaka Packager 3.4 packages a short AAC track with the same key: its MPD pssh boxes,
    mspr:pro and init-segment pssh boxes must equal ours byte for byte."""
    import shutil
    import subprocess

    require(PACKAGER.is_file(), "Shaka Packager", "run scripts/setup.sh (npm shaka-packager)")
    require(shutil.which("ffmpeg"), "FFmpeg", "run scripts/setup.sh (apt package ffmpeg)")
    kid, key = bytes.fromhex("00112233445566778899aabbccddeeff"), bytes(range(16))
    src = tmp_path / "a.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", src],
        check=True,
    )
    subprocess.run(
        [
            PACKAGER,
            f"in={src},stream=audio,output={tmp_path / 'enc.mp4'},drm_label=AUDIO",
            "--enable_raw_key_encryption",
            f"--keys=label=AUDIO:key_id={kid.hex()}:key={key.hex()}",
            "--protection_systems=Widevine,PlayReady,CommonSystem",
            f"--protection_scheme={scheme}",
            f"--mpd_output={tmp_path / 'm.mpd'}",
        ],
        check=True,
        capture_output=True,
    )
    root = etree.parse(str(tmp_path / "m.mpd")).getroot()
    theirs = {cp.get("schemeIdUri"): cp for cp in root.iter(f"{{{NS_MPD}}}ContentProtection")}
    ours = {
        cp.get("schemeIdUri"): cp
        for cp in dash_content_protection(
            scheme, kid, ["widevine", "playready", "clearkey"], keys={kid: key}
        )
    }
    mp4p = "urn:mpeg:dash:mp4protection:2011"
    assert theirs[mp4p].get("value") == ours[mp4p].get("value") == scheme
    default_kid = f"{{{NS_CENC}}}default_KID"
    assert theirs[mp4p].get(default_kid) == ours[mp4p].get(default_kid)
    for system in (WV_UUID, PR_UUID, COMMON_UUID):
        urn = f"urn:uuid:{system}"
        their_box = base64.b64decode(theirs[urn].findtext(f"{{{NS_CENC}}}pssh"))
        assert base64.b64decode(ours[urn].findtext(f"{{{NS_CENC}}}pssh")) == their_box, system
    pr = f"urn:uuid:{PR_UUID}"
    assert ours[pr].findtext(f"{{{NS_MSPR}}}pro") == theirs[pr].findtext(f"{{{NS_MSPR}}}pro")
    assert ours[pr].get("value") == theirs[pr].get("value")
    # the pssh boxes in their init segment decode to what we would write
    in_file = decode((tmp_path / "enc.mp4").read_bytes())
    boxes = pssh.system_pssh_boxes(["widevine", "playready", "clearkey"], scheme, kid, key=key)
    assert {e["system"] for e in in_file} == {"Widevine", "PlayReady", "W3C Common"}
    assert sorted(map(repr, in_file)) == sorted(map(repr, decode(b"".join(boxes.values()))))
