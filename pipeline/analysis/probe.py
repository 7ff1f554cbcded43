"""Probe a source with ffprobe into `MediaInfo`, refusing inputs the later stages would choke on.

ffprobe happily "succeeds" on some broken files (an MP4 cut after its moov, a truncated MKV), so
besides parsing its JSON we check the container is as long as its own header says.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

from core.errors import ProbeError
from pipeline.analysis.stream_ends import with_measured_ends
from pipeline.media.info import AudioStream, MediaInfo, SubtitleStream, VideoStream

FFPROBE = "ffprobe"
TIMEOUT_SECONDS = 120
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})  # PQ and HLG
INTERLACED_FIELD_ORDERS = frozenset({"tt", "bb", "tb", "bt"})
STANDARD_RATES = tuple(
    Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60")
)
# stderr lines that mean "this input is broken", even when ffprobe exits 0.
_FATAL_STDERR = re.compile(r"moov atom not found|Invalid data found when processing input")
_VFR_TOLERANCE = 0.02  # avg vs r_frame_rate relative difference that counts as variable
_MAX_RATE = 300  # above this an "r_frame_rate" is a time base, not a frame rate
_MAX_NOMINAL_RATE = 60  # a VFR source's r_frame_rate above this is a timestamp grid, not a rate


def probe(path: str | Path) -> MediaInfo:
    """Describe every stream of `path`; raise ProbeError naming the file for unusable input."""
    path = Path(path)
    _check_file(path)
    data, stderr = _run_ffprobe(path)
    info = parse_ffprobe(path, data, stderr)
    if not info.size:
        info = info.model_copy(update={"size": path.stat().st_size})
    problem = _truncation(path, info.container)
    if problem:
        raise ProbeError(path, f"file is truncated: {problem}", detail=stderr)
    return with_measured_ends(path, info, FFPROBE)


def probe_json(info: MediaInfo) -> dict[str, Any]:
    """JSON-ready dict of `info`, with the derived display size of each video stream."""
    out = info.model_dump(mode="json")
    for stream, dumped in zip(info.video, out["video"], strict=True):
        dumped["display_width"] = stream.display_width
        dumped["display_height"] = stream.display_height
    return out


def is_hdr(media: MediaInfo | VideoStream) -> bool:
    """True when the (first) video stream uses a PQ or HLG transfer."""
    if isinstance(media, MediaInfo):
        return bool(media.video) and media.video[0].hdr
    return media.hdr


# --- running ffprobe --------------------------------------------------------------------------


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ProbeError(path, "file not found")
    if path.is_dir():
        raise ProbeError(path, "is a directory, not a media file")
    if not os.access(path, os.R_OK):
        raise ProbeError(path, "file is not readable (permission denied)")
    if path.stat().st_size == 0:
        raise ProbeError(path, "file is empty (0 bytes)")


def _run_ffprobe(path: Path) -> tuple[dict[str, Any], str]:
    if shutil.which(FFPROBE) is None:
        raise ProbeError(path, f"{FFPROBE} not found on PATH; install FFmpeg")
    cmd = [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    try:
        proc = subprocess.run(
            [*cmd, str(path)], capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(path, f"ffprobe timed out after {TIMEOUT_SECONDS} s") from exc
    stderr = _tail(proc.stderr)
    fatal = _FATAL_STDERR.search(proc.stderr or "")
    if proc.returncode != 0 or fatal:
        cause = _cause_from_stderr(path, proc.stderr, proc.returncode)
        raise ProbeError(path, cause, detail=stderr)
    try:
        data = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise ProbeError(path, "ffprobe printed unreadable JSON", detail=stderr) from exc
    return data, stderr


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:])


def _cause_from_stderr(path: Path, stderr: str, returncode: int) -> str:
    text = stderr or ""
    if "moov atom not found" in text:
        if not _starts_like_isobmff(path):
            return "not a media file: no MP4/MOV structure (moov atom not found)"
        return (
            "truncated or incomplete MP4/MOV: moov atom not found (cut off or still being written?)"
        )
    if "Invalid data found" in text:
        return "not a recognised media file (ffprobe: invalid data found when processing input)"
    last = _tail(text, 1)
    if last:
        return f"ffprobe could not read it: {last}"
    return f"ffprobe failed with exit code {returncode}"


# --- turning ffprobe JSON into MediaInfo ------------------------------------------------------


def parse_ffprobe(path: str | Path, data: dict[str, Any], stderr: str = "") -> MediaInfo:
    """MediaInfo from ffprobe's `-show_format -show_streams` JSON (pure: no file access)."""
    path = Path(path)
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    video = [_video(s) for s in streams if _is_real_video(s)]
    audio = [_audio(s) for s in streams if s.get("codec_type") == "audio"]
    subtitles = [_subtitle(s) for s in streams if s.get("codec_type") == "subtitle"]
    if not video and not audio:
        kinds = sorted({str(s.get("codec_type", "unknown")) for s in streams}) or ["none"]
        raise ProbeError(
            path, f"no audio or video streams (found: {', '.join(kinds)})", detail=stderr
        )
    for v in video:
        if v.width <= 0 or v.height <= 0:
            raise ProbeError(path, f"video stream {v.index} has no picture size", detail=stderr)
    duration = _float(fmt.get("duration")) or max(
        (d for d in (s.duration for s in [*video, *audio]) if d), default=None
    )
    if not duration or duration <= 0:
        raise ProbeError(path, "duration is missing or zero (truncated or damaged?)", detail=stderr)
    return MediaInfo(
        path=str(path),
        container=str(fmt.get("format_name", "unknown")),
        duration=duration,
        size=_int(fmt.get("size")) or 0,
        bit_rate=_int(fmt.get("bit_rate")),
        start_time=_float(fmt.get("start_time")) or 0.0,
        video=video,
        audio=audio,
        subtitles=subtitles,
    )


def _is_real_video(s: dict[str, Any]) -> bool:
    """Video streams that are pictures in motion, not cover art or thumbnails."""
    disposition = s.get("disposition") or {}
    return (
        s.get("codec_type") == "video"
        and not disposition.get("attached_pic")
        and not disposition.get("timed_thumbnails")
    )


def _video(s: dict[str, Any]) -> VideoStream:
    frame_rate, vfr = _frame_rate(s)
    transfer = s.get("color_transfer")
    return VideoStream(
        index=int(s["index"]),
        codec=str(s.get("codec_name", "unknown")),
        profile=s.get("profile"),
        level=_level(s.get("level")),
        width=int(s.get("width") or 0),
        height=int(s.get("height") or 0),
        sample_aspect_ratio=_sar(s.get("sample_aspect_ratio")),
        display_aspect_ratio=_dar(s.get("display_aspect_ratio")),
        rotation=_rotation(s),
        frame_rate=f"{frame_rate.numerator}/{frame_rate.denominator}",
        fps=float(frame_rate),
        variable_frame_rate=vfr,
        bit_depth=_bit_depth(s),
        pix_fmt=s.get("pix_fmt"),
        color_primaries=_known(s.get("color_primaries")),
        color_transfer=_known(transfer),
        color_space=_known(s.get("color_space")),
        hdr=transfer in HDR_TRANSFERS,
        interlaced=s.get("field_order") in INTERLACED_FIELD_ORDERS,
        duration=_stream_duration(s),
        start_time=_float(s.get("start_time")) or 0.0,
    )


def _audio(s: dict[str, Any]) -> AudioStream:
    tags = _tags(s)
    channels = int(s.get("channels") or 0)
    return AudioStream(
        index=int(s["index"]),
        codec=str(s.get("codec_name", "unknown")),
        profile=s.get("profile"),
        language=_language(tags),
        title=tags.get("title") or None,
        channels=channels,
        channel_layout=s.get("channel_layout") or None,
        sample_rate=int(s.get("sample_rate") or 0),
        bit_rate=_int(s.get("bit_rate")),
        duration=_stream_duration(s),
        start_time=_float(s.get("start_time")) or 0.0,
    )


def _subtitle(s: dict[str, Any]) -> SubtitleStream:
    tags = _tags(s)
    return SubtitleStream(
        index=int(s["index"]),
        codec=str(s.get("codec_name", "unknown")),
        language=_language(tags),
        title=tags.get("title") or None,
    )


def _tags(s: dict[str, Any]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (s.get("tags") or {}).items()}


def _language(tags: dict[str, str]) -> str:
    lang = tags.get("language", "").strip().lower()
    return lang if lang and lang != "und" else "und"


def _known(value: Any) -> str | None:
    return None if value in (None, "", "unknown", "unspecified", "reserved") else str(value)


def _level(value: Any) -> int | None:
    level = _int(value)
    return level if level is not None and level > 0 else None  # ffprobe uses -99 for unknown


def _sar(value: Any) -> str:
    num, den = _ratio(value)
    return f"{num}:{den}" if num > 0 and den > 0 else "1:1"  # "0:1"/"N/A" mean unknown: square


def _dar(value: Any) -> str | None:
    num, den = _ratio(value)
    return f"{num}:{den}" if num > 0 and den > 0 else None


def _ratio(value: Any) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)[:/](\d+)", str(value or ""))
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _rotation(s: dict[str, Any]) -> int:
    """Degrees clockwise to turn the coded picture for display: 0, 90, 180 or 270.

    The Display Matrix `rotation` ffprobe prints is counter-clockwise (an iPhone portrait clip
    shows -90 and is turned 90 clockwise by FFmpeg's autorotate); the legacy `rotate` tag of
    older muxers is already clockwise.
    """
    for side in s.get("side_data_list") or []:
        if side.get("side_data_type") == "Display Matrix" and "rotation" in side:
            return _snap_quarter(-float(side["rotation"]))
    tag = _tags(s).get("rotate")
    if tag is not None:
        try:
            return _snap_quarter(float(tag))
        except ValueError:
            return 0
    return 0


def _snap_quarter(degrees: float) -> int:
    return (round(degrees / 90) * 90) % 360


def _frame_rate(s: dict[str, Any]) -> tuple[Fraction, bool]:
    """(nominal rate, variable?) from r_frame_rate / avg_frame_rate.

    r_frame_rate is the exact nominal rate of a constant-rate source. When the average differs
    the source is variable-rate: its nominal rate is r_frame_rate if that is a plausible capture
    rate (phones record "30 fps" with drops), else the average; either is snapped to the nearest
    standard rate, which the constant-rate outputs get.
    """
    real = _fraction(s.get("r_frame_rate"))
    avg = _fraction(s.get("avg_frame_rate"))
    interlaced = s.get("field_order") in INTERLACED_FIELD_ORDERS
    if real and avg:
        if abs(real - avg) / real <= _VFR_TOLERANCE:
            return real, False
        if interlaced and real == 2 * avg:  # field rate reported as r_frame_rate
            return avg, False
        return _snap_rate(real if real <= _MAX_NOMINAL_RATE else avg), True
    rate = real if real and real <= _MAX_RATE else avg
    if rate is None or rate > _MAX_RATE:
        return Fraction(25), False  # no usable timing at all (e.g. a still): a safe default
    return rate, False


def _snap_rate(rate: Fraction) -> Fraction:
    """The standard rate nearest a variable-rate source's (23.976 ... 60): its outputs are
    constant-rate, and a 17.3 fps or 58.2 fps grid would suit no player or encoder ladder."""
    return min(STANDARD_RATES, key=lambda r: abs(r - rate))


def _fraction(value: Any) -> Fraction | None:
    num, den = _ratio(value)
    return Fraction(num, den) if num > 0 and den > 0 else None


def _bit_depth(s: dict[str, Any]) -> int:
    raw = _int(s.get("bits_per_raw_sample"))
    if raw and 8 <= raw <= 16:
        return raw
    match = re.search(r"(\d+)(?:le|be)$", str(s.get("pix_fmt") or ""))
    if match:
        bits = int(match.group(1))
        if 9 <= bits <= 16:
            return bits
        if bits in (48, 64):  # rgb48 / rgba64: 16 bits per component
            return 16
    return 8


def _stream_duration(s: dict[str, Any]) -> float | None:
    seconds = _float(s.get("duration"))
    if seconds is not None:
        return seconds
    tag = _tags(s).get("duration")  # Matroska: "00:00:08.021000000"
    match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", tag or "")
    if match:
        h, m, sec = match.groups()
        return int(h) * 3600 + int(m) * 60 + float(sec)
    return None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- truncation checks ------------------------------------------------------------------------


def _truncation(path: Path, container: str) -> str | None:
    """Why the file is shorter than its own structure says, or None if it looks whole."""
    actual = path.stat().st_size
    with path.open("rb") as f:
        if "mp4" in container or "mov" in container:
            return _isobmff_truncation(f, actual)
        if "matroska" in container or "webm" in container:
            return _matroska_truncation(f, actual)
    return None


_ISOBMFF_FIRST_BOXES = frozenset(
    {"ftyp", "moov", "mdat", "free", "skip", "wide", "pnot", "uuid", "styp", "sidx", "moof", "junk"}
)


def _starts_like_isobmff(path: Path) -> bool:
    """Does the file open with a plausible MP4/MOV box (so a missing moov means truncation)?"""
    with path.open("rb") as f:
        header = f.read(8)
    return len(header) == 8 and header[4:8].decode("latin-1") in _ISOBMFF_FIRST_BOXES


def _isobmff_truncation(f: Any, actual: int) -> str | None:
    """Walk the top-level boxes: each must fit inside the file."""
    offset = 0
    while offset + 8 <= actual:
        f.seek(offset)
        header = f.read(16)
        size = int.from_bytes(header[0:4], "big")
        box = header[4:8].decode("latin-1")
        if not re.fullmatch(r"[ -~]{4}", box):  # trailing padding/junk, not a box: stop
            return None
        if size == 1:
            if len(header) < 16:
                return f"'{box}' box header at byte {offset} is cut off"
            size = int.from_bytes(header[8:16], "big")
        elif size == 0:  # box runs to the end of the file
            return None
        if size < 8:
            return f"invalid '{box}' box size {size} at byte {offset}"
        if offset + size > actual:
            return (
                f"'{box}' box at byte {offset} declares {size} bytes but only "
                f"{actual - offset} remain ({actual} of {offset + size} bytes present)"
            )
        offset += size
    return None


def _matroska_truncation(f: Any, actual: int) -> str | None:
    """The Segment element's declared size (when known) must fit inside the file."""
    f.seek(0)
    head = f.read(64)
    pos = 0
    for expected in (b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67"):  # EBML header, then Segment
        if head[pos : pos + 4] != expected:
            return None
        size, length, unknown = _ebml_size(head, pos + 4)
        if size is None:
            return None
        pos += 4 + length
        if expected == b"\x18\x53\x80\x67":
            if unknown or pos + size <= actual:
                return None
            return f"Matroska segment declares {pos + size} bytes but the file has {actual}"
        pos += size
    return None


def _ebml_size(buf: bytes, pos: int) -> tuple[int | None, int, bool]:
    """Decode an EBML variable-length size: (value, bytes used, is the 'unknown' marker)."""
    if pos >= len(buf) or buf[pos] == 0:
        return None, 0, False
    first = buf[pos]
    length = 8 - first.bit_length() + 1
    if pos + length > len(buf):
        return None, 0, False
    value = first & ((1 << (8 - length)) - 1)
    for b in buf[pos + 1 : pos + length]:
        value = (value << 8) | b
    unknown = value == (1 << (7 * length)) - 1
    return value, length, unknown
