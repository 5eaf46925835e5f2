"""The quantizer each H.264 picture starts at, read from its first slice header.

A camera at a constant bitrate (CBR) keeps its frame sizes flat on purpose: when more happens in
the picture, its encoder raises the quantizer (QP) instead of spending more bytes. Sizes alone
then say nothing (measured on the streams benchmark's camera day at 2 Mbit/s: the same predicted
frame size with and without a car, and no activity change in 356 s). The QP says it: a frame
that would cost twice the bytes at a given QP costs the same bytes at QP + 6 (the quantizer step
doubles every 6). So the activity meter weighs each frame's size by 2 ** (QP / 6), which gives
the size it would have at a fixed quantizer, whatever the rate control.

Reading the QP needs the slice header up to `slice_qp_delta` (ITU-T H.264 7.3.3) and the
parameter sets it refers to: a few dozen bits per picture, no decoding. H.265 streams are read
the same way by hub.streams.slices_h265, to which `SliceQp` hands them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hub.streams.h264 import (
    H264_IDR,
    H264_PPS,
    H264_SPS,
    MAX_SLICE_HEADER_BYTES,
    BitReader,
    H264SliceSyntax,
    NalError,
    keep_parameter_set,
    parse_h264_sps_and_syntax,
    read_slice_header,
    remove_emulation_prevention,
    split_annexb,
)
from hub.streams.slices_h265 import H265SliceQp

log = logging.getLogger(__name__)

_MAX_SETS = 32
"""Parameter sets kept per stream (H.264 allows 32 SPS ids and 256 PPS ids; cameras use one)."""
_P, _B, _I, _SP, _SI = 0, 1, 2, 3, 4
_SLICE = 1
"""NAL unit type of a non-IDR picture's slice (an IDR picture's is H264_IDR)."""


@dataclass(frozen=True, slots=True)
class _PictureSyntax:
    """What an H.264 PPS says about the slice headers that use it (7.3.2.2), with its SPS's."""

    sps: H264SliceSyntax
    bottom_field_pic_order_in_frame_present: bool
    num_ref_idx_l0_default: int
    num_ref_idx_l1_default: int
    weighted_pred: bool
    weighted_bipred_idc: int
    pic_init_qp: int
    redundant_pic_cnt_present: bool
    cabac: bool


class SliceQp:
    """One stream's picture QPs; it learns the parameter sets as they come, in band or not.

    `qp(data)` is cheap enough for every picture of every camera: it reads the first slice
    header only. It never raises: a unit it cannot read gives None. H.265 streams go to
    H265SliceQp; other codecs give None.
    """

    __slots__ = ("_h265", "_pps", "_pps_nals", "_sps", "_unreadable", "codec")

    def __init__(self, codec: str = "h264", parameter_sets: bytes = b"") -> None:
        self.codec = codec
        self._h265 = H265SliceQp(parameter_sets) if codec == "hevc" else None
        self._sps: dict[int, H264SliceSyntax] = {}
        self._pps: dict[int, _PictureSyntax] = {}
        self._pps_nals: dict[int, bytes] = {}
        """PPS NAL units whose SPS has not come yet, read again when it does."""
        self._unreadable = 0
        if parameter_sets and codec == "h264":
            for nal in split_annexb(parameter_sets):
                self._learn(nal)

    @property
    def unreadable(self) -> int:
        """Slice headers that could not be read (malformed, or a parameter set missing)."""
        return self._h265.unreadable if self._h265 is not None else self._unreadable

    def qp(self, data: bytes) -> int | None:
        """The QP the access unit's first slice starts at; None when unknown."""
        if self._h265 is not None:
            return self._h265.qp(data)
        if self.codec != "h264":
            return None
        begin = data.find(b"\x00\x00\x01")
        while begin >= 0:
            begin += 3
            if begin >= len(data):
                return None
            kind = data[begin] & 0x1F
            if kind in (_SLICE, H264_IDR):  # a slice: the first one decides
                return self._slice_qp(data, begin, kind)
            end = data.find(b"\x00\x00\x01", begin)
            if kind in (H264_SPS, H264_PPS):
                self._learn((data[begin:] if end < 0 else data[begin:end]).rstrip(b"\x00"))
            begin = end
        return None

    def _learn(self, nal: bytes) -> None:
        if not nal:
            return
        kind = nal[0] & 0x1F
        try:
            if kind == H264_SPS:
                _, syntax = parse_h264_sps_and_syntax(nal)
                if self._sps.get(syntax.sps_id) != syntax:
                    keep_parameter_set(self._sps, syntax.sps_id, syntax, _MAX_SETS)
                    for waiting in list(self._pps_nals.values()):  # PPSs that came first
                        self._learn(waiting)
            elif kind == H264_PPS:
                self._learn_pps(nal)
        except NalError as exc:
            log.debug("a parameter set the slice reader cannot use: %s", exc)

    def _learn_pps(self, nal: bytes) -> None:
        bits = BitReader(remove_emulation_prevention(nal[1:MAX_SLICE_HEADER_BYTES]))
        pps_id = bits.ue(255)
        sps = self._sps.get(bits.ue(31))
        if sps is None:
            keep_parameter_set(self._pps_nals, pps_id, bytes(nal), _MAX_SETS)
            return
        self._pps_nals.pop(pps_id, None)
        cabac = bits.flag()
        bottom_field_pic_order = bits.flag()
        if bits.ue(7) > 0:  # num_slice_groups_minus1: FMO, which no camera sends
            raise NalError("slice groups (FMO) are not read")
        l0 = bits.ue(31) + 1
        l1 = bits.ue(31) + 1
        weighted_pred = bits.flag()
        weighted_bipred_idc = bits.u(2)
        pic_init_qp = 26 + bits.se()
        bits.ue()  # pic_init_qs_minus26
        bits.ue()  # chroma_qp_index_offset
        bits.u(2)  # deblocking_filter_control_present_flag, constrained_intra_pred_flag
        syntax = _PictureSyntax(
            sps=sps,
            bottom_field_pic_order_in_frame_present=bottom_field_pic_order,
            num_ref_idx_l0_default=l0,
            num_ref_idx_l1_default=l1,
            weighted_pred=weighted_pred,
            weighted_bipred_idc=weighted_bipred_idc,
            pic_init_qp=pic_init_qp,
            redundant_pic_cnt_present=bits.flag(),
            cabac=cabac,
        )
        keep_parameter_set(self._pps, pps_id, syntax, _MAX_SETS)

    def _slice_qp(self, data: bytes, begin: int, kind: int) -> int | None:
        ref_idc = (data[begin] >> 5) & 3  # nal_ref_idc
        qp = read_slice_header(data, begin, 0, lambda nal: self._read_header(nal, kind, ref_idc))
        if qp is None:
            self._unreadable += 1
        return qp

    def _read_header(self, nal: bytes, kind: int, ref_idc: int) -> int:
        """7.3.3 slice_header() up to slice_qp_delta; the picture's QP."""
        bits = BitReader(remove_emulation_prevention(nal[1:]))
        bits.ue()  # first_mb_in_slice
        slice_type = bits.ue(9) % 5
        pps = self._pps[bits.ue(255)]
        sps = pps.sps
        if sps.separate_colour_plane:
            bits.u(2)  # colour_plane_id
        bits.u(sps.log2_max_frame_num)  # frame_num
        field = False
        if not sps.frame_mbs_only:
            field = bits.flag()
            if field:
                bits.u(1)  # bottom_field_flag
        if kind == H264_IDR:
            bits.ue()  # idr_pic_id
        if sps.poc_type == 0:
            bits.u(sps.log2_max_poc_lsb)
            if pps.bottom_field_pic_order_in_frame_present and not field:
                bits.ue()  # delta_pic_order_cnt_bottom (se: same length as ue)
        elif sps.poc_type == 1 and not sps.delta_pic_order_always_zero:
            bits.ue()  # delta_pic_order_cnt[0]
            if pps.bottom_field_pic_order_in_frame_present and not field:
                bits.ue()  # delta_pic_order_cnt[1]
        if pps.redundant_pic_cnt_present:
            bits.ue()
        l0, l1 = pps.num_ref_idx_l0_default, pps.num_ref_idx_l1_default
        if slice_type == _B:
            bits.u(1)  # direct_spatial_mv_pred_flag
        if slice_type in (_P, _SP, _B) and bits.flag():  # num_ref_idx_active_override_flag
            l0 = bits.ue(31) + 1
            if slice_type == _B:
                l1 = bits.ue(31) + 1
        if slice_type not in (_I, _SI):
            _skip_list_changes(bits)
            if slice_type == _B:
                _skip_list_changes(bits)
        if (pps.weighted_pred and slice_type in (_P, _SP)) or (
            pps.weighted_bipred_idc == 1 and slice_type == _B
        ):
            _skip_weights(bits, sps.chroma_array_type, l0, l1 if slice_type == _B else 0)
        if ref_idc:
            _skip_marking(bits, idr=kind == H264_IDR)
        if pps.cabac and slice_type not in (_I, _SI):
            bits.ue(2)  # cabac_init_idc
        qp = pps.pic_init_qp + bits.se()
        if not 0 <= qp <= 51:
            raise NalError(f"slice QP {qp} out of range")
        return qp


def _skip_list_changes(bits: BitReader) -> None:
    """ref_pic_list_modification() of one list (7.3.3.1)."""
    if not bits.flag():
        return
    for _ in range(33):
        idc = bits.ue(5)
        if idc == 3:
            return
        bits.ue()  # abs_diff_pic_num_minus1 or long_term_pic_num (or view index: same length)
    raise NalError("reference list changes do not end")


def _skip_weights(bits: BitReader, chroma: int, l0: int, l1: int) -> None:
    """pred_weight_table() (7.3.3.2)."""
    bits.ue()  # luma_log2_weight_denom
    if chroma:
        bits.ue()  # chroma_log2_weight_denom
    for count in (l0, l1):
        for _ in range(count):
            if bits.flag():
                bits.ue()
                bits.ue()
            if chroma and bits.flag():
                for _ in range(4):
                    bits.ue()


def _skip_marking(bits: BitReader, *, idr: bool) -> None:
    """dec_ref_pic_marking() (7.3.3.3)."""
    if idr:
        bits.u(2)  # no_output_of_prior_pics_flag, long_term_reference_flag
        return
    if not bits.flag():  # adaptive_ref_pic_marking_mode_flag
        return
    for _ in range(66):
        operation = bits.ue(6)
        if operation == 0:
            return
        if operation in (1, 3):
            bits.ue()  # difference_of_pic_nums_minus1
        if operation == 2:
            bits.ue()  # long_term_pic_num
        if operation in (3, 6):
            bits.ue()  # long_term_frame_idx
        if operation == 4:
            bits.ue()  # max_long_term_frame_idx_plus1
    raise NalError("reference marking does not end")
