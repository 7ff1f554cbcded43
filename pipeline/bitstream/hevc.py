"""H.265/HEVC parameter sets and slice segment headers (ITU-T H.265 7.3), parsed as far as
CENC needs.

Only what decides the size of a slice segment header is kept from the SPS and PPS. The header
ends with byte_alignment(), so its size is always whole bytes; the alignment bit doubles as a
check that the whole header parsed right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.bitstream.bits import BitReader, BitstreamError, active_sets, ceil_log2, whole

SPS, PPS = 33, 34
PARAMETER_SETS = (SPS, PPS)
IRAP = range(16, 24)
IDR = (19, 20)
SLICES = (*range(0, 10), *range(16, 22))  # VCL types the spec defines
# Reserved VCL types: we cannot measure them, and leaving them clear would leak picture data,
# so they are refused.
UNSUPPORTED_VCL = frozenset(range(22, 32))


def nal_type(first_byte: int) -> int:
    return (first_byte >> 1) & 0x3F


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


def _skip_scaling_list_data(r: BitReader) -> None:
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


def _st_ref_pic_set(
    r: BitReader, idx: int, count: int, delta_pocs: Sequence[int]
) -> tuple[int, int]:
    """st_ref_pic_set(idx) (7.3.7): returns (NumDeltaPocs, pictures used by the current one)."""
    if idx != 0 and r.flag():  # inter_ref_pic_set_prediction_flag
        delta_idx = r.ue() + 1 if idx == count else 1
        if delta_idx > idx:
            raise BitstreamError("short-term RPS predicts from a set that does not exist")
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
        raise BitstreamError("short-term RPS with more than 32 pictures")
    used_n = 0
    for _ in range(neg + pos):
        r.ue()
        used_n += r.u(1)
    return neg + pos, used_n


def parse_hevc_sps(rbsp: bytes) -> HevcSps:
    """SPS (7.3.2.2) up to what slice headers need. `rbsp` includes the 2-byte NAL header."""
    r = BitReader(rbsp, 16)
    with whole("HEVC SPS"):
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
            _skip_scaling_list_data(r)
        r.skip(1)  # amp_enabled_flag
        sao = r.flag()
        if r.flag():  # pcm_enabled_flag
            r.skip(8)
            r.ue(), r.ue()
            r.skip(1)
        num_rps = r.ue()
        if num_rps > 64:
            raise BitstreamError("more than 64 short-term RPS in SPS")
        delta_pocs: list[int] = []
        used: list[int] = []
        for i in range(num_rps):
            n, u = _st_ref_pic_set(r, i, num_rps, delta_pocs)
            delta_pocs.append(n)
            used.append(u)
        lt_present = r.flag()
        lt_used: list[bool] = []
        if lt_present:
            for _ in range(r.ue()):
                r.skip(log2_max_poc_lsb)
                lt_used.append(r.flag())
        temporal_mvp = r.flag()
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
    with whole("HEVC PPS"):
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
            _skip_scaling_list_data(r)
        lists_modification = r.flag()
        r.ue()  # log2_parallel_merge_level_minus2
        header_extension = r.flag()
        chroma_qp_offset_list = False
        if r.flag():  # pps_extension_present_flag
            range_ext = r.flag()
            if r.u(3):  # multilayer, 3D, screen content: slice headers we do not parse
                raise BitstreamError("HEVC multilayer/3D/SCC extensions are not supported")
            r.skip(4)
            if range_ext:
                if transform_skip:
                    r.ue()
                r.skip(1)  # cross_component_prediction_enabled_flag
                chroma_qp_offset_list = r.flag()
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


def _pred_weight_table(r: BitReader, chroma: int, lists: Sequence[int]) -> None:
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


def hevc_slice_header_bits(
    rbsp: bytes, sps_by_id: Mapping[int, HevcSps], pps_by_id: Mapping[int, HevcPps]
) -> int:
    """Bits from the NAL header to the end of slice_segment_header() including its
    byte_alignment() (7.3.6.1), in RBSP: always a whole number of bytes. Raises `Truncated`
    when `rbsp` ends inside the header (the caller retries with more)."""
    unit_type = nal_type(rbsp[0])
    r = BitReader(rbsp, 16)
    first_in_pic = r.flag()
    if unit_type in IRAP:
        r.skip(1)  # no_output_of_prior_pics_flag
    sps, pps = active_sets(r.ue(), sps_by_id, pps_by_id)
    dependent = False
    if not first_in_pic:
        if pps.dependent_slice_segments:
            dependent = r.flag()
        r.skip(ceil_log2(sps.pic_size_in_ctbs))  # slice_segment_address
    if not dependent:
        _independent_fields(r, unit_type, sps, pps)
    if pps.tiles_or_wpp:
        entry_points = r.ue()
        if entry_points:
            offset_len = r.ue() + 1
            if offset_len > 32:
                raise BitstreamError("entry point offsets longer than 32 bits")
            r.skip(entry_points * offset_len)
    if pps.slice_header_extension_present:
        r.skip(8 * r.ue())
    if r.u(1) != 1:  # alignment_bit_equal_to_one: a cheap self-check of the whole parse
        raise BitstreamError("HEVC slice header does not end with byte_alignment()")
    r.skip(-r.pos % 8)
    return r.pos


def _independent_fields(r: BitReader, unit_type: int, sps: HevcSps, pps: HevcPps) -> None:
    r.skip(pps.num_extra_slice_header_bits)
    slice_type = r.ue()  # 0 B, 1 P, 2 I
    if pps.output_flag_present:
        r.skip(1)
    if sps.separate_colour_plane:
        r.skip(2)
    temporal_mvp = False
    pic_total_curr = 0
    if unit_type not in IDR:
        r.skip(sps.log2_max_poc_lsb)
        if not r.flag():  # short_term_ref_pic_set_sps_flag
            count = sps.num_short_term_rps
            _, pic_total_curr = _st_ref_pic_set(r, count, count, sps.rps_delta_pocs)
        else:
            idx = r.u(ceil_log2(sps.num_short_term_rps)) if sps.num_short_term_rps > 1 else 0
            if idx >= sps.num_short_term_rps:
                raise BitstreamError("slice selects a short-term RPS the SPS does not have")
            pic_total_curr = sps.rps_used[idx]
        if sps.long_term_present:
            num_sps = r.ue() if sps.lt_used_sps else 0
            num_pics = r.ue()
            for i in range(num_sps + num_pics):
                if i < num_sps:
                    idx = r.u(ceil_log2(len(sps.lt_used_sps)))
                    if idx >= len(sps.lt_used_sps):
                        raise BitstreamError("slice selects a long-term picture not in the SPS")
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
        _inter_fields(r, slice_type == 0, sps, pps, temporal_mvp, pic_total_curr)
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


def _inter_fields(
    r: BitReader, is_b: bool, sps: HevcSps, pps: HevcPps, temporal_mvp: bool, total_curr: int
) -> None:
    l0, l1 = pps.num_ref_idx_l0_default, pps.num_ref_idx_l1_default
    if r.flag():  # num_ref_idx_active_override_flag
        l0 = r.ue() + 1
        if is_b:
            l1 = r.ue() + 1
    if pps.lists_modification_present and total_curr > 1:
        bits = ceil_log2(total_curr)
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
        _pred_weight_table(r, sps.chroma_array_type, (l0, l1) if is_b else (l0,))
    r.ue()  # five_minus_max_num_merge_cand
