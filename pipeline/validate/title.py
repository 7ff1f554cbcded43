"""`vod validate`: check a packaged title (HLS and/or DASH, local or over http) against its media.

Independent of how the title was made: only the manifests and the bytes they point at are
read, never the Presentation model. Every finding is a Violation with a stable code (see
`validate_model.CODES`). Usage:

    report = validate("out/title")            # a directory: every manifest it has
    report = validate("https://cdn/t/master.m3u8", decode=False)   # fast: no FFmpeg decode
    print(report.format_text()); sys.exit(0 if report.ok else 1)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from pipeline.validate.av import check_av_timing, check_channels
from pipeline.validate.dash import DashChecker
from pipeline.validate.fetch import Fetcher, is_url, parent, resolve, to_url
from pipeline.validate.hls import HlsChecker, frame_seconds
from pipeline.validate.images import check_image_track, hls_image_track
from pipeline.validate.media import MediaStore, SegmentInfo, TrackInfo, is_random_access_nal
from pipeline.validate.model import CODES, RenditionStats, Report, Sink, Violation
from pipeline.validate.quality import QUALITY_FILE, check_quality

__all__ = ["validate", "Report", "Violation", "RenditionStats", "CODES", "main"]

MASTER = "master.m3u8"
MPD = "manifest.mpd"


def validate(target: str | Path, *, decode: bool = True) -> Report:
    """Validate a title directory, a master.m3u8 / manifest.mpd path, or an http(s) URL."""
    report = Report(target=str(target))
    found = _manifests(str(target))
    if isinstance(found, str):
        report.violations.append(Violation(code="target.invalid", where=str(target), message=found))
        return report
    root, hls_uris, dash_uris, probe = found
    fetcher = Fetcher(root)
    sink = Sink(fetcher.display)
    if probe:  # a directory: check the manifests it has
        hls_uris = [u for u in hls_uris if fetcher.exists(u)]
        dash_uris = [u for u in dash_uris if fetcher.exists(u)]
        if not hls_uris and not dash_uris:
            sink.add("target.invalid", root, f"neither {MASTER} nor {MPD} found")
    media = MediaStore(fetcher, sink, decode=decode)
    report.decoded = media.decode
    report.manifests = [fetcher.display(u) for u in hls_uris + dash_uris]
    try:
        _run(media, sink, hls_uris, dash_uris, report)
        if probe:
            check_quality(fetcher, resolve(root, QUALITY_FILE), sink)
    finally:
        media.finish()
    report.violations = sink.violations
    return report


def _manifests(target: str) -> tuple[str, list[str], list[str], bool] | str:
    """(root directory URL, HLS master URLs, MPD URLs, whether to probe for them), or why the
    target is unusable."""
    if is_url(target):
        url = target
        path = urlsplit(url).path
        kind = _kind_by_name(path)
        if kind is None:
            root = url if url.endswith("/") else url + "/"
            return root, [resolve(root, MASTER)], [resolve(root, MPD)], True
        return parent(url), [url] if kind == "hls" else [], [url] if kind == "dash" else [], False
    p = Path(target).expanduser()
    if p.is_dir():
        root = to_url(p)
        return root, [resolve(root, MASTER)], [resolve(root, MPD)], True
    if not p.is_file():
        return "no such file or directory"
    kind = _kind_by_name(p.name) or _sniff(p)
    if kind is None:
        return "not an HLS playlist or DASH MPD (by name and content)"
    url = to_url(p)
    return parent(url), [url] if kind == "hls" else [], [url] if kind == "dash" else [], False


def _kind_by_name(name: str) -> str | None:
    suffix = PurePosixPath(name).suffix.lower()
    return {".m3u8": "hls", ".m3u": "hls", ".mpd": "dash"}.get(suffix)


def _sniff(p: Path) -> str | None:
    try:
        with p.open("rb") as f:
            head = f.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return None
    if head.startswith(b"#EXTM3U"):
        return "hls"
    if head.startswith(b"<") and b"MPD" in head:
        return "dash"
    return None


def _run(
    media: MediaStore, sink: Sink, hls_uris: list[str], dash_uris: list[str], report: Report
) -> None:
    fetcher = media.fetcher
    hls = [HlsChecker(u, media, sink) for u in hls_uris]
    dash = [DashChecker(u, media, sink) for u in dash_uris]
    for h in hls:
        h.parse()
    for d in dash:
        d.parse()

    # Every audio/video track once, with its segment list as the first manifest gives it.
    tracks: dict[str, tuple[str, list[str]]] = {}
    for h in hls:
        for pl in h.title.media_playlists():
            assert pl.init is not None
            tracks.setdefault(pl.init, (pl.name, [s.uri for s in pl.segments]))
    for d in dash:
        for r in d.title.representations:
            if r.init:
                tracks.setdefault(r.init, (r.id, [s.uri for s in r.segments]))

    infos: dict[str, tuple[TrackInfo, list[SegmentInfo | None]]] = {}
    for init, (_name, seg_uris) in tracks.items():
        track = media.track(init)
        segs = [media.segment(init, u) for u in seg_uris]
        if track is not None:
            infos[init] = (track, segs)

    stats = _stats(tracks, infos, fetcher)
    report.stats = {s.name: s for s in stats.values()}
    for init, (track, segs) in infos.items():
        _media_checks(sink, track, tracks[init][1], segs)
    _alignment(sink, infos, stats)
    check_av_timing(sink, infos, stats)
    check_channels(sink, media, tracks, infos, hls, dash)

    def complete_stats(init: str) -> RenditionStats | None:
        s = stats.get(init)
        return s if s is not None and s.complete else None

    for h in hls:
        h.check(complete_stats)
    for d in dash:
        d.check(complete_stats)
    for h in hls:
        for d in dash:
            _hls_vs_dash(sink, h, d, stats)
    _images(media, sink, hls, dash, stats)


def _images(
    media: MediaStore,
    sink: Sink,
    hls: list[HlsChecker],
    dash: list[DashChecker],
    stats: dict[str, RenditionStats],
) -> None:
    """Thumbnail tracks of every manifest, against their tile images and the title's length
    (the longest measured track, else what the MPD says)."""
    longest = max((s.duration for s in stats.values()), default=None)
    for h in hls:
        for attrs in h.title.image_streams:
            track = hls_image_track(h.master_uri, attrs, media.fetcher, sink)
            if track is not None:
                check_image_track(track, longest, media.fetcher, sink, decode=media.decode)
    for d in dash:
        for track in d.title.images:
            seconds = longest if longest is not None else d.title.duration
            check_image_track(track, seconds, media.fetcher, sink, decode=media.decode)


def _stats(
    tracks: dict[str, tuple[str, list[str]]],
    infos: dict[str, tuple[TrackInfo, list[SegmentInfo | None]]],
    fetcher: Fetcher,
) -> dict[str, RenditionStats]:
    out: dict[str, RenditionStats] = {}
    names: set[str] = set()
    for init, (track, segs) in infos.items():
        name = tracks[init][0] or fetcher.display(init)
        unique, n = name, 2
        while unique in names:
            unique, n = f"{name}#{n}", n + 1
        names.add(unique)
        good = [s for s in segs if s is not None]
        ts = track.timescale
        rates = [s.size * 8 * ts / s.duration for s in good if s.duration > 0]
        units = sum(s.duration for s in good)
        out[init] = RenditionStats(
            name=unique,
            kind=track.kind,
            codecs=track.codecs,
            init=fetcher.display(init),
            timescale=ts,
            segment_count=len(segs),
            duration=units / ts,
            peak_bitrate=round(max(rates, default=0.0)),
            average_bitrate=round(sum(s.size for s in good) * 8 * ts / units) if units else 0,
            frame_duration=frame_seconds(good, ts),
            complete=len(good) == len(segs) and bool(segs),
        )
    return out


def _media_checks(
    sink: Sink, track: TrackInfo, uris: list[str], segs: list[SegmentInfo | None]
) -> None:
    for uri, info in zip(uris, segs, strict=True):
        if info is None:
            continue
        for gap in info.gaps:
            sink.add("media.tfdt", uri, gap)
        if track.kind != "video":
            continue
        if not info.first_sync:
            sink.add("media.sync", uri, "the first sample is not flagged as a sync sample")
        if track.nal_length_size and not is_random_access_nal(info.first_vcl_type, track.fmt):
            want = (
                "an IRAP picture (NAL type 16-21)"
                if track.fmt in ("hvc1", "hev1")
                else "an IDR picture (NAL type 5)"
            )
            got = (
                "no VCL NAL unit"
                if info.first_vcl_type is None
                else f"NAL unit type {info.first_vcl_type}"
            )
            sink.add("media.idr", uri, f"the first frame is {got}, not {want}")
    for k in range(1, len(segs)):
        prev, cur = segs[k - 1], segs[k]
        if prev is None or cur is None:
            continue
        expected = prev.decode_start + prev.duration
        if cur.decode_start != expected:
            sink.add(
                "media.tfdt",
                uris[k],
                f"tfdt {cur.decode_start}, the previous segment ends at {expected} "
                f"({(cur.decode_start - expected) / track.timescale:+.3f} s)",
            )


def _alignment(
    sink: Sink,
    infos: dict[str, tuple[TrackInfo, list[SegmentInfo | None]]],
    stats: dict[str, RenditionStats],
) -> None:
    video = [(init, t, segs) for init, (t, segs) in infos.items() if t.kind == "video"]
    if video:
        ref_init, ref, ref_segs = video[0]
        ref_name = stats[ref_init].name
        for init, track, segs in video[1:]:
            name = stats[init].name
            if len(segs) != len(ref_segs):
                sink.add(
                    "align.rungs",
                    init,
                    f"rung {name} has {len(segs)} segments, rung {ref_name} {len(ref_segs)}",
                )
            frame = max(stats[init].frame_duration, stats[ref_init].frame_duration)
            for k, (a, b) in enumerate(zip(ref_segs, segs, strict=False), start=1):
                if a is None or b is None:
                    continue
                ta = a.presentation_start / ref.timescale
                tb = b.presentation_start / track.timescale
                if abs(ta - tb) > frame + 1e-6:
                    sink.add(
                        "align.rungs",
                        b.uri,
                        f"segment {k} of rung {name} starts at {tb:.3f} s, of rung "
                        f"{ref_name} at {ta:.3f} s",
                    )
                    break


def _hls_vs_dash(
    sink: Sink, h: HlsChecker, d: DashChecker, stats: dict[str, RenditionStats]
) -> None:
    # Matched by rendition (the init segment's folder), so a title that serves HLS from a cbcs
    # set and DASH from a cenc set (`--scheme both`) is compared rendition by rendition.
    hls = {_rendition_of(pl.init): pl for pl in h.title.media_playlists() if pl.init}
    dash = {_rendition_of(r.init): r for r in d.title.representations if r.init}
    for init in sorted(hls.keys() - dash.keys()):
        sink.add(
            "align.hls_dash",
            hls[init].uri,
            f"the track of this playlist ({sink_display(h, hls[init].init)}) is not in "
            f"{sink_display(h, d.mpd_uri)}",
        )
    for init in sorted(dash.keys() - hls.keys()):
        sink.add(
            "align.hls_dash",
            d.mpd_uri,
            f"Representation {dash[init].id} ({sink_display(h, dash[init].init)}) has no "
            "HLS playlist",
        )
    for init in sorted(hls.keys() & dash.keys()):
        pl, rep = hls[init], dash[init]
        label = f"HLS {sink_display(h, pl.uri)} vs DASH Representation {rep.id}"
        if len(pl.segments) != len(rep.segments):
            sink.add(
                "align.hls_dash",
                pl.uri,
                f"{label}: {len(pl.segments)} vs {len(rep.segments)} segments",
            )
            continue
        st = stats.get(pl.init)
        frame = st.frame_duration if st is not None else 0.0
        same_files = pl.init == rep.init
        for k, (a, b) in enumerate(zip(pl.segments, rep.segments, strict=True), start=1):
            if same_files and a.uri != b.uri:
                sink.add(
                    "align.hls_dash",
                    pl.uri,
                    f"{label}: segment {k} is {sink_display(h, a.uri)} in HLS, "
                    f"{sink_display(h, b.uri)} in DASH",
                )
                break
            dd = b.d / rep.timescale
            if abs(a.duration - dd) > frame + 1e-6:
                sink.add(
                    "align.hls_dash",
                    pl.uri,
                    f"{label}: segment {k} lasts {a.duration:.6f} s in HLS, {dd:.6f} s in DASH",
                )
                break


def _rendition_of(init: str) -> str:
    """'cbcs/v720/init.mp4' -> 'v720' (URL or path)."""
    return init.rstrip("/").rsplit("/", 2)[-2] if "/" in init else init


def sink_display(h: HlsChecker, uri: str) -> str:
    return h.fetcher.display(uri)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vod validate", description=__doc__.splitlines()[0])
    ap.add_argument("target", help="title directory, master.m3u8 / manifest.mpd, or URL")
    ap.add_argument("--fast", action="store_true", help="skip decoding segments with FFmpeg")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--stats", action="store_true", help="also print per-rendition figures")
    args = ap.parse_args(argv)
    report = validate(args.target, decode=not args.fast)
    print(report.to_json() if args.json else report.format_text(stats=args.stats))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
