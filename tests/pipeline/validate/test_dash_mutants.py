"""DASH rules of the validator (pipeline/validate/dash.py), one rule at a time, on a tiny title
built in memory (tests/support/validate_bytes): each corruption gives exactly its finding
(code, location, message) and the clean MPD none. Timeline numbers come from the title's
constants: video 90 kHz, 50 frames of 3600 per segment; audio 48 kHz, 100 frames of 960."""

from __future__ import annotations

import pytest
from lxml import etree

from pipeline.validate.dash import (
    DashChecker,
    UnsafeXml,
    _merged_template,
    expand_template,
    parse_duration,
    safe_xml,
)
from tests.support.validate_bytes import (
    AVC_CODECS,
    ROOT,
    VTT,
    clean_title,
    found,
    rates,
    run,
    store,
)

MPD = "manifest.mpd"
VIDEO_TIMELINE = '<S t="0" d="180000" r="1"/>'
AUDIO_TIMELINE = '<S t="0" d="96000" r="1"/>'


def _dash(files) -> list[tuple[str, str, str]]:
    return found(run(files, MPD))


def _parse(files):
    media, sink = store(files)
    d = DashChecker(ROOT + MPD, media, sink)
    return d, d.parse(), sink


def _v(t):
    return next(r for r in _parse(t.files)[1].representations if r.id == "v180")


# -- pure helpers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT2S", 2.0),
        ("PT1H2M3.5S", 3723.5),
        ("P1D", 86400.0),
        ("P1Y", 365 * 86400.0),
        ("P2M", 60 * 86400.0),
        ("P1DT1M", 86460.0),
        ("PT0.25S", 0.25),
        (" PT4S ", 4.0),
        ("P1Y1M1DT1H1M1S", (365 + 30 + 1) * 86400 + 3661.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_parse_duration_absent_and_bad() -> None:
    assert parse_duration(None) is None and parse_duration("") is None
    for bad in ("P", "PT", "2S", "PT2", "P1S"):
        with pytest.raises(ValueError, match=rf"^bad xs:duration {bad!r}$"):
            parse_duration(bad)


def test_expand_template_variables_and_formats() -> None:
    assert expand_template("$RepresentationID$/$Number$.m4s", "v1", 100, 7, 9) == "v1/7.m4s"
    assert expand_template("$Number%05d$-$Time$-$Bandwidth$", "v", 800, 3, 42) == "00003-42-800"
    assert expand_template("$Time%08d$", "v", None, 1, 512) == "00000512"
    assert expand_template("$Bandwidth$", "v", None, 1, 0) == "0"
    assert expand_template("a$$b$SubNumber$", "v", 1, 1, 1) == "a$b0"
    assert expand_template("$RepresentationID%03d$", "v", 1, 1, 1) == "v"
    assert expand_template("$Unknown$", "v", 1, 1, 1) == "$Unknown$"


def test_safe_xml_refusals() -> None:
    with pytest.raises(UnsafeXml, match="^the document declares a DTD or entities$"):
        safe_xml(b'<!DOCTYPE MPD [<!ENTITY x "y">]><MPD>&x;</MPD>')
    with pytest.raises(UnsafeXml, match="^the document declares a DTD or entities$"):
        safe_xml(b'<MPD><!ENTITY x "y"></MPD>')
    with pytest.raises(UnsafeXml, match="^the document declares a DTD$"):
        safe_xml('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE MPD><MPD/>'.encode("utf-16"))
    with pytest.raises(etree.XMLSyntaxError):
        safe_xml(b"<MPD><Period></MPD>")
    root = safe_xml(b"<?pi x?><MPD><?keep no?><Period/></MPD>")
    assert root.tag == "MPD" and [c.tag for c in root] == ["Period"]  # PIs dropped


class _Level:
    def __init__(self, **tmpl):
        class T:
            pass

        obj = T()
        for a in (
            "media",
            "initialization",
            "timescale",
            "start_number",
            "duration",
            "presentation_time_offset",
        ):
            setattr(obj, a, tmpl.get(a))
        obj.segment_timelines = tmpl.get("timelines")
        self.segment_templates = [obj] if tmpl else None


def test_merged_template_inner_levels_override_outer() -> None:
    period = _Level(media="p.m4s", timescale=1000, duration=2000, timelines=["T1"])
    aset = _Level(initialization="i.mp4", timescale=90000, presentation_time_offset=5)
    rep = _Level(start_number=0, timelines=["T2"])
    assert _merged_template(period, aset, rep) == {
        "media": "p.m4s",
        "initialization": "i.mp4",
        "timescale": 90000,
        "start_number": 0,
        "duration": 2000,
        "presentation_time_offset": 5,
        "timeline": "T2",
    }
    assert _merged_template(_Level(), object(), _Level()) is None
    assert _merged_template(_Level(media="m")) == {"media": "m"}


# -- the clean MPD -----------------------------------------------------------------------------
def test_clean_mpd_has_no_findings() -> None:
    t = clean_title()
    report = run(t.files, MPD)
    assert found(report) == [] and report.manifests == [MPD]
    assert set(report.stats) == {"v180", "aud"}


def test_parse_reads_representations() -> None:
    t = clean_title()
    _, title, sink = _parse(t.files)
    assert sink.violations == [] and title.duration == 4.0
    v, a = title.representations
    assert (v.id, v.kind, v.bandwidth, v.codecs) == (
        "v180",
        "video",
        rates(t.video, 2)[0],
        AVC_CODECS,
    )
    assert (v.timescale, v.start_number, v.init) == (90000, 1, ROOT + "v180/init.mp4")
    assert [(s.uri, s.number, s.t, s.d) for s in v.segments] == [
        (ROOT + "v180/1.m4s", 1, 0, 180000),
        (ROOT + "v180/2.m4s", 2, 180000, 180000),
    ]
    assert v.template == "v180/$Number$.m4s" and v.base == ROOT + MPD and v.timeline
    assert (v.adaptation_set, v.channel_config) == ("@id=1", None)
    assert (a.id, a.kind, a.adaptation_set) == ("aud", "audio", "@id=2")
    assert a.channel_config == ("urn:mpeg:dash:23003:3:audio_channel_configuration:2011", "2")


def test_adaptation_set_without_id_is_named_by_position() -> None:
    t = clean_title()
    t.edit(MPD, '<AdaptationSet id="2" ', "<AdaptationSet ")
    _, title, _ = _parse(t.files)
    assert [r.adaptation_set for r in title.representations] == ["@id=1", "#1.2"]


def test_representation_channel_config_wins_over_the_set() -> None:
    t = clean_title()
    t.edit(
        MPD,
        'codecs="mp4a.40.2">',
        'codecs="mp4a.40.2"><AudioChannelConfiguration schemeIdUri="s" value="6"/>',
    )
    _, title, _ = _parse(t.files)
    assert title.representations[1].channel_config == ("s", "6")


def test_base_urls_nest() -> None:
    t = clean_title()
    files = {k.replace("v180/", "x/y/z/"): v for k, v in t.files.items()}
    files[MPD] = (
        t.files[MPD]
        .replace("<Period ", "<BaseURL>x/</BaseURL><Period ")
        .replace('<AdaptationSet id="1" ', '<AdaptationSet id="1" ')
        .replace(
            '<Representation id="v180"',
            '<BaseURL>y/</BaseURL><Representation id="v180"',
        )
        .replace('width="320" height="180">', 'width="320" height="180"><BaseURL>z/</BaseURL>')
        .replace('initialization="v180/', 'initialization="')
        .replace('media="v180/', 'media="')
        .replace('<AdaptationSet id="2"', '<AdaptationSet id="2"><BaseURL>../</BaseURL')
    )
    # audio: MPD x/ then AS ../ -> the root again
    files[MPD] = (
        files[MPD]
        .replace("<BaseURL>../</BaseURL", "")
        .replace(
            'contentType="audio" mimeType="audio/mp4" lang="en">',
            'contentType="audio" mimeType="audio/mp4" lang="en"><BaseURL>../</BaseURL>',
        )
    )
    _, title, sink = _parse(files)
    v, a = title.representations[:2]
    assert v.init == ROOT + "x/y/z/init.mp4" and v.segments[0].uri == ROOT + "x/y/z/1.m4s"
    assert a.init == ROOT + "aud/init.mp4"


# -- phase 1 rules -----------------------------------------------------------------------------
def test_missing_and_empty_mpd() -> None:
    t = clean_title()
    t.files[MPD] = "  \n"
    assert _dash(t.files) == [("file.empty", MPD, "MPD is empty")]
    del t.files[MPD]
    assert _dash(t.files) == [("file.missing", MPD, "HTTP 404 Not Found")]


def test_mpd_with_dtd_is_refused() -> None:
    t = clean_title()
    t.edit(MPD, "<MPD ", '<!DOCTYPE MPD [<!ENTITY x "y">]>\n<MPD ')
    assert _dash(t.files) == [
        ("dash.xml_unsafe", MPD, "refused: the document declares a DTD or entities")
    ]


def test_malformed_mpd() -> None:
    t = clean_title()
    t.edit(MPD, "</MPD>", "")
    (finding,) = _dash(t.files)
    assert finding[:2] == ("dash.parse", MPD)
    assert finding[2].startswith("not well-formed XML: ")


def test_root_that_is_not_mpd() -> None:
    t = clean_title()
    t.files[MPD] = '<Foo xmlns="urn:mpeg:dash:schema:mpd:2011"/>'
    assert _dash(t.files) == [
        ("dash.parse", MPD, "cannot read the MPD: root element is <Foo>, not <MPD>")
    ]


def test_dynamic_mpd() -> None:
    t = clean_title()
    t.edit(MPD, 'type="static"', 'type="dynamic"')
    assert _dash(t.files) == [("dash.type", MPD, "MPD@type is 'dynamic'; a VOD title is static")]


def test_mpd_without_type_is_static() -> None:
    t = clean_title()
    t.edit(MPD, 'type="static" ', "")
    assert _dash(t.files) == []


def test_mpd_without_period() -> None:
    t = clean_title()
    text = t.files[MPD]
    t.files[MPD] = text[: text.index("  <Period")] + "</MPD>\n"
    assert _dash(t.files) == [("dash.parse", MPD, "no Period")]


def test_text_representation_without_base_url() -> None:
    t = clean_title()
    t.edit(MPD, "<BaseURL>subs/eng.vtt</BaseURL>", "")
    assert _dash(t.files) == [
        ("dash.template", MPD, "text Representation sub_eng has no BaseURL or template")
    ]


def test_text_representation_is_checked_as_webvtt() -> None:
    t = clean_title()
    t.files["subs/eng.vtt"] = "no"
    assert _dash(t.files) == [("media.vtt", "subs/eng.vtt", "does not start with 'WEBVTT'")]
    t.files["subs/eng.vtt"] = b"\xef\xbb\xbf" + VTT.encode()
    assert _dash(t.files) == []


def test_text_by_mime_type_alone() -> None:
    t = clean_title()
    t.edit(MPD, 'contentType="text" ', "")
    t.files["subs/eng.vtt"] = "no"
    assert _dash(t.files) == [("media.vtt", "subs/eng.vtt", "does not start with 'WEBVTT'")]
    t.edit(MPD, 'mimeType="text/vtt"', 'mimeType="application/ttml+xml"')
    assert _dash(t.files) == [("media.vtt", "subs/eng.vtt", "does not start with 'WEBVTT'")]


def test_text_base_url_on_the_adaptation_set() -> None:
    t = clean_title()
    t.edit(MPD, "<BaseURL>subs/eng.vtt</BaseURL>", "")
    t.edit(
        MPD,
        'contentType="text" mimeType="text/vtt" lang="en">',
        'contentType="text" mimeType="text/vtt" lang="en"><BaseURL>subs/eng.vtt</BaseURL>',
    )
    t.files["subs/eng.vtt"] = "no"
    assert _dash(t.files) == [("media.vtt", "subs/eng.vtt", "does not start with 'WEBVTT'")]


def test_representation_without_template() -> None:
    t = clean_title()
    text = t.files[MPD]
    start = text.index('        <SegmentTemplate timescale="48000"')
    end = text.index("</SegmentTemplate>", start) + len("</SegmentTemplate>\n")
    t.files[MPD] = text[:start] + text[end:]
    assert _dash(t.files) == [
        ("dash.template", MPD, "Representation aud has no SegmentTemplate with @media")
    ]


def test_representation_without_id() -> None:
    t = clean_title()
    t.edit(MPD, 'media="aud/$Number$.m4s" ', "")
    t.edit(MPD, '<Representation id="aud" ', "<Representation ")
    assert _dash(t.files) == [
        ("dash.template", MPD, "Representation ? has no SegmentTemplate with @media")
    ]


def test_template_without_initialization() -> None:
    t = clean_title()
    t.edit(MPD, 'initialization="aud/init.mp4" ', "")
    assert _dash(t.files) == [
        ("dash.template", MPD, "Representation aud has no SegmentTemplate@initialization")
    ]


def test_template_media_without_number_or_time() -> None:
    t = clean_title()
    t.files["aud/seg.m4s"] = t.files["aud/1.m4s"]
    t.edit(MPD, 'media="aud/$Number$.m4s"', 'media="aud/seg.m4s"')
    findings = _dash(t.files)
    assert findings[0] == (
        "dash.template",
        MPD,
        "Representation aud: @media has neither $Number$ nor $Time$",
    )


def test_template_with_time() -> None:
    t = clean_title()
    t.files["aud/0.m4s"] = t.files.pop("aud/1.m4s")
    t.files["aud/96000.m4s"] = t.files.pop("aud/2.m4s")
    t.edit(MPD, 'media="aud/$Number$.m4s"', 'media="aud/$Time$.m4s"')
    assert _dash(t.files) == []


def test_template_inherited_from_the_adaptation_set_and_start_number() -> None:
    t = clean_title()
    t.files["aud/5.m4s"] = t.files.pop("aud/1.m4s")
    t.files["aud/6.m4s"] = t.files.pop("aud/2.m4s")
    t.edit(
        MPD, 'media="aud/$Number$.m4s" startNumber="1"', 'media="aud/$Number$.m4s" startNumber="5"'
    )
    assert _dash(t.files) == []
    _, title, _ = _parse(t.files)
    assert [s.number for s in title.representations[1].segments] == [5, 6]


def test_template_timescale_defaults_to_one() -> None:
    t = clean_title()
    t.edit(MPD, 'timescale="48000" initialization="aud', 'initialization="aud')
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="2" r="1"/>')
    assert _dash(t.files) == [
        (
            "dash.timescale",
            MPD,
            "Representation aud: SegmentTemplate@timescale=1, mdhd timescale 48000",
        )
    ]


def test_start_number_defaults_to_one() -> None:
    t = clean_title()
    t.edit(MPD, 'media="aud/$Number$.m4s" startNumber="1"', 'media="aud/$Number$.m4s"')
    assert _dash(t.files) == []


def test_timeline_entry_without_duration() -> None:
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0"/>')
    assert _dash(t.files) == [("dash.parse", MPD, "Representation aud: S without @d")]
    t.edit(MPD, '<S t="0"/>', '<S t="0" d="0"/>')
    assert _dash(t.files) == [("dash.parse", MPD, "Representation aud: S without @d")]


def test_empty_timeline() -> None:
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, "")
    assert _dash(t.files) == [("dash.parse", MPD, "Representation aud: empty SegmentTimeline")]


def test_repeat_minus_one_runs_to_the_period_end() -> None:
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="96000" r="-1"/>')
    assert _dash(t.files) == []
    _, title, _ = _parse(t.files)
    assert [s.t for s in title.representations[1].segments] == [0, 96000]


def test_repeat_minus_one_rounds_a_partial_segment_up() -> None:
    """4 s of period in 1.5 s entries: 1.5, 3.0, then a partial one from 3.0 to 4.0."""
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="72000" r="-1"/>')
    _, title, _ = _parse(t.files)
    assert [s.t for s in title.representations[1].segments] == [0, 72000, 144000]


def test_repeat_minus_one_after_a_start_time() -> None:
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="96000" d="96000" r="-1"/>')
    _, title, _ = _parse(t.files)
    assert [s.t for s in title.representations[1].segments] == [96000]


def test_repeat_minus_one_without_a_known_duration() -> None:
    t = clean_title()
    t.edit(MPD, 'mediaPresentationDuration="PT4.000S"', "")
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="96000" r="-1"/>')
    assert _dash(t.files) == [("dash.parse", MPD, "Representation aud: S@r=-1 without a duration")]


def test_period_duration_and_next_period_start_bound_the_repeat() -> None:
    t = clean_title()
    t.edit(MPD, 'mediaPresentationDuration="PT4.000S"', 'mediaPresentationDuration="PT40S"')
    t.edit(MPD, '<Period id="0" start="PT0S">', '<Period id="0" start="PT0S" duration="PT2S">')
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="96000" r="-1"/>')
    _, title, _ = _parse(t.files)
    assert len(title.representations[1].segments) == 1
    t = clean_title()
    t.edit(MPD, 'mediaPresentationDuration="PT4.000S"', 'mediaPresentationDuration="PT40S"')
    t.edit(MPD, "</Period>", '</Period><Period id="1" start="PT6S"/>')
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="96000" r="-1"/>')
    _, title, _ = _parse(t.files)
    assert len(title.representations[1].segments) == 3
    t = clean_title()
    t.edit(MPD, '<Period id="0" start="PT0S">', '<Period id="0" start="PT1S">')
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="96000" r="-1"/>')
    _, title, _ = _parse(t.files)
    assert len(title.representations[1].segments) == 2  # 3 s of the 4
