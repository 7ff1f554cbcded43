"""FFmpeg audio filter chains: join studio mono tracks, line the sound up with the picture and
end it with the picture. Pure functions from a plan's audio rendition to filter text.

Every rendition goes through

    asetpts=PTS-STARTPTS+OFFSET/TB   its first sample at the audio's offset against the picture
    aresample=async=1:first_pts=0    silence from 0 up to there (or cut what comes before 0),
                                     and across any hole in the source's timestamps
    apad=whole_dur=D,atrim=end=D     silence up to, and nothing past, the picture's end D

so audio and video start at 0 and end together (the packager's priming edit list then lines
the first sample up with the first frame). Studio mono tracks are joined first, in the plan's
order, by `join` (FFmpeg's channel names: L R C LFE Ls Rs are FL FR FC LFE BL BR); the
encoder's `-ac 2` downmixes a joined 5.1 bed for the stereo rendition.
"""

from __future__ import annotations

from fractions import Fraction

from core.errors import TranscodeError
from pipeline.media.plan import AudioRendition

JOIN_CHANNELS = {"5.1": ("FL", "FR", "FC", "LFE", "BL", "BR"), "stereo": ("FL", "FR")}


def align_chain(offset: float, duration: float) -> str:
    """Filters that put the audio at `offset` seconds against the picture and make it last
    exactly `duration` seconds (padding with silence or cutting)."""
    shift = "PTS-STARTPTS" if abs(offset) < 1e-6 else f"PTS-STARTPTS{_signed(offset)}/TB"
    end = _num(duration)
    return f"asetpts={shift},aresample=async=1:first_pts=0,apad=whole_dur={end},atrim=end={end}"


def join_chain(rendition: AudioRendition) -> str:
    """`[0:a][0:b]...join=...` joining the rendition's mono source tracks (no output label)."""
    layout = rendition.merge_layout or ""
    channels = JOIN_CHANNELS.get(layout)
    if channels is None or len(channels) != len(rendition.merge_indexes):
        raise TranscodeError(
            rendition.name,
            f"cannot join {len(rendition.merge_indexes)} tracks into {layout or 'no layout'!r} "
            f"for {rendition.name}",
        )
    inputs = "".join(f"[0:{index}]" for index in rendition.merge_indexes)
    mapping = "|".join(f"{i}.0-{name}" for i, name in enumerate(channels))
    return f"{inputs}join=inputs={len(channels)}:channel_layout={layout}:map={mapping}"


def audio_graph(rendition: AudioRendition, duration: float, label: str) -> str:
    """A -filter_complex chain for a rendition made of joined mono tracks, ending in `label`."""
    return f"{join_chain(rendition)},{align_chain(rendition.offset, duration)}{label}"


def _signed(seconds: float) -> str:
    return ("+" if seconds >= 0 else "-") + _num(abs(seconds))


def _num(seconds: float | Fraction) -> str:
    """Plain decimal seconds (never exponent notation), microsecond precise."""
    return f"{float(seconds):.6f}".rstrip("0").rstrip(".") or "0"
