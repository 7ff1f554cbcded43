"""Track alignment: every rendition starts with the picture and ends with it. Pure.

The programme is the picture: its first frame is time 0 of every output and its duration is
the programme's. Audio whose stream starts later (an MPEG-TS capture whose audio begins 1.4 s
after the video, a MOV whose edit list delays the audio) is delayed by as much; audio that
starts earlier loses what comes before the first frame. Tracks running past the picture are
trimmed to it, shorter ones padded with silence (the FFmpeg chain is built by
`pipeline.encode.audio_cmd`), and the plan warns, naming the track, when that changes more
than encoder rounding would.
"""

from __future__ import annotations

from pipeline.media.info import MediaInfo, VideoStream
from pipeline.planning.channel_map import AudioSource

NOTICE_SECONDS = 0.1  # a shorter trim or pad is priming / last-frame rounding, not news
START_NOTICE_SECONDS = 0.001


def programme_duration(media: MediaInfo, video: VideoStream) -> float:
    """The picture's duration; the container's when the stream does not say."""
    return video.duration if video.duration and video.duration > 0 else media.duration


def picture_start(video: VideoStream) -> float:
    """The picture's first timestamp: FFmpeg reads the input's own times (-copyts) and the
    video chain moves this one to 0, the programme's start."""
    return round(video.start_time, 6)


def audio_offset(source: AudioSource, video: VideoStream) -> float:
    """Seconds the audio starts after the picture (negative: before it)."""
    return round(source.start_time - video.start_time, 6)


def describe(source: AudioSource) -> str:
    """'audio #2 (spa)' / 'audio #1-#6 (und)': how notes and warnings name a source track."""
    return f"audio {source.label} ({source.language})"


def alignment_messages(
    source: AudioSource, offset: float, duration: float, renditions: list[str]
) -> tuple[list[str], list[str]]:
    """(notes, warnings) about fitting `source` to a picture of `duration` seconds."""
    name = describe(source)
    notes = []
    if offset >= START_NOTICE_SECONDS:
        notes.append(f"{name} starts {offset:.3f} s after the picture: delayed by as much")
    elif offset <= -START_NOTICE_SECONDS:
        notes.append(
            f"{name} starts {-offset:.3f} s before the picture: its first {-offset:.3f} s are cut"
        )
    warnings = []
    if source.duration:
        end = offset + source.duration
        used = f"{', '.join(renditions)}" if renditions else "no rendition"
        if end - duration > NOTICE_SECONDS:
            warnings.append(
                f"{name} runs {end - duration:.3f} s past the picture (ends at {end:.3f} s, "
                f"picture {duration:.3f} s): trimmed to the picture in {used}"
            )
        elif duration - end > NOTICE_SECONDS:
            warnings.append(
                f"{name} ends {duration - end:.3f} s before the picture (at {end:.3f} s, "
                f"picture {duration:.3f} s): padded with silence in {used}"
            )
    return notes, warnings
