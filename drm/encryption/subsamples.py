"""Subsample maps for CENC video: which bytes of an AVC/HEVC sample stay clear, which are protected.

Common encryption leaves NAL length prefixes, NAL headers and slice headers clear so that
players can parse and route the bitstream without the key (ISO/IEC 23001-7 10.2). Everything
here is pure over bytes: parameter sets from the decoder configuration record (avcC/hvcC) go in,
lists of (clear, protected) byte counts come out.

Slice headers are measured by parsing them in RBSP bits (emulation-prevention bytes removed),
then mapping the bit count back to bytes of the stored (escaped) NAL unit. The byte holding the
last header bit stays clear: for CABAC and HEVC that is exactly the header (it ends byte
aligned), for CAVLC it also holds the first bits of slice data, which must then stay clear too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

Subsample = tuple[int, int]  # (BytesOfClearData, BytesOfProtectedData)

MAX_CLEAR = 0xFFFF  # BytesOfClearData is a u16 in senc
HEADER_WINDOW = 512  # escaped bytes tried first; longer headers (big weight tables) retry whole
EPB = b"\x00\x00\x03"

AVC_SLICE, AVC_IDR, AVC_SPS, AVC_PPS = 1, 5, 7, 8
HEVC_SPS, HEVC_PPS = 33, 34
HEVC_IRAP = range(16, 24)
HEVC_IDR = (19, 20)
HEVC_SLICES = (*range(0, 10), *range(16, 22))  # VCL types the spec defines
# VCL NAL units we cannot measure: AVC data partitions and MVC/3D extension slices, HEVC
# reserved VCL types. Leaving them clear would leak picture data, so they are refused.
AVC_UNSUPPORTED_VCL = frozenset({2, 3, 4, 20, 21})
HEVC_UNSUPPORTED_VCL = frozenset(range(22, 32))
AVC_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


class SubsampleError(ValueError):
    """The sample cannot be mapped (truncated NAL, unknown parameter set, corrupt header)."""


# --- bits and escapes ---------------------------------------------------------------------
class BitReader:
    """Exp-Golomb reader over RBSP bytes. The bytes become one integer so each read is a shift."""

    __slots__ = ("_value", "_size", "pos")

    def __init__(self, rbsp: bytes, pos: int = 0):
        self._value = int.from_bytes(rbsp, "big")
        self._size = len(rbsp) * 8
        self.pos = pos

    def u(self, n: int) -> int:
        if n == 0:
            return 0
        end = self.pos + n
        if end > self._size:
            raise _Truncated
        self.pos = end
        return (self._value >> (self._size - end)) & ((1 << n) - 1)

    def flag(self) -> bool:
        return self.u(1) == 1

    def skip(self, n: int) -> None:
        if self.pos + n > self._size:
            raise _Truncated
        self.pos += n

    def ue(self) -> int:
        left = self._size - self.pos
        tail = self._value & ((1 << left) - 1)
        if tail == 0:
            raise _Truncated
        zeros = left - tail.bit_length()
        if zeros > 31:
            raise SubsampleError("Exp-Golomb code longer than 32 bits")
        self.pos += zeros
        return self.u(zeros + 1) - 1

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


class _Truncated(Exception):
    """The header runs past the bytes given to the reader (retry with more, or it is corrupt)."""


def unescape(ebsp: bytes) -> tuple[bytes, list[int]]:
    """RBSP of an escaped NAL unit, and the positions (in `ebsp`) of the removed 0x03 bytes."""
    i = ebsp.find(EPB)
    if i < 0:
        return bytes(ebsp), []
    parts: list[bytes] = []
    positions: list[int] = []
    start = 0
    while i >= 0:
        parts.append(ebsp[start : i + 2])
        positions.append(i + 2)
        start = i + 3
        i = ebsp.find(EPB, start)
    parts.append(ebsp[start:])
    return b"".join(parts), positions


def escaped_size(rbsp_size: int, epb_positions: Sequence[int]) -> int:
    """Escaped bytes that hold the first `rbsp_size` RBSP bytes (each earlier 0x03 adds one)."""
    size = rbsp_size
    for p in epb_positions:
        if p >= size:
            break
        size += 1
    return size


def _ceil_log2(n: int) -> int:
    return (n - 1).bit_length() if n > 1 else 0


# --- AVC parameter sets -------------------------------------------------------------------
@dataclass(frozen=True)
class AvcSps:
    sps_id: int
    separate_colour_plane: bool
    chroma_array_type: int
    log2_max_frame_num: int
    frame_mbs_only: bool
    poc_type: int
    log2_max_poc_lsb: int
    delta_pic_order_always_zero: bool
    pic_size_in_map_units: int


@dataclass(frozen=True)
class AvcPps:
    pps_id: int
    sps_id: int
    cabac: bool
    bottom_field_pic_order_in_frame_present: bool
    num_slice_groups: int
    slice_group_map_type: int
    slice_group_change_rate: int
    num_ref_idx_l0_default: int
    num_ref_idx_l1_default: int
    weighted_pred: bool
    weighted_bipred_idc: int
    deblocking_filter_control_present: bool
    redundant_pic_cnt_present: bool


def _skip_avc_scaling_list(r: BitReader, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + r.se() + 256) % 256
        last = nxt or last


def parse_avc_sps(rbsp: bytes) -> AvcSps:
    """SPS (7.3.2.1) up to what slice headers need. `rbsp` includes the 1-byte NAL header."""
    r = BitReader(rbsp, 8)
    try:
        profile_idc = r.u(8)
        r.skip(16)  # constraint flags, level_idc
        sps_id = r.ue()
        chroma_format_idc, separate = 1, False
        if profile_idc in AVC_HIGH_PROFILES:
            chroma_format_idc = r.ue()
            if chroma_format_idc == 3:
                separate = r.flag()
            r.ue(), r.ue()  # bit depths
            r.skip(1)  # qpprime_y_zero_transform_bypass_flag
            if r.flag():  # seq_scaling_matrix_present_flag
                for i in range(8 if chroma_format_idc != 3 else 12):
                    if r.flag():
                        _skip_avc_scaling_list(r, 16 if i < 6 else 64)
        log2_max_frame_num = r.ue() + 4
        poc_type = r.ue()
        log2_max_poc_lsb, always_zero = 0, False
        if poc_type == 0:
            log2_max_poc_lsb = r.ue() + 4
        elif poc_type == 1:
            always_zero = r.flag()
            r.se(), r.se()
            for _ in range(r.ue()):
                r.se()
        r.ue()  # max_num_ref_frames
        r.skip(1)  # gaps_in_frame_num_value_allowed_flag
        width_mbs = r.ue() + 1
        height_map_units = r.ue() + 1
        frame_mbs_only = r.flag()
    except _Truncated:
        raise SubsampleError("truncated AVC SPS") from None
    return AvcSps(
        sps_id=sps_id,
        separate_colour_plane=separate,
        chroma_array_type=0 if separate else chroma_format_idc,
        log2_max_frame_num=log2_max_frame_num,
        frame_mbs_only=frame_mbs_only,
        poc_type=poc_type,
        log2_max_poc_lsb=log2_max_poc_lsb,
        delta_pic_order_always_zero=always_zero,
        pic_size_in_map_units=width_mbs * height_map_units,
    )


def parse_avc_pps(rbsp: bytes) -> AvcPps:
    """PPS (7.3.2.2) up to what slice headers need. `rbsp` includes the 1-byte NAL header."""
    r = BitReader(rbsp, 8)
    try:
        pps_id, sps_id = r.ue(), r.ue()
        cabac, bottom_present = r.flag(), r.flag()
        num_slice_groups = r.ue() + 1
        map_type, change_rate = 0, 1
        if num_slice_groups > 1:
            map_type = r.ue()
            if map_type == 0:
                for _ in range(num_slice_groups):
                    r.ue()
            elif map_type == 2:
                for _ in range(num_slice_groups - 1):
                    r.ue(), r.ue()
            elif map_type in (3, 4, 5):
                r.skip(1)
                change_rate = r.ue() + 1
            elif map_type == 6:
                bits = _ceil_log2(num_slice_groups)
                for _ in range(r.ue() + 1):
                    r.skip(bits)
        l0, l1 = r.ue() + 1, r.ue() + 1
        weighted_pred, bipred = r.flag(), r.u(2)
        r.se(), r.se(), r.se()  # pic_init_qp, pic_init_qs, chroma_qp_index_offset
        deblocking, _constrained, redundant = r.flag(), r.flag(), r.flag()
    except _Truncated:
        raise SubsampleError("truncated AVC PPS") from None
    return AvcPps(
        pps_id=pps_id,
        sps_id=sps_id,
        cabac=cabac,
        bottom_field_pic_order_in_frame_present=bottom_present,
        num_slice_groups=num_slice_groups,
        slice_group_map_type=map_type,
        slice_group_change_rate=change_rate,
        num_ref_idx_l0_default=l0,
        num_ref_idx_l1_default=l1,
        weighted_pred=weighted_pred,
        weighted_bipred_idc=bipred,
        deblocking_filter_control_present=deblocking,
        redundant_pic_cnt_present=redundant,
    )


def _avc_ref_pic_list_modification(r: BitReader) -> None:
    if r.flag():
        while (idc := r.ue()) != 3:
            if idc > 5:
                raise SubsampleError(f"bad modification_of_pic_nums_idc {idc}")
            r.ue()


def _avc_pred_weight_table(r: BitReader, chroma: int, lists: Sequence[int]) -> None:
    r.ue()  # luma_log2_weight_denom
    if chroma:
        r.ue()
    for count in lists:
        for _ in range(count):
            if r.flag():
                r.se(), r.se()
            if chroma and r.flag():
                r.se(), r.se(), r.se(), r.se()


def _avc_dec_ref_pic_marking(r: BitReader, idr: bool) -> None:
    if idr:
        r.skip(2)  # no_output_of_prior_pics_flag, long_term_reference_flag
        return
    if r.flag():  # adaptive_ref_pic_marking_mode_flag
        while (op := r.ue()) != 0:
            if op > 6:
                raise SubsampleError(f"bad memory_management_control_operation {op}")
            if op in (1, 3):
                r.ue()
            if op == 2:
                r.ue()
            if op in (3, 6):
                r.ue()
            if op == 4:
                r.ue()


def avc_slice_header_bits(rbsp: bytes, ctx: NalContext) -> int:
    """Bits from the NAL header's first bit to the slice header's last (7.3.3), in RBSP."""
    nal_ref_idc, nal_type = (rbsp[0] >> 5) & 3, rbsp[0] & 0x1F
    idr = nal_type == AVC_IDR
    r = BitReader(rbsp, 8)
    r.ue()  # first_mb_in_slice
    slice_type = r.ue() % 5  # 0 P, 1 B, 2 I, 3 SP, 4 SI
    pps = ctx.pps.get(r.ue())
    if pps is None:
        raise SubsampleError("slice refers to an unknown PPS")
    sps = ctx.sps.get(pps.sps_id)
    if sps is None:
        raise SubsampleError("PPS refers to an unknown SPS")
    if sps.separate_colour_plane:
        r.skip(2)
    r.skip(sps.log2_max_frame_num)
    field_pic = False
    if not sps.frame_mbs_only:
        field_pic = r.flag()
        if field_pic:
            r.skip(1)  # bottom_field_flag
    if idr:
        r.ue()  # idr_pic_id
    if sps.poc_type == 0:
        r.skip(sps.log2_max_poc_lsb)
        if pps.bottom_field_pic_order_in_frame_present and not field_pic:
            r.se()
    elif sps.poc_type == 1 and not sps.delta_pic_order_always_zero:
        r.se()
        if pps.bottom_field_pic_order_in_frame_present and not field_pic:
            r.se()
    if pps.redundant_pic_cnt_present:
        r.ue()
    is_b = slice_type == 1
    inter = slice_type in (0, 1, 3)
    if is_b:
        r.skip(1)  # direct_spatial_mv_pred_flag
    l0, l1 = pps.num_ref_idx_l0_default, pps.num_ref_idx_l1_default
    if inter and r.flag():  # num_ref_idx_active_override_flag
        l0 = r.ue() + 1
        if is_b:
            l1 = r.ue() + 1
    if slice_type not in (2, 4):
        _avc_ref_pic_list_modification(r)
        if is_b:
            _avc_ref_pic_list_modification(r)
    if (pps.weighted_pred and slice_type in (0, 3)) or (pps.weighted_bipred_idc == 1 and is_b):
        _avc_pred_weight_table(r, sps.chroma_array_type, (l0, l1) if is_b else (l0,))
    if nal_ref_idc:
        _avc_dec_ref_pic_marking(r, idr)
    if pps.cabac and slice_type not in (2, 4):
        r.ue()  # cabac_init_idc
    r.se()  # slice_qp_delta
    if slice_type in (3, 4):
        if slice_type == 3:
            r.skip(1)  # sp_for_switch_flag
        r.se()  # slice_qs_delta
    if pps.deblocking_filter_control_present and r.ue() != 1:
        r.se(), r.se()
    if pps.num_slice_groups > 1 and pps.slice_group_map_type in (3, 4, 5):
        units, rate = sps.pic_size_in_map_units, pps.slice_group_change_rate
        bits = 0
        while rate << bits < units + rate:  # Ceil(Log2(units / rate + 1))
            bits += 1
        r.skip(bits)
    end = r.pos
    if pps.cabac and end % 8 and r.u(-end % 8) != (1 << (-end % 8)) - 1:
        # cabac_alignment_one_bit: a cheap self-check that the whole header parsed right
        raise SubsampleError("AVC slice header does not end at the CABAC alignment bits")
    return end


# --- HEVC parameter sets ------------------------------------------------------------------
@dataclass(frozen=True)
class HevcSps:
    sps_id: int
    separate_colour_plane: bool
    chroma_array_type: int
    pic_size_in_ctbs: int
    log2_max_poc_lsb: int
    num_short_term_rps: int
    rps_delta_pocs: tuple[int, ...]  # NumDeltaPocs of each SPS short-term RPS
    rps_used: tuple[int, ...]  # how many of its pictures each RPS marks used by the current
    long_term_present: bool
    lt_used_sps: tuple[bool, ...]
    temporal_mvp: bool
    sao: bool


@dataclass(frozen=True)
class HevcPps:
    pps_id: int
    sps_id: int
    dependent_slice_segments: bool
    output_flag_present: bool
    num_extra_slice_header_bits: int
    cabac_init_present: bool
    num_ref_idx_l0_default: int
    num_ref_idx_l1_default: int
    slice_chroma_qp_offsets_present: bool
    weighted_pred: bool
    weighted_bipred: bool
    tiles_or_wpp: bool
    loop_filter_across_slices: bool
    deblocking_override_enabled: bool
    deblocking_disabled: bool
    lists_modification_present: bool
    slice_header_extension_present: bool
    chroma_qp_offset_list_enabled: bool


def _skip_profile_tier_level(r: BitReader, max_sub_layers_minus1: int) -> None:
    r.skip(96)  # general profile space..level_idc
    present = [(r.flag(), r.flag()) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        r.skip(2 * (8 - max_sub_layers_minus1))
    for profile, level in present:
        r.skip((88 if profile else 0) + (8 if level else 0))


def _skip_hevc_scaling_list_data(r: BitReader) -> None:
    for size_id in range(4):
        for _ in range(0, 6, 3 if size_id == 3 else 1):
            if not r.flag():  # scaling_list_pred_mode_flag
                r.ue()
                continue
            coefs = min(64, 1 << (4 + (size_id << 1)))
            if size_id > 1:
                r.se()
            for _ in range(coefs):
                r.se()


def _hevc_st_rps(r: BitReader, idx: int, count: int, delta_pocs: Sequence[int]) -> tuple[int, int]:
    """st_ref_pic_set(idx) (7.3.7): returns (NumDeltaPocs, pictures used by the current one)."""
    if idx != 0 and r.flag():  # inter_ref_pic_set_prediction_flag
        delta_idx = r.ue() + 1 if idx == count else 1
        if delta_idx > idx:
            raise SubsampleError("short-term RPS predicts from a set that does not exist")
        r.skip(1)  # delta_rps_sign
        r.ue()  # abs_delta_rps_minus1
        n = used_n = 0
        for _ in range(delta_pocs[idx - delta_idx] + 1):
            if r.flag():  # used_by_curr_pic_flag (use_delta_flag inferred 1)
                n += 1
                used_n += 1
            elif r.flag():  # use_delta_flag
                n += 1
        return n, used_n
    neg, pos = r.ue(), r.ue()
    if neg + pos > 32:
        raise SubsampleError("short-term RPS with more than 32 pictures")
    used_n = 0
    for _ in range(neg + pos):
        r.ue()
        used_n += r.u(1)
    return neg + pos, used_n


def parse_hevc_sps(rbsp: bytes) -> HevcSps:
    """SPS (7.3.2.2) up to what slice headers need. `rbsp` includes the 2-byte NAL header."""
    r = BitReader(rbsp, 16)
    try:
        r.skip(4)  # sps_video_parameter_set_id
        max_sub_layers_minus1 = r.u(3)
        r.skip(1)
        _skip_profile_tier_level(r, max_sub_layers_minus1)
        sps_id = r.ue()
        chroma_format_idc = r.ue()
        separate = chroma_format_idc == 3 and r.flag()
        width, height = r.ue(), r.ue()
        if r.flag():  # conformance_window_flag
            r.ue(), r.ue(), r.ue(), r.ue()
        r.ue(), r.ue()  # bit depths
        log2_max_poc_lsb = r.ue() + 4
        ordering_all = r.flag()
        for _ in range(0 if ordering_all else max_sub_layers_minus1, max_sub_layers_minus1 + 1):
            r.ue(), r.ue(), r.ue()
        log2_min_cb = r.ue() + 3
        log2_ctb = log2_min_cb + r.ue()
        r.ue(), r.ue(), r.ue(), r.ue()  # transform block sizes, hierarchy depths
        if r.flag() and r.flag():  # scaling_list_enabled, sps_scaling_list_data_present
            _skip_hevc_scaling_list_data(r)
        r.skip(1)  # amp_enabled_flag
        sao = r.flag()
        if r.flag():  # pcm_enabled_flag
            r.skip(8)
            r.ue(), r.ue()
            r.skip(1)
        num_rps = r.ue()
        if num_rps > 64:
            raise SubsampleError("more than 64 short-term RPS in SPS")
        delta_pocs: list[int] = []
        used: list[int] = []
        for i in range(num_rps):
            n, u = _hevc_st_rps(r, i, num_rps, delta_pocs)
            delta_pocs.append(n)
            used.append(u)
        lt_present = r.flag()
        lt_used: list[bool] = []
        if lt_present:
            for _ in range(r.ue()):
                r.skip(log2_max_poc_lsb)
                lt_used.append(r.flag())
        temporal_mvp = r.flag()
    except _Truncated:
        raise SubsampleError("truncated HEVC SPS") from None
    ctb = 1 << log2_ctb
    return HevcSps(
        sps_id=sps_id,
        separate_colour_plane=separate,
        chroma_array_type=0 if separate else chroma_format_idc,
        pic_size_in_ctbs=-(-width // ctb) * -(-height // ctb),
        log2_max_poc_lsb=log2_max_poc_lsb,
        num_short_term_rps=num_rps,
        rps_delta_pocs=tuple(delta_pocs),
        rps_used=tuple(used),
        long_term_present=lt_present,
        lt_used_sps=tuple(lt_used),
        temporal_mvp=temporal_mvp,
        sao=sao,
    )


def parse_hevc_pps(rbsp: bytes) -> HevcPps:
    """PPS (7.3.2.3) up to what slice headers need. `rbsp` includes the 2-byte NAL header."""
    r = BitReader(rbsp, 16)
    try:
        pps_id, sps_id = r.ue(), r.ue()
        dependent, output_flag = r.flag(), r.flag()
        extra_bits = r.u(3)
        r.skip(1)  # sign_data_hiding_enabled_flag
        cabac_init_present = r.flag()
        l0, l1 = r.ue() + 1, r.ue() + 1
        r.se()  # init_qp_minus26
        r.skip(1)  # constrained_intra_pred_flag
        transform_skip = r.flag()
        if r.flag():  # cu_qp_delta_enabled_flag
            r.ue()
        r.se(), r.se()
        chroma_offsets = r.flag()
        weighted_pred, weighted_bipred = r.flag(), r.flag()
        r.skip(1)  # transquant_bypass_enabled_flag
        tiles, wpp = r.flag(), r.flag()
        if tiles:
            cols, rows = r.ue(), r.ue()
            if not r.flag():  # uniform_spacing_flag
                for _ in range(cols + rows):
                    r.ue()
            r.skip(1)
        loop_filter_across_slices = r.flag()
        override_enabled = deblocking_disabled = False
        if r.flag():  # deblocking_filter_control_present_flag
            override_enabled, deblocking_disabled = r.flag(), r.flag()
            if not deblocking_disabled:
                r.se(), r.se()
        if r.flag():
            _skip_hevc_scaling_list_data(r)
        lists_modification = r.flag()
        r.ue()  # log2_parallel_merge_level_minus2
        header_extension = r.flag()
        chroma_qp_offset_list = False
        if r.flag():  # pps_extension_present_flag
            range_ext = r.flag()
            if r.u(3):  # multilayer, 3D, screen content: slice headers we do not parse
                raise SubsampleError("HEVC multilayer/3D/SCC extensions are not supported")
            r.skip(4)
            if range_ext:
                if transform_skip:
                    r.ue()
                r.skip(1)  # cross_component_prediction_enabled_flag
                chroma_qp_offset_list = r.flag()
    except _Truncated:
        raise SubsampleError("truncated HEVC PPS") from None
    return HevcPps(
        pps_id=pps_id,
        sps_id=sps_id,
        dependent_slice_segments=dependent,
        output_flag_present=output_flag,
        num_extra_slice_header_bits=extra_bits,
        cabac_init_present=cabac_init_present,
        num_ref_idx_l0_default=l0,
        num_ref_idx_l1_default=l1,
        slice_chroma_qp_offsets_present=chroma_offsets,
        weighted_pred=weighted_pred,
        weighted_bipred=weighted_bipred,
        tiles_or_wpp=tiles or wpp,
        loop_filter_across_slices=loop_filter_across_slices,
        deblocking_override_enabled=override_enabled,
        deblocking_disabled=deblocking_disabled,
        lists_modification_present=lists_modification,
        slice_header_extension_present=header_extension,
        chroma_qp_offset_list_enabled=chroma_qp_offset_list,
    )


def _hevc_pred_weight_table(r: BitReader, chroma: int, lists: Sequence[int]) -> None:
    r.ue()  # luma_log2_weight_denom
    if chroma:
        r.se()
    for count in lists:
        luma = [r.flag() for _ in range(count)]
        chroma_flags = [r.flag() for _ in range(count)] if chroma else [False] * count
        for has_luma, has_chroma in zip(luma, chroma_flags, strict=True):
            if has_luma:
                r.se(), r.se()
            if has_chroma:
                r.se(), r.se(), r.se(), r.se()


def hevc_slice_header_bits(rbsp: bytes, ctx: NalContext) -> int:
    """Bits from the NAL header to the end of slice_segment_header() including its
    byte_alignment() (7.3.6.1), in RBSP: always a whole number of bytes."""
    nal_type = (rbsp[0] >> 1) & 0x3F
    r = BitReader(rbsp, 16)
    first_in_pic = r.flag()
    if nal_type in HEVC_IRAP:
        r.skip(1)  # no_output_of_prior_pics_flag
    pps = ctx.pps.get(r.ue())
    if pps is None:
        raise SubsampleError("slice refers to an unknown PPS")
    sps = ctx.sps.get(pps.sps_id)
    if sps is None:
        raise SubsampleError("PPS refers to an unknown SPS")
    dependent = False
    if not first_in_pic:
        if pps.dependent_slice_segments:
            dependent = r.flag()
        r.skip(_ceil_log2(sps.pic_size_in_ctbs))  # slice_segment_address
    if not dependent:
        _hevc_independent_fields(r, nal_type, sps, pps)
    if pps.tiles_or_wpp:
        entry_points = r.ue()
        if entry_points:
            offset_len = r.ue() + 1
            if offset_len > 32:
                raise SubsampleError("entry point offsets longer than 32 bits")
            r.skip(entry_points * offset_len)
    if pps.slice_header_extension_present:
        r.skip(8 * r.ue())
    if r.u(1) != 1:  # alignment_bit_equal_to_one: a cheap self-check of the whole parse
        raise SubsampleError("HEVC slice header does not end with byte_alignment()")
    r.skip(-r.pos % 8)
    return r.pos


def _hevc_independent_fields(r: BitReader, nal_type: int, sps: HevcSps, pps: HevcPps) -> None:
    r.skip(pps.num_extra_slice_header_bits)
    slice_type = r.ue()  # 0 B, 1 P, 2 I
    if pps.output_flag_present:
        r.skip(1)
    if sps.separate_colour_plane:
        r.skip(2)
    temporal_mvp = False
    pic_total_curr = 0
    if nal_type not in HEVC_IDR:
        r.skip(sps.log2_max_poc_lsb)
        if not r.flag():  # short_term_ref_pic_set_sps_flag
            count = sps.num_short_term_rps
            _, pic_total_curr = _hevc_st_rps(r, count, count, sps.rps_delta_pocs)
        else:
            idx = r.u(_ceil_log2(sps.num_short_term_rps)) if sps.num_short_term_rps > 1 else 0
            if idx >= sps.num_short_term_rps:
                raise SubsampleError("slice selects a short-term RPS the SPS does not have")
            pic_total_curr = sps.rps_used[idx]
        if sps.long_term_present:
            num_sps = r.ue() if sps.lt_used_sps else 0
            num_pics = r.ue()
            for i in range(num_sps + num_pics):
                if i < num_sps:
                    idx = r.u(_ceil_log2(len(sps.lt_used_sps)))
                    if idx >= len(sps.lt_used_sps):
                        raise SubsampleError("slice selects a long-term picture not in the SPS")
                    pic_total_curr += sps.lt_used_sps[idx]
                else:
                    r.skip(sps.log2_max_poc_lsb)
                    pic_total_curr += r.u(1)
                if r.flag():  # delta_poc_msb_present_flag
                    r.ue()
        if sps.temporal_mvp:
            temporal_mvp = r.flag()
    sao_luma = sao_chroma = False
    if sps.sao:
        sao_luma = r.flag()
        if sps.chroma_array_type:
            sao_chroma = r.flag()
    if slice_type in (0, 1):
        _hevc_inter_fields(r, slice_type == 0, sps, pps, temporal_mvp, pic_total_curr)
    r.se()  # slice_qp_delta
    if pps.slice_chroma_qp_offsets_present:
        r.se(), r.se()
    if pps.chroma_qp_offset_list_enabled:
        r.skip(1)
    override = pps.deblocking_override_enabled and r.flag()
    deblocking_disabled = pps.deblocking_disabled
    if override:
        deblocking_disabled = r.flag()
        if not deblocking_disabled:
            r.se(), r.se()
    if pps.loop_filter_across_slices and (sao_luma or sao_chroma or not deblocking_disabled):
        r.skip(1)


def _hevc_inter_fields(
    r: BitReader, is_b: bool, sps: HevcSps, pps: HevcPps, temporal_mvp: bool, total_curr: int
) -> None:
    l0, l1 = pps.num_ref_idx_l0_default, pps.num_ref_idx_l1_default
    if r.flag():  # num_ref_idx_active_override_flag
        l0 = r.ue() + 1
        if is_b:
            l1 = r.ue() + 1
    if pps.lists_modification_present and total_curr > 1:
        bits = _ceil_log2(total_curr)
        if r.flag():
            r.skip(l0 * bits)
        if is_b and r.flag():
            r.skip(l1 * bits)
    if is_b:
        r.skip(1)  # mvd_l1_zero_flag
    if pps.cabac_init_present:
        r.skip(1)
    if temporal_mvp:
        from_l0 = r.flag() if is_b else True
        if (from_l0 and l0 > 1) or (not from_l0 and l1 > 1):
            r.ue()  # collocated_ref_idx
    if (pps.weighted_pred and not is_b) or (pps.weighted_bipred and is_b):
        _hevc_pred_weight_table(r, sps.chroma_array_type, (l0, l1) if is_b else (l0,))
    r.ue()  # five_minus_max_num_merge_cand


# --- context from the decoder configuration -----------------------------------------------
@dataclass(frozen=True)
class NalContext:
    """What mapping a sample needs: codec, NAL length size and the parameter sets by id."""

    codec: str  # "avc" | "hevc"
    length_size: int
    sps: dict[int, AvcSps | HevcSps] = field(default_factory=dict)
    pps: dict[int, AvcPps | HevcPps] = field(default_factory=dict)

    @property
    def nal_header_size(self) -> int:
        return 1 if self.codec == "avc" else 2

    def nal_type(self, first_byte: int) -> int:
        return first_byte & 0x1F if self.codec == "avc" else (first_byte >> 1) & 0x3F

    def is_unsupported_vcl(self, nal_type: int) -> bool:
        return nal_type in (AVC_UNSUPPORTED_VCL if self.codec == "avc" else HEVC_UNSUPPORTED_VCL)

    def is_slice(self, nal_type: int) -> bool:
        if self.codec == "avc":
            return nal_type in (AVC_SLICE, AVC_IDR)
        return nal_type in HEVC_SLICES

    def is_parameter_set(self, nal_type: int) -> bool:
        if self.codec == "avc":
            return nal_type in (AVC_SPS, AVC_PPS)
        return nal_type in (HEVC_SPS, HEVC_PPS)

    def learn(self, nal: bytes) -> NalContext:
        """A context that also knows this SPS/PPS NAL unit (other NAL units change nothing)."""
        t = self.nal_type(nal[0])
        if not self.is_parameter_set(t):
            return self
        rbsp, _ = unescape(nal)
        if t in (AVC_SPS, HEVC_SPS):
            sps = parse_avc_sps(rbsp) if self.codec == "avc" else parse_hevc_sps(rbsp)
            return replace(self, sps={**self.sps, sps.sps_id: sps})
        pps = parse_avc_pps(rbsp) if self.codec == "avc" else parse_hevc_pps(rbsp)
        return replace(self, pps={**self.pps, pps.pps_id: pps})


def avc_context(avcc: bytes) -> NalContext:
    """Context from an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)."""
    if len(avcc) < 7:
        raise SubsampleError("avcC too short")
    ctx = NalContext("avc", (avcc[4] & 3) + 1)
    pos = 5
    for count_mask in (0x1F, 0xFF):  # SPS count is 5 bits, PPS count 8
        if pos >= len(avcc):
            raise SubsampleError("avcC truncated")
        count = avcc[pos] & count_mask
        pos += 1
        for _ in range(count):
            size = int.from_bytes(avcc[pos : pos + 2], "big")
            nal = avcc[pos + 2 : pos + 2 + size]
            if len(nal) != size or not size:
                raise SubsampleError("avcC parameter set truncated")
            ctx = ctx.learn(nal)
            pos += 2 + size
    return ctx


def hevc_context(hvcc: bytes) -> NalContext:
    """Context from an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1)."""
    if len(hvcc) < 23:
        raise SubsampleError("hvcC too short")
    ctx = NalContext("hevc", (hvcc[21] & 3) + 1)
    pos = 23
    for _ in range(hvcc[22]):
        count = int.from_bytes(hvcc[pos + 1 : pos + 3], "big")
        pos += 3
        for _ in range(count):
            size = int.from_bytes(hvcc[pos : pos + 2], "big")
            nal = hvcc[pos + 2 : pos + 2 + size]
            if len(nal) != size or len(nal) < 2:
                raise SubsampleError("hvcC parameter set truncated")
            ctx = ctx.learn(nal)
            pos += 2 + size
    return ctx


# --- sample maps --------------------------------------------------------------------------
def iter_nals(sample: bytes, length_size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each NAL unit's bytes (after its length prefix) in a sample."""
    pos, end = 0, len(sample)
    while pos < end:
        if pos + length_size > end:
            raise SubsampleError("truncated NAL length prefix")
        size = int.from_bytes(sample[pos : pos + length_size], "big")
        start = pos + length_size
        if start + size > end:
            raise SubsampleError(f"NAL unit of {size} bytes runs past the sample end")
        yield start, start + size
        pos = start + size


def _measure(sample: bytes, start: int, end: int, ctx: NalContext) -> tuple[int, list[int]]:
    """(slice header bits in RBSP, EPB positions) of the NAL unit at sample[start:end].
    A window of the NAL unit is unescaped first; a header longer than that retries whole."""
    parse = avc_slice_header_bits if ctx.codec == "avc" else hevc_slice_header_bits
    stop = min(end, start + HEADER_WINDOW)
    while True:
        rbsp, epbs = unescape(sample[start:stop])
        try:
            return parse(rbsp, ctx), epbs
        except _Truncated:
            if stop >= end:
                raise SubsampleError("slice header runs past the end of its NAL unit") from None
            stop = end


def _header_size(sample: bytes, start: int, end: int, ctx: NalContext) -> int:
    bits, epbs = _measure(sample, start, end, ctx)
    return min(escaped_size((bits + 7) // 8, epbs), end - start)


def slice_header_bits(nal: bytes, ctx: NalContext) -> int:
    """Slice header length in RBSP bits, counted from the NAL header's first bit."""
    return _measure(nal, 0, len(nal), ctx)[0]


def slice_header_size(nal: bytes, ctx: NalContext) -> int:
    """Bytes of the stored NAL unit (header included) up to the one holding the last header
    bit: the bytes that must stay clear."""
    return _header_size(nal, 0, len(nal), ctx)


def subsample_map(sample: bytes, ctx: NalContext, *, align16: bool) -> list[Subsample]:
    """(clear, protected) pairs covering the sample: slice data protected, the rest clear.

    `align16` (cenc): each protected range is cut to a multiple of 16 bytes and the remainder
    joins the leading clear range. Parameter sets carried in the sample apply from there on.
    """
    out: list[Subsample] = []
    clear = 0
    n = ctx.length_size
    for start, end in iter_nals(sample, n):
        nal_type = ctx.nal_type(sample[start]) if end > start else -1
        if not ctx.is_slice(nal_type):
            if ctx.is_unsupported_vcl(nal_type):
                raise SubsampleError(f"cannot encrypt {ctx.codec} NAL unit type {nal_type}")
            if ctx.is_parameter_set(nal_type):
                ctx = ctx.learn(sample[start:end])
            clear += n + end - start
            continue
        protected = end - start - _header_size(sample, start, end, ctx)
        if align16:
            protected -= protected % 16
        clear += n + end - start - protected
        if protected:
            out.extend(_split_clear(clear, protected))
            clear = 0
    if clear or not out:
        out.extend(_split_clear(clear, 0))
    return out


def _split_clear(clear: int, protected: int) -> list[Subsample]:
    """BytesOfClearData is 16-bit: longer clear runs become extra clear-only subsamples."""
    out: list[Subsample] = []
    while clear > MAX_CLEAR:
        out.append((MAX_CLEAR, 0))
        clear -= MAX_CLEAR
    out.append((clear, protected))
    return out


def learn_parameter_sets(sample: bytes, ctx: NalContext) -> NalContext:
    """The context after this sample's in-band SPS/PPS (avc3/hev1), for the samples after it."""
    for start, end in iter_nals(sample, ctx.length_size):
        if end > start and ctx.is_parameter_set(ctx.nal_type(sample[start])):
            ctx = ctx.learn(sample[start:end])
    return ctx
