"""The QP each H.265 picture starts at, read from its first slice segment header.

What hub.streams.slices does for H.264, for H.265: the slice segment header up to
`slice_qp_delta` (ITU-T H.265 7.3.6.1) and the parameter sets it refers to. An H.265 header
holds more before its QP than an H.264 one: the picture's reference picture set (7.3.7), which
x265 and many cameras send in every slice header rather than in the SPS, long-term pictures,
reference list changes and the weight table. None of it is decoded, only stepped over.
The screen content coding extension, which changes the header, is refused (no camera sends
it); range and multilayer extensions do not change the base layer's header before its QP.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hub.streams.h264 import (
    H265_PPS,
    H265_SPS,
    MAX_SLICE_HEADER_BYTES,
    BitReader,
    H265SliceSyntax,
    NalError,
    keep_parameter_set,
    parse_h265_sps_and_syntax,
    read_h265_reference_set,
    read_slice_header,
    remove_emulation_prevention,
    skip_h265_scaling_list_data,
    split_annexb,
)

log = logging.getLogger(__name__)

_MAX_SETS = 16
"""Parameter sets kept per stream (H.265 allows 16 SPS ids and 64 PPS ids; cameras use one)."""
_B, _P, _I = 0, 1, 2
_IDR_W_RADL, _IDR_N_LP = 19, 20
_IRAP_FIRST = 16


@dataclass(frozen=True, slots=True)
class _PictureSyntax:
    """What an H.265 PPS says about the slice segment headers that use it (7.3.2.3.1)."""

    sps_id: int
    output_flag_present: bool
    extra_slice_header_bits: int
    cabac_init_present: bool
    num_ref_idx_l0_default: int
    num_ref_idx_l1_default: int
    init_qp: int
    weighted_pred: bool
    weighted_bipred: bool
    lists_modification_present: bool


class H265SliceQp:
    """One H.265 stream's picture QPs; it learns the parameter sets as they come, in band or not.

    Same contract as SliceQp, which hands H.265 streams to it: `qp` never raises, and a unit it
    cannot read gives None and counts in `unreadable`. A PPS is read without its SPS, which the
    slice header looks up: so a PPS may come before its SPS, and an SPS may be replaced.
    """

    __slots__ = ("_pps", "_sps", "unreadable")

    def __init__(self, parameter_sets: bytes = b"") -> None:
        self._sps: dict[int, H265SliceSyntax] = {}
        self._pps: dict[int, _PictureSyntax] = {}
        self.unreadable = 0
        """Pictures whose first slice segment header could not be read."""
        if parameter_sets:
            for nal in split_annexb(parameter_sets):
                self._learn(nal)

    def qp(self, data: bytes) -> int | None:
        """The QP the access unit's picture starts at (its first slice segment's); or None."""
        begin = data.find(b"\x00\x00\x01")
        others = False  # slice segments of the base layer that do not start a picture
        while begin >= 0:
            begin += 3
            if begin + 1 >= len(data):
                break
            first = data[begin]
            kind = (first >> 1) & 0x3F
            base = not first & 1 and data[begin + 1] < 8  # nuh_layer_id 0
            if kind <= 21 and (kind <= 9 or kind >= _IRAP_FIRST):  # a VCL slice segment
                if base:
                    # first_slice_segment_in_pic_flag, the header's first bit
                    if begin + 2 < len(data) and data[begin + 2] & 0x80:
                        return self._slice_qp(data, begin, kind)
                    others = True
                begin = data.find(b"\x00\x00\x01", begin)
                continue
            end = data.find(b"\x00\x00\x01", begin)
            if base and kind in (H265_SPS, H265_PPS):
                self._learn((data[begin:] if end < 0 else data[begin:end]).rstrip(b"\x00"))
            begin = end
        if others:
            self.unreadable += 1
        return None

    def _learn(self, nal: bytes) -> None:
        if len(nal) < 3:
            return
        kind = (nal[0] >> 1) & 0x3F
        try:
            if kind == H265_SPS:
                _, sequence = parse_h265_sps_and_syntax(nal)
                keep_parameter_set(self._sps, sequence.sps_id, sequence, _MAX_SETS)
            elif kind == H265_PPS:
                pps_id, picture = _parse_pps(nal)
                keep_parameter_set(self._pps, pps_id, picture, _MAX_SETS)
        except NalError as exc:
            log.debug("an H.265 parameter set the slice reader cannot use: %s", exc)

    def _slice_qp(self, data: bytes, begin: int, kind: int) -> int | None:
        qp = read_slice_header(data, begin, 2, lambda rbsp: self._read_header(rbsp, kind))
        if qp is None:
            self.unreadable += 1
        return qp

    def _read_header(self, rbsp: bytes, kind: int) -> int:
        """7.3.6.1 slice_segment_header() of a picture's first segment, up to slice_qp_delta."""
        bits = BitReader(remove_emulation_prevention(rbsp))
        bits.u(1 if kind < _IRAP_FIRST else 2)  # first_slice_segment_in_pic_flag, no_output_of..
        pps = self._pps[bits.ue(63)]
        sps = self._sps[pps.sps_id]
        bits.u(pps.extra_slice_header_bits)  # slice_reserved_flag[i]
        slice_type = bits.ue(2)
        if pps.output_flag_present:
            bits.u(1)  # pic_output_flag
        if sps.separate_colour_plane:
            bits.u(2)  # colour_plane_id
        current = 0  # NumPicTotalCurr: the pictures this one may reference
        temporal_mvp = False
        if kind != _IDR_W_RADL and kind != _IDR_N_LP:
            bits.u(sps.log2_max_poc_lsb)  # slice_pic_order_cnt_lsb
            sets = sps.reference_sets
            if bits.flag():  # short_term_ref_pic_set_sps_flag
                # short_term_ref_pic_set_idx, Ceil(Log2(num_short_term_ref_pic_sets)) bits
                index = bits.u(max(len(sets) - 1, 0).bit_length())
                if index >= len(sets):
                    raise NalError(f"reference picture set {index} of {len(sets)}")
                current = sets[index].used
            else:
                current = read_h265_reference_set(bits, sets, in_slice=True).used
            if sps.long_term_present:
                current += _skip_long_term_pictures(bits, sps)
            temporal_mvp = sps.temporal_mvp and bits.flag()  # slice_temporal_mvp_enabled_flag
        if sps.sao:
            bits.u(2 if sps.chroma_array_type else 1)  # slice_sao_luma_flag, slice_sao_chroma_flag
        if slice_type != _I:
            l0, l1 = pps.num_ref_idx_l0_default, pps.num_ref_idx_l1_default
            if bits.flag():  # num_ref_idx_active_override_flag
                l0 = bits.ue(14) + 1
                if slice_type == _B:
                    l1 = bits.ue(14) + 1
            if slice_type == _P:
                l1 = 0
            if pps.lists_modification_present and current > 1:  # ref_pic_lists_modification()
                entry = (current - 1).bit_length()  # list_entry_lX: Ceil(Log2(NumPicTotalCurr))
                if bits.flag():
                    bits.u(entry * l0)
                if slice_type == _B and bits.flag():
                    bits.u(entry * l1)
            bits.u((slice_type == _B) + pps.cabac_init_present)  # mvd_l1_zero, cabac_init flags
            if temporal_mvp:
                from_l0 = slice_type == _P or bits.flag()  # collocated_from_l0_flag
                if (l0 if from_l0 else l1) > 1:
                    bits.ue(14)  # collocated_ref_idx
            weighted = pps.weighted_pred if slice_type == _P else pps.weighted_bipred
            if weighted:
                _skip_weights(bits, sps.chroma_array_type, l0, l1)
            bits.ue(4)  # five_minus_max_num_merge_cand
        qp = pps.init_qp + bits.se()
        if not sps.min_qp <= qp <= 51:
            raise NalError(f"slice QP {qp} out of range")
        return qp


def _parse_pps(nal: bytes) -> tuple[int, _PictureSyntax]:
    """An H.265 PPS (7.3.2.3.1), as far as slice headers need it (and its extension flags)."""
    bits = BitReader(remove_emulation_prevention(nal[2:MAX_SLICE_HEADER_BYTES]))
    pps_id = bits.ue(63)
    sps_id = bits.ue(15)
    bits.u(1)  # dependent_slice_segments_enabled_flag: dependent segments never start a picture
    output_flag_present = bits.flag()
    extra_bits = bits.u(3)  # num_extra_slice_header_bits
    bits.u(1)  # sign_data_hiding_enabled_flag
    cabac_init_present = bits.flag()
    l0 = bits.ue(14) + 1
    l1 = bits.ue(14) + 1
    init_qp = 26 + bits.se()
    if not -48 <= init_qp <= 51:  # -(26 + QpBdOffsetY) <= init_qp_minus26 <= 25, at 16 bits
        raise NalError(f"initial QP {init_qp} out of range")
    bits.u(2)  # constrained_intra_pred_flag, transform_skip_enabled_flag
    if bits.flag():  # cu_qp_delta_enabled_flag
        bits.ue()  # diff_cu_qp_delta_depth
    bits.se()  # pps_cb_qp_offset
    bits.se()  # pps_cr_qp_offset
    bits.u(1)  # pps_slice_chroma_qp_offsets_present_flag
    weighted_pred = bits.flag()
    weighted_bipred = bits.flag()
    bits.u(1)  # transquant_bypass_enabled_flag
    tiles = bits.flag()
    bits.u(1)  # entropy_coding_sync_enabled_flag
    if tiles:
        columns, rows = bits.ue(1023), bits.ue(1023)  # num_tile_columns_minus1, rows_minus1
        if not bits.flag():  # uniform_spacing_flag
            for _ in range(columns + rows):
                bits.ue()  # column_width_minus1, row_height_minus1
        bits.u(1)  # loop_filter_across_tiles_enabled_flag
    bits.u(1)  # pps_loop_filter_across_slices_enabled_flag
    if bits.flag():  # deblocking_filter_control_present_flag
        bits.u(1)  # deblocking_filter_override_enabled_flag
        if not bits.flag():  # pps_deblocking_filter_disabled_flag
            bits.se()  # pps_beta_offset_div2
            bits.se()  # pps_tc_offset_div2
    if bits.flag():  # pps_scaling_list_data_present_flag
        skip_h265_scaling_list_data(bits)
    lists_modification_present = bits.flag()
    bits.ue()  # log2_parallel_merge_level_minus2
    bits.u(1)  # slice_segment_header_extension_present_flag: after the QP
    # pps_extension_present_flag, then range, multilayer, 3D and SCC extension flags
    if bits.flag() and bits.u(4) & 1:
        raise NalError("the screen content coding extension is not read")
    return pps_id, _PictureSyntax(
        sps_id=sps_id,
        output_flag_present=output_flag_present,
        extra_slice_header_bits=extra_bits,
        cabac_init_present=cabac_init_present,
        num_ref_idx_l0_default=l0,
        num_ref_idx_l1_default=l1,
        init_qp=init_qp,
        weighted_pred=weighted_pred,
        weighted_bipred=weighted_bipred,
        lists_modification_present=lists_modification_present,
    )


def _skip_long_term_pictures(bits: BitReader, sps: H265SliceSyntax) -> int:
    """The slice header's long-term pictures; how many of them the picture references."""
    listed = sps.long_term_used
    from_sps = bits.ue(len(listed)) if listed else 0  # num_long_term_sps
    count = from_sps + bits.ue(32)  # num_long_term_pics
    index_bits = (len(listed) - 1).bit_length() if listed else 0
    used = 0
    for i in range(count):
        if i < from_sps:
            index = bits.u(index_bits)  # lt_idx_sps
            if index >= len(listed):
                raise NalError(f"long-term picture {index} of {len(listed)}")
            used += listed[index]
        else:
            bits.u(sps.log2_max_poc_lsb)  # poc_lsb_lt
            used += bits.u(1)  # used_by_curr_pic_lt_flag
        if bits.flag():  # delta_poc_msb_present_flag
            bits.ue()  # delta_poc_msb_cycle_lt
    return used


def _skip_weights(bits: BitReader, chroma: int, l0: int, l1: int) -> None:
    """pred_weight_table() (7.3.6.3): all flags of a list, then the weights they announce.

    Every reference of a base-layer picture without the SCC extension is another picture, so
    each has its flags; each weight and offset is an se(v), so only their number matters.
    """
    bits.ue(7)  # luma_log2_weight_denom
    if chroma:
        bits.ue()  # delta_chroma_log2_weight_denom (se: same length as ue)
    for count in (l0, l1):
        if count:
            luma = bits.u(count)  # luma_weight_lX_flag[i]
            chroma_flags = bits.u(count) if chroma else 0  # chroma_weight_lX_flag[i]
            # delta_luma_weight, luma_offset; delta_chroma_weight and offset for Cb and Cr
            for _ in range(2 * luma.bit_count() + 4 * chroma_flags.bit_count()):
                bits.ue()
