"""Sidecar subtitles: read a WebVTT or SRT file, refuse what players would choke on, emit WebVTT.

Players fail in different ways on a bad cue (older Shaka throws, newer Shaka and hls.js skip it
silently), so every problem is reported here, with the file and line, before packaging.

Timing: the output has no X-TIMESTAMP-MAP by default. RFC 8216 3.5 says a WebVTT file without it
maps cue time 0 to media time 0, which is exactly our fMP4 timeline (tfdt starts at 0). The
same file also serves DASH, where the header means nothing. Checked in Chromium: hls.js 1.7.4,
Shaka 5.2.12 (HLS and DASH) and dash.js 5.2.1 show the cues at their file times with or without
an `MPEGTS:0,LOCAL:00:00:00.000` map; `timestamp_map=True` writes that explicit map.
A map found in the input (from an MPEG-TS workflow) is dropped: its MPEGTS value describes
someone else's media timeline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import PipelineError

MAX_BYTES = 20 * 1024 * 1024
TIMESTAMP_MAP = "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000"

_LANG = re.compile(r"^(?:[A-Za-z]{2,3}|[xXiI])(?:-[A-Za-z0-9]{1,8})*$")
_WORDISH = re.compile(r"^[A-Za-z0-9_-]+$")
_VTT_TS = r"(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})"
_VTT_TIMING = re.compile(rf"^{_VTT_TS}[ \t]+-->[ \t]+{_VTT_TS}(?:[ \t]+(.*))?$")
_SRT_TS = r"(\d{1,3}):(\d{2}):(\d{2})[,.](\d{3})"
_SRT_TIMING = re.compile(rf"^\s*{_SRT_TS}\s*-->\s*{_SRT_TS}(?:\s+.*)?$")  # tail: X1:.. Y2:..
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_TAG = re.compile(r"<(/?)([A-Za-z]+)\b[^<>]*>")
_ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")
_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")


@dataclass
class Cue:
    start: int  # milliseconds
    end: int
    text: list[str]
    line: int  # 1-based line of the timing line in the source
    ident: str | None = None
    settings: str = ""


@dataclass
class _Parsed:
    header: list[str] = field(default_factory=lambda: ["WEBVTT"])
    blocks: list[Cue | list[str]] = field(default_factory=list)  # cues, NOTE/STYLE/REGION


def load_subtitles(path: Path, language: str | None, *, timestamp_map: bool = False) -> str:
    """WebVTT text for a .vtt or .srt file (detected by content), validated cue by cue."""
    path = Path(path)
    if language is not None and not is_language_tag(language):
        raise PipelineError(path, f"{language!r} is not a BCP-47 language tag", stage="subtitles")
    text = _read_text(path)
    if _is_vtt(text):
        parsed = _parse_vtt(text, path)
    elif _looks_like_srt(text):
        parsed = _parse_srt(text, path)
    else:
        hint = "expected a WebVTT header or an SRT cue ('1' then '00:00:01,000 --> 00:00:02,000')"
        if path.suffix.lower() == ".vtt":
            hint = "a WebVTT file must start with 'WEBVTT'"
        raise _error(path, _first_content_line(text), f"not a WebVTT or SRT file: {hint}")
    _check_cues(parsed, path)
    return _serialize(parsed, timestamp_map)


def parse_subtitle_arg(arg: str) -> tuple[Path, str]:
    """CLI 'FILE[:lang]' -> (path, language); 'und' when no language is given.

    Only the last ':' can introduce a language, and only when what follows is a language tag,
    so 'C:\\subs\\en.srt' stays a path. A word after ':' that is not a valid tag is an error
    rather than a silently different file name.
    """
    head, sep, tail = arg.rpartition(":")
    if not sep or not head:
        return Path(arg), "und"
    if is_language_tag(tail):
        return Path(head), normalize_language(tail)
    if tail == "" or _WORDISH.match(tail):
        raise PipelineError(
            head,
            f"{tail!r} is not a BCP-47 language tag (use e.g. 'en', 'pt-BR', 'zh-Hans')",
            stage="subtitles",
        )
    return Path(arg), "und"


def vtt_duration(text: str) -> float:
    """Seconds until the last cue ends (the latest end time, cues may overlap)."""
    ends = [_ms(*m.groups()[4:8]) for line in text.splitlines() if (m := _VTT_TIMING.match(line))]
    return max(ends, default=0) / 1000


def fit_cues(text: str, seconds: float) -> tuple[str, float]:
    """WebVTT `text` (as `load_subtitles` wrote it) cut at the programme's end: cues starting
    at or after `seconds` dropped, later ends clipped. Returns the text and how many seconds of
    cues were cut (0.0 when everything fitted, and then the text is unchanged)."""
    end_ms = round(seconds * 1000)
    overrun = vtt_duration(text) - seconds
    if overrun <= 0:
        return text, 0.0
    parsed = _parse_vtt(text, Path("subtitles.vtt"))
    kept: list[Cue | list[str]] = []
    for block in parsed.blocks:
        if isinstance(block, Cue):
            if block.start >= end_ms:
                continue
            block.end = min(block.end, end_ms)
        kept.append(block)
    parsed.blocks = kept
    return _serialize(parsed, timestamp_map=False), round(overrun, 3)


def is_language_tag(tag: str) -> bool:
    """True when `tag` is shaped like a BCP-47 tag ('en', 'eng', 'pt-BR', 'es-419', 'x-klingon')."""
    return bool(_LANG.match(tag))


def normalize_language(tag: str) -> str:
    """BCP-47 conventional case: 'PT-br' -> 'pt-BR', 'zh-hans-cn' -> 'zh-Hans-CN'."""
    parts = tag.split("-")
    out = [parts[0].lower()]
    private = parts[0].lower() == "x"
    for p in parts[1:]:
        if private or p.lower() == "x":
            private = True
            out.append(p.lower())
        elif len(p) == 2 and p.isalpha():
            out.append(p.upper())
        elif len(p) == 4 and p.isalpha():
            out.append(p.title())
        else:
            out.append(p.lower())
    return "-".join(out)


# --- reading ------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        cause = f"cannot read subtitle file: {e.strerror}"
        raise PipelineError(path, cause, stage="subtitles") from None
    if len(raw) > MAX_BYTES:
        cause = f"file is over {MAX_BYTES // (1024 * 1024)} MB; not a subtitle file"
        raise PipelineError(path, cause, stage="subtitles")
    if not raw.strip():
        raise PipelineError(path, "file is empty", stage="subtitles")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise PipelineError(path, "broken UTF-16 text", stage="subtitles") from None
    else:
        raw = raw.removeprefix(b"\xef\xbb\xbf")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise _error(
                path, line, f"not UTF-8 (byte 0x{raw[e.start]:02x}); save the file as UTF-8"
            ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise _error(path, line, "binary data (control characters); not a subtitle file")
    return text


def _is_vtt(text: str) -> bool:
    return re.match(r"WEBVTT(?:[ \t\n]|$)", text) is not None


def _looks_like_srt(text: str) -> bool:
    lines = [ln for ln in text.split("\n", 20)[:20] if ln.strip()]
    if not lines:
        return False
    if _SRT_TIMING.match(lines[0]):
        return True
    return lines[0].strip().isdigit() and len(lines) > 1 and bool(_SRT_TIMING.match(lines[1]))


def _blocks(lines: list[str], start: int) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines from `start`, each with its 1-based first line number."""
    out: list[tuple[int, list[str]]] = []
    current: list[str] = []
    first = 0
    for i in range(start, len(lines)):
        if lines[i].strip():
            if not current:
                first = i + 1
            current.append(lines[i])
        elif current:
            out.append((first, current))
            current = []
    if current:
        out.append((first, current))
    return out


# --- WebVTT -------------------------------------------------------------------------------


def _parse_vtt(text: str, path: Path) -> _Parsed:
    lines = text.split("\n")
    end_of_header = next((i for i, ln in enumerate(lines) if not ln.strip()), len(lines))
    header = [ln for ln in lines[:end_of_header] if not ln.startswith("X-TIMESTAMP-MAP")]
    for i, ln in enumerate(header[1:], 2):
        if "-->" in ln:
            raise _error(path, i, "cue timing inside the header; put a blank line after 'WEBVTT'")
    parsed = _Parsed(header=header)
    for first, block in _blocks(lines, end_of_header):
        head = block[0].strip()
        if re.match(r"NOTE(?:[ \t]|$)", block[0]) or (
            head in ("STYLE", "REGION") and not any("-->" in b for b in block)
        ):
            parsed.blocks.append(block)
            continue
        ident = None
        timing_at = 0
        if "-->" not in block[0]:
            ident, timing_at = block[0], 1
        if timing_at >= len(block) or "-->" not in block[timing_at]:
            raise _error(path, first, "expected a cue timing line 'HH:MM:SS.mmm --> HH:MM:SS.mmm'")
        line_no = first + timing_at
        m = _VTT_TIMING.match(block[timing_at].strip())
        if not m:
            raise _error(path, line_no, f"malformed cue timing {block[timing_at].strip()!r}")
        g = m.groups()
        cue = Cue(
            start=_ms(*g[0:4], path=path, line=line_no),
            end=_ms(*g[4:8], path=path, line=line_no),
            text=block[timing_at + 1 :],
            line=line_no,
            ident=ident,
            settings=(g[8] or "").strip(),
        )
        for k, t in enumerate(cue.text, line_no + 1):
            if "-->" in t:
                raise _error(path, k, "cue text may not contain '-->' (missing blank line?)")
        parsed.blocks.append(cue)
    return parsed


# --- SRT ----------------------------------------------------------------------------------


def _parse_srt(text: str, path: Path) -> _Parsed:
    parsed = _Parsed()
    for first, block in _blocks(text.split("\n"), 0):
        timing_at = 1 if block[0].strip().isdigit() else 0
        line_no = first + timing_at
        if timing_at >= len(block):
            raise _error(path, first, f"cue {block[0].strip()} has no timing line")
        m = _SRT_TIMING.match(block[timing_at])
        if not m:
            raise _error(
                path, line_no, f"expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm', got {block[timing_at]!r}"
            )
        g = m.groups()
        parsed.blocks.append(
            Cue(
                start=_ms(*g[0:4], path=path, line=line_no),
                end=_ms(*g[4:8], path=path, line=line_no),
                text=[_srt_text(t) for t in block[timing_at + 1 :]],
                line=line_no,
            )
        )
    return parsed


def _srt_text(line: str) -> str:
    """SRT markup -> WebVTT cue text: keep <i> <b> <u>, drop <font> and {\\an8}, escape the rest."""
    line = _ASS_OVERRIDE.sub("", line).rstrip()
    out, pos = [], 0
    for m in _TAG.finditer(line):
        out.append(_escape(line[pos : m.start()]))
        name = m.group(2).lower()
        if name in ("i", "b", "u"):
            out.append(f"<{m.group(1)}{name}>")
        elif name != "font":
            out.append(_escape(m.group(0)))
        pos = m.end()
    out.append(_escape(line[pos:]))
    return "".join(out)


def _escape(s: str) -> str:
    parts, pos = [], 0
    for m in _ENTITY.finditer(s):
        parts.append(s[pos : m.start()].replace("&", "&amp;"))
        parts.append(m.group(0))
        pos = m.end()
    parts.append(s[pos:].replace("&", "&amp;"))
    return "".join(parts).replace("<", "&lt;").replace(">", "&gt;")


# --- checks and output --------------------------------------------------------------------


def _check_cues(parsed: _Parsed, path: Path) -> None:
    cues = [b for b in parsed.blocks if isinstance(b, Cue)]
    if not cues:
        raise PipelineError(path, "no subtitle cues in the file", stage="subtitles")
    previous: Cue | None = None
    for cue in cues:
        if cue.end < cue.start:
            raise _error(
                path, cue.line, f"cue ends ({_ts(cue.end)}) before it starts ({_ts(cue.start)})"
            )
        if previous is not None and cue.start < previous.start:
            raise _error(
                path,
                cue.line,
                f"timestamps go backwards: cue starts at {_ts(cue.start)}, after a cue "
                f"starting at {_ts(previous.start)} (line {previous.line})",
            )
        previous = cue
    # Zero-length cues are never shown and WebVTT forbids them: drop rather than refuse.
    parsed.blocks = [b for b in parsed.blocks if not (isinstance(b, Cue) and b.end == b.start)]


def _serialize(parsed: _Parsed, timestamp_map: bool) -> str:
    header = list(parsed.header)
    if timestamp_map:
        header.insert(1, TIMESTAMP_MAP)
    chunks = ["\n".join(header)]
    for b in parsed.blocks:
        if isinstance(b, Cue):
            timing = f"{_ts(b.start)} --> {_ts(b.end)}" + (f" {b.settings}" if b.settings else "")
            chunks.append("\n".join(([b.ident] if b.ident else []) + [timing] + b.text))
        else:
            chunks.append("\n".join(b))
    return "\n\n".join(chunks) + "\n"


def _ms(h: str | None, m: str, s: str, f: str, *, path: Path | None = None, line: int = 0) -> int:
    minutes, secs = int(m), int(s)
    if path is not None and (minutes > 59 or secs > 59):
        raise _error(path, line, f"minutes and seconds must be below 60 in {m}:{s}")
    return ((int(h or 0) * 60 + minutes) * 60 + secs) * 1000 + int(f)


def _ts(ms: int) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, f = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{f:03d}"


def _first_content_line(text: str) -> int:
    return next((i for i, ln in enumerate(text.split("\n"), 1) if ln.strip()), 1)


def _error(path: Path, line: int, problem: str) -> PipelineError:
    return PipelineError(path, f"line {line}: {problem}", stage="subtitles")
