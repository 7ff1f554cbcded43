"""Audio rendition edges that mutation testing (scripts/mutation.sh pipeline/planning/audio.py)
found untested: names per codec and bitrate group (the "-" before a codec ending in a digit,
the -<kbps> suffix only when a codec has several groups), the 6-channel threshold, sample
rates, language fallbacks, what each rendition joins, offsets, the single default, and that
alignment warnings name the renditions after renumbering."""

from __future__ import annotations

from pipeline.media.info import VideoStream
from pipeline.planning.audio import AudioPlan, plan_audio
from pipeline.planning.channel_map import AudioSource
from pipeline.planning.ladder import Ladder

BED = (1, 2, 3, 4, 5, 6)


def _ladder(name: str, stereo: int = 128, surround: tuple[str, int] | None = None) -> Ladder:
    return Ladder.model_validate(
        {
            "device_class": name, "max_frame_rate": 30, "profile": "high",
            "rungs": [{"width": 1280, "height": 720, "bitrate_kbps": 3000}],
            "audio": {"bitrate_kbps": stereo},
            "surround": None if surround is None else
            {"codec": surround[0], "bitrate_kbps": surround[1]},
        }
    )  # fmt: skip


def _source(index: int = 1, language: str = "eng", channels: int = 2, **kw: object):
    return AudioSource(
        index=index, language=language, channels=channels, sample_rate=kw.pop("rate", 48000),
        **kw,
    )  # fmt: skip


VIDEO = VideoStream(index=0, codec="h264", width=1920, height=1080, frame_rate="25/1", fps=25.0)


def _plan(sources, ladders: dict[str, Ladder], classes=None, duration: float = 10.0) -> AudioPlan:
    return plan_audio(sources, classes or list(ladders), ladders, VIDEO, duration)


def _names(p: AudioPlan) -> list[str]:
    return [r.name for r in p.renditions]


def test_one_stereo_rendition_with_every_field():
    p = _plan([_source(3, "fra", rate=44100, start_time=0.5)], {"web": _ladder("web", 160)})
    (r,) = p.renditions
    assert r.model_dump() == {
        "name": "a-fra-aac2", "source_index": 3, "language": "fra", "codec": "aac",
        "channels": 2, "bitrate_kbps": 160, "sample_rate": 44100, "default": True,
        "device_classes": ["web"], "merge_indexes": [], "merge_layout": None, "offset": 0.5,
    }  # fmt: skip
    assert p.notes == ["audio #3 (fra) starts 0.500 s after the picture: delayed by as much"]
    assert p.warnings == []


def test_unusual_sample_rates_become_48k():
    ladders = {"web": _ladder("web")}
    for rate, expected in ((44100, 44100), (48000, 48000), (96000, 48000), (32000, 48000)):
        (r,) = _plan([_source(rate=rate)], ladders).renditions
        assert r.sample_rate == expected


def test_language_fallbacks_in_names_and_tags():
    ladders = {"web": _ladder("web")}
    (r,) = _plan([_source(language="pt-BR")], ladders).renditions
    assert (r.name, r.language) == ("a-ptbr-aac2", "pt-BR")
    (r,) = _plan([_source(language="")], ladders).renditions
    assert (r.name, r.language) == ("a-und-aac2", "und")
    (r,) = _plan([_source(language="???")], ladders).renditions
    assert (r.name, r.language) == ("a-und-aac2", "???")


def test_stereo_bitrates_far_apart_give_one_rendition_each_named_by_kbps():
    ladders = {
        "tv": _ladder("tv", 192),
        "mobile": _ladder("mobile", 96),
        "web": _ladder("web", 100),
    }
    p = _plan([_source()], ladders, ["tv", "mobile", "web"])
    assert [(r.name, r.bitrate_kbps, r.device_classes) for r in p.renditions] == [
        ("a-eng-aac2-100", 100, ["mobile", "web"]),  # 96 and 100 merge, at the higher rate
        ("a-eng-aac2-192", 192, ["tv"]),
    ]
    assert [r.default for r in p.renditions] == [True, False]


def test_surround_needs_six_channels():
    ladders = {"tv": _ladder("tv", surround=("eac3", 192))}
    assert _names(_plan([_source(channels=5)], ladders)) == ["a-eng-aac2"]
    assert _names(_plan([_source(channels=6)], ladders)) == ["a-eng-aac2", "a-eng-eac3-6"]
    assert _names(_plan([_source(channels=8)], ladders)) == ["a-eng-aac2", "a-eng-eac3-6"]


def test_surround_names_per_codec_and_bitrate_group():
    ladders = {
        "tv": _ladder("tv", surround=("eac3", 192)),
        "stb": _ladder("stb", surround=("eac3", 384)),
        "web": _ladder("web", surround=("aac", 320)),
        "mobile": _ladder("mobile"),
    }
    p = _plan([_source(channels=6)], ladders, ["tv", "stb", "web", "mobile"])
    rows = [(r.name, r.codec, r.channels, r.bitrate_kbps, r.device_classes) for r in p.renditions]
    assert rows == [
        ("a-eng-aac2", "aac", 2, 128, ["tv", "stb", "web", "mobile"]),
        ("a-eng-eac3-6-192", "eac3", 6, 192, ["tv"]),
        ("a-eng-eac3-6-384", "eac3", 6, 384, ["stb"]),
        ("a-eng-aac6", "aac", 6, 320, ["web"]),
    ]  # fmt: skip


def test_joined_bed_without_pair_downmixes_for_stereo():
    ladders = {"tv": _ladder("tv", surround=("eac3", 192))}
    p = _plan([_source(channels=6, surround=BED)], ladders)
    assert [(r.merge_indexes, r.merge_layout) for r in p.renditions] == [
        (list(BED), "5.1"),
        (list(BED), "5.1"),
    ]


def test_joined_bed_with_pair_uses_the_pair_for_stereo():
    ladders = {"tv": _ladder("tv", surround=("eac3", 192))}
    p = _plan([_source(channels=6, surround=BED, stereo=(7, 8))], ladders)
    assert [(r.merge_indexes, r.merge_layout) for r in p.renditions] == [
        ([7, 8], "stereo"),
        (list(BED), "5.1"),
    ]


def test_plain_multichannel_track_joins_nothing():
    ladders = {"tv": _ladder("tv", surround=("eac3", 192))}
    p = _plan([_source(channels=6)], ladders)
    assert all(r.merge_indexes == [] and r.merge_layout is None for r in p.renditions)


def test_only_the_first_rendition_is_default_and_names_are_unique_across_sources():
    p = _plan([_source(1), _source(2), _source(3, "fra")], {"web": _ladder("web")})
    assert _names(p) == ["a-eng-aac2", "a-eng-aac2-2", "a-fra-aac2"]
    assert [r.default for r in p.renditions] == [True, False, False]
    assert [r.source_index for r in p.renditions] == [1, 2, 3]
    assert _plan([], {"web": _ladder("web")}).renditions == []


def test_alignment_warnings_name_the_renumbered_renditions():
    sources = [_source(1), _source(2, duration=12.5, start_time=-0.25)]
    p = _plan(sources, {"tv": _ladder("tv", surround=("eac3", 192))}, duration=10.0)
    assert p.notes == [
        "audio #2 (eng) starts 0.250 s before the picture: its first 0.250 s are cut"
    ]
    assert p.warnings == [
        "audio #2 (eng) runs 2.250 s past the picture (ends at 12.250 s, picture 10.000 s): "
        "trimmed to the picture in a-eng-aac2-2"
    ]
    assert [r.offset for r in p.renditions] == [0.0, -0.25]


def test_notes_and_warnings_of_every_source_are_kept_in_order():
    sources = [
        _source(1, start_time=0.5, duration=9.0),
        _source(2, "fra", start_time=0.25, duration=9.0),
    ]
    p = _plan(sources, {"web": _ladder("web")}, duration=10.0)
    assert p.notes == [
        "audio #1 (eng) starts 0.500 s after the picture: delayed by as much",
        "audio #2 (fra) starts 0.250 s after the picture: delayed by as much",
    ]
    assert p.warnings == [
        "audio #1 (eng) ends 0.500 s before the picture (at 9.500 s, picture 10.000 s): "
        "padded with silence in a-eng-aac2",
        "audio #2 (fra) ends 0.750 s before the picture (at 9.250 s, picture 10.000 s): "
        "padded with silence in a-fra-aac2",
    ]
