"""RFC 6381 codec strings read from the bitstream's decoder configuration, not from the plan."""

from __future__ import annotations

from pipeline.mp4.base import Box

AAC_OBJECT_TYPES = {1: "AAC Main", 2: "AAC-LC", 5: "HE-AAC", 29: "HE-AACv2"}


def sample_entry(moov: Box) -> Box:
    stsd = moov.find("trak/mdia/minf/stbl/stsd")
    if stsd is None or not stsd.children:
        raise ValueError("no sample description (stsd) in moov")
    return stsd.children[0]


def original_format(entry: Box) -> str:
    """The clear 4CC of a sample entry; for encv/enca it is in sinf/frma."""
    if entry.box_type in ("encv", "enca"):
        frma = entry.find("sinf/frma")
        if frma is not None:
            return frma.data_format
    return entry.box_type


def codec_string(moov: Box) -> str:
    entry = sample_entry(moov)
    fmt = original_format(entry)
    if fmt in ("avc1", "avc3"):
        return avc_codec(fmt, _config(entry, "avcC"))
    if fmt in ("hvc1", "hev1"):
        return hevc_codec(fmt, _config(entry, "hvcC"))
    if fmt == "mp4a":
        esds = entry.find("esds")
        return f"mp4a.40.{aac_object_type(esds.descriptors) if esds else 2}"
    if fmt in ("ac-3", "ec-3"):
        return fmt
    if fmt == "av01":
        return "av01"
    raise ValueError(f"unsupported sample entry '{fmt}'")


def _config(entry: Box, box_type: str) -> bytes:
    box = entry.find(box_type)
    if box is None:
        raise ValueError(f"sample entry '{entry.box_type}' has no {box_type}")
    return box.data


def avc_codec(fmt: str, avcc: bytes) -> str:
    """avc1.PPCCLL: profile_idc, constraint flags, level_idc from the AVC configuration."""
    if len(avcc) < 4:
        raise ValueError("avcC too short")
    return f"{fmt}.{avcc[1]:02x}{avcc[2]:02x}{avcc[3]:02x}"


def hevc_codec(fmt: str, hvcc: bytes) -> str:
    """hvc1.<space><profile>.<compat reversed>.<tier><level>.<constraints> (ISO/IEC 14496-15 E)."""
    if len(hvcc) < 13:
        raise ValueError("hvcC too short")
    space = ("", "A", "B", "C")[hvcc[1] >> 6]
    tier = "H" if hvcc[1] & 0x20 else "L"
    profile = hvcc[1] & 0x1F
    compat = int.from_bytes(hvcc[2:6], "big")
    compat_rev = int(f"{compat:032b}"[::-1], 2)
    constraints = list(hvcc[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    parts = [fmt, f"{space}{profile}", f"{compat_rev:x}", f"{tier}{hvcc[12]}"]
    parts += [f"{c:x}" for c in constraints]
    return ".".join(parts)


def aac_object_type(descriptors: bytes) -> int:
    """audioObjectType from the DecoderSpecificInfo (tag 5) inside the ES descriptor."""
    try:
        asc = _decoder_specific_info(descriptors)
    except IndexError:
        raise ValueError("truncated esds descriptor") from None
    if not asc:
        return 2
    aot = asc[0] >> 3
    if aot == 31:
        if len(asc) < 2:
            raise ValueError("truncated esds descriptor")
        aot = 32 + (((asc[0] & 0x07) << 3) | (asc[1] >> 5))
    return aot


def decoder_specific_info(descriptors: bytes) -> bytes | None:
    """The DecoderSpecificInfo (tag 5) payload inside an esds ES_Descriptor, if readable."""
    try:
        return _decoder_specific_info(descriptors)
    except IndexError:
        return None


def _decoder_specific_info(descriptors: bytes) -> bytes | None:
    i = 0
    while i < len(descriptors):
        tag = descriptors[i]
        i += 1
        length = 0
        for _ in range(4):
            b = descriptors[i]
            i += 1
            length = (length << 7) | (b & 0x7F)
            if not b & 0x80:
                break
        if tag == 0x03:  # ES_Descriptor: ES_ID(2) + flags(1) [+ optional fields], then nested
            flags = descriptors[i + 2]
            i += 3 + (2 if flags & 0x80 else 0)
            if flags & 0x40:
                i += 1 + descriptors[i]
            if flags & 0x20:
                i += 2
            continue
        if tag == 0x04:  # DecoderConfigDescriptor: 13 fixed bytes, then nested descriptors
            i += 13
            continue
        if tag == 0x05:
            if i + length > len(descriptors):
                raise IndexError("DecoderSpecificInfo runs past the esds")
            return descriptors[i : i + length]
        i += length
    return None
