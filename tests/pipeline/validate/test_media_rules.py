"""Corrupted media files: missing, empty or truncated segments, fragments that do not start
with a sync sample or an IDR picture, subtitles that are not WebVTT."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.mp4.base import parse_box
from pipeline.mp4.boxes import NON_SYNC_SAMPLE_FLAGS
from pipeline.validate.title import validate
from tests.support.requirements import requires
from tests.support.validate_titles import codes, first_sample

pytestmark = requires(shutil.which("ffmpeg"), "FFmpeg", "run scripts/setup.sh (apt package ffmpeg)")


def test_missing_segment(title: Path) -> None:
    (title / "v180" / "2.m4s").unlink()
    report = validate(title, decode=False)
    missing = [v for v in report.violations if v.code == "file.missing"]
    assert [v.where for v in missing] == ["v180/2.m4s"]
    assert not report.stats["v180"].complete
    text = report.format_text()
    assert "file.missing" in text and "v180/2.m4s" in text and "FAILED" in text


def test_subtitles_checked(title: Path) -> None:
    (title / "subs" / "eng.vtt").write_text("1\n00:00:01,000 --> 00:00:03,000\nHello\n")
    report = validate(title, decode=False)
    assert [(v.code, v.where) for v in report.violations] == [("media.vtt", "subs/eng.vtt")]
    (title / "subs" / "eng.vtt").unlink()
    report = validate(title, decode=False)
    assert [(v.code, v.where) for v in report.violations] == [("file.missing", "subs/eng.vtt")]


def test_empty_init_segment(title: Path) -> None:
    (title / "aud" / "init.mp4").write_bytes(b"")
    report = validate(title, decode=False)
    assert ("file.empty", "aud/init.mp4") in {(v.code, v.where) for v in report.violations}


def test_truncated_segment_does_not_decode(title: Path) -> None:
    seg = title / "v180" / "2.m4s"
    seg.write_bytes(seg.read_bytes()[:100_000])
    report = validate(title)
    decode = [v for v in report.violations if v.code == "media.decode"]
    assert [v.where for v in decode] == ["v180/2.m4s"]
    assert "media.parse" in codes(report)  # the box parser sees the truncation too
    fast = validate(title, decode=False)
    assert "media.decode" not in codes(fast) and "media.parse" in codes(fast)


def test_segment_starting_with_non_sync_sample(title: Path) -> None:
    seg = title / "v180" / "2.m4s"
    data = bytearray(seg.read_bytes())
    off, _, _ = first_sample(bytes(data), title, "v180")
    moof, end = parse_box(bytes(data), off)
    trun = moof.find("traf/trun")
    trun.samples[0]["flags"] = NON_SYNC_SAMPLE_FLAGS
    new = moof.to_bytes()
    assert len(new) == end - off
    data[off:end] = new
    seg.write_bytes(bytes(data))
    report = validate(title, decode=False)
    assert ("media.sync", "v180/2.m4s") in {(v.code, v.where) for v in report.violations}
    # the I-frame playlist points at that fragment too
    assert codes(report) == {"media.sync", "hls.iframe_sync"}, report.format_text()


def test_segment_starting_with_non_idr_picture(title: Path) -> None:
    seg = title / "v180" / "2.m4s"
    data = bytearray(seg.read_bytes())
    _, pos, size = first_sample(bytes(data), title, "v180")
    end = pos + size
    while pos < end:  # 4-byte NAL lengths (x264's avcC)
        n = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4] & 0x1F == 5:
            data[pos + 4] = (data[pos + 4] & 0xE0) | 1  # IDR slice -> non-IDR slice
            break
        pos += 4 + n
    else:
        pytest.fail("no IDR NAL unit in the first sample")
    seg.write_bytes(bytes(data))
    report = validate(title, decode=False)
    idr = [v for v in report.violations if v.code == "media.idr"]
    assert [v.where for v in idr] == ["v180/2.m4s"] and "NAL unit type 1" in idr[0].message
    assert codes(report) == {"media.idr"}
