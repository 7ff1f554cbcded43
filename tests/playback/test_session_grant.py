"""The session grant a CDN token carries (playback.grant) and the HLS key filtering the gateway
does with it (playback.manifest_filter.filter_hls_keys), on playlists our own HLS writer made
with every DRM system's key lines: a session's playlists keep only the key lines of its KIDs,
ClearKey "identity" lines point at the session's key route, and unreadable lines go."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import m3u8
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drm.signalling.hls import hls_key_lines, session_key_lines
from drm.signalling.pssh import widevine_pssh
from pipeline.manifest.hls import write_hls
from playback.grant import SessionGrant, decode_grant, encode_grant
from playback.manifest_filter import filter_hls_keys, filter_hls_master, key_attrs, key_line_kids
from tests.support.playback_env import ladder_presentation

PRES = ladder_presentation()
KIDS = {label: bytes([n]) * 16 for n, label in enumerate(("SD", "HD", "UHD", "AUDIO"), 1)}
SYSTEMS = ["clearkey", "widevine", "playready", "fairplay"]
KEY_BASE = "http://api.test/playback/v1/sessions/sid12345/keys"
CREDENTIAL = "st=1~exp=9~acl=/playback/v1/sessions/sid12345/*~id=sid12345~hmac=" + "ab" * 32


def label_of(track) -> str:  # noqa: ANN001 (a pipeline Track)
    if track.kind == "audio":
        return "AUDIO"
    return "SD" if track.height <= 576 else "HD" if track.height <= 1080 else "UHD"


def lines(label: str, session: bool = False) -> list[str]:
    kid = KIDS[label]
    make = session_key_lines if session else hls_key_lines
    return make(SYSTEMS, "cbcs", kid, key=bytes(16))


PLAYLISTS = write_hls(
    PRES,
    key_lines=lambda t: lines(label_of(t)),
    session_key_lines=[ln for label in KIDS for ln in lines(label, session=True)],
)
SD_SESSION = SessionGrant(
    renditions=frozenset({"v234p", "v540p", "a-en"}),
    kids=frozenset({KIDS["SD"], KIDS["AUDIO"]}),
    key_base=KEY_BASE,
    credential=CREDENTIAL,
)


def key_lines_of(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(("#EXT-X-KEY:", "#EXT-X-SESSION-KEY:"))]


def named_kids(text: str) -> set[bytes]:
    found: set[bytes] = set()
    for line in key_lines_of(text):
        found |= key_line_kids(key_attrs(line))
    return found


def spellings(kid: bytes) -> list[str]:
    """Every way a playlist line could name a KID: hex, UUID, base64 (PSSH and PlayReady)."""
    guid_le = kid[3::-1] + kid[5:3:-1] + kid[7:5:-1] + kid[8:]
    hexes = [kid.hex(), kid.hex().upper()]
    return hexes + [base64.b64encode(k).decode()[:20] for k in (kid, guid_le)]


# -- the grant ---------------------------------------------------------------------------------


def test_grant_round_trip_has_no_token_separator() -> None:
    data = encode_grant(SD_SESSION.renditions, SD_SESSION.kids, KEY_BASE, CREDENTIAL)
    assert "~" not in data and data.startswith("g1.") and data.count(".") == 4
    assert decode_grant(data) == SD_SESSION
    clear = decode_grant(encode_grant(["v1"], [], KEY_BASE, CREDENTIAL))
    assert clear.kids == frozenset() and clear.renditions == {"v1"}


def test_key_uri_carries_the_quoted_credential() -> None:
    uri = SD_SESSION.key_uri(KIDS["SD"])
    assert uri.startswith(f"{KEY_BASE}/{KIDS['SD'].hex()}?auth=")
    assert parse_qs(urlsplit(uri).query)["auth"] == [CREDENTIAL] and '"' not in uri


@pytest.mark.parametrize(
    "renditions, kids, base, cred",
    [
        ([], [], KEY_BASE, CREDENTIAL),  # no rendition
        (["../x"], [], KEY_BASE, CREDENTIAL),
        (["v1"], [b"short"], KEY_BASE, CREDENTIAL),
        (["v1"], [], "ftp://api/keys", CREDENTIAL),
        (["v1"], [], KEY_BASE + "?auth=x", CREDENTIAL),
        (["v1"], [], 'http://a/"k', CREDENTIAL),
        (["v1"], [], KEY_BASE, "with space"),
        (["v1"], [], KEY_BASE, ""),
    ],
)
def test_encode_refuses_what_it_could_not_decode(renditions, kids, base, cred) -> None:  # noqa: ANN001
    with pytest.raises(ValueError):
        encode_grant(renditions, kids, base, cred)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


GOOD = [_b64(b"v1"), _b64(bytes(16)), _b64(KEY_BASE.encode()), _b64(CREDENTIAL.encode())]


@pytest.mark.parametrize(
    "data",
    [
        "",
        "v1,v2",  # the old rendition list
        ".".join(["g2", *GOOD]),
        ".".join(["g1", *GOOD[:3]]),
        ".".join(["g1", *GOOD, "x"]),
        ".".join(["g1", GOOD[0] + "=", *GOOD[1:]]),  # padding
        ".".join(["g1", GOOD[0], _b64(bytes(15)), *GOOD[2:]]),  # not whole KIDs
        ".".join(["g1", GOOD[0], _b64(bytes(32)), *GOOD[2:]]),  # the same KID twice
        ".".join(["g1", _b64(b"v1,v1"), *GOOD[1:]]),
        ".".join(["g1", _b64(b"v1,"), *GOOD[1:]]),
        ".".join(["g1", "a+b/", *GOOD[1:]]),  # not the URL-safe alphabet
        ".".join(["g1", "dj", *GOOD[1:]]),  # "v" with stray bits: not canonical
        ".".join(["g1", *GOOD[:2], _b64("http://é/k".encode()), GOOD[3]]),
    ],
)
def test_decode_is_strict(data: str) -> None:
    with pytest.raises(ValueError):
        decode_grant(data)


# -- HLS key lines -----------------------------------------------------------------------------


def test_sd_session_master_names_no_hd_kid_and_points_at_the_session() -> None:
    master = filter_hls_keys(filter_hls_master(PLAYLISTS["master.m3u8"], SD_SESSION.renditions),
                             SD_SESSION)  # fmt: skip
    assert named_kids(master) == {KIDS["SD"], KIDS["AUDIO"]}
    for label in ("HD", "UHD"):
        assert not any(s in master for s in spellings(KIDS[label])), label
    keys = key_lines_of(master)
    assert len(keys) == 2 * len(SYSTEMS)  # every system's line of the two allowed KIDs
    identity = [ln for ln in keys if 'KEYFORMAT="identity"' in ln]
    assert len(identity) == 2
    assert {ln.split('URI="', 1)[1].split('"', 1)[0] for ln in identity} == {
        SD_SESSION.key_uri(KIDS["SD"]),
        SD_SESSION.key_uri(KIDS["AUDIO"]),
    }
    assert "/license/clearkey" not in master
    parsed = m3u8.loads(master)  # still a playlist a parser reads
    assert [p.uri for p in parsed.playlists] == ["v234p.m3u8", "v540p.m3u8"]


@pytest.mark.parametrize("name", ["v234p.m3u8", "v540p_iframes.m3u8", "a-en.m3u8"])
def test_allowed_media_playlists_keep_their_keys_rewritten(name: str) -> None:
    original = PLAYLISTS[name]
    out = filter_hls_keys(original, SD_SESSION)
    kid = KIDS["AUDIO" if name.startswith("a-") else "SD"]
    assert named_kids(out) == {kid}
    keys = key_lines_of(out)
    assert len(keys) == len(SYSTEMS)
    assert any(f'URI="{SD_SESSION.key_uri(kid)}"' in ln for ln in keys)
    others = [ln for ln in out.splitlines() if ln not in keys]
    assert others == [ln for ln in original.splitlines() if ln not in key_lines_of(original)]
    assert m3u8.loads(out).segments[0].key is not None


def test_playlists_of_other_kids_lose_every_key_line() -> None:
    for name in ("v720p.m3u8", "v2160p_iframes.m3u8"):
        out = filter_hls_keys(PLAYLISTS[name], SD_SESSION)
        assert key_lines_of(out) == [] and not any(s in out for s in spellings(KIDS["HD"]))


def test_unreadable_mixed_and_clear_lines() -> None:
    sd = KIDS["SD"].hex().upper()
    text = "\n".join(
        [
            "#EXTM3U",
            "#EXT-X-KEY:METHOD=NONE",
            f'#EXT-X-KEY:METHOD=SAMPLE-AES,URI="k.bin",KEYID=0x{sd},KEYFORMAT="identity"',
            '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="k.bin",KEYFORMAT="identity"',  # no KID: dropped
            f'#EXT-X-KEY:METHOD=SAMPLE-AES,URI="/license/clearkey/{KIDS["SD"].hex()}"',
            f'#EXT-X-KEY:METHOD=SAMPLE-AES,URI="k",KEYID=0x{sd[:-2]},KEYFORMAT="identity"',
            '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,!!",'
            'KEYFORMAT="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"',  # undecodable
            '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://' + KIDS["HD"].hex() + '",'
            'KEYFORMAT="com.apple.streamingkeydelivery"',
            "seg.m4s",
        ]
    )
    out = filter_hls_keys(text + "\n", SD_SESSION).splitlines()
    want = f'URI="{SD_SESSION.key_uri(KIDS["SD"])}"'
    assert out[:2] == ["#EXTM3U", "#EXT-X-KEY:METHOD=NONE"]
    assert len(out) == 5 and out[-1] == "seg.m4s"
    assert want in out[2] and want in out[3]  # KEYID, or the KID ending the old key URL


def test_a_line_naming_an_allowed_and_a_foreign_kid_is_dropped() -> None:
    box = base64.b64encode(widevine_pssh([KIDS["SD"], KIDS["HD"]], "cbcs")).decode()
    mixed = (
        f'#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,{box}",'
        f'KEYID=0x{KIDS["SD"].hex()},KEYFORMAT="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"'
    )
    assert named_kids(mixed) == {KIDS["SD"], KIDS["HD"]}  # the PSSH lists both
    assert filter_hls_keys(mixed, SD_SESSION) == ""


@settings(max_examples=40, deadline=None)
@given(st.sets(st.sampled_from(sorted(KIDS)), min_size=1))
def test_any_kid_subset_leaves_only_those_kids(labels: set[str]) -> None:
    grant = SessionGrant(frozenset({"v234p"}), frozenset(KIDS[x] for x in labels), KEY_BASE,
                         CREDENTIAL)  # fmt: skip
    for name, text in PLAYLISTS.items():
        out = filter_hls_keys(text, grant)
        assert named_kids(out) <= grant.kids, name
        for line in key_lines_of(out):
            if 'KEYFORMAT="identity"' in line:
                assert f'URI="{KEY_BASE}/' in line
