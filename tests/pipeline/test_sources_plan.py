"""Planning for delivered mezzanines (issue 13): studio channel maps, track alignment against
the picture, field-rate deinterlacing, variable frame rate. Pure: no FFmpeg here."""

from __future__ import annotations

from fractions import Fraction

import pytest
from pydantic import ValidationError

from core.errors import PipelineError
from pipeline.media.info import AudioStream, MediaInfo, VideoStream
from pipeline.planning.channel_map import AudioMap, audio_sources, parse_audio_map
from pipeline.planning.planner import format_plan, plan
from pipeline.workflow.spec import TitleSpec


def _video(rate="25/1", *, interlaced=False, vfr=False, duration=5.28, start=0.0):
    return VideoStream(
        index=0, codec="h264", width=1920, height=1080, frame_rate=rate,
        fps=float(Fraction(rate)), interlaced=interlaced, variable_frame_rate=vfr,
        duration=duration, start_time=start,
    )  # fmt: skip


def _track(index, *, channels=1, language="und", duration=5.28, start=0.0):
    return AudioStream(
        index=index, codec="pcm_s24le", language=language, channels=channels,
        sample_rate=48000, duration=duration, start_time=start,
    )  # fmt: skip


def _media(audio, video=None, *, duration=6.037, start=0.0):
    return MediaInfo(
        path="/in/mezz.mxf", container="mxf", duration=duration, size=1, start_time=start,
        video=[video or _video()], audio=audio,
    )  # fmt: skip


def _mono(n, **kw):
    return [_track(i + 1, **kw) for i in range(n)]


# --- studio channel maps ----------------------------------------------------------------------


def test_six_mono_tracks_are_one_5_1_programme_by_the_default_rule():
    (source,), notes, warnings = audio_sources("x", _mono(6))
    assert source.surround == (1, 2, 3, 4, 5, 6) and source.stereo == ()
    assert (source.channels, source.label) == (6, "#1-#6")
    assert notes == [] and "L R C LFE Ls Rs by the default rule" in warnings[0]


def test_eight_mono_tracks_are_5_1_plus_the_stereo_pair():
    (source,), _, warnings = audio_sources("x", _mono(8))
    assert source.surround == (1, 2, 3, 4, 5, 6) and source.stereo == (7, 8)
    assert "L R C LFE Ls Rs Lt Rt" in warnings[0]


def test_two_mono_tracks_are_stereo_unless_they_are_two_languages():
    (source,), _, _ = audio_sources("x", _mono(2))
    assert (source.channels, source.stereo, source.surround) == (2, (1, 2), ())
    two = [_track(1, language="eng"), _track(2, language="fra")]
    sources, notes, warnings = audio_sources("x", two)
    assert [s.index for s in sources] == [1, 2] and not notes and not warnings


def test_no_rule_for_mixed_or_odd_track_counts():
    for tracks in (_mono(3), [*_mono(5), _track(6, channels=2)], [_track(1, channels=6)]):
        sources, _, warnings = audio_sources("x", tracks)
        assert len(sources) == len(tracks) and not warnings
        assert all(not s.surround and not s.stereo for s in sources)


def test_sidecar_map_joins_the_named_tracks_and_leaves_out_dashes():
    tracks = [_track(1, channels=2, language="eng"), *[_track(i) for i in range(2, 8)]]
    with pytest.raises(PipelineError, match="track #1 \\(L\\) has 2 channels"):
        audio_sources("x", tracks, ["L", "R", "C", "LFE", "Ls", "Rs", "-"])
    labels = ["-", "l", "r", "c", "lfe", "ls", "rs"]  # any case
    (source,), notes, warnings = audio_sources("x", tracks, labels)
    assert source.surround == (2, 3, 4, 5, 6, 7) and not warnings
    assert "channel map - L R C LFE Ls Rs" in notes[0]


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        (["L", "R", "C", "Ls", "Rs", "-"], "incomplete 5.1 bed \\(missing LFE\\)"),
        (["L", "R", "C", "LFE", "Ls"], "5 labels for 6 audio tracks"),
        (["L", "L", "C", "LFE", "Ls", "Rs"], "L is given to tracks #1 and #2"),
        (["L", "R", "C", "LFE", "Ls", "Lt"], "incomplete 5.1 bed|Lt and Rt come as a pair"),
        (["L", "R", "-", "-", "Lt", "Rt"], "both stereo pairs"),
        (["-"] * 6, "every track is left out"),
        (["L", "R", "C", "LFE", "Ls", "Sub"], "unknown channel label 'Sub'"),
    ],
)
def test_bad_maps_are_refused_naming_the_problem(labels, problem):
    with pytest.raises(PipelineError, match=problem) as info:
        audio_sources("/in/mezz.mxf", _mono(6), labels)
    assert info.value.stage == "plan"


def test_map_labels_from_the_sidecar_the_cli_and_the_title_spec():
    labels = ["L", "R", "C", "LFE", "Ls", "Rs", "Lt", "Rt"]
    assert parse_audio_map("L,R,C,LFE,Ls,Rs,Lo,Ro") == labels
    assert AudioMap.model_validate({"tracks": ["l", "r"]}).tracks == ["L", "R"]
    with pytest.raises(ValidationError, match="unknown channel label"):
        AudioMap.model_validate({"tracks": ["L", "Q"]})
    with pytest.raises(ValidationError) as err:
        AudioMap.model_validate({"tracks": ["L", "R"], "layout": "5.1"})  # unknown key
    assert [(e["loc"], e["type"]) for e in err.value.errors()] == [(("layout",), "extra_forbidden")]
    spec = TitleSpec(source="s", title_id="t", origin="o", audio_map=["lfe", "-"])
    assert spec.audio_map == ["LFE", "-"]


def test_plan_joins_mono_tracks_into_stereo_and_5_1_renditions():
    p = plan(_media(_mono(8)), ["web", "tv"])
    by_name = {a.name: a for a in p.audio}
    assert set(by_name) == {"a-und-aac2", "a-und-aac6", "a-und-eac3-6"}
    stereo = by_name["a-und-aac2"]
    assert (stereo.merge_indexes, stereo.merge_layout, stereo.channels) == ([7, 8], "stereo", 2)
    for name in ("a-und-aac6", "a-und-eac3-6"):
        assert by_name[name].merge_indexes == [1, 2, 3, 4, 5, 6]
        assert by_name[name].merge_layout == "5.1" and by_name[name].channels == 6
    assert any("default rule" in w for w in p.warnings)
    six = plan(_media(_mono(6)), ["web"])
    assert [(a.merge_indexes, a.merge_layout) for a in six.audio] == [
        ([1, 2, 3, 4, 5, 6], "5.1"),  # the stereo rendition is the bed, downmixed
        ([1, 2, 3, 4, 5, 6], "5.1"),
    ]
    assert "#1-#6 as 5.1" in format_plan(six)


# --- alignment --------------------------------------------------------------------------------


def test_programme_is_the_picture_a_long_dub_is_trimmed_with_a_warning():
    eng = _track(1, channels=2, language="eng", duration=5.28)
    spa = _track(2, channels=2, language="spa", duration=6.037)
    p = plan(_media([eng, spa]), ["web"])
    assert p.duration == 5.28  # the picture's, not the container's 6.037
    (warning,) = p.warnings
    assert warning.startswith("audio #2 (spa) runs 0.757 s past the picture")
    assert "a-spa-aac2" in warning and "trimmed" in warning
    assert "warning: audio #2 (spa) runs 0.757 s" in format_plan(p)


def test_short_audio_is_padded_with_a_warning_and_rounding_is_not_news():
    p = plan(_media([_track(1, channels=2, duration=4.5)]), ["web"])
    assert "ends 0.780 s before the picture" in p.warnings[0] and "padded" in p.warnings[0]
    quiet = plan(_media([_track(1, channels=2, duration=5.3013)]), ["web"])  # priming
    assert quiet.warnings == []


def test_late_audio_start_is_carried_as_an_offset():
    """An MPEG-TS capture: video from 1.48 s, audio from 2.858667 s (1.4 s + AAC priming)."""
    video = _video(duration=6.0, start=1.48)
    audio = _track(1, channels=2, language="eng", duration=4.629333, start=2.858667)
    p = plan(_media([audio], video, duration=6.0, start=1.48), ["web"])
    assert p.video_start == 1.48 and p.audio[0].offset == pytest.approx(1.378667)
    assert p.notes == ["audio #1 (eng) starts 1.379 s after the picture: delayed by as much"]
    assert p.warnings == []  # 1.378667 + 4.629333 = 6.008: ends with the picture


def test_audio_before_the_picture_is_cut_and_the_picture_starts_at_zero():
    video = _video(duration=13.0, start=1.921333)
    audio = _track(1, channels=2, language="eng", duration=13.52, start=1.4)
    p = plan(_media([audio], video, duration=13.52, start=1.4), ["web"])
    assert p.video_start == pytest.approx(1.921333)  # its first timestamp, moved to 0
    assert p.audio[0].offset == pytest.approx(-0.521333)
    assert "its first 0.521 s are cut" in p.notes[0]


# --- picture timing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "classes", "mode", "fps"),
    [
        ("25/1", ["web"], "send_field", {"50"}),
        ("25/1", ["mobile"], "send_frame", {"25"}),
        ("30000/1001", ["web"], "send_field", {"60000/1001"}),  # 480i
        ("25/1", ["web", "mobile"], "send_field", {"50", "25"}),
    ],
)
def test_interlaced_sources_are_deinterlaced_field_rate_aware(rate, classes, mode, fps):
    p = plan(_media([_track(1, channels=2)], _video(rate, interlaced=True)), classes)
    assert p.deinterlace == mode
    assert {str(Fraction(r.frame_rate)) for r in p.video} == fps
    (note,) = p.notes
    assert f"mode={mode}" in note and "interlaced" in note


def test_progressive_sources_are_not_deinterlaced_and_vfr_is_noted():
    p = plan(_media([_track(1, channels=2)]), ["web"])
    assert p.deinterlace is None and p.notes == []
    vfr = plan(_media([_track(1, channels=2)], _video("30/1", vfr=True)), ["web"])
    assert vfr.notes == [
        "video: variable frame rate: made constant at 30 fps (nearest standard rate 30 fps)"
    ]
