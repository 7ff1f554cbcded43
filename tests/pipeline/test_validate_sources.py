"""`vod validate` on what issue 13 fixes: declared against decoded channels, A/V start offset
(edit lists included), track ends beyond one segment, one channel layout per AdaptationSet."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.encode.ffmpeg_cmd import AUDIO_FRAGMENT_US, AUDIO_MOVFLAGS
from pipeline.mp4.audio import decoder_specific_info
from pipeline.mp4.reader import read_init
from pipeline.package.packager import package_track
from pipeline.validate.av import declared_channels, decoded_channels
from pipeline.validate.title import validate
from tests.support.validate_titles import build_title, codes, edit, encode_sources

AUDIO_SET = 'contentType="audio"'


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sources, a clean 13 s title: v180, v144, stereo 'aud', 6 s segments); the audio is
    muxed as the transcode stage does, so its header carries the priming edit list."""
    src = encode_sources(tmp_path_factory.mktemp("av_src"))
    _aac(src / "aud.mp4", channels=2)
    title = tmp_path_factory.mktemp("av_title") / "title"
    build_title(src, title)
    return src, title


@pytest.fixture()
def title(clean: tuple[Path, Path], tmp_path: Path) -> Path:
    dest = tmp_path / "title"
    shutil.copytree(clean[1], dest)
    return dest


def _aac(out: Path, *, channels: int) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-t", "13", "-i", "sine=f=440:r=48000",
         "-c:a", "aac", "-ac", str(channels), "-b:a", "128k", "-f", "mp4", "-movflags",
         AUDIO_MOVFLAGS, "-frag_duration", str(AUDIO_FRAGMENT_US), str(out)],
        check=True, timeout=120)  # fmt: skip


def _rewrite_init(path: Path, change) -> None:
    ftyp, moov = read_init(path)
    change(moov)
    path.write_bytes(ftyp.to_bytes() + moov.to_bytes())


def test_clean_title_passes_with_decoding(clean: tuple[Path, Path]) -> None:
    report = validate(clean[1])
    assert report.ok and report.decoded, report.format_text()


def test_priming_edit_that_skips_too_much_is_an_av_start_offset(title: Path) -> None:
    def skip_more(moov) -> None:
        (entry,) = moov.find("trak/edts/elst").entries
        entry["media_time"] += 4800  # 0.1 s of real sound skipped: audio runs early

    _rewrite_init(title / "aud" / "init.mp4", skip_more)
    report = validate(title, decode=False)
    assert codes(report) == {"av.start"}, report.format_text()
    (v,) = report.violations
    assert "aud is presented from -0.121 s, video v1" in v.message
    assert "from 0.000 s (-0.121 s, more than one audio frame, 21.3 ms)" in v.message


def test_empty_edit_delaying_the_audio_is_an_av_start_offset(title: Path) -> None:
    def delay(moov) -> None:
        elst = moov.find("trak/edts/elst")
        elst.entries.insert(0, {"segment_duration": 1400, "media_time": -1, "media_rate": 0x10000})
        elst.entry_count = len(elst.entries)

    _rewrite_init(title / "aud" / "init.mp4", delay)
    report = validate(title, decode=False)
    assert "av.start" in codes(report), report.format_text()
    assert "(+1.379 s, more than one audio frame" in report.format_text()


def test_track_ends_within_one_segment_pass_beyond_fail(title: Path) -> None:
    """The last audio segment (1 s) missing: within one 6 s segment, no longer a violation."""
    playlist = title / "aud.m3u8"
    lines = playlist.read_text().splitlines()
    cut = lines.index("aud/3.m4s") - 1
    playlist.write_text("\n".join(lines[:cut] + ["#EXT-X-ENDLIST", ""]))
    report = validate(title / "master.m3u8", decode=False)
    assert "av.duration" not in codes(report), report.format_text()
    lines = playlist.read_text().splitlines()
    cut = lines.index("aud/2.m4s") - 1  # 6 s of audio against 13 s of picture
    playlist.write_text("\n".join(lines[:cut] + ["#EXT-X-ENDLIST", ""]))
    report = validate(title / "master.m3u8", decode=False)
    assert codes(report) == {"av.duration"}, report.format_text()
    assert "more than one segment (6.000 s)" in report.violations[0].message


def test_declared_channels_must_match_the_stream(title: Path) -> None:
    edit(title / "master.m3u8", 'CHANNELS="2"', 'CHANNELS="6"')
    edit(title / "manifest.mpd", 'audio_channel_configuration:2011" value="2"',
         'audio_channel_configuration:2011" value="6"')  # fmt: skip
    report = validate(title)
    assert codes(report) == {"hls.channels", "dash.channels"}, report.format_text()
    text = report.format_text()
    assert "aud.m3u8: CHANNELS=6, the stream has 2 channels" in text
    assert "AudioChannelConfiguration 6 (urn:mpeg:dash:23003:3" in text


def test_decoded_channels_must_match_the_configuration(title: Path) -> None:
    def say_mono(moov) -> None:
        esds = moov.find("trak/mdia/minf/stbl/stsd/mp4a/esds")
        asc = decoder_specific_info(esds.descriptors)
        mono = bytes([asc[0], (asc[1] & 0x87) | 1 << 3, *asc[2:]])  # channelConfiguration 1
        esds.descriptors = esds.descriptors.replace(asc, mono)

    _rewrite_init(title / "aud" / "init.mp4", say_mono)
    report = validate(title)
    assert codes(report) == {"media.channels"}, report.format_text()
    assert "decodes to 2 channels, its configuration says 1" in report.format_text()


def test_one_adaptation_set_must_not_mix_channel_layouts(
    clean: tuple[Path, Path], title: Path
) -> None:
    """A 5.1 Representation slipped into the stereo set: a stereo device could switch to it."""
    src = clean[0]
    _aac(src / "aud6.mp4", channels=6)
    aud = package_track(src / "aud.mp4", title / "tmp", "aud")
    bounds = [s.start / aud.timescale for s in aud.segments]
    package_track(src / "aud6.mp4", title, "aud6", boundaries=bounds, language="eng")
    mpd = title / "manifest.mpd"
    text = mpd.read_text()
    start = text.index('<Representation id="aud"')
    block = text[start : text.index("</Representation>", start) + len("</Representation>")]
    six = block.replace('id="aud"', 'id="aud6"').replace("aud/", "aud6/")
    mpd.write_text(text.replace(block, block + "\n      " + six))
    report = validate(mpd, decode=False)
    assert "dash.mixed_channels" in codes(report), report.format_text()
    assert "AdaptationSet @id=1 mixes channel configurations: aud 2 ch, aud6 6 ch" in (
        report.format_text()
    )


@pytest.mark.parametrize(
    ("config", "channels"),
    [
        (("urn:mpeg:dash:23003:3:audio_channel_configuration:2011", "6"), 6),
        (("urn:mpeg:mpegB:cicp:ChannelConfiguration", "6"), 6),
        (("urn:mpeg:mpegB:cicp:ChannelConfiguration", "7"), 8),
        (("tag:dolby.com,2014:dash:audio_channel_configuration:2011", "F801"), 6),
        (("tag:dolby.com,2014:dash:audio_channel_configuration:2011", "A000"), 2),
        (("tag:dolby.com,2014:dash:audio_channel_configuration:2011", "FA01"), 8),
        (("urn:example:unknown", "6"), None),
        (None, None),
    ],
)
def test_declared_channel_schemes(config, channels) -> None:
    assert declared_channels(config) == channels


def test_decoding_a_few_frames_gives_the_channel_count(clean: tuple[Path, Path]) -> None:
    aud = clean[1] / "aud"
    assert decoded_channels((aud / "init.mp4").read_bytes() + (aud / "1.m4s").read_bytes()) == 2
    assert decoded_channels(b"not media") is None
