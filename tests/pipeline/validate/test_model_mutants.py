"""The validation report (pipeline/validate/model.py): the one-line format of a violation, the
text and JSON reports, and the Sink's deduplication, location display and escaping."""

from __future__ import annotations

import json

import pytest

from pipeline.validate.model import CODES, RenditionStats, Report, Sink, Violation, _printable


def _stats(**kw) -> RenditionStats:
    base = dict(
        name="v180",
        kind="video",
        codecs="avc1.64001f",
        init="v180/init.mp4",
        timescale=90000,
        segment_count=3,
        duration=6.0,
        peak_bitrate=1234567,
        average_bitrate=987654,
    )
    base.update(kw)
    return RenditionStats(**base)


def test_violation_line_pads_the_code_to_24_columns() -> None:
    v = Violation(code="hls.map", where="v.m3u8", message="no EXT-X-MAP")
    assert v.line() == "hls.map" + " " * 17 + " v.m3u8: no EXT-X-MAP"


def test_rendition_stats_defaults_are_zero_frame_and_complete() -> None:
    s = _stats()
    assert s.frame_duration == 0.0 and s.complete is True


def test_empty_report_is_ok_and_says_so() -> None:
    r = Report(target="t")
    assert r.ok is True and r.codes() == set() and r.manifests == [] and r.stats == {}
    assert r.decoded is False
    assert r.format_text() == "t: OK (segments not decoded)"
    r.decoded = True
    assert r.format_text() == "t: OK"


def test_failed_report_counts_violations_singular_and_plural() -> None:
    one = Violation(code="hls.map", where="a", message="m")
    r = Report(target="t", decoded=True, violations=[one])
    assert r.ok is False
    assert r.format_text() == f"{one.line()}\nt: FAILED: 1 violation"
    two = Violation(code="hls.endlist", where="b", message="n")
    r.violations.append(two)
    assert r.codes() == {"hls.map", "hls.endlist"}
    assert r.format_text() == f"{one.line()}\n{two.line()}\nt: FAILED: 2 violations"


def test_format_text_with_stats_lists_each_rendition() -> None:
    r = Report(target="t", decoded=True, stats={"v180": _stats()})
    want = (
        "  v180             video  avc1.64001f       3 segs     6.000 s  peak    1234.6 kb/s  "
        "avg     987.7 kb/s"
    )
    assert r.format_text(stats=True) == want + "\nt: OK"
    assert r.format_text() == "t: OK"  # stats only when asked


def test_to_json_adds_ok_and_indents_by_two() -> None:
    r = Report(target="t", violations=[Violation(code="hls.map", where="a", message="m")])
    text = r.to_json()
    data = json.loads(text)
    assert data["ok"] is False and data["target"] == "t" and data["decoded"] is False
    assert data["violations"] == [{"code": "hls.map", "where": "a", "message": "m"}]
    assert text.startswith('{\n  "target": "t"')
    assert "\n" not in Report(target="t").to_json(indent=None)
    assert json.loads(Report(target="t").to_json())["ok"] is True


def test_printable_escapes_control_characters() -> None:
    assert _printable("a\nb\tc\x00d") == "a\\nb\\tc\\x00d"
    assert _printable("plain é") == "plain é"


def test_sink_shows_locations_through_display_and_escapes() -> None:
    sink = Sink(lambda uri: "shown:" + uri)
    sink.add("hls.map", "x\ny", "bad\x07")
    sink.add("hls.map", "", "no location")
    assert [(v.code, v.where, v.message) for v in sink.violations] == [
        ("hls.map", "shown:x\\ny", "bad\\x07"),
        ("hls.map", "", "no location"),
    ]


def test_sink_deduplicates_on_code_location_and_message() -> None:
    sink = Sink(str)
    sink.add("hls.map", "a", "m")
    sink.add("hls.map", "a", "m")
    sink.add("hls.endlist", "a", "m")
    sink.add("hls.map", "b", "m")
    sink.add("hls.map", "a", "other")
    assert [(v.code, v.where, v.message) for v in sink.violations] == [
        ("hls.map", "a", "m"),
        ("hls.endlist", "a", "m"),
        ("hls.map", "b", "m"),
        ("hls.map", "a", "other"),
    ]


def test_sink_refuses_an_unknown_code() -> None:
    with pytest.raises(AssertionError, match="^no.such$"):
        Sink(str).add("no.such", "a", "m")


def test_codes_table_documents_every_rule() -> None:
    assert CODES["hls.version"] == (
        "EXT-X-VERSION missing or too low for the features used (EXT-X-MAP needs 6)"
    )
    assert CODES["hls.iframe_sync"] == (
        "an I-frame byte range points at a fragment that starts with a non-sync sample"
    )
    assert CODES["dash.mixed_channels"] == ("an AdaptationSet mixes audio channel configurations")


def test_printable_keeps_printable_characters_as_they_are() -> None:
    assert _printable("C:\\dir 'x' \"y\"") == "C:\\dir 'x' \"y\""
