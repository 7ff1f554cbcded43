"""Studio channel-map edges that mutation testing (scripts/mutation.sh
pipeline/planning/channel_map.py) found untested: label spelling and aliases, the exact text
of every refusal, note and warning, which track is the programme's first, the label of joined
sources, and how start times and durations of joined tracks combine."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.errors import PipelineError
from pipeline.media.info import AudioStream
from pipeline.planning.channel_map import (
    BED,
    PAIR,
    RULES,
    STEREO_BED,
    UNUSED,
    AudioMap,
    AudioSource,
    audio_sources,
    normalise_labels,
    parse_audio_map,
)

KNOWN = "L R C LFE Ls Rs Lt Rt -"


def _track(index: int, *, channels: int = 1, language: str = "und", **kw: object) -> AudioStream:
    fields: dict = {"codec": "pcm_s24le", "sample_rate": 48000}
    return AudioStream(index=index, channels=channels, language=language, **{**fields, **kw})


def _mono(n: int, first: int = 1, **kw: object) -> list[AudioStream]:
    return [_track(first + i, **kw) for i in range(n)]


def _refusal(tracks: list[AudioStream], labels: list[str] | None) -> str:
    with pytest.raises(PipelineError) as err:
        audio_sources("/in/m.mxf", tracks, labels)
    assert err.value.stage == "plan"
    return str(err.value)


def test_label_sets():
    assert BED == ("L", "R", "C", "LFE", "Ls", "Rs")
    assert (STEREO_BED, PAIR, UNUSED) == (("L", "R"), ("Lt", "Rt"), "-")
    assert RULES[2] == STEREO_BED and RULES[6] == BED and RULES[8] == (*BED, *PAIR)
    assert sorted(RULES) == [2, 6, 8]


def test_labels_are_canonicalised_and_aliases_resolved():
    raw = [" lfe ", "LS", "rs", "l", "R", "c", "LO", "ro", "lt", "RT", "x", "X", "", " - "]
    assert normalise_labels(raw) == [
        "LFE", "Ls", "Rs", "L", "R", "C", "Lt", "Rt", "Lt", "Rt", "-", "-", "-", "-",
    ]  # fmt: skip


def test_unknown_label_is_named_with_the_known_ones():
    with pytest.raises(ValueError) as err:
        normalise_labels(["L", "Cs"])
    assert str(err.value) == f"unknown channel label 'Cs' (known: {KNOWN})"


def test_cli_map_is_split_on_commas():
    assert parse_audio_map("L,R, c ,lfe,Ls,Rs") == ["L", "R", "C", "LFE", "Ls", "Rs"]
    assert parse_audio_map("Lo,Ro,,x") == ["Lt", "Rt", "-", "-"]
    with pytest.raises(ValueError, match="unknown channel label 'L R'"):
        parse_audio_map("L R")


def test_sidecar_map_model():
    assert AudioMap(tracks=["lo", "ro"]).tracks == ["Lt", "Rt"]
    with pytest.raises(ValidationError):
        AudioMap(tracks=[])
    with pytest.raises(ValidationError):
        AudioMap.model_validate({"tracks": ["L", "R"], "layout": "stereo"})
    with pytest.raises(ValidationError, match="unknown channel label 'Q'"):
        AudioMap(tracks=["Q"])


def test_source_labels():
    base: dict = {"language": "eng", "channels": 2, "sample_rate": 48000}
    assert AudioSource(index=3, **base).label == "#3"
    assert AudioSource(index=1, surround=(1, 2, 3, 4, 5, 6), **base).label == "#1-#6"
    assert AudioSource(index=1, surround=(3, 1, 2, 4, 5, 6), stereo=(8, 7), **base).label == (
        "#1-#8"
    )
    assert AudioSource(index=9, stereo=(4,), **base).label == "#4"
    plain = AudioSource(index=3, **base)
    assert (plain.start_time, plain.duration, plain.surround, plain.stereo) == (0.0, None, (), ())


def test_tracks_without_a_rule_pass_through_whole():
    tracks = [
        _track(1, channels=2, language="eng", sample_rate=44100, start_time=0.5, duration=9.0),
        _track(2, channels=6, language="fra"),
    ]
    sources, notes, warnings = audio_sources("x", tracks)
    assert (notes, warnings) == ([], [])
    assert sources == [
        AudioSource(index=1, language="eng", channels=2, sample_rate=44100, start_time=0.5,
                    duration=9.0),
        AudioSource(index=2, language="fra", channels=6, sample_rate=48000),
    ]  # fmt: skip


def test_default_rule_warning_text():
    (source,), notes, warnings = audio_sources("x", _mono(2))
    assert notes == []
    assert warnings == [
        "audio: 2 mono tracks taken as L R by the default rule (no channel map given: set "
        '"audio": {"tracks": [...]} in the sidecar or --audio-map if this order is wrong)'
    ]
    assert (source.index, source.channels, source.stereo, source.surround) == (1, 2, (1, 2), ())


def test_default_rule_ignores_untagged_tracks_when_counting_languages():
    tracks = [_track(1, language="eng"), _track(2, language="und")]
    (source,), _, warnings = audio_sources("x", tracks)
    assert source.stereo == (1, 2) and source.language == "eng" and len(warnings) == 1
    tracks = [_track(1, language="eng"), _track(2, language="eng")]
    assert len(audio_sources("x", tracks)[0]) == 1


@pytest.mark.parametrize("count", [1, 3, 4, 5, 7, 9])
def test_default_rule_only_for_two_six_or_eight_tracks(count):
    sources, _, warnings = audio_sources("x", _mono(count))
    assert [s.index for s in sources] == list(range(1, count + 1)) and warnings == []


def test_map_note_lists_the_canonical_labels():
    tracks = _mono(3)
    (source,), notes, warnings = audio_sources("x", tracks, ["lo", "ro", "x"])
    assert notes == ["audio: channel map Lt Rt - joins the mono tracks"] and warnings == []
    assert (source.index, source.channels, source.stereo, source.surround) == (1, 2, (1, 2), ())


def test_an_empty_map_is_the_default_rule():
    assert audio_sources("x", _mono(2), [])[2] != []


def test_unknown_label_in_a_map_is_a_plan_error():
    assert _refusal(_mono(2), ["L", "Q"]) == (
        f"[plan] /in/m.mxf: audio channel map: unknown channel label 'Q' (known: {KNOWN})"
    )


@pytest.mark.parametrize(
    ("tracks", "labels", "problem"),
    [
        (_mono(3), ["L", "R"], "2 labels for 3 audio tracks"),
        (_mono(2), ["L", "R", "C"], "3 labels for 2 audio tracks"),
        (_mono(3, first=4), ["L", "L", "R"], "L is given to tracks #4 and #5"),
        ([_track(1), _track(2, channels=2)], ["L", "R"], "track #2 (R) has 2 channels, not 1"),
        (
            _mono(3),
            ["L", "R", "C"],
            "an incomplete 5.1 bed (missing LFE Ls Rs); give L R alone for stereo",
        ),
        (
            _mono(1),
            ["C"],
            "an incomplete 5.1 bed (missing L R LFE Ls Rs); give L R alone for stereo",
        ),
        (_mono(2), ["Lt", "-"], "Lt and Rt come as a pair"),
        (_mono(1), ["Rt"], "Lt and Rt come as a pair"),
        (_mono(4), ["L", "R", "Lt", "Rt"], "L R and Lt Rt are both stereo pairs: give one"),
        (_mono(2), ["-", "x"], "every track is left out"),
    ],
)
def test_map_refusals_are_exact(tracks, labels, problem):
    assert _refusal(tracks, labels) == f"[plan] /in/m.mxf: audio channel map: {problem}"


def test_a_multichannel_track_marked_unused_is_fine():
    tracks = [_track(1, channels=2), *_mono(2, first=2)]
    (source,), _, _ = audio_sources("x", tracks, ["-", "L", "R"])
    assert (source.index, source.stereo) == (2, (2, 3))


def test_bed_order_follows_the_labels_not_the_tracks():
    tracks = [
        _track(1, language="fra", sample_rate=44100),
        _track(2, language="eng", sample_rate=48000),
        *_mono(4, first=3),
    ]
    (source,), _, _ = audio_sources("x", tracks, ["R", "L", "C", "LFE", "Rs", "Ls"])
    assert source.surround == (2, 1, 3, 4, 6, 5)
    assert source.stereo == ()  # the stereo rendition is the bed downmixed
    # the programme is named after its L track
    assert (source.index, source.language, source.sample_rate, source.channels) == (
        2, "eng", 48000, 6,
    )  # fmt: skip


def test_bed_with_pair_keeps_both():
    tracks = _mono(8)
    (source,), _, _ = audio_sources("x", tracks, ["Rt", "Lt", *BED])
    assert source.surround == (3, 4, 5, 6, 7, 8)
    assert source.stereo == (2, 1)  # Lt first
    assert (source.index, source.channels) == (3, 6)


def test_joined_tracks_start_with_the_earliest_and_last_as_the_longest():
    tracks = [
        _track(1, start_time=0.5, duration=5.0),
        _track(2, start_time=0.25, duration=None),
        _track(3, start_time=0.75, duration=6.0),
    ]
    (source,), _, _ = audio_sources("x", tracks, ["L", "-", "R"])
    assert (source.start_time, source.duration) == (0.5, 6.0)  # the unused track does not count
    (source,), _, _ = audio_sources("x", tracks, ["L", "R", "-"])
    assert (source.start_time, source.duration) == (0.25, 5.0)
    tracks = [_track(1, duration=None), _track(2, duration=0.0)]
    (source,), _, _ = audio_sources("x", tracks, ["L", "R"])
    assert source.duration is None
