"""DASH writer edges that mutation testing (scripts/mutation.sh pipeline/manifest/dash.py) found
untested: the @bandwidth fallback, codec families across sample-entry variants, the title
duration without a presentation duration, custom segment templates and the exact refusals."""

from __future__ import annotations

import math

import pytest
from lxml import etree

from core.errors import PackageError
from pipeline.manifest.dash import _bandwidth, iso_duration, write_mpd
from pipeline.media.presentation import Track
from tests.pipeline.test_dash import NS, _sets, _video, make_presentation


def _root(pres) -> etree._Element:
    return etree.fromstring(write_mpd(pres).encode())


def test_bandwidth_falls_back_to_the_peak_segment_rate() -> None:
    pres = make_presentation()
    t = pres.tracks[0]
    t.bandwidth = 0
    peak = max(s.size * 8 * t.timescale / s.duration for s in t.segments)
    rep = _root(pres).find(f".//d:Representation[@id='{t.id}']", NS)
    assert rep.get("bandwidth") == str(math.ceil(peak))
    assert _bandwidth(Track(id="x", kind="video", codecs="avc1")) == 1


def test_sample_entry_variants_share_their_codec_family_set() -> None:
    pres = make_presentation()
    pres.tracks[1:3] = [_video("v234", 416, 234, "AVC3.42c015", 145)]
    pres.tracks += [
        _video("h1", 1920, 1080, "hvc1.2.4.L123.B0", 4500),
        _video("h2", 1280, 720, "hev1.2.4.L93.B0", 2500),
        _video("d1", 1920, 1080, "dvh1.05.06", 5000),
        _video("d2", 1280, 720, "dvhe.05.06", 3000),
    ]
    sets = _sets(_root(pres), "video")
    ids = [sorted(r.get("id") for r in s.findall("d:Representation", NS)) for s in sets]
    assert sorted(ids) == [["d1", "d2"], ["h1", "h2"], ["v234", "v540"]]


def test_title_duration_falls_back_to_the_longest_track() -> None:
    pres = make_presentation()
    pres.duration = 0
    longest = max(t.duration_seconds for t in pres.tracks)
    assert longest > 0
    assert _root(pres).get("mediaPresentationDuration") == iso_duration(longest)


def test_a_custom_segment_template_is_written_as_is() -> None:
    pres = make_presentation()
    t = pres.tracks[0]
    t.segment_template = f"{t.id}/seg-$Number$.m4s"
    for s in t.segments:
        s.uri = f"{t.id}/seg-{s.number}.m4s"
    tmpl = _root(pres).find(f".//d:Representation[@id='{t.id}']/d:SegmentTemplate", NS)
    assert tmpl.get("media") == t.segment_template


def test_refusals_name_the_track_and_the_cause() -> None:
    pres = make_presentation()
    pres.tracks[0].init_uri = None
    with pytest.raises(PackageError) as caught:
        write_mpd(pres)
    assert str(caught.value) == "[package] v540: video track has no segments or init segment"
    pres = make_presentation()
    pres.tracks[0].segments[3].uri = "v540/elsewhere.m4s"
    with pytest.raises(PackageError) as caught:
        write_mpd(pres)
    assert str(caught.value).startswith("[package] v540: segment 4 URI 'v540/elsewhere.m4s'")
    pres = make_presentation()
    t = pres.tracks[0]
    for s in t.segments[5:]:
        s.number += 1
        s.uri = f"{t.id}/{s.number}.m4s"
    with pytest.raises(PackageError) as caught:
        write_mpd(pres)
    assert str(caught.value) == "[package] v540: segment numbers jump from 5 to 7"
