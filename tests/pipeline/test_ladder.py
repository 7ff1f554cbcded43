"""Ladder files: the bundled ones load and follow the spec; broken ones fail with clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from core.errors import LadderError
from pipeline.planning import ladder as ladder_module
from pipeline.planning.ladder import available_classes, load_ladder, load_ladder_file

# Apple HLS authoring spec, H.264 16:9 reference ladder (REFERENCE.md section 5).
APPLE_H264 = {
    (416, 234, 145), (640, 360, 365), (768, 432, 730), (768, 432, 1100), (960, 540, 2000),
    (1280, 720, 3000), (1280, 720, 4500), (1920, 1080, 6000), (1920, 1080, 7800),
}  # fmt: skip
LADDER_DIR = Path(__file__).resolve().parents[2] / "ladders"


def _rungs(device_class: str) -> set[tuple[int, int, int]]:
    return {(r.width, r.height, r.bitrate_kbps) for r in load_ladder(device_class).rungs}


def test_available_classes():
    assert available_classes() == ["mobile", "stb", "tv", "web"]


@pytest.mark.parametrize("device_class", ["mobile", "stb", "tv", "web"])
def test_bundled_ladders_load_and_use_apple_rungs(device_class):
    ladder = load_ladder(device_class)
    assert ladder.device_class == device_class
    assert _rungs(device_class) <= APPLE_H264
    assert ladder.audio.codec == "aac" and ladder.audio.channels == 2
    text = (LADDER_DIR / f"{device_class}.yaml").read_text()
    assert text.startswith("#"), "each ladder documents its choices in a header comment"


def test_class_specific_choices():
    web, tv, stb, mobile = (load_ladder(c) for c in ("web", "tv", "stb", "mobile"))
    assert _rungs("web") == APPLE_H264
    assert web.max_frame_rate == 60 and web.surround and web.surround.codec == "aac"
    assert min(r.height for r in tv.rungs) == 540 and max(r.height for r in tv.rungs) == 1080
    assert tv.surround and tv.surround.codec == "eac3" and tv.surround.channels == 6
    assert (stb.profile, stb.level, stb.max_frame_rate) == ("main", "4.0", 30)
    assert {r.height for r in stb.rungs} >= {360, 1080} and min(r.height for r in stb.rungs) == 360
    assert stb.surround and stb.surround.codec == "eac3"
    assert max(r.height for r in mobile.rungs) == 720 and min(r.height for r in mobile.rungs) == 234
    assert mobile.max_frame_rate == 30 and mobile.surround is None


def test_unknown_class_lists_available():
    with pytest.raises(LadderError) as err:
        load_ladder("fridge")
    message = str(err.value)
    assert "'fridge'" in message
    for name in ("mobile", "stb", "tv", "web"):
        assert name in message


def test_path_like_class_names_are_refused():
    with pytest.raises(LadderError, match="unknown device class"):
        load_ladder("../pyproject")


# --- broken files -----------------------------------------------------------------------------


def _web() -> dict:
    return yaml.safe_load((LADDER_DIR / "web.yaml").read_text())


def _write(tmp_path: Path, data: dict | str, name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def _error(tmp_path: Path, data: dict | str) -> str:
    path = _write(tmp_path, data)
    with pytest.raises(LadderError) as err:
        load_ladder_file(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    return message


def test_valid_copy_loads(tmp_path):
    assert load_ladder_file(_write(tmp_path, _web())).device_class == "web"


def test_negative_bitrate(tmp_path):
    data = _web()
    data["rungs"][2]["bitrate_kbps"] = -730
    message = _error(tmp_path, data)
    assert "rungs[2].bitrate_kbps" in message and "-730" in message


def test_odd_dimension(tmp_path):
    data = _web()
    data["rungs"][0]["width"] = 417
    message = _error(tmp_path, data)
    assert "rungs[0].width" in message and "417" in message and "even" in message


def test_not_sixteen_nine(tmp_path):
    data = _web()
    data["rungs"][1]["width"] = 480
    assert "16:9" in _error(tmp_path, data)


def test_unknown_key(tmp_path):
    data = _web()
    data["framerate"] = 30
    assert "framerate" in _error(tmp_path, data)
    data = _web()
    data["rungs"][3]["fps"] = 25
    assert "rungs[3].fps" in _error(tmp_path, data)


def test_missing_field(tmp_path):
    data = _web()
    del data["audio"]
    assert "audio: missing required field" in _error(tmp_path, data)


def test_duplicate_rungs(tmp_path):
    data = _web()
    data["rungs"].append(dict(data["rungs"][5]))
    message = _error(tmp_path, data)
    assert "duplicates rungs[5]" in message and "1280x720" in message


def test_yaml_syntax_error(tmp_path):
    text = (LADDER_DIR / "web.yaml").read_text().replace("rungs:", "rungs: [")
    message = _error(tmp_path, text)
    assert "invalid YAML" in message and "line" in message


def test_duplicate_yaml_key(tmp_path):
    text = (LADDER_DIR / "web.yaml").read_text() + "profile: main\n"
    assert "duplicate key 'profile'" in _error(tmp_path, text)


def test_unsafe_yaml_tag_is_refused(tmp_path):
    text = "!!python/object/apply:os.system ['echo hacked']\n"
    assert "invalid YAML" in _error(tmp_path, text)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"profile": "main10"}, "not a h264 profile"),
        ({"codec": "vp9"}, "codec = 'vp9'"),
        ({"level": "9.9"}, "not a valid h264 level"),
        ({"max_frame_rate": 0}, "max_frame_rate = 0"),
        ({"surround": {"codec": "dts", "channels": 6, "bitrate_kbps": 640}}, "surround.codec"),
        ({"surround": {"codec": "eac3", "channels": 8, "bitrate_kbps": 640}}, "surround.channels"),
        ({"rungs": []}, "rungs"),
        ({"device_class": "Big TV"}, "device_class"),
    ],
)
def test_bad_values(tmp_path, change, expected):
    data = {**_web(), **change}
    assert expected in _error(tmp_path, data)


@pytest.mark.parametrize("text", ["", "- 1\n- 2\n"])
def test_not_a_mapping(tmp_path, text):
    assert "expected a mapping" in _error(tmp_path, text)


def test_numeric_level_and_hevc(tmp_path):
    data = {**_web(), "level": 4, "codec": "hevc", "profile": "main10"}
    ladder = load_ladder_file(_write(tmp_path, data))
    assert (ladder.level, ladder.codec, ladder.profile) == ("4.0", "hevc", "main10")


def test_device_class_must_match_file_name(tmp_path, monkeypatch):
    package = tmp_path / "ladders_under_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    _write(package, {**_web(), "device_class": "tv"}, name="web.yaml")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(ladder_module, "LADDER_PACKAGE", "ladders_under_test")
    try:
        assert available_classes() == ["web"]
        with pytest.raises(LadderError, match="does not match the file name"):
            load_ladder("web")
    finally:
        sys.modules.pop("ladders_under_test", None)
