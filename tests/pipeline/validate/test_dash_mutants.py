"""DASH rules of the validator (pipeline/validate/dash.py), one rule at a time, on a tiny title
built in memory (tests/support/validate_bytes): each corruption gives exactly its finding
(code, location, message) and the clean MPD none. Timeline numbers come from the title's
constants: video 90 kHz, 50 frames of 3600 per segment; audio 48 kHz, 100 frames of 960."""

from __future__ import annotations

import pytest
from lxml import etree

from pipeline.validate import dash as dash_module
from pipeline.validate.dash import (
    MAX_SEGMENTS,
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


def test_period_without_start_counts_from_zero() -> None:
    t = clean_title()
    t.edit(MPD, '<Period id="0" start="PT0S">', '<Period id="0">')
    t.edit(MPD, "</Period>", '</Period><Period id="1" start="PT4S"/>')
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="96000" r="-1"/>')
    _, title, _ = _parse(t.files)
    assert len(title.representations[1].segments) == 2


def test_too_many_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dash_module, "MAX_SEGMENTS", 5)
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="1" r="1"/><S d="1" r="3"/>')  # 2 + 4
    assert _dash(t.files) == [("dash.parse", MPD, "Representation aud: more than 5 segments")]
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="1" r="1"/><S d="1" r="2"/>')  # 2 + 3
    _, title, sink = _parse(t.files)
    assert len(title.representations[1].segments) == 5 and sink.violations == []
    assert MAX_SEGMENTS == 200_000


def _duration_template(t, duration: str) -> None:
    text = t.files[MPD]
    start = text.index('        <SegmentTemplate timescale="48000"')
    end = text.index("</SegmentTemplate>", start) + len("</SegmentTemplate>\n")
    t.files[MPD] = (
        text[:start] + f'        <SegmentTemplate timescale="48000" initialization="aud/init.mp4" '
        f'media="aud/$Number$.m4s" startNumber="1"{duration}/>\n' + text[end:]
    )


def test_template_with_duration() -> None:
    t = clean_title()
    _duration_template(t, ' duration="96000"')
    assert _dash(t.files) == []
    _, title, _ = _parse(t.files)
    a = title.representations[1]
    assert [(s.t, s.d, s.number) for s in a.segments] == [(None, 96000, 1), (None, 96000, 2)]
    assert a.timeline is False


def test_template_with_duration_rounds_the_count_up() -> None:
    t = clean_title()
    _duration_template(t, ' duration="72000"')  # 4 s / 1.5 s -> 3 segments
    _, title, _ = _parse(t.files)
    assert len(title.representations[1].segments) == 3


def test_template_without_timeline_or_duration() -> None:
    t = clean_title()
    _duration_template(t, "")
    assert _dash(t.files) == [
        (
            "dash.template",
            MPD,
            "Representation aud: SegmentTemplate has neither a SegmentTimeline nor @duration "
            "with a known period length",
        )
    ]
    t = clean_title()
    _duration_template(t, ' duration="96000"')
    t.edit(MPD, 'mediaPresentationDuration="PT4.000S"', "")
    assert _dash(t.files)[0][2].startswith("Representation aud: SegmentTemplate has neither")


def test_template_duration_with_too_many_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dash_module, "MAX_SEGMENTS", 5)
    t = clean_title()
    _duration_template(t, ' duration="32000"')  # 4 s / (2/3 s) = 6 segments
    assert _dash(t.files)[0] == ("dash.parse", MPD, "Representation aud: too many segments")
    t = clean_title()
    _duration_template(t, ' duration="38400"')  # 4 s / 0.8 s = 5 segments
    _, title, sink = _parse(t.files)
    assert len(title.representations[1].segments) == 5 and sink.violations == []


# -- phase 2: against the media -----------------------------------------------------------------
def test_timescale_mismatch() -> None:
    t = clean_title()
    t.edit(MPD, 'timescale="48000"', 'timescale="1000"')
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="2000" r="1"/>')
    assert _dash(t.files) == [
        (
            "dash.timescale",
            MPD,
            "Representation aud: SegmentTemplate@timescale=1000, mdhd timescale 48000",
        )
    ]


def test_codecs_mismatch_missing_and_case() -> None:
    t = clean_title()
    t.edit(MPD, f'codecs="{AVC_CODECS}"', 'codecs="avc1.640028"')
    assert _dash(t.files) == [
        (
            "dash.codecs",
            MPD,
            f"Representation v180: @codecs='avc1.640028', the bitstream has '{AVC_CODECS}'",
        )
    ]
    t.edit(MPD, 'codecs="avc1.640028" ', "")
    assert _dash(t.files) == [
        ("dash.codecs", MPD, f"Representation v180: @codecs=None, the bitstream has '{AVC_CODECS}'")
    ]
    t = clean_title()
    t.edit(MPD, f'codecs="{AVC_CODECS}"', 'codecs="AVC1.64001F"')
    assert _dash(t.files) == []


def test_codecs_on_the_adaptation_set() -> None:
    t = clean_title()
    t.edit(MPD, f'codecs="{AVC_CODECS}" ', "")
    t.edit(MPD, '<AdaptationSet id="1" ', f'<AdaptationSet id="1" codecs="{AVC_CODECS}" ')
    assert _dash(t.files) == []


def test_bandwidth_missing_and_out_of_bounds() -> None:
    t = clean_title()
    peak = rates(t.video, 2.0)[0]
    limit = peak - peak // 10
    t.edit(MPD, f'bandwidth="{peak}"', f'bandwidth="{limit}"')
    assert _dash(t.files) == []
    t.edit(MPD, f'bandwidth="{limit}"', f'bandwidth="{limit - 2}"')
    assert _dash(t.files) == [
        (
            "dash.bandwidth",
            MPD,
            f"Representation v180: @bandwidth={limit - 2}, measured peak {peak} b/s "
            f"({(limit - 2 - peak) / peak * 100:+.1f}%)",
        )
    ]
    t.edit(MPD, f'bandwidth="{limit - 2}" ', "")
    assert _dash(t.files) == [("dash.bandwidth", MPD, "Representation v180 has no @bandwidth")]


def test_bandwidth_not_checked_on_incomplete_media() -> None:
    t = clean_title()
    del t.files["v180/2.m4s"]
    t.edit(MPD, f'bandwidth="{rates(t.video, 2.0)[0]}"', 'bandwidth="1"')
    assert [c for c, _, _ in _dash(t.files)] == ["file.missing"]


def test_timeline_duration_off_by_more_than_a_frame() -> None:
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="91200"/><S d="96000"/>')
    assert _dash(t.files) == [
        (
            "dash.timeline_duration",
            MPD,
            "Representation aud segment 1 (aud/1.m4s): S@d 1.900000 s, media 2.000000 s",
        ),
        (
            "dash.timeline_time",
            MPD,
            "Representation aud segment 2 (aud/2.m4s): S@t 1.900000 s, media starts at 2.000000 s",
        ),
    ]


def test_timeline_off_by_exactly_one_frame_is_accepted() -> None:
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="95040"/><S d="96000"/>')  # one 960 frame short
    assert _dash(t.files) == []
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="95039"/><S d="96000"/>')
    assert [c for c, _, _ in _dash(t.files)] == ["dash.timeline_duration", "dash.timeline_time"]


def test_timeline_start_that_does_not_match_a_neighbour_segment() -> None:
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="48000" d="96000" r="1"/>')
    assert _dash(t.files) == [
        (
            "dash.timeline_time",
            MPD,
            "Representation aud segment 1 (aud/1.m4s): S@t 1.000000 s, media starts at 0.000000 s",
        ),
        (
            "dash.timeline_time",
            MPD,
            "Representation aud segment 2 (aud/2.m4s): S@t 3.000000 s, media starts at 2.000000 s",
        ),
    ]


def test_start_number_off_by_one() -> None:
    t = clean_title(segments=3)
    t.edit(
        MPD, 'media="aud/$Number$.m4s" startNumber="1"', 'media="aud/$Number$.m4s" startNumber="0"'
    )
    findings = _dash(t.files)
    assert (
        "dash.start_number",
        MPD,
        "Representation aud: startNumber=0, but the first timeline entry's media is "
        "$Number$=1 (aud/1.m4s)",
    ) in findings
    assert {c for c, _, _ in findings} == {"dash.start_number", "file.missing"}


def test_start_number_one_too_high() -> None:
    t = clean_title(segments=3)
    t.edit(
        MPD, 'media="aud/$Number$.m4s" startNumber="1"', 'media="aud/$Number$.m4s" startNumber="2"'
    )
    findings = _dash(t.files)
    assert findings[1] == (
        "dash.start_number",
        MPD,
        "Representation aud: startNumber=2, but the first timeline entry's media is "
        "$Number$=1 (aud/1.m4s)",
    )
    assert {c for c, _, _ in findings} == {"dash.start_number", "file.missing"}


def test_duration_mismatch_and_slack() -> None:
    t = clean_title()
    t.edit(MPD, 'mediaPresentationDuration="PT4.000S"', 'mediaPresentationDuration="PT5S"')
    assert _dash(t.files) == [
        ("dash.duration", MPD, "mediaPresentationDuration 5.000 s, the longest track is 4.000 s")
    ]
    # slack: the longest frame (video 0.04 s) + 1 ms
    t = clean_title()
    t.edit(MPD, 'mediaPresentationDuration="PT4.000S"', 'mediaPresentationDuration="PT4.0405S"')
    assert _dash(t.files) == []
    t = clean_title()
    t.edit(MPD, 'mediaPresentationDuration="PT4.000S"', 'mediaPresentationDuration="PT4.0415S"')
    assert _dash(t.files) == [
        ("dash.duration", MPD, "mediaPresentationDuration 4.042 s, the longest track is 4.000 s")
    ]
    t = clean_title()
    t.edit(MPD, 'mediaPresentationDuration="PT4.000S"', 'mediaPresentationDuration="PT3.958S"')
    assert _dash(t.files) == [
        ("dash.duration", MPD, "mediaPresentationDuration 3.958 s, the longest track is 4.000 s")
    ]


def test_duration_not_checked_without_attribute() -> None:
    t = clean_title()
    t.edit(MPD, 'mediaPresentationDuration="PT4.000S"', "")
    assert _dash(t.files) == []


# -- edges found by reading the mutants --------------------------------------------------------
def test_mpd_size_limit_is_16_mib() -> None:
    t = clean_title()
    t.files[MPD] = b" " * (16 * 1024 * 1024)
    assert _dash(t.files) == [("file.empty", MPD, "MPD is empty")]
    t.files[MPD] = b" " * (16 * 1024 * 1024 + 1)
    assert _dash(t.files) == [("fetch.error", MPD, "larger than 16777216 bytes")]


def test_kind_from_the_mime_type() -> None:
    t = clean_title()
    t.edit(MPD, 'contentType="video" ', "")
    t.edit(MPD, 'contentType="audio" mimeType="audio/mp4" ', "")
    t.edit(MPD, '<Representation id="aud" ', '<Representation id="aud" mimeType="audio/mp4" ')
    _, title, _ = _parse(t.files)
    assert [r.kind for r in title.representations] == ["video", "audio"]


def test_templates_with_representation_id_and_bandwidth() -> None:
    t = clean_title()
    bw = rates(t.audio, 2.0)[0]
    t.files[f"aud/init-{bw}.mp4"] = t.files.pop("aud/init.mp4")
    t.edit(
        MPD,
        'initialization="aud/init.mp4"',
        'initialization="$RepresentationID$/init-$Bandwidth$.mp4"',
    )
    t.edit(MPD, 'media="aud/$Number$.m4s"', 'media="$RepresentationID$/$Number$.m4s"')
    assert _dash(t.files) == []
    _, title, _ = _parse(t.files)
    assert title.representations[1].init == ROOT + f"aud/init-{bw}.mp4"


def test_start_number_hint_with_representation_id_template() -> None:
    t = clean_title(segments=3)
    t.edit(MPD, 'media="aud/$Number$.m4s"', 'media="$RepresentationID$/$Number$.m4s"')
    t.edit(
        MPD,
        'startNumber="1">\n          <SegmentTimeline><S t="0" d="96000"',
        'startNumber="0">\n          <SegmentTimeline><S t="0" d="96000"',
    )
    findings = _dash(t.files)
    assert (
        "dash.start_number",
        MPD,
        "Representation aud: startNumber=0, but the first timeline entry's media is "
        "$Number$=1 (aud/1.m4s)",
    ) in findings


def test_start_number_hint_tries_the_number_below_after_a_missing_one() -> None:
    """startNumber=2 on two segments: $Number$=3 does not exist, $Number$=1 is the one."""
    t = clean_title()
    t.edit(
        MPD, 'media="aud/$Number$.m4s" startNumber="1"', 'media="aud/$Number$.m4s" startNumber="2"'
    )
    findings = _dash(t.files)
    assert (
        "dash.start_number",
        MPD,
        "Representation aud: startNumber=2, but the first timeline entry's media is "
        "$Number$=1 (aud/1.m4s)",
    ) in findings


def test_text_file_read_once_and_only_a_leading_bom_skipped() -> None:
    t = clean_title()
    t.edit(
        MPD,
        "</Representation>\n    </AdaptationSet>\n  </Period>",
        '</Representation>\n      <Representation id="sub_eng2" bandwidth="256">'
        "<BaseURL>subs/eng.vtt</BaseURL></Representation>\n    </AdaptationSet>\n  </Period>",
    )
    media, sink = store(t.files)
    DashChecker(ROOT + MPD, media, sink).parse()
    assert media.fetcher.requested.count(ROOT + "subs/eng.vtt") == 1 and sink.violations == []
    t.files["subs/eng.vtt"] = "XXWEBVTT\n"
    assert _dash(t.files) == [("media.vtt", "subs/eng.vtt", "does not start with 'WEBVTT'")]


def test_representations_after_one_without_init_or_track_are_checked() -> None:
    t = clean_title()
    t.edit(MPD, 'initialization="v180/init.mp4" ', "")
    t.edit(MPD, 'codecs="mp4a.40.2"', 'codecs="mp4a.40.5"')
    assert _dash(t.files) == [
        ("dash.template", MPD, "Representation v180 has no SegmentTemplate@initialization"),
        (
            "dash.codecs",
            MPD,
            "Representation aud: @codecs='mp4a.40.5', the bitstream has 'mp4a.40.2'",
        ),
    ]
    t = clean_title()
    t.files["v180/init.mp4"] = b"\0\0\0\x08free"
    t.edit(MPD, 'codecs="mp4a.40.2"', 'codecs="mp4a.40.5"')
    assert _dash(t.files) == [
        ("media.init", "v180/init.mp4", "no 'moov' box (not an initialisation segment)"),
        (
            "dash.codecs",
            MPD,
            "Representation aud: @codecs='mp4a.40.5', the bitstream has 'mp4a.40.2'",
        ),
    ]


def test_timeline_start_tolerates_one_frame() -> None:
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="960" d="96000" r="1"/>')
    assert _dash(t.files) == []
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="961" d="96000" r="1"/>')
    assert [c for c, _, _ in _dash(t.files)] == ["dash.timeline_time", "dash.timeline_time"]


def test_duration_not_checked_when_nothing_was_measured_completely() -> None:
    t = clean_title()
    del t.files["v180/2.m4s"]
    del t.files["aud/2.m4s"]
    t.edit(MPD, 'mediaPresentationDuration="PT4.000S"', 'mediaPresentationDuration="PT9S"')
    assert [c for c, _, _ in _dash(t.files)] == ["file.missing", "file.missing"]


def test_duration_is_the_longest_track() -> None:
    """Video 4 s, audio one 2 s segment: the MPD's 4 s is right."""
    t = clean_title()
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="96000"/>')
    assert _dash(t.files) == []


def test_channel_configuration_without_value_is_ignored() -> None:
    t = clean_title()
    t.edit(
        MPD, 'audio_channel_configuration:2011" value="2"/>', 'audio_channel_configuration:2011"/>'
    )
    _, title, _ = _parse(t.files)
    assert title.representations[1].channel_config is None


def test_period_start_counts_for_the_next_periods_start() -> None:
    """Period 1 at 1 s, period 2 at 4 s: period 1 lasts 3 s, three 1 s entries."""
    t = clean_title()
    t.edit(MPD, '<Period id="0" start="PT0S">', '<Period id="0" start="PT1S">')
    t.edit(MPD, "</Period>", '</Period><Period id="1" start="PT4S"/>')
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="48000" r="-1"/>')
    _, title, _ = _parse(t.files)
    assert len(title.representations[1].segments) == 3
    t = clean_title()
    t.edit(MPD, '<Period id="0" start="PT0S">', '<Period id="0">')
    t.edit(MPD, "</Period>", '</Period><Period id="1" start="PT4S"/>')
    t.edit(MPD, AUDIO_TIMELINE, '<S t="0" d="48000" r="-1"/>')
    _, title, _ = _parse(t.files)
    assert len(title.representations[1].segments) == 4


def test_text_by_content_type_or_by_mime_type_alone() -> None:
    t = clean_title()
    t.edit(
        MPD,
        'contentType="text" mimeType="text/vtt"',
        'contentType="text" mimeType="application/x-sub"',
    )
    t.files["subs/eng.vtt"] = "no"
    assert _dash(t.files) == [("media.vtt", "subs/eng.vtt", "does not start with 'WEBVTT'")]
    t = clean_title()
    t.edit(
        MPD, 'contentType="text" mimeType="text/vtt"', 'contentType="subtitles" mimeType="text/vtt"'
    )
    t.files["subs/eng.vtt"] = "no"
    assert _dash(t.files) == [("media.vtt", "subs/eng.vtt", "does not start with 'WEBVTT'")]


def test_segment_template_on_the_period_or_the_adaptation_set() -> None:
    t = clean_title()
    text = t.files[MPD]
    start = text.index('        <SegmentTemplate timescale="48000"')
    end = text.index("</SegmentTemplate>", start) + len("</SegmentTemplate>\n")
    tmpl = text[start:end].strip()
    moved = text[:start] + text[end:]
    aset = moved.replace(
        'contentType="audio" mimeType="audio/mp4" lang="en">',
        'contentType="audio" mimeType="audio/mp4" lang="en">' + tmpl,
    )
    t.files[MPD] = aset
    assert _dash(t.files) == []
    period = moved.replace('<Period id="0" start="PT0S">', '<Period id="0" start="PT0S">' + tmpl)
    t.files[MPD] = period
    _, title, _ = _parse(t.files)
    # the Period's template applies to every Representation that has none of its own
    assert title.representations[1].init == ROOT + "aud/init.mp4"
    assert title.representations[0].init == ROOT + "v180/init.mp4"
