"""test_dash_mutants.py, continued (split to keep modules under 500 lines)."""

from __future__ import annotations

import pytest

from pipeline.validate import dash as dash_module
from pipeline.validate.dash import (
    MAX_SEGMENTS,
    DashChecker,
)
from tests.pipeline.validate.test_dash_mutants import (
    AUDIO_TIMELINE,
    MPD,
    _dash,
    _parse,
)
from tests.support.validate_bytes import (
    AVC_CODECS,
    ROOT,
    clean_title,
    rates,
    store,
)


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
