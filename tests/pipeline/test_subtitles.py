"""Sidecar subtitles: SRT -> WebVTT conversion, WebVTT pass-through, and clear refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.errors import PipelineError
from pipeline.encode.subtitles import (
    MAX_BYTES,
    TIMESTAMP_MAP,
    is_language_tag,
    load_subtitles,
    normalize_language,
    parse_subtitle_arg,
    vtt_duration,
)

SRT = """\ufeff1\r
00:00:01,600 --> 00:00:04,200\r
<i>Previously on</i> "The Show"...\r
\r
2\r
00:00:05,900 --> 00:00:07,999 X1:100 X2:600 Y1:50 Y2:80\r
{\\an8}<font color="#ffff00">Tom & Jerry</font>\r
<b>- Run!</b> <3\r
\r
3\r
00:00:08,000 --> 00:00:08,000\r
(zero-length placeholder)\r
\r
4\r
01:02:03,004 --> 01:02:05,500\r
Fin &amp; merci.\r
\r
"""

EXPECTED_VTT = """WEBVTT

00:00:01.600 --> 00:00:04.200
<i>Previously on</i> "The Show"...

00:00:05.900 --> 00:00:07.999
Tom &amp; Jerry
<b>- Run!</b> &lt;3

01:02:03.004 --> 01:02:05.500
Fin &amp; merci.
"""

VTT = """WEBVTT - Episode 1
Kind: captions
X-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000

STYLE
::cue(.yellow) { color: yellow; }

NOTE written by hand

intro
00:01.000 --> 00:03.500 align:start line:10%
<c.yellow>Hello</c> <v Bob>there</v>

00:00:03.000 --> 00:00:06.000
Second cue
on two lines
"""

# What a WebVTT cue timing line looks like once normalized.
TIMING = re.compile(r"^(\d{2,}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2,}):(\d{2}):(\d{2})\.(\d{3})")


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, str):
        p.write_text(content, encoding="utf-8", newline="")
    else:
        p.write_bytes(content)
    return p


def _cues(vtt: str) -> list[tuple[float, float, list[str]]]:
    """A tiny independent WebVTT reader: (start, end, text lines) per cue block."""
    out = []
    for block in vtt.strip().split("\n\n")[1:]:
        lines = block.split("\n")
        idx = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if idx is None:
            continue
        m = TIMING.match(lines[idx])
        assert m, lines[idx]
        g = [int(x) for x in m.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        out.append((start, end, lines[idx + 1 :]))
    return out


# --- conversion ---------------------------------------------------------------------------


def test_srt_to_vtt(tmp_path):
    vtt = load_subtitles(_write(tmp_path, "ep1.srt", SRT), "en")
    assert vtt == EXPECTED_VTT
    assert vtt_duration(vtt) == pytest.approx(3725.5)


def test_srt_detected_by_content_not_extension(tmp_path):
    vtt = load_subtitles(_write(tmp_path, "ep1.txt", SRT), None)
    assert vtt.startswith("WEBVTT\n\n00:00:01.600 --> ")


def test_srt_without_indices_and_with_dot_millis(tmp_path):
    srt = "00:00:01.000 --> 00:00:02.000\nA\n\n00:00:03,000 --> 00:00:04,000\nB\n"
    cues = _cues(load_subtitles(_write(tmp_path, "a.srt", srt), None))
    assert cues == [(1.0, 2.0, ["A"]), (3.0, 4.0, ["B"])]


def test_vtt_passes_through_with_markup_settings_and_blocks(tmp_path):
    vtt = load_subtitles(_write(tmp_path, "ep1.vtt", VTT), "en")
    assert vtt.startswith("WEBVTT - Episode 1\nKind: captions\n\nSTYLE\n::cue(.yellow)")
    assert "X-TIMESTAMP-MAP" not in vtt  # someone else's MPEG-TS mapping is dropped
    assert "NOTE written by hand" in vtt
    assert "intro\n00:00:01.000 --> 00:00:03.500 align:start line:10%\n" in vtt
    assert "<c.yellow>Hello</c> <v Bob>there</v>" in vtt
    assert _cues(vtt) == [
        (1.0, 3.5, ["<c.yellow>Hello</c> <v Bob>there</v>"]),
        (3.0, 6.0, ["Second cue", "on two lines"]),
    ]
    assert vtt_duration(vtt) == 6.0


def test_timestamp_map_on_request(tmp_path):
    vtt = load_subtitles(_write(tmp_path, "a.vtt", VTT), "en", timestamp_map=True)
    header = vtt.split("\n\n")[0].split("\n")
    assert header == ["WEBVTT - Episode 1", TIMESTAMP_MAP, "Kind: captions"]


def test_utf8_bom_and_crlf_handled(tmp_path):
    raw = ("\ufeffWEBVTT\r\n\r\n00:00.500 --> 00:01.000\r\nÇa va ?\r\n").encode()
    vtt = load_subtitles(_write(tmp_path, "bom.vtt", raw), "fr")
    assert vtt == "WEBVTT\n\n00:00:00.500 --> 00:00:01.000\nÇa va ?\n"


def test_utf16_with_bom_is_decoded(tmp_path):
    raw = "1\r\n00:00:01,000 --> 00:00:02,000\r\nĞüle güle\r\n".encode("utf-16")
    assert _cues(load_subtitles(_write(tmp_path, "tr.srt", raw), "tr")) == [
        (1.0, 2.0, ["Ğüle güle"])
    ]


def test_overlapping_cues_are_fine_and_duration_is_the_latest_end(tmp_path):
    srt = "1\n00:00:01,000 --> 00:00:09,000\nA\n\n2\n00:00:02,000 --> 00:00:03,000\nB\n"
    vtt = load_subtitles(_write(tmp_path, "o.srt", srt), None)
    assert vtt_duration(vtt) == 9.0


def test_vtt_duration_of_nothing():
    assert vtt_duration("WEBVTT\n") == 0.0


# --- refusals -------------------------------------------------------------------------------


def _refused(tmp_path, name, content, *, match: str) -> PipelineError:
    path = _write(tmp_path, name, content)
    with pytest.raises(PipelineError, match=match) as info:
        load_subtitles(path, None)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    return info.value


def test_empty_file(tmp_path):
    _refused(tmp_path, "e.srt", "", match="empty")
    _refused(tmp_path, "w.srt", "\n  \n", match="empty")


def test_binary_file(tmp_path):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    _refused(tmp_path, "x.srt", png, match="line 1: not UTF-8|line 1: binary")


def test_control_characters(tmp_path):
    srt = "1\n00:00:01,000 --> 00:00:02,000\nok\x01\n"
    _refused(tmp_path, "x.srt", srt, match="line 3: binary")


def test_latin1_file_names_the_line(tmp_path):
    raw = b"1\n00:00:01,000 --> 00:00:02,000\nCa va\n\n2\n00:00:03,000 --> 00:00:04,000\n"
    raw += "Déjà vu\n".encode("latin-1")
    _refused(tmp_path, "l.srt", raw, match=r"line 7: not UTF-8 \(byte 0xe9\)")


def test_not_a_subtitle_file(tmp_path):
    _refused(tmp_path, "notes.srt", "\n\nhello world\n", match="line 3: not a WebVTT or SRT")
    _refused(tmp_path, "x.vtt", "WEBVTTX\n", match="must start with 'WEBVTT'")


def test_too_big(tmp_path):
    big = b"1\n00:00:01,000 --> 00:00:02,000\n" + b"a" * MAX_BYTES
    _refused(tmp_path, "big.srt", big, match="over 20 MB")


def test_missing_file(tmp_path):
    with pytest.raises(PipelineError, match="cannot read"):
        load_subtitles(tmp_path / "nope.srt", "en")


def test_end_before_start(tmp_path):
    srt = "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:05,000 --> 00:00:04,000\nB\n"
    _refused(tmp_path, "b.srt", srt, match=r"line 6: cue ends \(00:00:04.000\) before it starts")


def test_timestamps_going_backwards(tmp_path):
    srt = (
        "1\n00:10:00,000 --> 00:10:02,000\nA\n\n"
        "2\n00:10:03,000 --> 00:10:04,000\nB\n\n"
        "3\n00:01:00,000 --> 00:01:02,000\nC\n"
    )
    err = _refused(tmp_path, "b.srt", srt, match="line 10: timestamps go backwards")
    assert "(line 6)" in str(err)


def test_srt_block_without_timing(tmp_path):
    srt = "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\nno timing here\n"
    _refused(tmp_path, "b.srt", srt, match=r"line 6: expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm'")
    _refused(tmp_path, "c.srt", srt.replace("no timing here\n", ""), match="line 5: cue 2 has no")


def test_malformed_srt_timestamp(tmp_path):
    srt = "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:03,5 --> 00:00:04,000\nB\n"
    _refused(tmp_path, "b.srt", srt, match="line 6: expected")


def test_vtt_block_without_timing(tmp_path):
    vtt = "WEBVTT\n\n00:01.000 --> 00:02.000\nA\n\njust text\nmore text\n"
    _refused(tmp_path, "b.vtt", vtt, match="line 6: expected a cue timing line")


def test_vtt_bad_minutes(tmp_path):
    _refused(tmp_path, "b.vtt", "WEBVTT\n\n00:61.000 --> 01:02.000\nA\n", match="line 3: minutes")


def test_vtt_cue_in_header(tmp_path):
    _refused(tmp_path, "b.vtt", "WEBVTT\n00:01.000 --> 00:02.000\nA\n", match="line 2: cue timing")


def test_vtt_without_cues(tmp_path):
    _refused(tmp_path, "b.vtt", "WEBVTT\n\nNOTE nothing yet\n", match="no subtitle cues")


def test_bad_language_is_refused(tmp_path):
    path = _write(tmp_path, "a.srt", SRT)
    with pytest.raises(PipelineError, match="not a BCP-47"):
        load_subtitles(path, "english!")


# --- CLI argument ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arg", "path", "lang"),
    [
        ("subs/en.srt", "subs/en.srt", "und"),
        ("subs/en.srt:en", "subs/en.srt", "en"),
        ("movie.fr.vtt:fr-CA", "movie.fr.vtt", "fr-CA"),
        ("x.srt:PT-br", "x.srt", "pt-BR"),
        ("x.srt:zh-hans-cn", "x.srt", "zh-Hans-CN"),
        ("x.srt:es-419", "x.srt", "es-419"),
        ("a:b/c.srt:de", "a:b/c.srt", "de"),
        (r"C:\subs\en.srt", r"C:\subs\en.srt", "und"),
        (r"C:\subs\en.srt:ja", r"C:\subs\en.srt", "ja"),
    ],
)
def test_parse_subtitle_arg(arg, path, lang):
    assert parse_subtitle_arg(arg) == (Path(path), lang)


@pytest.mark.parametrize("arg", ["x.srt:", "x.srt:english", "x.srt:e"])
def test_parse_subtitle_arg_refuses_bad_language(arg):
    with pytest.raises(PipelineError, match="BCP-47"):
        parse_subtitle_arg(arg)


def test_language_helpers():
    assert all(is_language_tag(t) for t in ["en", "eng", "pt-BR", "x-klingon", "sr-Latn-RS"])
    assert not any(is_language_tag(t) for t in ["", "e", "english", "en_US", "en--US", "-en"])
    assert normalize_language("EN-gb") == "en-GB"
