"""The VMAF and complexity command lines (pure) and the quality.json check, without FFmpeg:
each encode is scored against the reference made by the rungs' own graph at the display size,
chunk encodes against the same window of the source, chunk lists through the concat demuxer;
a report below its floor fails validation with the rendition, score and floor named."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import TranscodeError
from pipeline.encode.chunks import Chunk
from pipeline.encode.quality_cmd import complexity_command, filter_path, vmaf_command
from pipeline.media.plan import Plan, VideoRung
from pipeline.media.quality import QualityReport, RenditionQuality
from pipeline.validate.fetch import Fetcher, to_url
from pipeline.validate.model import Sink
from pipeline.validate.quality import check_quality


def _rung(name, width, height, kbps, rate="25/1", tonemap=False):
    return VideoRung(name=name, width=width, height=height, bitrate_kbps=kbps,
                     maxrate_kbps=kbps * 3 // 2, bufsize_kbps=kbps * 2, frame_rate=rate,
                     tonemap=tonemap)  # fmt: skip


def _plan(*rungs, start=0.0):
    return Plan(source="/in/t.mov", video_source_index=0, device_classes=["web"], duration=60.0,
                video=list(rungs), video_start=start)  # fmt: skip


def _graph(argv):
    return argv[argv.index("-filter_complex") + 1]


def test_every_encode_is_upscaled_bicubic_and_scored_against_the_display_size_reference():
    small, big = _rung("a", 640, 360, 400), _rung("b", 1280, 720, 3000)
    argv, logs = vmaf_command(_plan(small, big), [(small, Path("/w/a.mp4")),
                              (big, Path("/w/b.mp4"))], (1920, 1080), Path("/l"))  # fmt: skip
    assert argv[argv.index("-i") + 1] == "/in/t.mov"  # input 0: the source
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-i"] == [
        "/in/t.mov", "/w/a.mp4", "/w/b.mp4"]  # fmt: skip
    graph = _graph(argv)
    assert "scale=1920:1080,setsar=1,format=yuv420p" in graph  # the reference, like a rung
    assert "setpts=PTS-STARTPTS,split=2[r1][r2]" in graph
    assert (
        "[1:v:0]scale=1920:1080:flags=bicubic,setsar=1,format=yuv420p,setpts=PTS-STARTPTS[d1]"
        in graph
    )
    assert (
        "[d2][r2]libvmaf=model=version=vmaf_v0.6.1:n_threads=2:n_subsample=1:log_fmt=json"
        ":log_path=/l/b.vmaf.json[o2]" in graph
    )
    assert logs == {"a": Path("/l/a.vmaf.json"), "b": Path("/l/b.vmaf.json")}
    assert argv[-7:] == ["-map", "[o1]", "-map", "[o2]", "-f", "null", "-"]


def test_a_window_reads_the_same_stretch_of_source_as_the_trial_chunk():
    rung = _rung("t", 640, 360, 400)
    window = Chunk(index=2, start=20.0, end=24.0)
    argv, _ = vmaf_command(_plan(rung), [(rung, Path("/w/t.mp4"))], (640, 360), Path("/l"),
                           window=window, subsample=5, threads=4)  # fmt: skip
    assert argv[argv.index("-ss") + 1] == "19" and argv[argv.index("-t") + 1] == "6"
    graph = _graph(argv)
    assert "trim=start=19.99:end=23.99" in graph
    assert "n_threads=4:n_subsample=5" in graph


def test_hdr_reference_is_tonemapped_like_the_sdr_rungs_and_rates_get_their_own_reference():
    sdr30 = _rung("a", 640, 360, 400, rate="30/1", tonemap=True)
    sdr60 = _rung("b", 1280, 720, 3000, rate="60/1", tonemap=True)
    argv, _ = vmaf_command(_plan(sdr30, sdr60), [(sdr30, Path("/w/a.mp4")),
                           (sdr60, Path("/w/b.mp4"))], (1280, 720), Path("/l"))  # fmt: skip
    graph = _graph(argv)
    assert graph.count("tonemap=hable") == 2 and "fps=30" in graph and "fps=60" in graph
    assert graph.count("libvmaf=") == 2


def test_chunk_lists_are_read_through_the_concat_demuxer():
    rung = _rung("a", 640, 360, 400)
    argv, _ = vmaf_command(_plan(rung), [(rung, Path("/l/a.concat"))], (640, 360), Path("/l"))
    at = argv.index("/l/a.concat")
    assert argv[at - 5 : at] == ["-f", "concat", "-safe", "0", "-i"]


def test_paths_that_need_escaping_are_refused_and_empty_lists_too():
    assert filter_path(Path("/tmp/vod-vmaf-x1/a.vmaf.json")) == "/tmp/vod-vmaf-x1/a.vmaf.json"
    with pytest.raises(TranscodeError, match="must be plain"):
        filter_path(Path("/tmp/it's:here/a.json"))
    with pytest.raises(TranscodeError, match="no encodes to score"):
        vmaf_command(_plan(), [], (640, 360), Path("/l"))


def test_complexity_pass_encodes_constant_quality_on_the_gop_grid_to_framecrc():
    rung = _rung("s", 416, 234, 145)
    argv = complexity_command(_plan(rung), rung, Path("/w/c.framecrc"))
    assert argv[-3:] == ["-f", "framecrc", "/w/c.framecrc"]
    for flag, value in (("-crf", "28"), ("-preset", "ultrafast"), ("-g", "50"),
                        ("-sc_threshold", "0")):  # fmt: skip
        assert argv[argv.index(flag) + 1] == value
    assert "scale=416:234" in _graph(argv) and "-an" in argv


def _title_with_report(folder: Path, vmaf: float, floor: float | None) -> str:
    report = QualityReport(display_width=640, display_height=360, renditions=[
        RenditionQuality(name="v360p400", width=640, height=360, bitrate_kbps=400,
                         measured_kbps=380.5, vmaf_mean=vmaf, vmaf_p5=vmaf - 10, frames=60,
                         min_vmaf=floor)])  # fmt: skip
    (folder / "quality.json").write_text(report.model_dump_json())
    return to_url(folder) + ("" if to_url(folder).endswith("/") else "/")


@pytest.mark.parametrize(("vmaf", "floor", "failed"), [(59.99, 60, True), (60.0, 60, False),
                                                       (12.0, None, False)])  # fmt: skip
def test_quality_floor_fails_only_below_min_vmaf(tmp_path, vmaf, floor, failed):
    root = _title_with_report(tmp_path, vmaf, floor)
    fetcher = Fetcher(root)
    sink = Sink(fetcher.display)
    report = check_quality(fetcher, root + "quality.json", sink)
    assert report is not None and report.renditions[0].vmaf_mean == vmaf
    messages = [(v.code, v.message) for v in sink.violations]
    if failed:
        assert messages == [("quality.floor", "v360p400 (640x360, 400 kbps): VMAF 59.99 "
                             "(5th percentile 49.99) is below min_vmaf 60")]  # fmt: skip
    else:
        assert messages == []


def test_a_broken_report_is_a_violation_and_no_report_is_not(tmp_path):
    root = to_url(tmp_path).rstrip("/") + "/"
    fetcher = Fetcher(root)
    sink = Sink(fetcher.display)
    assert check_quality(fetcher, root + "quality.json", sink) is None and not sink.violations
    (tmp_path / "quality.json").write_text('{"display_width": 640, "renditions": []}')
    assert check_quality(Fetcher(root), root + "quality.json", sink) is None
    assert [(v.code, v.message) for v in sink.violations] == [
        ("quality.report", "display_height: Field required")]  # fmt: skip
