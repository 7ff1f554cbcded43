"""Per-session manifest filtering (playback.manifest_filter) on manifests our own writers made:
what is left parses, names exactly the allowed renditions, and keeps everything else."""

from __future__ import annotations

import m3u8
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from mpegdash.parser import MPEGDASHParser

from core.errors import PipelineError
from pipeline.manifest.dash import write_mpd
from pipeline.manifest.hls import master_playlist
from playback.manifest_filter import filter_hls_master, filter_mpd, rendition_of
from tests.support.playback_env import LADDER, ladder_presentation

PRES = ladder_presentation()
VIDEO = [t.id for t in PRES.tracks if t.kind == "video"]
AUDIO = [t.id for t in PRES.tracks if t.kind == "audio"]
KEY_LINE = '#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://k1",KEYFORMAT="identity"'
MASTER = master_playlist(PRES, session_key_lines=[KEY_LINE])
MPD = write_mpd(PRES).encode()
NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}
THUMBS = "thumbs320x180"


def _hls_ids(text: str) -> tuple[list[str], list[str]]:
    pl = m3u8.loads(text)
    variants = [p.uri.removesuffix(".m3u8") for p in pl.playlists]
    iframes = [p.uri.removesuffix("_iframes.m3u8") for p in pl.iframe_playlists]
    return variants, iframes


def _mpd_ids(xml: bytes) -> list[str]:
    root = etree.fromstring(xml)
    return [r.get("id") for r in root.iterfind(".//d:Representation", NS)]


@pytest.mark.parametrize(
    "path, rendition",
    [
        ("v720p/3.m4s", "v720p"),
        ("v720p/init.mp4", "v720p"),
        ("v720p.m3u8", "v720p"),
        ("v720p_iframes.m3u8", "v720p"),
        ("cbcs/v720p.m3u8", "v720p"),
        ("cenc/v720p/1.m4s", "v720p"),
        ("master.m3u8", None),
        ("cbcs/master.m3u8", None),
        ("manifest.mpd", None),
        ("subs/en.vtt", None),
        ("subs/en.m3u8", None),
        ("", None),
    ],
)
def test_rendition_of(path: str, rendition: str | None) -> None:
    assert rendition_of(path) == rendition


def test_hls_master_keeps_only_allowed_and_the_rest_verbatim() -> None:
    allowed = frozenset({"v234p", "v540p", *AUDIO})
    out = filter_hls_master(MASTER, allowed)
    variants, iframes = _hls_ids(out)
    assert variants == ["v234p", "v540p"] and iframes == ["v234p", "v540p"]
    assert KEY_LINE in out and "#EXT-X-INDEPENDENT-SEGMENTS" in out
    assert 'URI="a-en.m3u8"' in out
    kept = [ln for ln in MASTER.splitlines() if ln in out.splitlines()]
    assert kept == out.splitlines()  # nothing reordered or rewritten


def test_hls_master_drops_audio_renditions_outside_the_list() -> None:
    out = filter_hls_master(MASTER, frozenset({"v234p"}))
    assert "a-en.m3u8" not in out
    assert _hls_ids(out)[0] == ["v234p"]


def test_mpd_keeps_only_allowed_and_lowers_max_size() -> None:
    allowed = frozenset({"v234p", "v720p", *AUDIO})
    out = filter_mpd(MPD, allowed)
    assert _mpd_ids(out) == ["v234p", "v720p", *AUDIO]
    video_set = etree.fromstring(out).find(".//d:AdaptationSet[@contentType='video']", NS)
    assert (video_set.get("maxWidth"), video_set.get("maxHeight")) == ("1280", "720")
    MPEGDASHParser.parse(out.decode())  # still a valid MPD to a third-party parser


def test_mpd_without_audio_drops_the_empty_set() -> None:
    out = filter_mpd(MPD, frozenset({"v234p"}))
    root = etree.fromstring(out)
    assert [a.get("contentType") for a in root.iterfind(".//d:AdaptationSet", NS)] == ["video"]


def test_mpd_doctype_is_refused() -> None:
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + MPD[38:]
    with pytest.raises(PipelineError, match="DOCTYPE"):
        filter_mpd(evil, frozenset({"v234p"}))


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(VIDEO + AUDIO), min_size=1))
def test_any_subset_leaves_exactly_that_subset(allowed: set[str]) -> None:
    keep = frozenset(allowed)
    variants, iframes = _hls_ids(filter_hls_master(MASTER, keep))
    assert set(variants) == set(iframes) == keep & set(VIDEO)
    assert set(_mpd_ids(filter_mpd(MPD, keep))) == keep
    assert len(LADDER) == len(VIDEO)


def test_thumbnail_streams_follow_the_grant() -> None:
    image = (
        '#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=15000,RESOLUTION=320x180,CODECS="jpeg",'
        'URI="thumbs320x180.m3u8"'
    )
    master = MASTER + "\n" + image + "\n"
    assert rendition_of("thumbs320x180/1.jpg") == rendition_of("thumbs320x180.m3u8") == THUMBS
    assert rendition_of("thumbnails.vtt") is None  # the storyboard: under the title's token
    assert image in filter_hls_master(master, frozenset({"v234p", "thumbs320x180"}))
    assert image not in filter_hls_master(master, frozenset({"v234p"}))
