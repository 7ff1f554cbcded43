"""Helpers for the CENC packaging tests: the test key, reading fragments back, and the two
independent decrypters (FFmpeg, Shaka Packager)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from drm.encryption.sample import SampleAuxInfo, parse_senc
from pipeline.mp4.base import Box, parse_box, parse_boxes, read_header
from pipeline.mp4.codecs import sample_entry
from tests.support.common import ROOT
from tests.support.requirements import requires

SHAKA = ROOT / "web/node_modules/shaka-packager/bin/packager-linux-x64"
KID = bytes.fromhex("0123456789abcdef0123456789abcdef")
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
SCHEMES = ("cenc", "cbcs")

needs_shaka = requires(
    SHAKA.exists(), "Shaka Packager", "run scripts/setup.sh (npm shaka-packager)"
)


def run(args: list[str]) -> str:
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stderr[-3000:]}"
    return proc.stdout


def framemd5(path: Path, *, key: bytes | None = None, copy: bool = False) -> list[str]:
    """Per-frame MD5 (decoded frames, or the packets themselves with `copy`)."""
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error"]
    if key is not None:
        args += ["-decryption_key", key.hex()]
    args += ["-i", str(path), *(["-c", "copy"] if copy else []), "-f", "framemd5", "-"]
    lines = run(args).splitlines()
    return [line.rsplit(",", 1)[-1].strip() for line in lines if not line.startswith("#")]


def segments(track_dir: Path) -> list[Path]:
    return sorted(track_dir.glob("*.m4s"), key=lambda p: int(p.stem))


def fragments(segment: bytes) -> list[bytes]:
    """The moof+mdat pairs of a media segment."""
    out, pos, moof_at = [], 0, -1
    while pos < len(segment):
        box_type, _, size = read_header(segment, pos)
        if box_type == "moof":
            moof_at = pos
        elif box_type == "mdat":
            out.append(segment[moof_at : pos + size])
        pos += size
    return out


def changed_fraction(clear_fragment: bytes, fragment: bytes) -> float:
    """Share of the mdat payload bytes that differ between two packagings of a fragment."""
    a = clear_fragment[read_header(clear_fragment, 0)[2] + 8 :]
    b = fragment[read_header(fragment, 0)[2] + 8 :]
    assert len(a) == len(b)
    return sum(x != y for x, y in zip(a, b, strict=True)) / len(a)


def concat(parts: list[Path], out: Path) -> Path:
    out.write_bytes(b"".join(p.read_bytes() for p in parts))
    return out


def tenc_of(init: bytes) -> Box:
    moov = next(b for b in parse_boxes(init) if b.box_type == "moov")
    tenc = sample_entry(moov).find("sinf/schi/tenc")
    assert tenc is not None
    return tenc


def fragment_samples(fragment: bytes, iv_size: int) -> list[tuple[bytes, SampleAuxInfo]]:
    """(stored sample bytes, senc entry) for each sample of one moof+mdat."""
    moof, end = parse_box(fragment)
    trun, senc = moof.find("traf/trun"), moof.find("traf/senc")
    assert trun is not None and senc is not None
    infos = parse_senc(senc, iv_size)
    pos = trun.data_offset
    out = []
    for row, info in zip(trun.samples, infos, strict=True):
        out.append((fragment[pos : pos + row["size"]], info))
        pos += row["size"]
    assert pos == len(fragment)
    return out


class Packaged(NamedTuple):
    src: Path  # the fragmented MP4 from FFmpeg
    clear: Path  # its clear CMAF track
    enc: Path  # its encrypted CMAF track


Packager = Callable[[str, str], Packaged]
