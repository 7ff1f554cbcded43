"""Exact stream ends for containers whose durations ffprobe only estimates.

MPEG transport and program streams have no duration in any header: ffprobe guesses each
stream's from the last PES timestamps it sees, which for audio can be a quarter of a second
short (several AAC frames share a PES packet). Alignment decides from these numbers whether to
trim or pad a track, so for those containers the last seconds of packets are read instead
(a seek, so the cost does not grow with the file) and each stream's end is its last packet's
presentation time plus duration.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from pipeline.media.info import MediaInfo

ESTIMATED_CONTAINERS = ("mpegts", "mpeg")  # ffprobe format_name parts without duration headers
TAIL_SECONDS = 10.0
TIMEOUT_SECONDS = 60


def needs_measuring(info: MediaInfo) -> bool:
    return any(part in ESTIMATED_CONTAINERS for part in info.container.split(","))


def with_measured_ends(path: Path, info: MediaInfo, ffprobe: str = "ffprobe") -> MediaInfo:
    """`info` with audio/video durations taken from the packets (unchanged when unreadable)."""
    if not needs_measuring(info):
        return info
    ends = stream_ends(_tail_packets(path, info, ffprobe))
    if not ends:
        return info
    video = [_fitted(s, ends) for s in info.video]
    audio = [_fitted(s, ends) for s in info.audio]
    return info.model_copy(update={"video": video, "audio": audio})


def stream_ends(packets: list[dict[str, Any]]) -> dict[int, float]:
    """Stream index -> latest pts + duration among `packets` (ffprobe packet entries). Pure."""
    ends: dict[int, float] = {}
    for packet in packets:
        try:
            end = float(packet["pts_time"]) + float(packet.get("duration_time") or 0.0)
            index = int(packet["stream_index"])
        except (KeyError, TypeError, ValueError):
            continue  # packets without a pts say nothing about the end
        ends[index] = max(end, ends.get(index, end))
    return ends


def _fitted(stream: Any, ends: dict[int, float]) -> Any:
    end = ends.get(stream.index)
    if end is None or end <= stream.start_time:
        return stream
    return stream.model_copy(update={"duration": round(end - stream.start_time, 6)})


def _tail_packets(path: Path, info: MediaInfo, ffprobe: str) -> list[dict[str, Any]]:
    start = max(0.0, info.start_time + info.duration - TAIL_SECONDS)
    cmd = [
        ffprobe, "-v", "error", "-read_intervals", f"{start:.3f}%",
        "-show_entries", "packet=stream_index,pts_time,duration_time", "-of", "json", str(path),
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
        packets = json.loads(proc.stdout or "{}").get("packets") or []
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return []
    return packets if proc.returncode == 0 else []
