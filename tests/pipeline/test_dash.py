"""DASH writer: checked with the independent `mpegdash` parser and with lxml."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from mpegdash.parser import MPEGDASHParser

from core.errors import PackageError
from pipeline.manifest.dash import NS_CENC, NS_DASHIF, NS_MSPR, iso_duration, write_mpd
from pipeline.media.presentation import Presentation, Segment, Track
from tests.support.presentations import (
    AUDIO_RATE,
    audio_bounds,
    audio_track,
    frame_bounds,
    segments,
    text_track,
    video_track,
)

MPD = "urn:mpeg:dash:schema:mpd:2011"
NS = {"d": MPD, "cenc": NS_CENC}
VIDEO_TS = 90000  # 25 fps, 3600 ticks per frame
SEG_FRAMES = 100  # 4 s segments
FRAMES = 100 * 15 + 37  # 61.48 s


VIDEO_BOUNDS = frame_bounds(FRAMES, SEG_FRAMES, 3600)


def _segments(tid: str, bounds: list[int], bytes_per_tick: float) -> list[Segment]:
    return segments(tid, bounds, lambda n, ticks: int(ticks * bytes_per_tick) + n * 97)


def _video(tid: str, w: int, h: int, codecs: str, kbps: int) -> Track:
    segs = _segments(tid, VIDEO_BOUNDS, kbps * 125 / VIDEO_TS)
    return video_track(
        tid, w, h, codecs, VIDEO_TS, "25", segs,
        bandwidth=kbps * 1150, average_bandwidth=kbps * 1000,
    )  # fmt: skip


def _audio(tid: str, codecs: str, lang: str, ch: int, kbps: int, frame: int, **kw) -> Track:
    bounds = audio_bounds(VIDEO_BOUNDS, VIDEO_TS, frame)
    segs = _segments(tid, bounds, kbps * 125 / AUDIO_RATE)
    return audio_track(
        tid, codecs, lang, ch, segs, bandwidth=kbps * 1020, average_bandwidth=kbps * 1000, **kw
    )


def make_presentation() -> Presentation:
    return Presentation(
        title_id="title2",
        duration=FRAMES / 25,
        segment_seconds=4,
        tracks=[
            _video("v540", 960, 540, "avc1.64001f", 2000),
            _video("v234", 416, 234, "avc1.42c015", 145),
            _video("v1080", 1920, 1080, "avc1.640028", 6000),
            _audio("a_de", "mp4a.40.2", "de", 2, 96, 1024, name="Deutsch"),
            _audio("a_en", "mp4a.40.2", "en", 2, 128, 1024, name="English", default=True),
            _audio("a_en_low", "mp4a.40.5", "en", 2, 48, 2048, name="English (low)"),
            _audio("a_en51", "ec-3", "en", 6, 384, 1536, name="English 5.1"),
            text_track("t_en", "en"),
            text_track("t_pt", "pt-BR"),
        ],
    )


@pytest.fixture
def pres() -> Presentation:
    return make_presentation()


@pytest.fixture
def mpd_text(pres) -> str:
    return write_mpd(pres)


@pytest.fixture
def root(mpd_text) -> etree._Element:
    return etree.fromstring(mpd_text.encode())


def _sets(root: etree._Element, content_type: str) -> list[etree._Element]:
    return root.findall(f"d:Period/d:AdaptationSet[@contentType='{content_type}']", NS)


def _expand(timeline) -> list[tuple[int, int]]:
    """Independent SegmentTimeline expansion (ISO 23009-1 5.3.9.6) from mpegdash's S nodes."""
    out: list[tuple[int, int]] = []
    t = 0
    for s in timeline.Ss:
        if s.t is not None:
            t = s.t
        for _ in range((s.r or 0) + 1):
            out.append((t, s.d))
            t += s.d
    return out


# --- MPD level ----------------------------------------------------------------------------


def test_parses_and_is_static(pres, mpd_text):
    mpd = MPEGDASHParser.parse(mpd_text)
    assert mpd.type == "static"
    assert mpd.profiles == "urn:mpeg:dash:profile:isoff-live:2011"
    assert mpd.min_buffer_time == "PT2S"
    assert mpd.media_presentation_duration == "PT1M1.48S"
    assert len(mpd.periods) == 1
    assert mpd_text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<MPD ')


def test_drm_namespaces_declared_on_root(root):
    assert root.nsmap == {None: MPD, "cenc": NS_CENC, "mspr": NS_MSPR, "dashif": NS_DASHIF}


def test_every_timeline_expands_to_the_segments(pres, mpd_text):
    mpd = MPEGDASHParser.parse(mpd_text)
    reps = {r.id: r for a in mpd.periods[0].adaptation_sets for r in a.representations}
    for t in pres.tracks:
        if t.kind == "text":
            continue
        (tmpl,) = reps[t.id].segment_templates
        assert tmpl.timescale == t.timescale
        assert tmpl.initialization == t.init_uri
        assert tmpl.start_number == 1
        (timeline,) = tmpl.segment_timelines
        assert _expand(timeline) == [(s.start, s.duration) for s in t.segments]
        numbers = range(tmpl.start_number, tmpl.start_number + len(t.segments))
        uris = [tmpl.media.replace("$Number$", str(n)) for n in numbers]
        assert uris == [s.uri for s in t.segments]


def test_timeline_is_run_length_compressed(root):
    rep = root.find(".//d:Representation[@id='v540']", NS)
    s = rep.findall(".//d:S", NS)
    assert [(x.get("t"), x.get("d"), x.get("r")) for x in s] == [
        ("0", "360000", "14"),
        (None, "133200", None),
    ]


# --- video --------------------------------------------------------------------------------


def test_video_adaptation_set(pres, mpd_text):
    mpd = MPEGDASHParser.parse(mpd_text)
    (video,) = [a for a in mpd.periods[0].adaptation_sets if a.content_type == "video"]
    assert video.mime_type == "video/mp4"
    assert video.segment_alignment in ("true", True)
    assert video.start_with_sap == 1
    assert (video.max_width, video.max_height, video.max_frame_rate) == (1920, 1080, "25")
    assert video.par == "16:9"
    reps = video.representations
    assert [r.id for r in reps] == ["v234", "v540", "v1080"]  # ascending bandwidth
    for r in reps:
        t = next(t for t in pres.tracks if t.id == r.id)
        assert (r.bandwidth, r.codecs) == (t.bandwidth, t.codecs)
        assert (r.width, r.height) == (t.width, t.height)
        assert (r.frame_rate, r.sar) == ("25", "1:1")


def test_ntsc_frame_rates_stay_exact(pres):
    for t in pres.of_kind("video"):
        t.frame_rate = "29.97"
    root = etree.fromstring(write_mpd(pres).encode())
    (video,) = _sets(root, "video")
    assert video.get("maxFrameRate") == "30000/1001"
    assert {r.get("frameRate") for r in video.findall("d:Representation", NS)} == {"30000/1001"}


def test_one_video_set_per_codec_family(pres):
    hevc = _video("h1080", 1920, 1080, "hvc1.2.4.L123.B0", 4500)
    pres.tracks.append(hevc)
    root = etree.fromstring(write_mpd(pres).encode())
    sets = _sets(root, "video")
    assert [[r.get("id") for r in s.findall("d:Representation", NS)] for s in sets] == [
        ["v234", "v540", "v1080"],
        ["h1080"],
    ]


# --- audio --------------------------------------------------------------------------------


def _audio_summary(root):
    out = {}
    for a in _sets(root, "audio"):
        (role,) = a.findall("d:Role", NS)
        (acc,) = a.findall("d:AudioChannelConfiguration", NS)
        reps = [r.get("id") for r in a.findall("d:Representation", NS)]
        channels = (acc.get("schemeIdUri"), acc.get("value"))
        out[tuple(reps)] = (a.get("lang"), role.get("value"), *channels)
    return out


def test_audio_sets_per_language_codec_and_layout(root):
    mpeg = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
    dolby = "tag:dolby.com,2014:dash:audio_channel_configuration:2011"
    assert _audio_summary(root) == {
        ("a_de",): ("de", "alternate", mpeg, "2"),
        ("a_en_low", "a_en"): ("en", "main", mpeg, "2"),
        ("a_en51",): ("en", "alternate", dolby, "F801"),
    }


def test_audio_representations(pres, mpd_text):
    mpd = MPEGDASHParser.parse(mpd_text)
    reps = {
        r.id: r
        for a in mpd.periods[0].adaptation_sets
        if a.content_type == "audio"
        for r in a.representations
    }
    assert reps["a_en51"].codecs == "ec-3"
    assert reps["a_en_low"].codecs == "mp4a.40.5"
    assert all(r.audio_sampling_rate == "48000" for r in reps.values())
    assert reps["a_en"].bandwidth == 128 * 1020


def test_without_a_flagged_default_the_first_audio_is_main(pres):
    for t in pres.tracks:
        t.default = False
    summary = _audio_summary(etree.fromstring(write_mpd(pres).encode()))
    assert summary[("a_de",)][1] == "main"
    assert [v[1] for v in summary.values()].count("main") == 1


def test_dolby_stereo_and_odd_layouts(pres):
    pres.tracks = [t for t in pres.tracks if t.kind != "audio"] + [
        _audio("x2", "ec-3", "en", 2, 192, 1536),
        _audio("x8", "ec-3", "fr", 8, 768, 1536),
        _audio("x4", "ac-3", "es", 4, 320, 1536),
    ]
    values = {
        a.get("lang"): a.find("d:AudioChannelConfiguration", NS).get("value")
        for a in _sets(etree.fromstring(write_mpd(pres).encode()), "audio")
    }
    assert values == {"en": "A000", "fr": "FA01", "es": "4"}  # 4.0 has no single Dolby mask


# --- text ---------------------------------------------------------------------------------


def test_text_sets(mpd_text):
    mpd = MPEGDASHParser.parse(mpd_text)
    texts = [a for a in mpd.periods[0].adaptation_sets if a.content_type == "text"]
    assert [(a.lang, a.mime_type) for a in texts] == [("en", "text/vtt"), ("pt-BR", "text/vtt")]
    for a in texts:
        assert [r.value for r in a.roles] == ["subtitle"]
        (rep,) = a.representations
        assert rep.bandwidth > 0
        assert [b.base_url_value for b in rep.base_urls] == [f"subs/{a.lang}.vtt"]


# --- schema order and DRM hook ---------------------------------------------------------------

# Element sequences from the DASH-MPD.xsd (ISO/IEC 23009-1): RepresentationBaseType first, then
# the extension of each type.
_BASE = [
    "FramePacking", "AudioChannelConfiguration", "ContentProtection", "EssentialProperty",
    "SupplementalProperty", "InbandEventStream", "Switching", "RandomAccess", "GroupLabel",
    "Label", "ProducerReferenceTime", "ContentPopularityRate",
]  # fmt: skip
ORDER = {
    "MPD": ["ProgramInformation", "BaseURL", "Location", "ServiceDescription", "Period"],
    "Period": ["BaseURL", "SegmentBase", "SegmentList", "SegmentTemplate", "AssetIdentifier",
               "EventStream", "ServiceDescription", "AdaptationSet"],
    "AdaptationSet": _BASE + ["Accessibility", "Role", "Rating", "Viewpoint", "ContentComponent",
                              "BaseURL", "SegmentBase", "SegmentList", "SegmentTemplate",
                              "Representation"],
    "Representation": _BASE + ["BaseURL", "SubRepresentation", "SegmentBase", "SegmentList",
                               "SegmentTemplate"],
    "SegmentTemplate": ["Initialization", "RepresentationIndex", "FailoverContent",
                        "SegmentTimeline", "BitstreamSwitching"],
    "SegmentTimeline": ["S"],
}  # fmt: skip
REQUIRED = {
    "MPD": ["profiles", "minBufferTime"],
    "Representation": ["id", "bandwidth"],
    "S": ["d"],
    "Role": ["schemeIdUri"],
    "AudioChannelConfiguration": ["schemeIdUri"],
    "ContentProtection": ["schemeIdUri"],
}


def _check_schema_order(root: etree._Element) -> None:
    for el in root.iter():
        name = etree.QName(el).localname
        for attr in REQUIRED.get(name, []):
            assert el.get(attr), f"{name} lacks {attr}"
        if name not in ORDER or etree.QName(el).namespace != MPD:
            continue
        positions = [ORDER[name].index(etree.QName(c).localname) for c in el]
        assert positions == sorted(positions), f"children of {name} out of schema order"


def test_schema_order(root):
    _check_schema_order(root)


def _cp(kid: str) -> list[etree._Element]:
    """What the DRM stage will hand over: elements built with their own namespace map."""
    cp = etree.Element(f"{{{MPD}}}ContentProtection", nsmap={None: MPD, "cenc": NS_CENC})
    cp.set("schemeIdUri", "urn:mpeg:dash:mp4protection:2011")
    cp.set("value", "cenc")
    cp.set(f"{{{NS_CENC}}}default_KID", kid)
    wv = etree.Element(f"{{{MPD}}}ContentProtection", nsmap={"cenc": NS_CENC})
    wv.set("schemeIdUri", "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed")
    etree.SubElement(wv, f"{{{NS_CENC}}}pssh").text = "AAAAOHBzc2g="
    return [cp, wv]


def test_shared_content_protection_goes_on_the_adaptation_set(pres):
    text = write_mpd(pres, content_protection=lambda t: _cp("11111111-2222-3333-4444-555555555555"))
    root = etree.fromstring(text.encode())
    _check_schema_order(root)
    for a in _sets(root, "video") + _sets(root, "audio"):
        names = [etree.QName(c).localname for c in a]
        assert names.count("ContentProtection") == 2
        assert names.index("ContentProtection") < names.index("Role")
        assert not a.findall("d:Representation/d:ContentProtection", NS)
    for a in _sets(root, "text"):
        assert not a.findall(".//d:ContentProtection", NS)
    # namespaces are declared once, on the root, with their usual prefixes
    assert text.count('xmlns:cenc="urn:mpeg:cenc:2013"') == 1
    assert "<cenc:pssh>" in text and 'cenc:default_KID="11111111-' in text
    mpd = MPEGDASHParser.parse(text)
    video = mpd.periods[0].adaptation_sets[0]
    assert video.content_protections[0].scheme_id_uri == "urn:mpeg:dash:mp4protection:2011"


def test_per_representation_content_protection_when_keys_differ(pres):
    def by_label(t: Track) -> list[etree._Element]:
        label = "audio" if t.kind == "audio" else ("hd" if (t.height or 0) >= 720 else "sd")
        return _cp({"audio": "a", "sd": "b", "hd": "c"}[label] * 8 + "-0000-0000-0000-000000000000")

    root = etree.fromstring(write_mpd(pres, content_protection=by_label).encode())
    _check_schema_order(root)
    (video,) = _sets(root, "video")
    assert not video.findall("d:ContentProtection", NS)
    kids = {
        r.get("id"): r.find("d:ContentProtection", NS).get(f"{{{NS_CENC}}}default_KID")[0]
        for r in video.findall("d:Representation", NS)
    }
    assert kids == {"v234": "b", "v540": "b", "v1080": "c"}
    for r in video.findall("d:Representation", NS):
        names = [etree.QName(c).localname for c in r]
        assert names == ["ContentProtection", "ContentProtection", "SegmentTemplate"]
    for a in _sets(root, "audio"):
        assert len(a.findall("d:ContentProtection", NS)) == 2


# --- errors -------------------------------------------------------------------------------


def test_segment_uri_not_matching_template_is_refused(pres):
    pres.tracks[0].segments[3].uri = "v540/elsewhere.m4s"
    with pytest.raises(PackageError, match="does not match"):
        write_mpd(pres)


def test_segment_numbers_must_be_consecutive(pres):
    t = pres.tracks[0]
    for s in t.segments[5:]:
        s.number += 1
        s.uri = f"{t.id}/{s.number}.m4s"
    with pytest.raises(PackageError, match="jump from 5 to 7"):
        write_mpd(pres)


def test_title_without_media_is_refused(pres):
    pres.tracks = [t for t in pres.tracks if t.kind == "text"]
    with pytest.raises(PackageError, match="no audio or video"):
        write_mpd(pres)


# --- iso_duration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secs", "text"),
    [
        (12.345, "PT12.345S"),
        (0, "PT0S"),
        (6, "PT6S"),
        (60, "PT1M"),
        (3723.5, "PT1H2M3.5S"),
        (7200, "PT2H"),
        (10.010000000000002, "PT10.01S"),  # float noise does not add a millisecond
        (1.0004, "PT1.001S"),  # real sub-millisecond excess rounds up
        (61.48, "PT1M1.48S"),
    ],
)
def test_iso_duration(secs, text):
    assert iso_duration(secs) == text


def test_iso_duration_refuses_negative():
    with pytest.raises(ValueError) as err:
        iso_duration(-1)
    assert str(err.value) == "duration must be a finite non-negative number, got -1"


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    first=st.integers(0, 10**9),
    parts=st.lists(
        st.tuples(st.sampled_from([1000, 2002, 6006, 6000, 5999]), st.integers(0, 2)),
        min_size=1,
        max_size=60,
    ),
    timescale=st.sampled_from([1000, 30000, 48000, 90000]),
)
def test_segment_timeline_round_trips(first, parts, timescale):
    """Random durations, with occasional gaps (1) and overlaps (2), survive the MPD exactly."""
    segs, start = [], first
    for i, (d, quirk) in enumerate(parts, 1):
        if quirk == 1:
            start += 7
        elif quirk == 2 and start - 3 >= 0:
            start -= 3
        segs.append(Segment(uri=f"v/{i}.m4s", number=i, start=start, duration=d, size=d))
        start += d
    track = Track(
        id="v", kind="video", codecs="avc1.64001f", timescale=timescale, init_uri="v/init.mp4",
        segment_template="v/$Number$.m4s", segments=segs, bandwidth=1_000_000, width=640,
        height=360, frame_rate="25",
    )  # fmt: skip
    p = Presentation(title_id="x", duration=(start - first) / timescale, tracks=[track])
    mpd = MPEGDASHParser.parse(write_mpd(p))
    (tmpl,) = mpd.periods[0].adaptation_sets[0].representations[0].segment_templates
    (timeline,) = tmpl.segment_timelines
    assert _expand(timeline) == [(s.start, s.duration) for s in segs]
    assert len(timeline.Ss) <= len(segs)
