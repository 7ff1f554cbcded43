"""test_hls_mutants.py, continued (split to keep modules under 500 lines)."""

from __future__ import annotations

from pipeline.validate.hls import (
    attributes,
    pct,
)
from tests.pipeline.validate.test_hls_mutants import (
    MASTER,
    _bw,
    _hls,
)
from tests.support.validate_bytes import (
    AVC_CODECS,
    clean_title,
    fragment,
    rates,
)


def test_wrong_codecs() -> None:
    t = clean_title()
    t.edit(MASTER, f'CODECS="{AVC_CODECS},', 'CODECS="avc1.640028,')
    assert _hls(t.files) == [
        (
            "hls.codecs",
            MASTER,
            f'variant v180.m3u8: CODECS="avc1.640028,mp4a.40.2", the bitstream has '
            f'"{AVC_CODECS},mp4a.40.2"',
        )
    ]


def test_codecs_compare_case_and_order_insensitively() -> None:
    t = clean_title()
    t.edit(MASTER, f'CODECS="{AVC_CODECS},mp4a.40.2"', 'CODECS="MP4A.40.2,AVC1.64001F"')
    assert _hls(t.files) == []


def test_missing_audio_codec() -> None:
    t = clean_title()
    t.edit(MASTER, ',mp4a.40.2"', '"')
    assert _hls(t.files) == [
        (
            "hls.codecs",
            MASTER,
            f'variant v180.m3u8: CODECS="{AVC_CODECS}", the bitstream has "{AVC_CODECS},mp4a.40.2"',
        )
    ]


def test_bandwidth_bounds_are_ten_percent_of_video_plus_audio_peak() -> None:
    t = clean_title()
    bw, _ = _bw(t)
    limit = bw + bw // 10  # within: |declared - measured| <= 0.1 * measured
    t.edit(MASTER, f"BANDWIDTH={bw},", f"BANDWIDTH={limit},")
    assert _hls(t.files) == []
    t.edit(MASTER, f"BANDWIDTH={limit},", f"BANDWIDTH={limit + 2},")
    assert _hls(t.files) == [
        (
            "hls.bandwidth",
            MASTER,
            f"variant v180.m3u8: BANDWIDTH={limit + 2}, measured peak {bw} b/s "
            f"({pct(limit + 2, bw)})",
        )
    ]


def test_average_bandwidth_wrong_and_missing() -> None:
    t = clean_title()
    _, abw = _bw(t)
    t.edit(MASTER, f"AVERAGE-BANDWIDTH={abw},", f"AVERAGE-BANDWIDTH={abw * 2},")
    assert _hls(t.files) == [
        (
            "hls.average_bandwidth",
            MASTER,
            f"variant v180.m3u8: AVERAGE-BANDWIDTH={abw * 2}, measured average {abw} b/s (+100.0%)",
        )
    ]
    t.edit(MASTER, f"AVERAGE-BANDWIDTH={abw * 2},", "")
    assert _hls(t.files) == [
        ("hls.average_bandwidth", MASTER, "variant v180.m3u8 has no AVERAGE-BANDWIDTH")
    ]


def test_bandwidth_counts_the_audio_group_peak() -> None:
    """Declaring the video alone is > 10 % short of video + audio."""
    t = clean_title()
    bw, abw = _bw(t)
    vpeak, vavg = rates(t.video, 2.0)
    apeak, aavg = rates(t.audio, 2.0)
    assert apeak > 0.1 * bw
    t.edit(
        MASTER,
        f"BANDWIDTH={bw},AVERAGE-BANDWIDTH={abw}",
        f"BANDWIDTH={vpeak},AVERAGE-BANDWIDTH={vavg}",
    )
    assert _hls(t.files) == [
        (
            "hls.bandwidth",
            MASTER,
            f"variant v180.m3u8: BANDWIDTH={vpeak}, measured peak {bw} b/s ({pct(vpeak, bw)})",
        ),
        (
            "hls.average_bandwidth",
            MASTER,
            f"variant v180.m3u8: AVERAGE-BANDWIDTH={vavg}, measured average {abw} b/s "
            f"({pct(vavg, abw)})",
        ),
    ]


def test_bandwidth_not_checked_when_audio_is_incomplete() -> None:
    t = clean_title()
    del t.files["aud/2.m4s"]
    t.edit(MASTER, f"BANDWIDTH={_bw(t)[0]},", "BANDWIDTH=1,")
    assert [c for c, _, _ in _hls(t.files)] == ["file.missing"]


def test_iframe_stream_codecs_missing_and_wrong() -> None:
    t = clean_title()
    t.edit(MASTER, f'CODECS="{AVC_CODECS}",RESOLUTION', "RESOLUTION")
    assert _hls(t.files) == [
        ("hls.codecs", MASTER, "I-frame stream v180_iframes.m3u8 has no CODECS")
    ]
    t = clean_title()
    t.edit(MASTER, f'CODECS="{AVC_CODECS}",RESOLUTION', 'CODECS="avc1.4d401f",RESOLUTION')
    assert _hls(t.files) == [
        (
            "hls.codecs",
            MASTER,
            f'I-frame stream v180_iframes.m3u8: CODECS="avc1.4d401f", the bitstream has '
            f'"{AVC_CODECS}"',
        )
    ]
    t = clean_title()
    t.edit(MASTER, f'CODECS="{AVC_CODECS}",RESOLUTION', 'CODECS="AVC1.64001F",RESOLUTION')
    assert _hls(t.files) == []


def _ranges(t) -> list[str]:
    return [ln for ln in t.files["v180_iframes.m3u8"].splitlines() if "BYTERANGE" in ln]


def test_iframe_without_byterange() -> None:
    t = clean_title()
    t.edit("v180_iframes.m3u8", _ranges(t)[0] + "\n", "")
    assert _hls(t.files) == [
        ("hls.iframe_range", "v180_iframes.m3u8", "I-frame 1 (v180/1.m4s ): no EXT-X-BYTERANGE")
    ]


def test_iframe_range_that_misses_the_key_frame_end() -> None:
    t = clean_title()
    v = t.video[1]
    end = v.moof_size + 8 + v.first_size
    t.edit("v180_iframes.m3u8", f"{end}@0\nv180/2", f"{end - 100}@0\nv180/2")
    assert _hls(t.files) == [
        (
            "hls.iframe_range",
            "v180_iframes.m3u8",
            f"I-frame 2 (v180/2.m4s {end - 100}@0): range ends at byte {end - 100}, "
            f"the key frame ends at {end}",
        )
    ]


def test_iframe_range_not_at_a_moof() -> None:
    t = clean_title()
    v = t.video[0]
    n = v.moof_size + 8 + v.first_size
    t.edit("v180_iframes.m3u8", f"{n}@0", f"{n}@8")
    assert _hls(t.files) == [
        (
            "hls.iframe_range",
            "v180_iframes.m3u8",
            f"I-frame 1 (v180/1.m4s {n}@8): offset 8 is not the start of a moof",
        )
    ]


def test_iframe_range_without_offset() -> None:
    """The first range has no previous one; the next continues where the previous ended."""
    t = clean_title()
    v = t.video[0]
    n = v.moof_size + 8 + v.first_size
    t.edit("v180_iframes.m3u8", f"{n}@0", f"{n}")
    assert _hls(t.files) == [
        (
            "hls.iframe_range",
            "v180_iframes.m3u8",
            f"I-frame 1 (v180/1.m4s {n}): byte range without offset and no previous range",
        )
    ]
    t = clean_title()
    entry = f"#EXTINF:2.000000,\n#EXT-X-BYTERANGE:{n}@0\nv180/1.m4s\n"
    t.edit(
        "v180_iframes.m3u8", entry, entry + "#EXTINF:2.000000,\n#EXT-X-BYTERANGE:10\nv180/1.m4s\n"
    )
    assert _hls(t.files) == [
        (
            "hls.iframe_range",
            "v180_iframes.m3u8",
            f"I-frame 2 (v180/1.m4s 10): offset {n} is not the start of a moof",
        )
    ]


def test_iframe_range_that_does_not_parse() -> None:
    t = clean_title()
    first = _ranges(t)[0]
    t.edit("v180_iframes.m3u8", first, "#EXT-X-BYTERANGE:12x@0")
    assert _hls(t.files) == [
        ("hls.parse", "v180_iframes.m3u8", "I-frame 1 (v180/1.m4s 12x@0): bad EXT-X-BYTERANGE")
    ]


def test_iframe_pointing_at_a_fragment_without_sync_sample() -> None:
    t = clean_title()
    v = fragment(0, [3600] * 50, [4000] + [1000] * 49, video=True, sync_first=False)
    t.files["v180/1.m4s"] = v.data
    findings = _hls(t.files)
    assert (
        "hls.iframe_sync",
        "v180_iframes.m3u8",
        f"I-frame 1 (v180/1.m4s {v.moof_size + 8 + 4000}@0): the fragment's first sample "
        "is not a sync sample",
    ) in findings
    assert {c for c, _, _ in findings} == {"hls.iframe_sync", "media.sync"}


def test_iframe_stream_pointing_at_a_normal_playlist() -> None:
    t = clean_title()
    t.edit(MASTER, 'URI="v180_iframes.m3u8"', 'URI="v180.m3u8"')
    findings = _hls(t.files)
    assert findings[0] == ("hls.iframes_only", "v180.m3u8", "no EXT-X-I-FRAMES-ONLY")
    assert findings[1] == (
        "hls.iframe_range",
        "v180.m3u8",
        "I-frame 1 (v180/1.m4s ): no EXT-X-BYTERANGE",
    )


# -- edges found by mutation testing -----------------------------------------------------------
def test_attributes_split_at_the_first_colon_only() -> None:
    assert attributes('#EXT-X-I-FRAME-STREAM-INF:URI="https://h/a.m3u8",ID=XAX') == {
        "URI": "https://h/a.m3u8",
        "ID": "XAX",
    }
