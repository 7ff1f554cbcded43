"""Ladder schema and loader edges that mutation testing (scripts/mutation.sh
pipeline/planning/ladder.py) found untested: every bound of the schema (inclusive or not),
defaults, the class-name rule, level spellings, the exact refusal texts of the loader, YAML
problem positions, and how validation problems are summarised on one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.errors import LadderError
from pipeline.planning.ladder import (
    LADDER_PACKAGE,
    Ladder,
    Rung,
    StereoAudio,
    SurroundAudio,
    load_ladder,
    load_ladder_file,
)

AVAILABLE = "available: mobile, stb, tv, web"


def _data(**change: object) -> dict:
    base: dict = {
        "device_class": "x", "max_frame_rate": 30, "profile": "high",
        "rungs": [{"width": 1280, "height": 720, "bitrate_kbps": 3000}],
        "audio": {"bitrate_kbps": 128},
    }  # fmt: skip
    return {**base, **change}


def _problems(model: type, data: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as err:
        model.model_validate(data)
    return [(e["loc"], e["type"]) for e in err.value.errors()]


def _load_error(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "l.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(LadderError) as err:
        load_ladder_file(path)
    assert err.value.stage == "plan" and err.value.path == str(path)
    prefix = f"[plan] {path}: "
    assert str(err.value).startswith(prefix)
    return str(err.value)[len(prefix) :]


def _yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data)


# --- schema -----------------------------------------------------------------------------------


def test_largest_allowed_rung_and_bitrates():
    rung = Rung(width=7680, height=4320, bitrate_kbps=100_000, maxrate_factor=4.0)
    assert (rung.width, rung.height, rung.bitrate_kbps, rung.maxrate_factor) == (
        7680, 4320, 100_000, 4.0,
    )  # fmt: skip
    assert StereoAudio(bitrate_kbps=512).bitrate_kbps == 512
    assert SurroundAudio(codec="eac3", bitrate_kbps=1536).bitrate_kbps == 1536
    assert Rung(width=1280, height=720, bitrate_kbps=1, maxrate_factor=1.0).maxrate_factor == 1.0


@pytest.mark.parametrize(
    ("rung", "loc", "kind"),
    [
        ({"width": 7682, "height": 4320, "bitrate_kbps": 1}, ("width",), "less_than_equal"),
        ({"width": 7680, "height": 4322, "bitrate_kbps": 1}, ("height",), "less_than_equal"),
        ({"width": 1280, "height": 720, "bitrate_kbps": 100_001}, ("bitrate_kbps",),
         "less_than_equal"),
        ({"width": 1280, "height": 720, "bitrate_kbps": 0}, ("bitrate_kbps",), "greater_than"),
        ({"width": 1280, "height": 720, "bitrate_kbps": 1, "maxrate_factor": 4.01},
         ("maxrate_factor",), "less_than_equal"),
        ({"width": 1280, "height": 720, "bitrate_kbps": 1, "maxrate_factor": 0.99},
         ("maxrate_factor",), "greater_than_equal"),
    ],
)  # fmt: skip
def test_rung_bounds(rung, loc, kind):
    assert (loc, kind) in _problems(Rung, rung)


def test_zero_or_negative_sizes_are_refused():
    assert (("width",), "greater_than") in _problems(
        Rung, {"width": 0, "height": 0, "bitrate_kbps": 1}
    )


def test_audio_bounds_and_defaults():
    stereo = StereoAudio(bitrate_kbps=96)
    assert (stereo.codec, stereo.channels) == ("aac", 2)
    assert SurroundAudio(codec="aac", bitrate_kbps=320).channels == 6
    assert (("bitrate_kbps",), "less_than_equal") in _problems(StereoAudio, {"bitrate_kbps": 513})
    assert (("bitrate_kbps",), "greater_than") in _problems(StereoAudio, {"bitrate_kbps": 0})
    assert (("bitrate_kbps",), "less_than_equal") in _problems(
        SurroundAudio, {"codec": "eac3", "bitrate_kbps": 1537}
    )
    assert (("bitrate_kbps",), "greater_than") in _problems(
        SurroundAudio, {"codec": "eac3", "bitrate_kbps": 0}
    )


def test_odd_sizes_are_refused_with_the_reason():
    with pytest.raises(ValidationError) as err:
        Rung(width=1281, height=721, bitrate_kbps=1)
    messages = [(e["loc"], e["msg"]) for e in err.value.errors()]
    reason = "Value error, must be even (4:2:0 chroma needs even dimensions)"
    assert messages == [(("width",), reason), (("height",), reason)]


def test_sixteen_nine_within_one_percent():
    assert Rung(width=1280, height=716, bitrate_kbps=1).height == 716  # 0.56% off: accepted
    assert Rung(width=1272, height=720, bitrate_kbps=1).width == 1272  # 0.6% off the other way
    with pytest.raises(ValidationError) as err:
        Rung(width=1280, height=712, bitrate_kbps=1)  # 1.1% off
    assert err.value.errors()[0]["msg"] == (
        "Value error, 1280x712 is not a 16:9 reference size (rungs are written for 16:9 and "
        "adapted to each source's aspect ratio)"
    )
    with pytest.raises(ValidationError):
        Rung(width=1296, height=720, bitrate_kbps=1)  # 1.25% off


def test_ladder_defaults():
    ladder = Ladder.model_validate(_data())
    assert (ladder.codec, ladder.maxrate_factor, ladder.level, ladder.description) == (
        "h264", 1.5, None, None,
    )  # fmt: skip
    assert ladder.surround is None and ladder.rungs[0].maxrate_factor is None


def test_ladder_bounds():
    assert (
        Ladder.model_validate(_data(max_frame_rate=120, maxrate_factor=4.0)).max_frame_rate == 120
    )
    assert Ladder.model_validate(_data(maxrate_factor=1.0)).maxrate_factor == 1.0
    assert (("max_frame_rate",), "less_than_equal") in _problems(Ladder, _data(max_frame_rate=121))
    assert (("max_frame_rate",), "greater_than") in _problems(Ladder, _data(max_frame_rate=0))
    assert (("maxrate_factor",), "less_than_equal") in _problems(Ladder, _data(maxrate_factor=4.5))
    assert (("maxrate_factor",), "greater_than_equal") in _problems(
        Ladder, _data(maxrate_factor=0.9)
    )
    assert (("rungs",), "too_short") in _problems(Ladder, _data(rungs=[]))


@pytest.mark.parametrize("name", ["a", "0", "tv-4k", "set_top", "a" * 32, "9" + "z" * 31])
def test_class_names_allowed(name):
    assert Ladder.model_validate(_data(device_class=name)).device_class == name


@pytest.mark.parametrize("name", ["", "A", "-tv", "_tv", "tv box", "tv.4k", "a" * 33])
def test_class_names_refused(name):
    with pytest.raises(ValidationError) as err:
        Ladder.model_validate(_data(device_class=name))
    assert err.value.errors()[0]["msg"] == (
        "Value error, must be lower-case letters, digits, '-' or '_' (max 32)"
    )


@pytest.mark.parametrize(
    ("level", "expected"),
    [(4, "4.0"), (4.0, "4.0"), (4.1, "4.1"), (5.15, "5.2"), ("4", "4.0"), ("4.1", "4.1"),
     ("1b", "1b"), (None, None)],
)  # fmt: skip
def test_level_spellings(level, expected):
    assert Ladder.model_validate(_data(level=level)).level == expected


@pytest.mark.parametrize("level", [True, False, "41", "4 ", "a"])
def test_level_spellings_refused(level):
    with pytest.raises(ValidationError):
        Ladder.model_validate(_data(level=level))


def test_profile_and_level_per_codec():
    assert Ladder.model_validate(_data(codec="hevc", profile="main10", level="6.2")).level == "6.2"
    assert Ladder.model_validate(_data(profile="baseline", level="1b")).profile == "baseline"
    with pytest.raises(ValidationError) as err:
        Ladder.model_validate(_data(codec="hevc", profile="high"))
    assert err.value.errors()[0]["msg"] == (
        "Value error, profile 'high' is not a hevc profile (main, main10)"
    )
    with pytest.raises(ValidationError) as err:
        Ladder.model_validate(_data(codec="hevc", profile="main", level="1b"))
    assert err.value.errors()[0]["msg"] == "Value error, level '1b' is not a valid hevc level"
    with pytest.raises(ValidationError) as err:
        Ladder.model_validate(_data(level="6.3"))
    assert err.value.errors()[0]["msg"] == "Value error, level '6.3' is not a valid h264 level"


def test_duplicate_rungs_name_both_indexes():
    rungs = [
        {"width": 1280, "height": 720, "bitrate_kbps": 3000},
        {"width": 640, "height": 360, "bitrate_kbps": 365},
        {"width": 1280, "height": 720, "bitrate_kbps": 4500},  # same size, other bitrate: fine
        {"width": 640, "height": 360, "bitrate_kbps": 365},
    ]
    with pytest.raises(ValidationError) as err:
        Ladder.model_validate(_data(rungs=rungs))
    assert err.value.errors()[0]["msg"] == (
        "Value error, rungs[3] duplicates rungs[1] (640x360 at 365 kbps)"
    )
    assert len(Ladder.model_validate(_data(rungs=rungs[:3])).rungs) == 3


# --- loading ----------------------------------------------------------------------------------


def test_package_name():
    assert LADDER_PACKAGE == "ladders"


def test_unknown_class_message_is_exact():
    with pytest.raises(LadderError) as err:
        load_ladder("fridge")
    assert str(err.value) == f"[plan] unknown device class 'fridge'; {AVAILABLE}"
    assert err.value.path is None


def test_bundled_ladder_is_parsed_fully():
    mobile = load_ladder("mobile")
    assert (mobile.codec, mobile.profile, mobile.level, mobile.maxrate_factor) == (
        "h264", "high", "3.1", 1.5,
    )  # fmt: skip
    assert mobile.description == "Phones and small tablets"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(LadderError) as err:
        load_ladder_file(path)
    assert str(err.value) == f"[plan] {path}: ladder file not found"
    assert (
        load_ladder_file(str(Path(__file__).parents[2] / "ladders" / "tv.yaml")).device_class
        == "tv"
    )


def test_unreadable_file(tmp_path):
    with pytest.raises(LadderError) as err:
        load_ladder_file(tmp_path)  # a directory
    assert str(err.value).startswith(f"[plan] {tmp_path}: cannot read ladder file: [Errno 21]")
    message = _load_error(tmp_path, b"device_class: \xff\n")
    assert message.startswith("cannot read ladder file: 'utf-8' codec can't decode byte 0xff")


def test_yaml_problems_give_one_based_line_and_column(tmp_path):
    assert _load_error(tmp_path, "a: [1, 2\n") == (
        "invalid YAML: expected ',' or ']', but got '<stream end>' (line 2, column 1)"
    )
    assert _load_error(tmp_path, "a: b: c\n") == (
        "invalid YAML: mapping values are not allowed here (line 1, column 5)"
    )
    assert _load_error(tmp_path, "a: 1\nb:\n  c: 1\n  c: 2\n") == (
        "invalid YAML: duplicate key 'c' (line 4, column 3)"
    )


def test_yaml_problem_without_a_position(tmp_path):
    assert _load_error(tmp_path, "a: \x07\n") == (
        "invalid YAML: unacceptable character #x0007: special characters are not allowed"
    )


def test_top_level_kinds(tmp_path):
    assert _load_error(tmp_path, "") == (
        "expected a mapping of ladder fields at the top, got an empty file"
    )
    assert _load_error(tmp_path, "- 1\n") == (
        "expected a mapping of ladder fields at the top, got a list"
    )
    assert _load_error(tmp_path, "hello\n") == (
        "expected a mapping of ladder fields at the top, got a str"
    )


def test_validation_summary_shows_three_problems_and_counts_the_rest(tmp_path):
    data = _data(
        max_frame_rate=0,
        rungs=[{"width": 1281, "height": 720, "bitrate_kbps": 0, "fps": 3}],
        audio={"bitrate_kbps": 999},
        extra="y",
    )
    assert _load_error(tmp_path, _yaml(data)) == (
        "invalid ladder: max_frame_rate = 0: Input should be greater than 0; "
        "rungs[0].width = 1281: must be even (4:2:0 chroma needs even dimensions); "
        "rungs[0].bitrate_kbps = 0: Input should be greater than 0 (+3 more)"
    )


def test_validation_summary_of_exactly_three_problems_has_no_count(tmp_path):
    data = _data(max_frame_rate=0, maxrate_factor=9, audio={"bitrate_kbps": 0})
    assert _load_error(tmp_path, _yaml(data)) == (
        "invalid ladder: max_frame_rate = 0: Input should be greater than 0; "
        "maxrate_factor = 9: Input should be less than or equal to 4; "
        "audio.bitrate_kbps = 0: Input should be greater than 0"
    )


def test_validation_summary_kinds(tmp_path):
    data = _data()
    del data["profile"]
    assert _load_error(tmp_path, _yaml(data)) == "invalid ladder: profile: missing required field"
    assert _load_error(tmp_path, _yaml(_data(fps="x" * 100))) == (
        "invalid ladder: fps: unknown key (value '" + "x" * 56 + "...)"
    )
    assert _load_error(tmp_path, _yaml(_data(fps="x" * 58))) == (
        "invalid ladder: fps: unknown key (value '" + "x" * 58 + "')"
    )
    assert _load_error(tmp_path, _yaml(_data(rungs=[{"width": 1280, "height": 712,
                                                      "bitrate_kbps": 1}]))) == (
        "invalid ladder: rungs[0]: 1280x712 is not a 16:9 reference size (rungs are written "
        "for 16:9 and adapted to each source's aspect ratio)"
    )  # fmt: skip
    assert _load_error(tmp_path, _yaml(_data(profile="main10"))) == (
        "invalid ladder: profile 'main10' is not a h264 profile (baseline, main, high)"
    )
    assert _load_error(tmp_path, _yaml(_data(audio=None))) == (
        "invalid ladder: audio = None: Input should be a valid dictionary or instance of "
        "StereoAudio"
    )
    assert _load_error(tmp_path, _yaml(_data(surround={"codec": "dts", "bitrate_kbps": 1}))) == (
        "invalid ladder: surround.codec = 'dts': Input should be 'eac3' or 'aac'"
    )


def test_locations_skip_pydantic_internal_validator_names():
    from pipeline.planning.ladder import _location

    loc = ("surround", "function-after[_check(), SurroundAudio]", "codec", "literal['aac']")
    assert _location(loc) == "surround.codec"
    assert _location(("rungs", 2, "tagged-union[Rung]", "width", 0)) == "rungs[2].width[0]"
    assert _location(("function-plain[x]", "level")) == "level"
    assert _location((0, "a")) == "[0].a"
    assert _location(()) == ""


def test_bundled_file_with_another_class_name_is_refused_naming_the_file(tmp_path, monkeypatch):
    import sys

    from pipeline.planning import ladder as ladder_module

    package = tmp_path / "ladders_mismatch"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "web.yaml").write_text(_yaml(_data(device_class="tv")))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(ladder_module, "LADDER_PACKAGE", "ladders_mismatch")
    try:
        with pytest.raises(LadderError) as err:
            load_ladder("web")
    finally:
        sys.modules.pop("ladders_mismatch", None)
    path = str(package / "web.yaml")
    assert err.value.path == path
    assert str(err.value) == (
        f"[plan] {path}: device_class = 'tv' does not match the file name 'web'"
    )


def test_ladder_files_are_read_as_utf8_whatever_the_locale(tmp_path, monkeypatch):
    import codecs

    path = tmp_path / "l.yaml"
    path.write_text(_yaml(_data(description="Téléviseurs")), encoding="utf-8")
    seen: list[str | None] = []
    real = Path.read_text

    def spy(self: Path, encoding: str | None = None, errors: str | None = None) -> str:
        seen.append(encoding)
        return real(self, encoding="utf-8", errors=errors)

    monkeypatch.setattr(Path, "read_text", spy)
    assert load_ladder_file(path).description == "Téléviseurs"
    assert seen and seen[0] is not None and codecs.lookup(seen[0]).name == "utf-8"


def test_recursive_yaml_is_a_validation_problem_not_a_yaml_one(tmp_path):
    message = _load_error(tmp_path, "a: &A {b: *A}\n")
    assert message.startswith("invalid ladder: device_class: missing required field; ")


def test_validation_summary_of_four_problems_counts_one_more(tmp_path):
    data = _data(max_frame_rate=0, maxrate_factor=9, audio={"bitrate_kbps": 0}, fps=25)
    assert _load_error(tmp_path, _yaml(data)) == (
        "invalid ladder: max_frame_rate = 0: Input should be greater than 0; "
        "maxrate_factor = 9: Input should be less than or equal to 4; "
        "audio.bitrate_kbps = 0: Input should be greater than 0 (+1 more)"
    )
