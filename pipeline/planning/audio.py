"""Audio renditions for a plan: stereo AAC-LC for every programme sound, plus a 5.1 rendition
per surround codec when the sound has 6+ channels and a requested class wants surround.

A programme sound is a source track, or mono studio tracks joined by a channel map
(`channel_map`); every rendition carries the source's start offset against the picture
(`alignment`). Pure: no FFmpeg, no files.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.media.info import VideoStream
from pipeline.media.plan import AudioRendition
from pipeline.planning.alignment import alignment_messages, audio_offset
from pipeline.planning.channel_map import AudioSource
from pipeline.planning.grouping import cluster, uniquify
from pipeline.planning.ladder import Ladder

_AUDIO_RATES = (44100, 48000)


@dataclass
class AudioPlan:
    """The renditions, and what content ops should know about how they were made."""

    renditions: list[AudioRendition] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def plan_audio(
    sources: Sequence[AudioSource],
    classes: list[str],
    ladders: dict[str, Ladder],
    video: VideoStream,
    duration: float,
) -> AudioPlan:
    """The renditions of every programme sound, aligned to the picture, with what was done."""
    out = AudioPlan()
    per_source: list[tuple[AudioSource, float, list[AudioRendition]]] = []
    for source in sources:
        offset = audio_offset(source, video)
        made = _source_renditions(source, classes, ladders, offset)
        per_source.append((source, offset, made))
        out.renditions.extend(made)
    names = uniquify([r.name for r in out.renditions])
    out.renditions = [
        r.model_copy(update={"name": n}) for r, n in zip(out.renditions, names, strict=True)
    ]
    if out.renditions:
        out.renditions[0] = out.renditions[0].model_copy(update={"default": True})
    renamed = iter(names)
    for source, offset, made in per_source:
        used = [next(renamed) for _ in made]
        notes, warnings = alignment_messages(source, offset, duration, used)
        out.notes += notes
        out.warnings += warnings
    return out


def _source_renditions(
    source: AudioSource, classes: list[str], ladders: dict[str, Ladder], offset: float
) -> list[AudioRendition]:
    lang = _safe_language(source.language)
    made: list[AudioRendition] = []
    stereo = cluster([(ladders[c].audio.bitrate_kbps, c) for c in classes], key=lambda p: p[0])
    stereo_merge = (source.stereo, "stereo") if source.stereo else (source.surround, "5.1")
    for group in stereo:
        suffix = f"-{_group_kbps(group)}" if len(stereo) > 1 else ""
        name = f"a-{lang}-aac2{suffix}"
        made.append(_rendition(source, name, "aac", 2, group, classes, offset, stereo_merge))
    if source.channels < 6:
        return made
    by_codec: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for c in classes:
        surround = ladders[c].surround
        if surround is not None:
            by_codec[surround.codec].append((surround.bitrate_kbps, c))
    for codec, members in by_codec.items():
        groups = cluster(members, key=lambda pair: pair[0])
        sep = "-" if codec[-1].isdigit() else ""
        for group in groups:
            suffix = f"-{_group_kbps(group)}" if len(groups) > 1 else ""
            name = f"a-{lang}-{codec}{sep}6{suffix}"
            merge = (source.surround, "5.1")
            made.append(_rendition(source, name, codec, 6, group, classes, offset, merge))
    return made


def _group_kbps(group: list[tuple[int, str]]) -> int:
    return max(kbps for kbps, _ in group)


def _rendition(
    source: AudioSource,
    name: str,
    codec: str,
    channels: int,
    group: list[tuple[int, str]],
    classes: list[str],
    offset: float,
    merge: tuple[tuple[int, ...], str],
) -> AudioRendition:
    members = {c for _, c in group}
    indexes, layout = merge
    return AudioRendition(
        name=name,
        source_index=source.index,
        language=source.language or "und",
        codec=codec,
        channels=channels,
        bitrate_kbps=_group_kbps(group),
        sample_rate=source.sample_rate if source.sample_rate in _AUDIO_RATES else 48000,
        device_classes=[c for c in classes if c in members],
        merge_indexes=list(indexes),
        merge_layout=layout if indexes else None,
        offset=offset,
    )


def _safe_language(language: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (language or "").lower()) or "und"
