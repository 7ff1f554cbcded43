"""H.264/AVC parameter sets and slice headers (ITU-T H.264 7.3), parsed as far as CENC needs.

Only what decides the size of a slice header is kept from the SPS and PPS; the slice header
itself is walked to its last bit so that exactly the header stays clear.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.bitstream.bits import BitReader, BitstreamError, active_sets, ceil_log2, whole

SLICE, IDR, SPS, PPS = 1, 5, 7, 8
SLICES = (SLICE, IDR)
PARAMETER_SETS = (SPS, PPS)
# VCL NAL units we cannot measure: data partitions and MVC/3D extension slices. Leaving them
# clear would leak picture data, so they are refused.
UNSUPPORTED_VCL = frozenset({2, 3, 4, 20, 21})
HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def nal_type(first_byte: int) -> int:
    return first_byte & 0x1F


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


def _skip_scaling_list(r: BitReader, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + r.se() + 256) % 256
        last = nxt or last


def parse_avc_sps(rbsp: bytes) -> AvcSps:
    """SPS (7.3.2.1) up to what slice headers need. `rbsp` includes the 1-byte NAL header."""
    r = BitReader(rbsp, 8)
    with whole("AVC SPS"):
        profile_idc = r.u(8)
        r.skip(16)  # constraint flags, level_idc
        sps_id = r.ue()
        chroma_format_idc, separate = 1, False
        if profile_idc in HIGH_PROFILES:
            chroma_format_idc = r.ue()
            if chroma_format_idc == 3:
                separate = r.flag()
            r.ue(), r.ue()  # bit depths
            r.skip(1)  # qpprime_y_zero_transform_bypass_flag
            if r.flag():  # seq_scaling_matrix_present_flag
                for i in range(8 if chroma_format_idc != 3 else 12):
                    if r.flag():
                        _skip_scaling_list(r, 16 if i < 6 else 64)
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
    with whole("AVC PPS"):
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
                bits = ceil_log2(num_slice_groups)
                for _ in range(r.ue() + 1):
                    r.skip(bits)
        l0, l1 = r.ue() + 1, r.ue() + 1
        weighted_pred, bipred = r.flag(), r.u(2)
        r.se(), r.se(), r.se()  # pic_init_qp, pic_init_qs, chroma_qp_index_offset
        deblocking, _constrained, redundant = r.flag(), r.flag(), r.flag()
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


def _ref_pic_list_modification(r: BitReader) -> None:
    if r.flag():
        while (idc := r.ue()) != 3:
            if idc > 5:
                raise BitstreamError(f"bad modification_of_pic_nums_idc {idc}")
            r.ue()


def _pred_weight_table(r: BitReader, chroma: int, lists: Sequence[int]) -> None:
    r.ue()  # luma_log2_weight_denom
    if chroma:
        r.ue()
    for count in lists:
        for _ in range(count):
            if r.flag():
                r.se(), r.se()
            if chroma and r.flag():
                r.se(), r.se(), r.se(), r.se()


def _dec_ref_pic_marking(r: BitReader, idr: bool) -> None:
    if idr:
        r.skip(2)  # no_output_of_prior_pics_flag, long_term_reference_flag
        return
    if r.flag():  # adaptive_ref_pic_marking_mode_flag
        while (op := r.ue()) != 0:
            if op > 6:
                raise BitstreamError(f"bad memory_management_control_operation {op}")
            if op in (1, 3):
                r.ue()
            if op == 2:
                r.ue()
            if op in (3, 6):
                r.ue()
            if op == 4:
                r.ue()


def avc_slice_header_bits(
    rbsp: bytes, sps_by_id: Mapping[int, AvcSps], pps_by_id: Mapping[int, AvcPps]
) -> int:
    """Bits from the NAL header's first bit to the slice header's last (7.3.3), in RBSP.
    Raises `Truncated` when `rbsp` ends inside the header (the caller retries with more)."""
    nal_ref_idc = (rbsp[0] >> 5) & 3
    idr = nal_type(rbsp[0]) == IDR
    r = BitReader(rbsp, 8)
    r.ue()  # first_mb_in_slice
    slice_type = r.ue() % 5  # 0 P, 1 B, 2 I, 3 SP, 4 SI
    sps, pps = active_sets(r.ue(), sps_by_id, pps_by_id)
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
        _ref_pic_list_modification(r)
        if is_b:
            _ref_pic_list_modification(r)
    if (pps.weighted_pred and slice_type in (0, 3)) or (pps.weighted_bipred_idc == 1 and is_b):
        _pred_weight_table(r, sps.chroma_array_type, (l0, l1) if is_b else (l0,))
    if nal_ref_idc:
        _dec_ref_pic_marking(r, idr)
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
        raise BitstreamError("AVC slice header does not end at the CABAC alignment bits")
    return end
