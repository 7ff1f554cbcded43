"""Studio audio layouts: which source tracks make up one programme's sound.

Delivered mezzanines (MXF OP1a, ProRes MOV) often carry one mono track per channel instead of
one multichannel track. Encoded one by one they would become six "stereo" renditions of a
single speaker each, so they are joined first, by

* a channel map from the ingest sidecar (`"audio": {"tracks": ["L", "R", "C", "LFE", "Ls",
  "Rs"]}`) or `vod ingest --audio-map L,R,C,LFE,Ls,Rs`: one label per source audio track, in
  track order; or
* without one, the default rule, applied only when every audio track is mono and all share a
  language (and always warned about, since a wrong guess swaps speakers):

  ===========  ==========================================================
  mono tracks  taken as
  ===========  ==========================================================
  2            L R (stereo)
  6            L R C LFE Ls Rs (5.1, SMPTE/ITU order)
  8            L R C LFE Ls Rs (5.1) + Lt Rt (the stereo downmix pair)
  ===========  ==========================================================

Labels: L R C LFE Ls Rs (the 5.1 bed), Lt Rt (a stereo pair; Lo Ro are accepted too) and "-"
for a track to leave out (M&E, a guide track). The 5.1 renditions join the bed; the stereo
rendition joins the pair when there is one, else it is the bed downmixed. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import PipelineError
from pipeline.media.info import AudioStream

BED = ("L", "R", "C", "LFE", "Ls", "Rs")
STEREO_BED = ("L", "R")
PAIR = ("Lt", "Rt")
UNUSED = "-"
_ALIASES = {"lo": "Lt", "ro": "Rt", "x": UNUSED, "": UNUSED}
_CANONICAL = {label.lower(): label for label in (*BED, *PAIR, UNUSED)}
RULES = {2: STEREO_BED, 6: BED, 8: (*BED, *PAIR)}  # mono track count -> labels, in track order


class AudioMap(BaseModel):
    """The sidecar's `"audio"` object: one channel label per source audio track."""

    model_config = ConfigDict(extra="forbid")

    tracks: list[str] = Field(min_length=1, description="L R C LFE Ls Rs Lt Rt or - per track")

    @field_validator("tracks")
    @classmethod
    def _known_labels(cls, value: list[str]) -> list[str]:
        return normalise_labels(value)


@dataclass(frozen=True)
class AudioSource:
    """One programme sound as the planner sees it: a source track, or mono tracks to join.

    `surround` (L R C LFE Ls Rs) feeds the 5.1 renditions, `stereo` (L R, or Lt Rt) the
    stereo one; both empty means the track `index` is used as it is."""

    index: int  # the (first) source stream, as the plan names it
    language: str
    channels: int
    sample_rate: int
    start_time: float = 0.0
    duration: float | None = None
    surround: tuple[int, ...] = ()
    stereo: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        """'#1' for one track, '#1-#6' for joined ones (warnings and plan tables)."""
        members = sorted({*self.surround, *self.stereo}) or [self.index]
        return f"#{members[0]}" if len(members) == 1 else f"#{members[0]}-#{members[-1]}"


def normalise_labels(labels: Sequence[str]) -> list[str]:
    """Canonical spelling of each label ("lfe" -> "LFE", "Lo" -> "Lt"); ValueError names an
    unknown one."""
    out = []
    for raw in labels:
        key = raw.strip().lower()
        label = _ALIASES.get(key) or _CANONICAL.get(key)
        if label is None:
            known = " ".join((*BED, *PAIR, UNUSED))
            raise ValueError(f"unknown channel label {raw!r} (known: {known})")
        out.append(label)
    return out


def parse_audio_map(text: str) -> list[str]:
    """`--audio-map L,R,C,LFE,Ls,Rs` -> the labels (ValueError for an unknown one)."""
    return normalise_labels(text.split(","))


def audio_sources(
    path: str, tracks: Sequence[AudioStream], audio_map: Sequence[str] | None = None
) -> tuple[list[AudioSource], list[str], list[str]]:
    """(programme sounds, notes, warnings) for the source's audio tracks."""
    if audio_map:
        try:
            labels = normalise_labels(audio_map)
        except ValueError as e:
            raise PipelineError(path, f"audio channel map: {e}", stage="plan") from None
        sources = _mapped(path, tracks, labels)
        note = f"audio: channel map {' '.join(labels)} joins the mono tracks"
        return sources, [note], []
    labels = _rule(tracks)
    if labels is None:
        return [_whole(t) for t in tracks], [], []
    sources = _mapped(path, tracks, labels)
    warning = (
        f"audio: {len(tracks)} mono tracks taken as {' '.join(labels)} by the default rule "
        '(no channel map given: set "audio": {"tracks": [...]} in the sidecar or '
        "--audio-map if this order is wrong)"
    )
    return sources, [], [warning]


def _rule(tracks: Sequence[AudioStream]) -> tuple[str, ...] | None:
    """The default labels for an all-mono, one-language source of 2, 6 or 8 tracks."""
    if len(tracks) not in RULES or any(t.channels != 1 for t in tracks):
        return None
    if len({t.language for t in tracks} - {"und"}) > 1:
        return None  # two languages, each in mono: two programmes, not one stereo pair
    return RULES[len(tracks)]


def _whole(track: AudioStream) -> AudioSource:
    return AudioSource(
        index=track.index,
        language=track.language,
        channels=track.channels,
        sample_rate=track.sample_rate,
        start_time=track.start_time,
        duration=track.duration,
    )


def _mapped(path: str, tracks: Sequence[AudioStream], labels: Sequence[str]) -> list[AudioSource]:
    """One joined programme from labelled mono tracks; PipelineError says what does not fit."""

    def refuse(problem: str) -> PipelineError:
        return PipelineError(path, f"audio channel map: {problem}", stage="plan")

    if len(labels) != len(tracks):
        raise refuse(f"{len(labels)} labels for {len(tracks)} audio tracks")
    by_label: dict[str, AudioStream] = {}
    for label, track in zip(labels, tracks, strict=True):
        if label == UNUSED:
            continue
        if label in by_label:
            raise refuse(f"{label} is given to tracks #{by_label[label].index} and #{track.index}")
        if track.channels != 1:
            raise refuse(f"track #{track.index} ({label}) has {track.channels} channels, not 1")
        by_label[label] = track
    used = set(by_label)
    bed = next((b for b in (BED, STEREO_BED) if used & set(BED) == set(b)), None)
    if used & set(BED) and bed is None:
        missing = " ".join(c for c in BED if c not in used)
        raise refuse(f"an incomplete 5.1 bed (missing {missing}); give L R alone for stereo")
    if len(used & set(PAIR)) == 1:
        raise refuse("Lt and Rt come as a pair")
    if bed == STEREO_BED and used & set(PAIR):
        raise refuse("L R and Lt Rt are both stereo pairs: give one")
    if not used:
        raise refuse("every track is left out")
    stereo_labels = STEREO_BED if bed == STEREO_BED else PAIR
    pair = tuple(by_label[c].index for c in stereo_labels if c in used)
    first = by_label[(bed or PAIR)[0]]
    members = [by_label[c] for c in used]
    return [
        AudioSource(
            index=first.index,
            language=first.language,
            channels=6 if bed == BED else 2,
            sample_rate=first.sample_rate,
            start_time=min(t.start_time for t in members),
            duration=max((t.duration for t in members if t.duration), default=None),
            surround=tuple(by_label[c].index for c in BED) if bed == BED else (),
            stereo=pair,  # empty with a 5.1 bed and no pair: the stereo is its downmix
        )
    ]
