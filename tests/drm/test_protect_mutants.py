"""Title protection (drm/encryption/protect.py) edges that mutation testing
(scripts/mutation.sh drm/encryption/protect.py) found untested: system and scheme parsing with
the exact refusals, which segment sets `both` makes, FairPlay kept out of DASH and out of cenc,
key loading per label, and what each per-track hook hands on (KIDs, scheme, licence URL)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from drm.encryption.protect import Protection, parse_systems
from drm.keys import ContentKey, DrmError, StaticKeyProvider
from drm.signalling.systems import COMMON_ID, PLAYREADY_ID, WIDEVINE_ID
from pipeline.manifest.dash import NS_CENC, NS_DASHIF
from pipeline.media.presentation import Track

KIDS = {label: bytes([n]) * 16 for n, label in enumerate(("AUDIO", "SD", "HD", "UHD"), 1)}
KEYS = {label: bytes([0x10 + n]) * 16 for n, label in enumerate(("AUDIO", "SD", "HD", "UHD"), 1)}
ALL_KEYS = [ContentKey(label, KIDS[label], KEYS[label]) for label in KIDS]
URL = "https://lic.example/ck"


class RecordingProvider:
    """A KeyProvider that records what it was asked for and may leave labels out."""

    def __init__(self, drop: Sequence[str] = ()):
        self.asked: list[tuple[str, list[str]]] = []
        self.drop = set(drop)

    def keys_for(self, title_id: str, labels: Sequence[str]) -> dict[str, ContentKey]:
        self.asked.append((title_id, list(labels)))
        return {k.label: k for k in ALL_KEYS if k.label in labels and k.label not in self.drop}


def _protection(systems: list[str], scheme: str, url: str | None = None) -> Protection:
    p = Protection(systems, scheme, StaticKeyProvider(ALL_KEYS), license_url=url)
    p.load_keys("t1", ["AUDIO", "SD", "HD", "UHD"])
    return p


def _video(tid: str, height: int) -> Track:
    return Track(id=tid, kind="video", codecs="avc1.64001f", width=height * 16 // 9, height=height)


AUDIO = Track(id="a", kind="audio", codecs="mp4a.40.2")
TEXT = Track(id="t", kind="text", codecs="wvtt")
THUMBS = Track(id="thumbs320x180", kind="image", codecs="jpeg", width=320, height=180)


# --- parse_systems --------------------------------------------------------------------------
def test_parse_systems_normalises_orders_and_expands_all() -> None:
    assert parse_systems("clearkey") == ["clearkey"]
    assert parse_systems(" Widevine , PLAYREADY,,widevine ") == ["widevine", "playready"]
    assert parse_systems("all") == ["widevine", "playready", "fairplay", "clearkey"]
    assert parse_systems(" ALL ") == ["widevine", "playready", "fairplay", "clearkey"]
    assert parse_systems("fairplay,clearkey") == ["fairplay", "clearkey"]


@pytest.mark.parametrize(
    "value, message",
    [
        ("marlin", "'marlin'"),
        ("widevine,marlin,primetime", "'marlin, primetime'"),
        ("all,widevine", "'all'"),
        (" , ", "' , '"),
        ("", "''"),
    ],
)
def test_parse_systems_refusals_are_exact(value: str, message: str) -> None:
    with pytest.raises(DrmError) as caught:
        parse_systems(value)
    want = f"[drm] unknown DRM system {message}; use widevine, playready, fairplay, clearkey or all"
    assert str(caught.value) == want


# --- schemes and systems --------------------------------------------------------------------
def test_scheme_refusals_are_exact() -> None:
    provider = StaticKeyProvider(ALL_KEYS)
    with pytest.raises(DrmError) as caught:
        Protection(["widevine"], "cens", provider)
    assert str(caught.value) == "[drm] unknown scheme 'cens'; use cenc, cbcs or both"
    with pytest.raises(DrmError) as caught:
        Protection(["widevine", "fairplay"], "cenc", provider)
    assert str(caught.value) == "[drm] FairPlay needs cbcs: use --scheme cbcs or --scheme both"
    for scheme in ("cbcs", "both"):
        assert Protection(["fairplay"], scheme, provider).scheme == scheme
    assert Protection(["widevine"], "cenc", provider).keys == {}


def test_segment_sets_and_per_format_schemes() -> None:
    provider = StaticKeyProvider(ALL_KEYS)
    both = Protection(["widevine"], "both", provider)
    assert both.segment_schemes == ["cenc", "cbcs"]
    assert (both.hls_scheme(), both.dash_scheme()) == ("cbcs", "cenc")
    for scheme in ("cenc", "cbcs"):
        one = Protection(["widevine"], scheme, provider)
        assert one.segment_schemes == [scheme]
        assert (one.hls_scheme(), one.dash_scheme()) == (scheme, scheme)


def test_fairplay_is_hls_cbcs_only() -> None:
    p = Protection(["fairplay", "widevine", "clearkey"], "both", StaticKeyProvider(ALL_KEYS))
    assert p.dash_systems == ["widevine", "clearkey"]
    assert p.hls_systems("cbcs") == ["fairplay", "widevine", "clearkey"]
    assert p.hls_systems("cenc") == ["widevine", "clearkey"]


def test_licence_url_only_for_clearkey() -> None:
    provider = StaticKeyProvider(ALL_KEYS)
    assert Protection(["clearkey"], "cenc", provider, license_url=URL).la_urls == {"clearkey": URL}
    assert Protection(["clearkey"], "cenc", provider).la_urls is None
    assert Protection(["clearkey"], "cenc", provider, license_url="").la_urls is None


# --- keys -----------------------------------------------------------------------------------
def test_load_keys_asks_once_per_label_and_names_the_missing_ones() -> None:
    provider = RecordingProvider()
    p = Protection(["widevine"], "cenc", provider)
    p.load_keys("title9", ["SD", "AUDIO", "SD", "HD", "AUDIO"])
    assert provider.asked == [("title9", ["SD", "AUDIO", "HD"])]
    assert sorted(p.keys) == ["AUDIO", "HD", "SD"]
    short = Protection(["widevine"], "cenc", RecordingProvider(drop=["HD", "UHD"]))
    with pytest.raises(DrmError) as caught:
        short.load_keys("title9", ["SD", "UHD", "HD"])
    assert str(caught.value) == "[drm] no content key for label(s) UHD, HD"


def test_keys_by_track_kind_and_height() -> None:
    p = _protection(["widevine"], "cenc")
    assert p.key_for("audio", None).kid == KIDS["AUDIO"]
    assert p.key_for("video", 576).kid == KIDS["SD"]
    assert p.key_for("video", 1080).kid == KIDS["HD"]
    assert p.track_key(_video("v", 2160)).kid == KIDS["UHD"]
    assert p.track_key(AUDIO).kid == KIDS["AUDIO"]
    assert p.kids_by_label() == {
        "AUDIO": "01010101-0101-0101-0101-010101010101",
        "SD": "02020202-0202-0202-0202-020202020202",
        "HD": "03030303-0303-0303-0303-030303030303",
        "UHD": "04040404-0404-0404-0404-040404040404",
    }


# --- per-track hooks ------------------------------------------------------------------------
def test_encryptor_gets_the_key_and_the_dash_systems_pssh_boxes() -> None:
    p = _protection(["fairplay", "playready", "widevine", "clearkey"], "both")
    key = p.keys["HD"]
    for scheme in ("cenc", "cbcs"):
        enc = p.encryptor(scheme, key)
        assert (enc.scheme, enc.kid, enc._key) == (scheme, KIDS["HD"], KEYS["HD"])
        assert [b.box_type for b in enc.pssh] == ["pssh"] * 3  # no FairPlay box
        assert [b.system_id for b in enc.pssh] == [PLAYREADY_ID, WIDEVINE_ID, COMMON_ID]
        assert enc.pssh[2].kids == [{"kid": KIDS["HD"]}]


def test_playready_pssh_carries_the_clearkey_url_only_for_clearkey() -> None:
    with_url = _protection(["playready"], "cenc", URL)
    without = _protection(["playready"], "cenc")
    a = with_url.encryptor("cenc", with_url.keys["SD"]).pssh[0].data
    b = without.encryptor("cenc", without.keys["SD"]).pssh[0].data
    assert a == b  # la_urls is keyed by clearkey: PlayReady gets no LA_URL from it
    assert URL.encode("utf-16-le") not in a


def test_hls_key_lines_per_track() -> None:
    kid = KIDS["SD"]
    p = _protection(["clearkey", "fairplay"], "both", URL)
    lines = p.hls_key_lines(_video("v", 540))
    assert lines == [
        f'#EXT-X-KEY:METHOD=SAMPLE-AES,URI="{URL}/{kid.hex()}",KEYID=0x{kid.hex().upper()},'
        'KEYFORMAT="identity",KEYFORMATVERSIONS="1"',
        f'#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://{kid.hex()}",'
        'KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"',
    ]
    assert p.hls_key_lines(TEXT) == [] == p.hls_key_lines(THUMBS)
    cenc = _protection(["clearkey"], "cenc")
    audio_kid = KIDS["AUDIO"].hex()
    assert cenc.hls_key_lines(AUDIO) == [
        f'#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="/license/clearkey/{audio_kid}",'
        f'KEYID=0x{audio_kid.upper()},KEYFORMAT="identity",KEYFORMATVERSIONS="1"'
    ]


def test_hls_session_key_lines_once_per_kid_without_text() -> None:
    p = _protection(["clearkey"], "cbcs", URL)
    tracks = [TEXT, _video("v1", 1080), AUDIO, THUMBS, _video("v2", 720), _video("v3", 360), TEXT]
    lines = p.hls_session_key_lines(tracks)
    kids = [KIDS["HD"].hex(), KIDS["AUDIO"].hex(), KIDS["SD"].hex()]
    assert lines == [
        f'#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="{URL}/{k}",KEYID=0x{k.upper()},'
        'KEYFORMAT="identity",KEYFORMATVERSIONS="1"'
        for k in kids
    ]
    both = _protection(["clearkey", "fairplay"], "both", URL)
    assert len(both.hls_session_key_lines([AUDIO])) == 2  # cbcs for HLS: FairPlay kept
    assert p.hls_session_key_lines([TEXT]) == [] == p.hls_session_key_lines([THUMBS])


def test_dash_content_protection_per_track() -> None:
    p = _protection(["fairplay", "clearkey"], "both", URL)
    els = p.dash_content_protection(_video("v", 720))
    assert [e.get("schemeIdUri") for e in els] == [
        "urn:mpeg:dash:mp4protection:2011",
        "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e",
        "urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b",
    ]
    assert els[0].get("value") == "cenc"  # both: DASH gets the cenc set
    assert els[0].get(f"{{{NS_CENC}}}default_KID") == "03030303-0303-0303-0303-030303030303"
    assert els[1].findtext(f"{{{NS_DASHIF}}}laurl") == URL
    assert p.dash_content_protection(TEXT) == [] == p.dash_content_protection(THUMBS)
    cbcs = _protection(["playready"], "cbcs")
    els = cbcs.dash_content_protection(AUDIO)
    assert els[0].get("value") == "cbcs"
    assert els[0].get(f"{{{NS_CENC}}}default_KID") == "01010101-0101-0101-0101-010101010101"


def test_dash_playready_checksum_uses_the_track_key() -> None:
    """keys={kid: key} feeds the PlayReady cenc CHECKSUM: a different key, a different PRO."""
    from drm.signalling.dash import dash_content_protection

    p = _protection(["playready"], "cenc")
    kid = KIDS["SD"]
    ours = p.dash_content_protection(_video("v", 480))
    with_key = dash_content_protection("cenc", kid, ["playready"], keys={kid: KEYS["SD"]})
    no_key = dash_content_protection("cenc", kid, ["playready"])
    from lxml import etree

    assert [etree.tostring(e) for e in ours] == [etree.tostring(e) for e in with_key]
    assert [etree.tostring(e) for e in ours] != [etree.tostring(e) for e in no_key]


def test_playready_signalling_gets_the_content_key_for_its_checksum() -> None:
    """PlayReady's cenc CHECKSUM is computed from the content key: the encryptor's pssh and
    the HLS key line must be the ones built with the track's key, not without it."""
    from drm.signalling.hls import hls_key_lines
    from drm.signalling.pssh import system_pssh_boxes

    p = _protection(["playready"], "cenc")
    kid, key = KIDS["HD"], KEYS["HD"]
    enc = p.encryptor("cenc", p.keys["HD"])
    with_key = system_pssh_boxes(["playready"], "cenc", kid, key=key)["playready"]
    without = system_pssh_boxes(["playready"], "cenc", kid)["playready"]
    assert with_key != without
    assert [b.to_bytes() for b in enc.pssh] == [with_key]
    lines = p.hls_key_lines(_video("v", 1080))
    assert lines == hls_key_lines(["playready"], "cenc", kid, key=key)
    assert lines != hls_key_lines(["playready"], "cenc", kid)
    session = p.hls_session_key_lines([_video("v", 1080)])
    assert session == hls_key_lines(["playready"], "cenc", kid, key=key, tag="EXT-X-SESSION-KEY")
