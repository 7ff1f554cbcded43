"""Plan display edges that mutation testing (scripts/mutation.sh pipeline/planning/display.py)
found untested: every column and cell of the video and audio tables (justification, codec with
and without a level, tonemap and default flags, joined sources and start offsets), the header
line, the console width, and notes/warnings printed unwrapped after the tables."""

from __future__ import annotations

from pipeline.media.plan import AudioRendition, Plan, VideoRung
from pipeline.planning.display import format_plan, plan_tables

VIDEO_COLUMNS = ["name", "size", "fps", "kbps", "maxrate", "codec", "tonemap", "classes"]
AUDIO_COLUMNS = ["name", "lang", "codec", "ch", "kbps", "source", "default", "classes"]


def _rung(name: str, **kw: object) -> VideoRung:
    fields: dict = {
        "name": name, "width": 1280, "height": 720, "bitrate_kbps": 3000, "maxrate_kbps": 4500,
        "bufsize_kbps": 6000, "frame_rate": "30/1", "device_classes": ["web"],
    }  # fmt: skip
    return VideoRung(**{**fields, **kw})


def _audio(name: str, **kw: object) -> AudioRendition:
    return AudioRendition(**{"name": name, "source_index": 1, **kw})


def _plan(**kw: object) -> Plan:
    fields: dict = {
        "source": "/in/title.mov", "video_source_index": 0, "device_classes": ["web", "tv"],
        "duration": 12.345, "gop_seconds": 2.0, "segment_seconds": 6.0,
        "video": [
            _rung("v720p3000", level="4.0", device_classes=["web", "tv"]),
            _rung("v1080p6000-hevc", width=1920, height=1080, bitrate_kbps=6000,
                  maxrate_kbps=9000, codec="hevc", profile="main10",
                  frame_rate="30000/1001", tonemap=True),
        ],
        "audio": [
            _audio("a-eng-aac2", language="eng", default=True, device_classes=["web", "tv"]),
            _audio("a-eng-eac3-6", language="eng", codec="eac3", channels=6, bitrate_kbps=192,
                   merge_indexes=[1, 2, 3, 4, 5, 6], merge_layout="5.1", offset=1.4,
                   device_classes=["tv"]),
            _audio("a-fra-aac2", source_index=7, language="fra", offset=-0.5),
        ],
    }  # fmt: skip
    return Plan(**{**fields, **kw})


def _cells(table) -> list[list[str]]:
    return [list(column.cells) for column in table.columns]


def test_video_table_columns_and_cells():
    video, _ = plan_tables(_plan())
    assert video.title == "Video renditions (2)"
    assert [c.header for c in video.columns] == VIDEO_COLUMNS
    justify = {c.header: c.justify for c in video.columns}
    assert justify == {h: ("right" if h in ("kbps", "maxrate") else "left") for h in VIDEO_COLUMNS}
    assert _cells(video) == [
        ["v720p3000", "v1080p6000-hevc"],
        ["1280x720", "1920x1080"],
        ["30", "29.97"],
        ["3000", "6000"],
        ["4500", "9000"],
        ["h264 high 4.0", "hevc main10"],
        ["", "yes"],
        ["web, tv", "web"],
    ]


def test_audio_table_columns_and_cells():
    _, audio = plan_tables(_plan())
    assert audio.title == "Audio renditions (3)"
    assert [c.header for c in audio.columns] == AUDIO_COLUMNS
    assert all(c.justify == "left" for c in audio.columns)
    assert _cells(audio) == [
        ["a-eng-aac2", "a-eng-eac3-6", "a-fra-aac2"],
        ["eng", "eng", "fra"],
        ["aac", "eac3", "aac"],
        ["2", "6", "2"],
        ["128", "192", "128"],
        ["#1", "#1-#6 as 5.1 +1.400 s", "#7 -0.500 s"],
        ["yes", "", ""],
        ["web, tv", "tv", ""],
    ]


def test_audio_source_cell_edges():
    plan = _plan(
        audio=[
            _audio("a", offset=0.001),
            _audio("b", offset=0.0009),
            _audio("c", offset=-0.001),
            _audio("d", merge_indexes=[4, 5], merge_layout="stereo"),
            _audio("e", merge_indexes=[4], merge_layout=None),
        ]
    )
    _, audio = plan_tables(plan)
    assert list(audio.columns[5].cells) == [
        "#1 +0.001 s",
        "#1",
        "#1 -0.001 s",
        "#4-#5 as stereo",
        "#4",
    ]


def test_no_audio_table_without_audio():
    (video,) = plan_tables(_plan(audio=[]))
    assert video.title == "Video renditions (2)"


def test_plain_text_header_notes_and_warnings_in_order():
    note = "video: " + "n" * 150  # longer than the console: printed on one line anyway
    text = format_plan(_plan(notes=[note, "second note"], warnings=["check this: 1.5 s"]))
    lines = text.splitlines()
    assert lines[0] == "/in/title.mov: 12.35 s, classes web, tv, GOP 2 s, segments 6 s"
    assert lines[-3:] == [f"note: {note}", "note: second note", "warning: check this: 1.5 s"]
    assert "Video renditions (2)" in text and "Audio renditions (3)" in text
    assert text.index("Video renditions") < text.index("Audio renditions") < text.index("note:")
    assert "\x1b" not in text  # no colour codes in logs


def test_fractional_gop_and_segment_are_shown_compactly():
    text = format_plan(_plan(gop_seconds=0.5, segment_seconds=1.5, duration=3.0))
    assert (
        text.splitlines()[0] == "/in/title.mov: 3.00 s, classes web, tv, GOP 0.5 s, segments 1.5 s"
    )


def test_console_is_110_columns_wide_by_default():
    source = "/in/" + "x" * 53 + ".mov"  # header line of exactly 110 characters fits
    header = f"{source}: 12.35 s, classes web, tv, GOP 2 s, segments 6 s"
    assert len(header) == 110
    assert format_plan(_plan(source=source)).splitlines()[0] == header
    longer = "/in/" + "x" * 54 + ".mov"  # 111 characters wrap
    wrapped = format_plan(_plan(source=longer)).splitlines()[0]
    assert wrapped != f"{longer}: 12.35 s, classes web, tv, GOP 2 s, segments 6 s"
    assert max(len(line) for line in format_plan(_plan(), width=80).splitlines()) <= 80


def test_long_warnings_are_printed_on_one_line():
    warning = "audio #2 (eng) runs " + "w" * 150
    lines = format_plan(_plan(warnings=[warning])).splitlines()
    assert lines[-1] == f"warning: {warning}"


def test_plain_text_does_not_depend_on_the_terminal_environment(monkeypatch):
    plan = _plan(notes=["video: 25 fps"], warnings=["check 1.5 s"])
    expected = format_plan(plan)
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert format_plan(plan) == expected
