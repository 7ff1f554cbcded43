"""Turn a probed source plus the requested device classes into an encoding `Plan`.

Pure: no FFmpeg, no files (ladders are loaded only when the caller does not pass them). The
rules, in order:

* each class's 16:9 reference rungs are fitted to the source's display aspect ratio (SAR and
  rotation applied, so anamorphic sources get square pixels and phone clips portrait rungs) by
  fitting the source inside the reference box (for landscape up to 16:9 that fixes the height;
  wider sources are limited by the width, which keeps H.264 level frame-size limits valid);
* nothing is upscaled: the rungs larger than the source are replaced by one rung at the source
  size (bitrate interpolated by pixel count), dropped if a kept rung already has (nearly) the
  source size; a source smaller than every rung gets just that one rung (bitrate scaled by
  pixel count);
* frame rate is the source's motion rate (the field rate of interlaced video, see `picture`),
  divided by the smallest whole number that meets the class cap (60 -> 30, 60000/1001 ->
  30000/1001, 50 -> 25), so cadence stays even;
* rungs of several classes with the same size, frame rate and codec and bitrates within 10% are
  one encode, constrained by the strictest profile/level/VBV of the classes that share it;
* the programme is the picture: its duration is the plan's, and every audio rendition starts
  and ends with it (`alignment`);
* audio: stereo AAC-LC for each programme sound (a track, or mono studio tracks joined by a
  channel map, see `channel_map`), plus a 5.1 rendition per surround codec when it has 6+
  channels and a requested class wants surround (`audio`).

What the plan does to the source (deinterlacing, constant frame rate, channel maps, start
offsets) is listed in `Plan.notes`; what content ops should check in `Plan.warnings`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from core.errors import LadderError, PipelineError
from pipeline.media.info import MediaInfo, VideoStream
from pipeline.media.plan import Plan, VideoRung
from pipeline.media.quality import ChosenRung
from pipeline.planning.alignment import picture_start, programme_duration
from pipeline.planning.audio import plan_audio
from pipeline.planning.channel_map import audio_sources
from pipeline.planning.display import format_plan, plan_tables
from pipeline.planning.grouping import cluster, fps_label, uniquify
from pipeline.planning.ladder import Ladder, Rung, available_classes, load_ladder
from pipeline.planning.picture import (
    deinterlace_mode,
    motion_rate,
    output_frame_rate,
    picture_notes,
    source_frame_rate,
)
from pipeline.planning.thumbnails import plan_thumbnails

__all__ = ["format_plan", "output_frame_rate", "plan", "plan_tables", "source_frame_rate"]

MIN_VIDEO_KBPS = 64  # floor for rungs whose bitrate was scaled down for a tiny source
NEAR_DUPLICATE_SHARE = 0.9  # a rung with 90%+ of the source's pixels makes a source-size one moot
BUFSIZE_FACTOR = 2.0  # VBV buffer = 2 x average bitrate (at least the maxrate)
_PROFILE_RANK = {"baseline": 0, "main": 1, "high": 2, "main10": 3}


@dataclass(frozen=True)
class _Candidate:
    """One class's rung after fitting to the source, before merging across classes."""

    width: int
    height: int
    bitrate_kbps: int
    maxrate_factor: float
    frame_rate: Fraction
    codec: str
    profile: str
    level: str | None
    device_class: str


def plan(
    media: MediaInfo,
    device_classes: list[str],
    ladders: dict[str, Ladder] | None = None,
    *,
    gop_seconds: float = 2.0,
    segment_seconds: float = 6.0,
    audio_map: Sequence[str] | None = None,
    per_title: Mapping[str, Sequence[ChosenRung]] | None = None,
) -> Plan:
    """The renditions to encode for `media` so that every class in `device_classes` is served.

    `audio_map`: a channel label per source audio track (see `channel_map`), from the ingest
    sidecar or `--audio-map`; without it mono studio tracks are joined by the default rule.
    `per_title`: a class's rungs chosen by a per-title analysis (sizes already fitted to the
    source), used instead of its fixed ladder's rungs; everything else comes from its ladder."""
    classes = _requested(device_classes, ladders)
    chosen = {c: ladders[c] if ladders is not None else load_ladder(c) for c in classes}
    _check_timing(media.path, gop_seconds, segment_seconds)
    if not media.video:
        raise PipelineError(
            media.path, "no video stream: only video titles can be packaged", stage="plan"
        )
    video = media.video[0]
    duration = programme_duration(media, video)
    per_title = per_title or {}
    candidates = [
        c
        for name in classes
        for c in (
            _chosen_rungs(media.path, video, chosen[name], name, per_title[name])
            if name in per_title
            else _class_rungs(media.path, video, chosen[name], name)
        )
    ]
    rungs = _merge(candidates, classes, hdr=video.hdr)
    rates = [Fraction(r.frame_rate) for r in rungs]
    mode = deinterlace_mode(video, rates)
    sources, map_notes, map_warnings = audio_sources(media.path, media.audio, audio_map)
    audio = plan_audio(sources, classes, chosen, video, duration)
    return Plan(
        source=media.path,
        video_source_index=video.index,
        device_classes=classes,
        gop_seconds=gop_seconds,
        segment_seconds=segment_seconds,
        duration=duration,
        video=rungs,
        audio=audio.renditions,
        video_start=picture_start(video),
        deinterlace=mode,
        notes=picture_notes(video, mode, rates) + map_notes + audio.notes,
        warnings=map_warnings + audio.warnings,
        thumbnails=plan_thumbnails(video, duration, chosen, classes, gop_seconds=gop_seconds),
    )


# --- inputs -----------------------------------------------------------------------------------


def _requested(device_classes: Sequence[str], ladders: dict[str, Ladder] | None) -> list[str]:
    known = sorted(ladders) if ladders is not None else available_classes()
    if isinstance(device_classes, str):  # "tv" would otherwise be read as ["t", "v"]
        device_classes = [device_classes]
    classes = list(dict.fromkeys(device_classes))
    if not classes:
        raise LadderError(None, f"no device class requested; available: {', '.join(known)}")
    unknown = [c for c in classes if c not in known]
    if unknown:
        raise LadderError(
            None,
            f"unknown device class {', '.join(map(repr, unknown))}; available: {', '.join(known)}",
        )
    return classes


def _check_timing(path: str, gop_seconds: float, segment_seconds: float) -> None:
    if gop_seconds <= 0 or segment_seconds <= 0:
        raise PipelineError(path, "gop_seconds and segment_seconds must be positive", stage="plan")
    ratio = segment_seconds / gop_seconds
    if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
        raise PipelineError(
            path,
            f"segment_seconds ({segment_seconds:g}) must be a whole multiple of gop_seconds "
            f"({gop_seconds:g}) so every segment starts on an IDR",
            stage="plan",
        )


# --- video ------------------------------------------------------------------------------------


def _class_rungs(
    path: str, video: VideoStream, ladder: Ladder, device_class: str
) -> list[_Candidate]:
    src_w, src_h = video.display_width, video.display_height
    if src_w < 2 or src_h < 2:
        raise PipelineError(path, f"video has no usable size ({src_w}x{src_h})", stage="plan")
    portrait = src_h > src_w
    rate = output_frame_rate(motion_rate(video, path), ladder.max_frame_rate)
    full = (_even_floor(src_w), _even_floor(src_h))

    def candidate(size: tuple[int, int], bitrate: int, rung: Rung) -> _Candidate:
        return _Candidate(
            width=size[0],
            height=size[1],
            bitrate_kbps=max(MIN_VIDEO_KBPS, bitrate),
            maxrate_factor=rung.maxrate_factor or ladder.maxrate_factor,
            frame_rate=rate,
            codec=ladder.codec,
            profile=ladder.profile,
            level=ladder.level,
            device_class=device_class,
        )

    fitted: list[_Candidate] = []
    bigger: list[tuple[Fraction, Rung]] = []  # reference rungs that would upscale the source
    for rung in ladder.rungs:
        box_w, box_h = (rung.height, rung.width) if portrait else (rung.width, rung.height)
        scale = min(Fraction(box_w, src_w), Fraction(box_h, src_h))
        if scale > 1:
            bigger.append((scale, rung))
        elif scale == 1:
            fitted.append(candidate(full, rung.bitrate_kbps, rung))
        else:
            size = (_even_round(src_w * scale, full[0]), _even_round(src_h * scale, full[1]))
            fitted.append(candidate(size, rung.bitrate_kbps, rung))
    if bigger:
        top = _source_size_rung(fitted, bigger, full)
        if top is not None:
            fitted.append(candidate(full, top[0], top[1]))
    return fitted


def _chosen_rungs(
    path: str, video: VideoStream, ladder: Ladder, device_class: str, rungs: Sequence[ChosenRung]
) -> list[_Candidate]:
    """A per-title analysis's rungs as candidates, with the class's codec settings."""
    if not rungs:
        raise PipelineError(path, f"the per-title ladder for {device_class} is empty", stage="plan")
    rate = output_frame_rate(motion_rate(video, path), ladder.max_frame_rate)
    return [
        _Candidate(
            width=r.width,
            height=r.height,
            bitrate_kbps=max(MIN_VIDEO_KBPS, r.bitrate_kbps),
            maxrate_factor=ladder.maxrate_factor,
            frame_rate=rate,
            codec=ladder.codec,
            profile=ladder.profile,
            level=ladder.level,
            device_class=device_class,
        )
        for r in rungs
    ]


def _source_size_rung(
    fitted: list[_Candidate], bigger: list[tuple[Fraction, Rung]], full: tuple[int, int]
) -> tuple[int, Rung] | None:
    """Bitrate (and reference rung) of the one source-size rung replacing all upscaling rungs.

    None when a kept rung already has (nearly) the source's size. The bitrate is interpolated by
    pixel count between the largest kept rung and the smallest bigger one, so the ladder stays
    monotonic; with no smaller rung it is the bigger rung's bitrate scaled by pixel count.
    """
    scale, rung = min(bigger, key=lambda pair: (pair[0], pair[1].bitrate_kbps))
    src_px = full[0] * full[1]
    above_px = src_px * scale**2  # pixels the reference rung has at the source's aspect ratio
    if not fitted:
        return round(rung.bitrate_kbps * src_px / above_px), rung
    below = max(fitted, key=lambda c: (c.width * c.height, c.bitrate_kbps))
    below_px = below.width * below.height
    if below_px >= NEAR_DUPLICATE_SHARE * src_px:
        return None
    share = (src_px - below_px) / (above_px - below_px)
    bitrate = below.bitrate_kbps + (rung.bitrate_kbps - below.bitrate_kbps) * share
    return max(below.bitrate_kbps, round(bitrate)), rung


def _even_floor(value: int) -> int:
    return max(2, value - value % 2)


def _even_round(value: Fraction, limit: int) -> int:
    return max(2, min(2 * round(value / 2), limit))


def _merge(candidates: list[_Candidate], classes: list[str], *, hdr: bool) -> list[VideoRung]:
    """Deduplicate rungs across classes: same size/rate/codec and bitrate within 10%."""
    groups: dict[tuple[int, int, Fraction, str], list[_Candidate]] = defaultdict(list)
    for c in candidates:
        groups[(c.width, c.height, c.frame_rate, c.codec)].append(c)
    clusters = [
        members for group in groups.values() for members in cluster(group, lambda c: c.bitrate_kbps)
    ]
    rungs = [_rung(members, classes, hdr=hdr) for members in clusters]
    rungs.sort(key=lambda r: (r.width * r.height, r.bitrate_kbps, Fraction(r.frame_rate)))
    return _with_unique_names(rungs)


def _rung(shared: list[_Candidate], classes: list[str], *, hdr: bool) -> VideoRung:
    first = shared[0]
    bitrate = max(c.bitrate_kbps for c in shared)
    factor = min(c.maxrate_factor for c in shared)
    maxrate = round(bitrate * factor)
    profile = min((c.profile for c in shared), key=lambda p: _PROFILE_RANK.get(p, 99))
    levels = [c.level for c in shared if c.level is not None]
    members = {c.device_class for c in shared}
    return VideoRung(
        name="",
        width=first.width,
        height=first.height,
        bitrate_kbps=bitrate,
        maxrate_kbps=maxrate,
        bufsize_kbps=max(maxrate, round(bitrate * BUFSIZE_FACTOR)),
        codec=first.codec,
        profile=profile,
        level=min(levels, key=_level_value) if levels else None,
        frame_rate=f"{first.frame_rate.numerator}/{first.frame_rate.denominator}",
        tonemap=hdr and not (first.codec == "hevc" and profile == "main10"),
        device_classes=[c for c in classes if c in members],
    )


def _level_value(level: str) -> float:
    return 1.05 if level == "1b" else float(level)


def _with_unique_names(rungs: list[VideoRung]) -> list[VideoRung]:
    """ "v720p3000"; rate and codec suffixes only where needed to tell rungs apart."""
    bases = [
        f"v{min(r.width, r.height)}p{r.bitrate_kbps}" + ("" if r.codec == "h264" else f"-{r.codec}")
        for r in rungs
    ]
    counts = defaultdict(int)
    for base in bases:
        counts[base] += 1
    names = [
        f"{base}-{fps_label(r.frame_rate)}fps" if counts[base] > 1 else base
        for base, r in zip(bases, rungs, strict=True)
    ]
    unique = uniquify(names)
    return [r.model_copy(update={"name": n}) for r, n in zip(rungs, unique, strict=True)]
