"""One declarative description per box we read or write; parsing and writing both follow it.

Flag bits named by `flag=` are derived on writing from which optional values are present.
"""

from __future__ import annotations

from pipeline.mp4.base import Box, register
from pipeline.mp4.fields import (
    Bytes,
    ByVersion,
    Field,
    Record,
    Table,
    fourcc,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
)

# Sample flags (ISO/IEC 14496-12 8.8.3.1): a sync sample depends on nothing;
# a non-sync sample depends on others and carries sample_is_non_sync_sample.
SYNC_SAMPLE_FLAGS = 0x02000000
NON_SYNC_SAMPLE_FLAGS = 0x01010000


def is_sync(sample_flags: int) -> bool:
    return not sample_flags & 0x00010000


# --- containers -------------------------------------------------------------------------
for _t in (
    "moov",
    "trak",
    "mdia",
    "minf",
    "stbl",
    "mvex",
    "dinf",
    "edts",
    "moof",
    "traf",
    "udta",
    "sinf",
    "schi",
    "mfra",
):
    register(type(f"Container_{_t}", (Box,), {"type": _t, "has_children": True}))


@register
class Ftyp(Box):
    type = "ftyp"
    types = ("ftyp", "styp")
    fields = (
        Field("major_brand", fourcc),
        Field("minor_version", u32, default=0),
        Field("compatible_brands", Table(Record((Field("brand", fourcc),)))),
    )


# --- movie header -----------------------------------------------------------------------
@register
class Mvhd(Box):
    type, full = "mvhd", True
    fields = (
        Field("creation_time", ByVersion(u32, u64), default=0),
        Field("modification_time", ByVersion(u32, u64), default=0),
        Field("timescale", u32, default=1000),
        Field("duration", ByVersion(u32, u64), default=0),
        Field("rate", i32, default=0x00010000),
        Field("volume", i16, default=0x0100),
        Field("reserved", Bytes(10), default=bytes(10)),
        Field(
            "matrix",
            Bytes(36),
            default=bytes.fromhex(
                "000100000000000000000000000000000001000000000000000000000000000040000000"
            ),
        ),
        Field("pre_defined", Bytes(24), default=bytes(24)),
        Field("next_track_id", u32, default=2),
    )


@register
class Tkhd(Box):
    type, full = "tkhd", True
    fields = (
        Field("creation_time", ByVersion(u32, u64), default=0),
        Field("modification_time", ByVersion(u32, u64), default=0),
        Field("track_id", u32, default=1),
        Field("reserved0", u32, default=0),
        Field("duration", ByVersion(u32, u64), default=0),
        Field("reserved1", Bytes(8), default=bytes(8)),
        Field("layer", i16, default=0),
        Field("alternate_group", i16, default=0),
        Field("volume", i16, default=0),
        Field("reserved2", u16, default=0),
        Field(
            "matrix",
            Bytes(36),
            default=bytes.fromhex(
                "000100000000000000000000000000000001000000000000000000000000000040000000"
            ),
        ),
        Field("width", u32, default=0),  # 16.16 fixed point
        Field("height", u32, default=0),
    )


@register
class Mdhd(Box):
    type, full = "mdhd", True
    fields = (
        Field("creation_time", ByVersion(u32, u64), default=0),
        Field("modification_time", ByVersion(u32, u64), default=0),
        Field("timescale", u32, default=90000),
        Field("duration", ByVersion(u32, u64), default=0),
        Field("language", u16, default=0x55C4),  # packed ISO 639-2, 0x55C4 = 'und'
        Field("pre_defined", u16, default=0),
    )


@register
class Hdlr(Box):
    type, full = "hdlr", True
    fields = (
        Field("pre_defined", u32, default=0),
        Field("handler_type", fourcc),
        Field("reserved", Bytes(12), default=bytes(12)),
        Field("name", Bytes(), default=b"\0"),
    )


@register
class Elst(Box):
    type, full = "elst", True
    fields = (
        Field("entry_count", u32, default=0),
        Field(
            "entries",
            Table(
                Record(
                    (
                        Field("segment_duration", ByVersion(u32, u64)),
                        Field("media_time", ByVersion(i32, i64)),
                        Field("media_rate", u32),
                    )
                ),
                count="entry_count",
            ),
        ),
    )


# --- sample description -----------------------------------------------------------------
@register
class Stsd(Box):
    type, full, has_children = "stsd", True, True
    child_count = "entry_count"
    fields = (Field("entry_count", u32, default=0),)


@register
class Dref(Box):
    type, full, has_children = "dref", True, True
    child_count = "entry_count"
    fields = (Field("entry_count", u32, default=0),)


@register
class VisualSampleEntry(Box):
    type = "avc1"
    types = ("avc1", "avc3", "hvc1", "hev1", "av01", "vp09", "encv")
    has_children = True
    fields = (
        Field("reserved", Bytes(6), default=bytes(6)),
        Field("data_reference_index", u16, default=1),
        Field("pre_defined", Bytes(16), default=bytes(16)),
        Field("width", u16),
        Field("height", u16),
        Field("horizresolution", u32, default=0x00480000),
        Field("vertresolution", u32, default=0x00480000),
        Field("reserved2", u32, default=0),
        Field("frame_count", u16, default=1),
        Field("compressorname", Bytes(32), default=bytes(32)),
        Field("depth", u16, default=0x18),
        Field("pre_defined2", i16, default=-1),
    )


@register
class AudioSampleEntry(Box):
    type = "mp4a"
    types = ("mp4a", "ac-3", "ec-3", "Opus", "fLaC", "enca")
    has_children = True
    fields = (
        Field("reserved", Bytes(6), default=bytes(6)),
        Field("data_reference_index", u16, default=1),
        Field("reserved2", Bytes(8), default=bytes(8)),
        Field("channel_count", u16, default=2),
        Field("sample_size", u16, default=16),
        Field("pre_defined", u16, default=0),
        Field("reserved3", u16, default=0),
        Field("sample_rate", u32, default=48000 << 16),  # 16.16 fixed point
    )


# Decoder configuration records are kept as bytes; `codecs.py` reads what it needs from them.
@register
class ConfigBox(Box):
    type = "avcC"
    types = ("avcC", "hvcC", "av1C", "vpcC", "dac3", "dec3", "dOps", "pasp", "btrt", "colr")
    fields = (Field("data", Bytes()),)


@register
class Esds(Box):
    type, full = "esds", True
    fields = (Field("descriptors", Bytes()),)


# --- fragmented movie -------------------------------------------------------------------
@register
class Mehd(Box):
    type, full = "mehd", True
    fields = (Field("fragment_duration", ByVersion(u32, u64)),)


@register
class Trex(Box):
    type, full = "trex", True
    fields = (
        Field("track_id", u32, default=1),
        Field("default_sample_description_index", u32, default=1),
        Field("default_sample_duration", u32, default=0),
        Field("default_sample_size", u32, default=0),
        Field("default_sample_flags", u32, default=0),
    )


@register
class Mfhd(Box):
    type, full = "mfhd", True
    fields = (Field("sequence_number", u32, default=1),)


TFHD_DEFAULT_BASE_IS_MOOF = 0x020000


@register
class Tfhd(Box):
    type, full = "tfhd", True
    fields = (
        Field("track_id", u32, default=1),
        Field("base_data_offset", u64, flag=0x01),
        Field("sample_description_index", u32, flag=0x02),
        Field("default_sample_duration", u32, flag=0x08),
        Field("default_sample_size", u32, flag=0x10),
        Field("default_sample_flags", u32, flag=0x20),
    )


@register
class Tfdt(Box):
    type, full = "tfdt", True
    fields = (Field("base_media_decode_time", ByVersion(u32, u64), default=0),)


@register
class Trun(Box):
    """Track run. Version 1 makes composition offsets signed (CMAF: first frame at tfdt)."""

    type, full = "trun", True
    fields = (
        Field("sample_count", u32, default=0),
        Field("data_offset", i32, flag=0x01),
        Field("first_sample_flags", u32, flag=0x04),
        Field(
            "samples",
            Table(
                Record(
                    (
                        Field("duration", u32, flag=0x100),
                        Field("size", u32, flag=0x200),
                        Field("flags", u32, flag=0x400),
                        Field("composition_offset", ByVersion(u32, i32), flag=0x800),
                    )
                ),
                count="sample_count",
            ),
        ),
    )


@register
class Sidx(Box):
    type, full = "sidx", True
    fields = (
        Field("reference_id", u32, default=1),
        Field("timescale", u32),
        Field("earliest_presentation_time", ByVersion(u32, u64)),
        Field("first_offset", ByVersion(u32, u64), default=0),
        Field("reserved", u16, default=0),
        Field("reference_count", u16, default=0),
        Field(
            "references",
            Table(
                Record(
                    (
                        Field("reference", u32),  # reference_type(1) | referenced_size(31)
                        Field("subsegment_duration", u32),
                        Field("sap", u32),  # starts_with_SAP(1) | SAP_type(3) | SAP_delta_time(28)
                    )
                ),
                count="reference_count",
            ),
        ),
    )


# --- empty sample tables in a fragmented init segment -----------------------------------
@register
class Stts(Box):
    type, full = "stts", True
    fields = (
        Field("entry_count", u32, default=0),
        Field(
            "entries",
            Table(Record((Field("count", u32), Field("delta", u32))), count="entry_count"),
        ),
    )


@register
class Stsc(Box):
    type, full = "stsc", True
    fields = (
        Field("entry_count", u32, default=0),
        Field(
            "entries",
            Table(
                Record(
                    (
                        Field("first_chunk", u32),
                        Field("samples_per_chunk", u32),
                        Field("sample_description_index", u32),
                    )
                ),
                count="entry_count",
            ),
        ),
    )


@register
class Stsz(Box):
    type, full = "stsz", True
    fields = (
        Field("sample_size", u32, default=0),
        Field("sample_count", u32, default=0),
        Field(
            "entries",
            Table(Record((Field("size", u32),)), count="sample_count"),
            when=lambda b: b.sample_size == 0,
        ),
    )


@register
class Stco(Box):
    type, full = "stco", True
    fields = (
        Field("entry_count", u32, default=0),
        Field("entries", Table(Record((Field("offset", u32),)), count="entry_count")),
    )


@register
class Vmhd(Box):
    type, full = "vmhd", True
    fields = (Field("graphics", Bytes(8), default=bytes(8)),)


@register
class Smhd(Box):
    type, full = "smhd", True
    fields = (Field("balance", i16, default=0), Field("reserved", u16, default=0))


@register
class Url(Box):
    type, full = "url ", True
    fields = (Field("location", Bytes(), default=b""),)


# --- common encryption (ISO/IEC 23001-7) ------------------------------------------------
@register
class Frma(Box):
    type = "frma"
    fields = (Field("data_format", fourcc),)


@register
class Schm(Box):
    type, full = "schm", True
    fields = (
        Field("scheme_type", fourcc),
        Field("scheme_version", u32, default=0x00010000),
        Field("scheme_uri", Bytes(), flag=0x01),
    )


@register
class Tenc(Box):
    type, full = "tenc", True
    fields = (
        Field("reserved", u8, default=0),
        Field("pattern", u8, default=0),  # crypt_byte_block << 4 | skip_byte_block (version 1)
        Field("default_is_protected", u8, default=1),
        Field("default_per_sample_iv_size", u8, default=8),
        Field("default_kid", Bytes(16)),
        Field(
            "default_constant_iv_size",
            u8,
            when=lambda b: b.default_is_protected == 1 and b.default_per_sample_iv_size == 0,
        ),
        Field(
            "default_constant_iv",
            Bytes(),
            when=lambda b: b.default_is_protected == 1 and b.default_per_sample_iv_size == 0,
        ),
    )


@register
class Pssh(Box):
    type, full = "pssh", True
    fields = (
        Field("system_id", Bytes(16)),
        Field("kid_count", u32, when=lambda b: b.version > 0),
        Field(
            "kids",
            Table(Record((Field("kid", Bytes(16)),)), count="kid_count"),
            when=lambda b: b.version > 0,
        ),
        Field("data_size", u32, size_of="data"),
        Field("data", Bytes()),
    )


@register
class Saiz(Box):
    type, full = "saiz", True
    fields = (
        Field("aux_info_type", u32, flag=0x01),
        Field("aux_info_type_parameter", u32, flag=0x01),
        Field("default_sample_info_size", u8, default=0),
        Field("sample_count", u32, default=0),
        Field("sample_info_sizes", Bytes(), when=lambda b: b.default_sample_info_size == 0),
    )


@register
class Saio(Box):
    type, full = "saio", True
    fields = (
        Field("aux_info_type", u32, flag=0x01),
        Field("aux_info_type_parameter", u32, flag=0x01),
        Field("entry_count", u32, default=1),
        Field(
            "offsets", Table(Record((Field("offset", ByVersion(u32, u64)),)), count="entry_count")
        ),
    )


@register
class Senc(Box):
    """Sample encryption box. Its entries depend on the IV size from `tenc`, so the payload is
    kept as bytes here and interpreted by the DRM layer, which knows the IV size."""

    type, full = "senc", True
    fields = (Field("sample_count", u32, default=0), Field("entries", Bytes(), default=b""))
