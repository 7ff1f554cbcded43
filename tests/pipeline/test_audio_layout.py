"""Audio channel layouts from the decoder configuration, and the manifests that signal them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from pipeline.manifest.dash import write_mpd
from pipeline.manifest.hls import master_playlist
from pipeline.media.presentation import Presentation, Segment, Track
from pipeline.mp4.audio import ChannelLayout, aac_layout, ac3_layout, eac3_layout
from pipeline.mp4.codecs import decoder_specific_info
from pipeline.workflow.result import IngestResult
from pipeline.workflow.title import ingest
from tests.support.player_harness import PlayerSession, serve_directory


def bits(*fields: tuple[int, int]) -> bytes:
    """Pack (value, width) fields MSB-first, zero-padded to whole bytes."""
    out, n = 0, 0
    for value, width in fields:
        out, n = (out << width) | (value & ((1 << width) - 1)), n + width
    pad = -n % 8
    return (out << pad).to_bytes((n + pad) // 8, "big")


@pytest.mark.parametrize(
    ("config", "channels", "lfe"),
    [(1, 1, False), (2, 2, False), (3, 3, False), (6, 6, True), (7, 8, True), (11, 7, True)],
)
def test_aac_channel_configuration(config: int, channels: int, lfe: bool) -> None:
    asc = bits((2, 5), (3, 4), (config, 4), (0, 3))  # AAC-LC, 48 kHz
    assert aac_layout(asc) == ChannelLayout(channels, lfe=lfe)


def test_aac_escaped_object_type_and_explicit_rate() -> None:
    asc = bits((31, 5), (0, 6), (0xF, 4), (44100, 24), (2, 4))  # AOT 32 escape, explicit rate
    assert aac_layout(asc) == ChannelLayout(2)


def test_aac_program_config_element_counts_its_elements() -> None:
    """channelConfiguration 0: a PCE with front C + L/R, side Ls/Rs, one LFE is 5.1."""
    pce = [(0, 4), (1, 2), (3, 4),  # tag, object type, sampling index
           (2, 4), (1, 4), (0, 4), (1, 2), (0, 3), (0, 4),  # front, side, back, lfe, assoc, cc
           (0, 1), (0, 1), (0, 1),  # no mixdowns
           (0, 1), (0, 4), (1, 1), (1, 4),  # front: SCE, CPE
           (1, 1), (2, 4),  # side: CPE
           (0, 4)]  # fmt: skip
    asc = bits((2, 5), (3, 4), (0, 4), (0, 1), (0, 1), (0, 1), *pce)
    assert aac_layout(asc) == ChannelLayout(6, lfe=True)


def test_unreadable_configs_give_none() -> None:
    assert aac_layout(b"") is None
    assert aac_layout(bits((2, 5), (3, 4), (15, 4))) is None  # reserved configuration
    assert eac3_layout(b"\x00") is None
    assert ac3_layout(b"\x00") is None


def test_decoder_specific_info_is_found_inside_the_es_descriptor() -> None:
    asc = bits((2, 5), (3, 4), (6, 4), (0, 3))
    dcd = bytes([0x04, 13 + 2 + len(asc), 0x40, 0x15]) + bytes(11) + bytes([0x05, len(asc)]) + asc
    es = bytes([0x03, 3 + len(dcd), 0x00, 0x01, 0x00]) + dcd
    assert decoder_specific_info(es) == asc
    assert decoder_specific_info(es[:6]) is None


def test_ac3_acmod_and_lfe() -> None:
    dac3 = bits((0, 2), (8, 5), (0, 3), (7, 3), (1, 1), (0, 5), (0, 5))  # 3/2 + LFE
    assert ac3_layout(dac3) == ChannelLayout(6, lfe=True)


def _dec3(
    acmod: int, lfe: int, *, dependents: int = 0, chan_loc: int = 0, joc: bool | None
) -> bytes:
    fields = [(384, 13), (0, 3), (0, 2), (16, 5), (0, 1), (0, 1), (0, 3), (acmod, 3), (lfe, 1),
              (0, 3), (dependents, 4)]  # fmt: skip
    fields.append((chan_loc, 9) if dependents else (0, 1))
    if joc is not None:
        fields += [(0, 7), (int(joc), 1), (16, 8)]
    return bits(*fields)


def test_eac3_layouts_and_atmos_joc() -> None:
    assert eac3_layout(_dec3(7, 1, joc=None)) == ChannelLayout(6, lfe=True)
    assert eac3_layout(_dec3(7, 1, joc=True)) == ChannelLayout(6, lfe=True, joc=True)
    assert eac3_layout(_dec3(2, 0, joc=False)) == ChannelLayout(2)
    # 7.1: 5.1 core plus a dependent substream carrying Lrs/Rrs (chan_loc bit 7)
    assert eac3_layout(_dec3(7, 1, dependents=1, chan_loc=1 << 7, joc=None)).channels == 8


def _track(tid: str, codecs: str, channels: int, *, lang: str = "en", joc: bool = False,
           kbps: int = 128) -> Track:  # fmt: skip
    return Track(id=tid, kind="audio", codecs=codecs, timescale=48000, channels=channels,
                 joc=joc, language=lang, sample_rate=48000, init_uri=f"{tid}/init.mp4",
                 segment_template=f"{tid}/$Number$.m4s", bandwidth=kbps * 1000,
                 average_bandwidth=kbps * 1000,
                 segments=[Segment(number=1, start=0, duration=288000, size=kbps * 750,
                                   uri=f"{tid}/1.m4s")])  # fmt: skip


def _video() -> Track:
    return Track(id="v", kind="video", codecs="avc1.64001f", timescale=90000, width=1280,
                 height=720, frame_rate="30/1", init_uri="v/init.mp4",
                 segment_template="v/$Number$.m4s", bandwidth=3_000_000,
                 average_bandwidth=2_500_000,
                 segments=[Segment(number=1, start=0, duration=540000, size=2_000_000,
                                   uri="v/1.m4s")])  # fmt: skip


def _presentation(*audio: Track) -> Presentation:
    return Presentation(title_id="t", segment_seconds=6, tracks=[_video(), *audio], duration=6)


def test_hls_stereo_and_surround_sit_in_separate_groups() -> None:
    text = master_playlist(_presentation(_track("a2", "mp4a.40.2", 2),
                                         _track("a6", "mp4a.40.2", 6, kbps=320)))  # fmt: skip
    media = [line for line in text.splitlines() if line.startswith("#EXT-X-MEDIA:TYPE=AUDIO")]
    assert len(media) == 2
    assert 'GROUP-ID="aac-2ch"' in media[0] and 'CHANNELS="2"' in media[0]
    assert 'GROUP-ID="aac-6ch"' in media[1] and 'CHANNELS="6"' in media[1]
    variants = [line for line in text.splitlines() if line.startswith("#EXT-X-STREAM-INF")]
    assert sorted(v.split('AUDIO="')[1].split('"')[0] for v in variants) == ["aac-2ch", "aac-6ch"]


def test_hls_atmos_is_16_joc_and_single_layout_keeps_the_family_name() -> None:
    text = master_playlist(_presentation(_track("e", "ec-3", 6, joc=True, kbps=768)))
    assert 'GROUP-ID="ec-3"' in text and 'CHANNELS="16/JOC"' in text


def test_dash_puts_each_channel_layout_in_its_own_adaptation_set() -> None:
    mpd = write_mpd(_presentation(_track("a2", "mp4a.40.2", 2), _track("a6", "mp4a.40.2", 6),
                                  _track("e", "ec-3", 6, joc=True)))  # fmt: skip
    root = etree.fromstring(mpd.encode())
    ns = {"m": "urn:mpeg:dash:schema:mpd:2011"}
    sets = root.findall(".//m:AdaptationSet[@contentType='audio']", ns)
    signalled = []
    for s in sets:
        (acc,) = s.findall("m:AudioChannelConfiguration", ns)
        reps = [r.get("id") for r in s.findall("m:Representation", ns)]
        joc = [p.get("value") for p in s.findall("m:SupplementalProperty", ns)]
        signalled.append((reps, acc.get("value"), joc))
    assert signalled == [(["a2"], "2", []), (["a6"], "6", []), (["e"], "F801", ["JOC"])]


@pytest.fixture(scope="module")
def surround_title(media_factory, tmp_path_factory: pytest.TempPathFactory) -> IngestResult:
    """The generated 5.1 source through the web ladder: AAC stereo plus AAC 5.1."""
    origin = tmp_path_factory.mktemp("surround-origin")
    return ingest(media_factory("surround"), "s51", origin, device_classes=["web"])


@pytest.mark.slow
def test_surround_source_is_signalled_as_decoded(
    surround_title: IngestResult, tmp_path: Path
) -> None:
    """A 5.1 AAC rendition says 6 in both manifests, and FFmpeg decodes six channels."""
    result = surround_title
    audio = {t.id: t for t in result.presentation.of_kind("audio")}
    assert sorted(t.channels for t in audio.values()) == [2, 6]
    master = (result.title_dir / "master.m3u8").read_text()
    assert 'CHANNELS="6"' in master and 'CHANNELS="2"' in master
    for t in audio.values():
        first = result.title_dir / t.id
        joined = tmp_path / f"{t.id}.mp4"
        joined.write_bytes((first / "init.mp4").read_bytes() + (first / "1.m4s").read_bytes())
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
             "stream=channels", "-of", "json", str(joined)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert json.loads(probe.stdout)["streams"][0]["channels"] == t.channels


@pytest.mark.slow
@pytest.mark.parametrize("manifest", ["master.m3u8", "manifest.mpd"])
def test_player_reports_stereo_and_surround(
    surround_title: IngestResult, browser: PlayerSession, manifest: str
) -> None:
    """shaka-player plays the title and lists variants with 2 and 6 audio channels."""
    with serve_directory(surround_title.title_dir.parent) as base:
        result = browser.play(f"{base}/s51/{manifest}", "shaka", min_time=2.0)
    assert result.ok, result.describe()
    assert {v["channels"] for v in result.variants} == {2, 6}
