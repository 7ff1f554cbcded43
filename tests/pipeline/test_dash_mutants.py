"""DASH writer edges that mutation testing (scripts/mutation.sh pipeline/manifest/dash.py) found
untested: the @bandwidth fallback, codec families across sample-entry variants, the title
duration without a presentation duration, custom segment templates and the exact refusals;
then the whole text of a small title, the set attributes taken from the largest / fastest
rendition, channel configurations per codec and count, JOC sets, timelines not starting at 0
and where ContentProtection copies land."""

from __future__ import annotations

import math

import pytest
from lxml import etree

from core.errors import PackageError
from pipeline.manifest.dash import NS_MPD as MPD_NS
from pipeline.manifest.dash import _bandwidth, iso_duration, write_mpd
from pipeline.media.presentation import Presentation, Segment, Track
from tests.pipeline.test_dash import NS, _sets, _video, make_presentation


def _root(pres) -> etree._Element:
    return etree.fromstring(write_mpd(pres).encode())


def _root_cp(pres, hook) -> etree._Element:
    return etree.fromstring(write_mpd(pres, content_protection=hook).encode())


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


# --- the whole document, and the attribute values no other test compares --------------------
def _segs(tid: str, d: int, n: int = 2, first: int = 1, start: int = 0) -> list[Segment]:
    return [
        Segment(uri=f"{tid}/{first + i}.m4s", number=first + i, start=start + i * d,
                duration=d, size=1000)
        for i in range(n)
    ]  # fmt: skip


def _v(tid: str, w: int, h: int, kbps: int, rate: str = "25", codecs: str = "avc1.64001f") -> Track:
    return Track(id=tid, kind="video", codecs=codecs, timescale=90000, init_uri=f"{tid}/init.mp4",
                 segments=_segs(tid, 360000), bandwidth=kbps * 1000, width=w, height=h,
                 frame_rate=rate)  # fmt: skip


def _a(tid: str, codecs: str, ch: int | None, kbps: int, lang: str = "en", **kw) -> Track:
    return Track(id=tid, kind="audio", codecs=codecs, timescale=48000, init_uri=f"{tid}/init.mp4",
                 segments=_segs(tid, 192000), bandwidth=kbps * 1000, channels=ch, language=lang,
                 **{"sample_rate": 48000, **kw})  # fmt: skip


def _small() -> Presentation:
    return Presentation(title_id="t", duration=8.0, tracks=[
        _v("v1", 1280, 720, 3000),
        _v("v2", 640, 360, 800, rate="50", codecs="avc3.42c01e"),
        _a("a1", "mp4a.40.2", 2, 128),
        _a("a2", "ec-3", 6, 640, joc=True, default=True),
        Track(id="s1", kind="text", codecs="wvtt", language="fr", uri="subs/fr.vtt"),
    ])  # fmt: skip


def _rep_xml(tid: str, attrs: str, timescale: int, d: int) -> list[str]:
    return [
        f"      <Representation {attrs}>",
        f'        <SegmentTemplate timescale="{timescale}" initialization="{tid}/init.mp4" '
        f'media="{tid}/$Number$.m4s" startNumber="1">',
        "          <SegmentTimeline>",
        f'            <S t="0" d="{d}" r="1"/>',
        "          </SegmentTimeline>",
        "        </SegmentTemplate>",
        "      </Representation>",
    ]


ROLE = 'schemeIdUri="urn:mpeg:dash:role:2011"'
SMALL_MPD = "\n".join([
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:cenc="urn:mpeg:cenc:2013" '
    'xmlns:mspr="urn:microsoft:playready" xmlns:dashif="https://dashif.org/CPS" '
    'profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" '
    'mediaPresentationDuration="PT8S" maxSegmentDuration="PT4S" minBufferTime="PT2S">',
    '  <Period id="0" start="PT0S">',
    '    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" '
    'startWithSAP="1" maxWidth="1280" maxHeight="720" maxFrameRate="50" par="16:9">',
    f'      <Role {ROLE} value="main"/>',
    *_rep_xml("v2", 'id="v2" bandwidth="800000" codecs="avc3.42c01e" width="640" height="360" '
              'frameRate="50" sar="1:1"', 90000, 360000),
    *_rep_xml("v1", 'id="v1" bandwidth="3000000" codecs="avc1.64001f" width="1280" height="720" '
              'frameRate="25" sar="1:1"', 90000, 360000),
    "    </AdaptationSet>",
    '    <AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" lang="en" '
    'segmentAlignment="true" startWithSAP="1">',
    '      <AudioChannelConfiguration '
    'schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>',
    f'      <Role {ROLE} value="alternate"/>',
    *_rep_xml("a1", 'id="a1" bandwidth="128000" codecs="mp4a.40.2" audioSamplingRate="48000"',
              48000, 192000),
    "    </AdaptationSet>",
    '    <AdaptationSet id="2" contentType="audio" mimeType="audio/mp4" lang="en" '
    'segmentAlignment="true" startWithSAP="1">',
    '      <AudioChannelConfiguration '
    'schemeIdUri="tag:dolby.com,2014:dash:audio_channel_configuration:2011" value="F801"/>',
    '      <SupplementalProperty schemeIdUri="tag:dolby.com,2018:dash:EC3_ExtensionType:2018" '
    'value="JOC"/>',
    f'      <Role {ROLE} value="main"/>',
    *_rep_xml("a2", 'id="a2" bandwidth="640000" codecs="ec-3" audioSamplingRate="48000"',
              48000, 192000),
    "    </AdaptationSet>",
    '    <AdaptationSet id="3" contentType="text" mimeType="text/vtt" lang="fr">',
    f'      <Role {ROLE} value="subtitle"/>',
    '      <Representation id="s1" bandwidth="256">',
    "        <BaseURL>subs/fr.vtt</BaseURL>",
    "      </Representation>",
    "    </AdaptationSet>",
    "  </Period>",
    "</MPD>",
    "",
])  # fmt: skip


def test_small_title_is_written_exactly() -> None:
    """Every element and attribute of a two-video, two-audio, one-text title: set ids in
    order, avc1/avc3 in one set sorted by bandwidth, the fastest frame rate and the largest
    picture's aspect ratio on the set, Dolby 5.1 mask and JOC, the default audio's set "main",
    a text track's nominal bandwidth."""
    assert write_mpd(_small()) == SMALL_MPD


def test_video_only_and_audio_only_titles_are_described() -> None:
    video = Presentation(title_id="t", duration=8.0, tracks=[_v("v1", 1280, 720, 3000)])
    root = _root(video)
    assert [a.get("contentType") for a in root.iter(f"{{{MPD_NS}}}AdaptationSet")] == ["video"]
    audio = Presentation(title_id="t", duration=8.0, tracks=[_a("a1", "mp4a.40.2", 2, 128)])
    sets = list(_root(audio).iter(f"{{{MPD_NS}}}AdaptationSet"))
    assert [(a.get("id"), a.get("contentType")) for a in sets] == [("0", "audio")]
    assert sets[0].find("d:Role", NS).get("value") == "main"  # the only audio is the default
    text_only = Presentation(title_id="t9", duration=8.0, tracks=[_small().tracks[-1]])
    with pytest.raises(PackageError) as caught:
        write_mpd(text_only)
    assert str(caught.value) == "[package] t9/manifest.mpd: no audio or video track to describe"


def test_largest_picture_gives_par_and_bandwidth_breaks_a_tie() -> None:
    """par comes from the largest picture by area (not by width + height); equal areas go to
    the higher bandwidth. maxWidth and maxHeight are maxima over all renditions."""
    wide, square = _v("w", 1000, 100, 500), _v("q", 400, 400, 400)
    aset = _root(Presentation(title_id="t", duration=8.0, tracks=[wide, square])).find(
        "d:Period/d:AdaptationSet", NS
    )
    assert (aset.get("par"), aset.get("maxWidth"), aset.get("maxHeight")) == ("1:1", "1000", "400")
    a, b = _v("a", 640, 360, 1000), _v("b", 480, 480, 2000)  # both 230400 pixels
    for tracks in ([a, b], [b, a]):
        aset = _root(Presentation(title_id="t", duration=8.0, tracks=tracks)).find(
            "d:Period/d:AdaptationSet", NS
        )
        assert aset.get("par") == "1:1"
    c = _v("c", 480, 480, 500)
    aset = _root(Presentation(title_id="t", duration=8.0, tracks=[a, c])).find(
        "d:Period/d:AdaptationSet", NS
    )
    assert aset.get("par") == "16:9"
    slow, fast = _v("s", 1920, 1080, 5000, rate="24000/1001"), _v("f", 640, 360, 900, rate="30")
    aset = _root(Presentation(title_id="t", duration=8.0, tracks=[fast, slow])).find(
        "d:Period/d:AdaptationSet", NS
    )
    assert aset.get("maxFrameRate") == "30"
    assert aset.get("par") == "16:9"


@pytest.mark.parametrize("missing", ["width", "height", "frame_rate"])
def test_video_without_picture_size_or_rate_is_refused(missing: str) -> None:
    v = _v("v9", 1280, 720, 3000)
    setattr(v, missing, None)
    with pytest.raises(PackageError) as caught:
        write_mpd(Presentation(title_id="t", duration=8.0, tracks=[_v("v1", 640, 360, 800), v]))
    assert str(caught.value) == "[package] v9: video track lacks width, height or frame rate"


def test_text_track_refusal_and_measured_bandwidth() -> None:
    p = _small()
    p.tracks[-1].bandwidth = 1234
    rep = _root(p).find(".//d:Representation[@id='s1']", NS)
    assert rep.get("bandwidth") == "1234"
    p.tracks[-1].uri = None
    with pytest.raises(PackageError) as caught:
        write_mpd(p)
    assert str(caught.value) == "[package] s1: text track has no WebVTT file"


def test_audio_without_channels_or_sample_rate_leaves_them_out() -> None:
    p = Presentation(title_id="t", duration=8.0,
                     tracks=[_a("a1", "opus", None, 96, sample_rate=None)])  # fmt: skip
    aset = _root(p).find("d:Period/d:AdaptationSet", NS)
    assert aset.find("d:AudioChannelConfiguration", NS) is None
    assert aset.find("d:SupplementalProperty", NS) is None
    rep = aset.find("d:Representation", NS)
    assert dict(rep.attrib) == {"id": "a1", "bandwidth": "96000", "codecs": "opus"}


@pytest.mark.parametrize(
    "codecs, channels, scheme, value",
    [
        ("ac-3", 1, "dolby", "4000"),
        ("ac-3", 2, "dolby", "A000"),
        ("ec-3", 3, "dolby", "E000"),
        ("ac-3", 5, "dolby", "F800"),
        ("ec-3", 6, "dolby", "F801"),
        ("ec-3", 8, "dolby", "FA01"),
        ("ec-3", 7, "mpeg", "7"),
        ("mp4a.40.2", 6, "mpeg", "6"),
        ("mp4a.40.2", 1, "mpeg", "1"),
    ],
)
def test_channel_configuration_per_codec_and_count(
    codecs: str, channels: int, scheme: str, value: str
) -> None:
    uri = {
        "dolby": "tag:dolby.com,2014:dash:audio_channel_configuration:2011",
        "mpeg": "urn:mpeg:dash:23003:3:audio_channel_configuration:2011",
    }[scheme]
    p = Presentation(title_id="t", duration=8.0, tracks=[_a("a1", codecs, channels, 96)])
    acc = _root(p).find("d:Period/d:AdaptationSet/d:AudioChannelConfiguration", NS)
    assert dict(acc.attrib) == {"schemeIdUri": uri, "value": value}


def test_audio_sets_split_by_joc_and_take_the_first_tracks_properties() -> None:
    """Atmos (JOC) and plain E-AC-3 of one language and layout are separate sets; a set's
    language and channel layout are those of its renditions."""
    p = Presentation(title_id="t", duration=8.0, tracks=[
        _a("plain", "ec-3", 6, 384, lang="de"),
        _a("atmos", "ec-3", 6, 768, lang="de", joc=True),
        _a("low", "ec-3", 6, 192, lang="de"),
    ])  # fmt: skip
    sets = _root(p).findall("d:Period/d:AdaptationSet", NS)
    assert [[r.get("id") for r in s.findall("d:Representation", NS)] for s in sets] == [
        ["low", "plain"],
        ["atmos"],
    ]
    assert [s.find("d:Role", NS).get("value") for s in sets] == ["main", "alternate"]
    assert [s.find("d:SupplementalProperty", NS) is not None for s in sets] == [False, True]
    assert {s.get("lang") for s in sets} == {"de"}


def test_timeline_start_number_and_gaps() -> None:
    v = _v("v1", 1280, 720, 3000)
    v.segments = _segs("v1", 360000, n=2, first=5, start=720000)
    v.segments += _segs("v1", 180000, n=1, first=7, start=1440000 + 9000)
    tmpl = _root(Presentation(title_id="t", duration=8.0, tracks=[v])).find(
        ".//d:SegmentTemplate", NS
    )
    assert tmpl.get("startNumber") == "5"
    assert [dict(s.attrib) for s in tmpl.findall("d:SegmentTimeline/d:S", NS)] == [
        {"t": "720000", "d": "360000", "r": "1"},
        {"t": "1449000", "d": "180000"},
    ]


def test_bandwidth_fallback_skips_empty_segments_and_rounds_up() -> None:
    t = Track(id="x", kind="audio", codecs="mp4a.40.2", timescale=1000, segments=[
        Segment(uri="x/1.m4s", number=1, start=0, duration=0, size=10),
        Segment(uri="x/2.m4s", number=2, start=0, duration=3000, size=1000),
        Segment(uri="x/3.m4s", number=3, start=3000, duration=1000, size=300),
    ])  # fmt: skip
    # 1000 B in 3 s = 2666.67 b/s beats 300 B in 1 s = 2400 b/s; rounded up; 0 s skipped.
    assert _bandwidth(t) == 2667


def test_content_protection_copies_and_placement_per_set() -> None:
    """One hook result per track: shared ones are copied onto the set (the hook's own
    elements stay untouched), differing ones onto each Representation."""
    made: list[etree._Element] = []

    def hook(t: Track) -> list[etree._Element]:
        el = etree.Element(f"{{{MPD_NS}}}ContentProtection")
        el.set("schemeIdUri", "urn:mpeg:dash:mp4protection:2011")
        el.set("value", "cenc" if t.id != "v2" else "cbcs")
        made.append(el)
        return [el]

    root = _root_cp(_small(), hook)
    video, audio1, audio2, text = root.findall("d:Period/d:AdaptationSet", NS)
    assert video.find("d:ContentProtection", NS) is None
    assert [
        r.find("d:ContentProtection", NS).get("value")
        for r in video.findall("d:Representation", NS)
    ] == ["cbcs", "cenc"]
    for a in (audio1, audio2):
        (cp,) = a.findall("d:ContentProtection", NS)
        assert cp.get("value") == "cenc"
        assert a.find("d:Representation/d:ContentProtection", NS) is None
    assert text.find(".//d:ContentProtection", NS) is None
    assert all(el.getparent() is None for el in made)


def test_audio_protection_per_representation_when_keys_differ() -> None:
    """Two renditions of one audio set with different ContentProtection: each
    Representation carries its own, the set none."""
    p = Presentation(title_id="t", duration=8.0, tracks=[
        _a("hi", "mp4a.40.2", 2, 128), _a("lo", "mp4a.40.2", 2, 64),
    ])  # fmt: skip

    def hook(t: Track) -> list[etree._Element]:
        el = etree.Element(f"{{{MPD_NS}}}ContentProtection")
        el.set("schemeIdUri", "urn:mpeg:dash:mp4protection:2011")
        el.set("value", t.id)
        return [el]

    (aset,) = _root_cp(p, hook).findall("d:Period/d:AdaptationSet", NS)
    assert aset.find("d:ContentProtection", NS) is None
    reps = aset.findall("d:Representation", NS)
    assert [r.get("id") for r in reps] == ["lo", "hi"]
    assert [
        [(etree.QName(c).localname, c.get("value")) for c in r] for r in reps
    ] == [[("ContentProtection", "lo"), ("SegmentTemplate", None)],
          [("ContentProtection", "hi"), ("SegmentTemplate", None)]]  # fmt: skip


def test_media_without_segments_is_refused_by_name() -> None:
    """With no segment anywhere the longest segment is 0 s; the refusal is the track's."""
    v = _v("v1", 1280, 720, 3000)
    v.segments = []
    with pytest.raises(PackageError) as caught:
        write_mpd(Presentation(title_id="t", duration=8.0, tracks=[v]))
    assert str(caught.value) == "[package] v1: video track has no segments or init segment"
