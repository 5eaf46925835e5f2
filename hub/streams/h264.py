"""H.264 and H.265 at the NAL level: RTP depacketizing, keyframes, picture size, parameter sets.

Only what the engine must know without decoding: where access units begin and end, which are
keys, the picture size and frame rate from the sequence parameter set. RTP payload formats are
RFC 6184 (H.264, non-interleaved mode) and RFC 7798 (H.265); bitstream syntax is ITU-T H.264 and
H.265 section 7.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

START_CODE = b"\x00\x00\x00\x01"
"""The Annex B start code put before every NAL unit of an access unit."""
_T = TypeVar("_T")

H264_IDR = 5
H264_SPS = 7
H264_PPS = 8
H265_IRAP_FIRST = 16
"""BLA_W_LP: the first of the H.265 intra random access point types (16 to 21)."""
H265_IRAP_LAST = 21
"""CRA_NUT: the last of them."""
H265_VPS = 32
H265_SPS = 33
H265_PPS = 34

CODECS = ("h264", "hevc")
"""The codecs this module understands, by FFmpeg name."""

_H264_STAP_A = 24
_H264_FU_A = 28
_H265_AP = 48
_H265_FU = 49

# A parameter set is a few dozen bytes; anything far larger is not one worth parsing.
_MAX_PARAMETER_SET = 4096
_MAX_PICTURE_SIDE = 16384

# Start code plus the rebuilt one-byte header of a fragmented H.264 NAL unit, for each header.
_FU_PREFIX = tuple(START_CODE + bytes((header,)) for header in range(256))

Packet = bytes | bytearray | memoryview
"""Anything holding an RTP packet; payloads are addressed by offsets into it."""


class NalError(ValueError):
    """A NAL unit, parameter set or SDP parameter that cannot be parsed."""


def nal_type(codec: str, nal: bytes) -> int:
    """The NAL unit type from a NAL unit's header (its first byte, without start code)."""
    if not nal:
        raise NalError("empty NAL unit")
    return (nal[0] >> 1) & 0x3F if codec == "hevc" else nal[0] & 0x1F


def is_key_type(codec: str, kind: int) -> bool:
    """Whether a NAL unit of this type starts a picture decodable on its own (IDR, IRAP)."""
    if codec == "hevc":
        return H265_IRAP_FIRST <= kind <= H265_IRAP_LAST
    return kind == H264_IDR


def parameter_set_types(codec: str) -> tuple[int, ...]:
    """The NAL unit types of the parameter sets, in the order decoders want them."""
    return (H265_VPS, H265_SPS, H265_PPS) if codec == "hevc" else (H264_SPS, H264_PPS)


# ---------------------------------------------------------------------------------------------
# Annex B, length-prefixed (MP4) and SDP forms of NAL units


def annexb(nals: Iterable[bytes]) -> bytes:
    """NAL units joined in Annex B form, each after a start code."""
    return b"".join(START_CODE + nal for nal in nals)


def split_annexb(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream, without start codes (empty units skipped)."""
    nals: list[bytes] = []
    begin = data.find(b"\x00\x00\x01")
    while begin >= 0:
        begin += 3
        end = data.find(b"\x00\x00\x01", begin)
        # Trailing zeros belong to the next start code (or are trailing_zero_8bits).
        nal = (data[begin:] if end < 0 else data[begin:end]).rstrip(b"\x00")
        if nal:
            nals.append(nal)
        begin = end
    return nals


def split_length_prefixed(data: bytes, length_size: int) -> list[bytes]:
    """The NAL units of an MP4 (AVCC/HVCC) sample, each prefixed by its big-endian length."""
    nals: list[bytes] = []
    pos, total = 0, len(data)
    while pos < total:
        if pos + length_size > total:
            raise NalError("sample ends inside a NAL unit length")
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if pos + size > total:
            raise NalError(f"NAL unit of {size} bytes overruns its sample")
        if size:
            nals.append(data[pos : pos + size])
        pos += size
    return nals


def parameter_sets_from_extradata(codec: str, extradata: bytes) -> tuple[list[bytes], int]:
    """Parameter sets from a container's extradata, and its NAL length size (0 for Annex B).

    MP4 carries an avcC (H.264) or hvcC (H.265) record, whose first byte is 1; MPEG-TS and raw
    streams carry Annex B.
    """
    if not extradata:
        return [], 0
    if extradata[0] != 1:
        return split_annexb(extradata), 0
    try:
        if codec == "hevc":
            return _parse_hvcc(extradata)
        return _parse_avcc(extradata)
    except IndexError:
        raise NalError(f"{codec} configuration record is truncated") from None


def _parse_avcc(record: bytes) -> tuple[list[bytes], int]:
    length_size = (record[4] & 0x03) + 1
    nals: list[bytes] = []
    pos = 5
    for count_mask in (0x1F, 0xFF):  # SPS count has 5 bits, PPS count 8
        count = record[pos] & count_mask
        pos = _read_sized_nals(record, pos + 1, count, nals)
    return nals, length_size


def _parse_hvcc(record: bytes) -> tuple[list[bytes], int]:
    length_size = (record[21] & 0x03) + 1
    nals: list[bytes] = []
    pos = 23
    for _ in range(record[22]):
        count = int.from_bytes(record[pos + 1 : pos + 3], "big")
        pos = _read_sized_nals(record, pos + 3, count, nals)
    return nals, length_size


def _read_sized_nals(record: bytes, pos: int, count: int, nals: list[bytes]) -> int:
    """Append `count` NAL units, each after a 16-bit size, from `pos`; returns where they end."""
    for _ in range(count):
        size = int.from_bytes(record[pos : pos + 2], "big")
        nal = record[pos + 2 : pos + 2 + size]
        if len(nal) != size:
            raise IndexError
        nals.append(nal)
        pos += 2 + size
    return pos


def parameter_sets_from_fmtp(codec: str, fmtp: Mapping[str, str]) -> list[bytes]:
    """Parameter sets announced in an SDP `a=fmtp` line (keys lower-case), decoded.

    H.264 uses `sprop-parameter-sets` (RFC 6184), H.265 `sprop-vps`, `sprop-sps` and
    `sprop-pps` (RFC 7798); each is a comma-separated list of base64 NAL units.
    """
    keys = ("sprop-vps", "sprop-sps", "sprop-pps") if codec == "hevc" else ("sprop-parameter-sets",)
    nals: list[bytes] = []
    for key in keys:
        for item in fmtp.get(key, "").split(","):
            item = item.strip()
            if not item:
                continue
            try:
                nal = base64.b64decode(item + "=" * (-len(item) % 4), validate=True)
            except (binascii.Error, ValueError):
                raise NalError(f"{key} is not base64") from None
            if nal:
                nals.append(nal)
    return nals


# ---------------------------------------------------------------------------------------------
# Sequence parameter sets


@dataclass(frozen=True, slots=True)
class H264SliceSyntax:
    """What an H.264 SPS says about how the slice headers that use it are written (7.3.3)."""

    sps_id: int
    chroma_array_type: int
    log2_max_frame_num: int
    poc_type: int
    log2_max_poc_lsb: int
    delta_pic_order_always_zero: bool
    frame_mbs_only: bool
    separate_colour_plane: bool


@dataclass(frozen=True, slots=True)
class H265ReferenceSet:
    """An H.265 short-term reference picture set (7.3.7): the POC deltas of its pictures."""

    negative: tuple[int, ...]
    """DeltaPocS0: the pictures before the current one, nearest first."""
    positive: tuple[int, ...]
    """DeltaPocS1: the pictures after it, nearest first."""
    used: int
    """How many of them the current picture references: its share of NumPicTotalCurr."""


@dataclass(frozen=True, slots=True)
class H265SliceSyntax:
    """What an H.265 SPS says about how the slice segment headers that use it are written."""

    sps_id: int
    chroma_array_type: int
    separate_colour_plane: bool
    log2_max_poc_lsb: int
    reference_sets: tuple[H265ReferenceSet, ...]
    long_term_present: bool
    long_term_used: tuple[bool, ...]
    """used_by_curr_pic_lt_sps_flag of each long-term picture the SPS lists."""
    temporal_mvp: bool
    sao: bool
    min_qp: int
    """-QpBdOffsetY: the lowest slice QP at the SPS's luma bit depth (0 at 8 bits)."""


@dataclass(frozen=True, slots=True)
class SequenceInfo:
    """What a sequence parameter set says about the pictures that follow it."""

    width: int
    height: int
    fps: float | None
    """From the VUI timing information, when the encoder wrote it."""
    profile: int
    level: int


def keep_parameter_set(table: dict[int, _T], key: int, value: _T, limit: int) -> None:
    """table[key] = value, the oldest entry dropped when `limit` entries are there already.

    So a stream that sends ever new parameter set ids cannot grow a reader's tables.
    """
    if key not in table and len(table) >= limit:
        table.pop(next(iter(table)))
    table[key] = value


SLICE_HEADER_BYTES = 48
"""Bytes of a slice NAL unit read first: enough for every header but those with long reference
lists, reference picture sets or weight tables, which are read again in full."""
MAX_SLICE_HEADER_BYTES = 1024
"""At most this many bytes of a slice NAL unit or a parameter set are read."""


def read_slice_header(data: bytes, begin: int, skip: int, read: Callable[[bytes], _T]) -> _T | None:
    """`read` the slice NAL unit at data[begin:] from `skip` bytes in (its NAL header).

    From its first `SLICE_HEADER_BYTES`, and when those end inside it, once more from up to
    `MAX_SLICE_HEADER_BYTES`. None if it is malformed (NalError with all of it read) or names a
    parameter set that never came (KeyError).
    """
    for size in (SLICE_HEADER_BYTES, MAX_SLICE_HEADER_BYTES):
        try:
            return read(data[begin + skip : begin + size])
        except NalError:
            if begin + size >= len(data):
                return None  # the whole NAL unit was read: it is malformed
        except KeyError:
            return None
    return None


def remove_emulation_prevention(data: bytes) -> bytes:
    """The RBSP of a NAL unit: every 0x03 that follows two zero bytes removed."""
    # Non-overlapping, left-to-right replacement is exactly the decoding rule of 7.4.1.
    return data.replace(b"\x00\x00\x03", b"\x00\x00")


class BitReader:
    """A big-endian bit reader with exp-Golomb codes, over a whole (small) RBSP.

    `ue` reads a code in a few integer operations, not bit by bit: slice headers are read for
    every picture of every camera (hub.streams.slices).
    """

    __slots__ = ("_left", "_value")

    def __init__(self, rbsp: bytes) -> None:
        self._value = int.from_bytes(rbsp, "big")
        self._left = len(rbsp) * 8

    def u(self, bits: int) -> int:
        """The next `bits` bits as an unsigned number."""
        if bits > self._left:
            raise NalError("parameter set ends too early")
        self._left -= bits
        return (self._value >> self._left) & ((1 << bits) - 1)

    def flag(self) -> bool:
        """The next bit."""
        return self.u(1) == 1

    def ue(self, limit: int = 0xFFFFFFFE) -> int:
        """An unsigned exp-Golomb code (ue); NalError above `limit`."""
        left = self._left
        rest = self._value & ((1 << left) - 1)
        zeros = left - rest.bit_length()  # the leading zeros of the code
        if zeros > 31:
            raise NalError("exp-Golomb code longer than 32 bits")
        size = 2 * zeros + 1
        if size > left:
            raise NalError("parameter set ends too early")
        self._left = left - size
        # The code's last zeros + 1 bits are 1 followed by the info bits: 2**zeros + info.
        value = (rest >> self._left) - 1
        if value > limit:
            raise NalError(f"value {value} out of range (at most {limit})")
        return value

    def se(self) -> int:
        """A signed exp-Golomb code (se)."""
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


def parse_sps(codec: str, nal: bytes) -> SequenceInfo:
    """Picture size, frame rate, profile and level from an SPS NAL unit (header included)."""
    return parse_h265_sps(nal) if codec == "hevc" else parse_h264_sps(nal)


# H.264 profiles whose SPS carries chroma format, bit depths and scaling matrices (7.3.2.1.1).
_H264_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def parse_h264_sps(nal: bytes) -> SequenceInfo:
    """Parse an H.264 sequence parameter set (ITU-T H.264 7.3.2.1.1)."""
    return parse_h264_sps_and_syntax(nal)[0]


def parse_h264_sps_and_syntax(nal: bytes) -> tuple[SequenceInfo, H264SliceSyntax]:
    """An H.264 SPS's picture size and rate, and what its slice headers hold."""
    if len(nal) < 4 or nal[0] & 0x1F != H264_SPS:
        raise NalError("not an H.264 sequence parameter set")
    bits = BitReader(remove_emulation_prevention(nal[1:_MAX_PARAMETER_SET]))
    profile = bits.u(8)
    bits.u(8)  # constraint flags
    level = bits.u(8)
    sps_id = bits.ue(31)
    chroma_format = 1
    separate_planes = False
    if profile in _H264_HIGH_PROFILES:
        chroma_format = bits.ue(3)
        if chroma_format == 3:
            separate_planes = bits.flag()
        bits.ue(14)  # bit_depth_luma_minus8
        bits.ue(14)  # bit_depth_chroma_minus8
        bits.flag()  # qpprime_y_zero_transform_bypass_flag
        if bits.flag():  # seq_scaling_matrix_present_flag
            for index in range(12 if chroma_format == 3 else 8):
                if bits.flag():
                    _skip_h264_scaling_list(bits, 16 if index < 6 else 64)
    log2_max_frame_num = bits.ue(12) + 4
    poc_type = bits.ue(2)
    log2_max_poc_lsb = 0
    delta_pic_order_always_zero = False
    if poc_type == 0:
        log2_max_poc_lsb = bits.ue(12) + 4
    elif poc_type == 1:
        delta_pic_order_always_zero = bits.flag()
        bits.se()  # offset_for_non_ref_pic
        bits.se()  # offset_for_top_to_bottom_field
        for _ in range(bits.ue(255)):  # num_ref_frames_in_pic_order_cnt_cycle
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.flag()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue(_MAX_PICTURE_SIDE // 16) + 1
    height_units = bits.ue(_MAX_PICTURE_SIDE // 16) + 1
    frame_mbs_only = bits.flag()
    if not frame_mbs_only:
        bits.flag()  # mb_adaptive_frame_field_flag
    bits.flag()  # direct_8x8_inference_flag
    left = right = top = bottom = 0
    if bits.flag():  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
    chroma_type = 0 if separate_planes else chroma_format
    crop_x = 2 if chroma_type in (1, 2) else 1
    crop_y = (2 if chroma_type == 1 else 1) * (1 if frame_mbs_only else 2)
    width = width_mbs * 16 - crop_x * (left + right)
    height = height_units * 16 * (1 if frame_mbs_only else 2) - crop_y * (top + bottom)
    if width <= 0 or height <= 0:
        raise NalError(f"cropping leaves no picture ({width}x{height})")
    fps = None
    if bits.flag():  # vui_parameters_present_flag
        # Some cameras truncate the VUI; the size is what matters.
        with contextlib.suppress(NalError):
            fps = _h264_vui_fps(bits)
    syntax = H264SliceSyntax(
        sps_id=sps_id,
        chroma_array_type=chroma_type,
        log2_max_frame_num=log2_max_frame_num,
        poc_type=poc_type,
        log2_max_poc_lsb=log2_max_poc_lsb,
        delta_pic_order_always_zero=delta_pic_order_always_zero,
        frame_mbs_only=frame_mbs_only,
        separate_colour_plane=separate_planes,
    )
    return SequenceInfo(width, height, fps, profile, level), syntax


def _skip_h264_scaling_list(bits: BitReader, size: int) -> None:
    last = next_scale = 8
    for _ in range(size):
        if next_scale:
            next_scale = (last + bits.se() + 256) % 256
        last = next_scale or last


def _skip_vui_header(bits: BitReader) -> None:
    """The VUI fields H.264 and H.265 share, up to chroma location."""
    if bits.flag() and bits.u(8) == 255:  # aspect_ratio_info_present_flag, Extended_SAR
        bits.u(32)
    if bits.flag():  # overscan_info_present_flag
        bits.flag()
    if bits.flag():  # video_signal_type_present_flag
        bits.u(4)
        if bits.flag():  # colour_description_present_flag
            bits.u(24)
    if bits.flag():  # chroma_loc_info_present_flag
        bits.ue()
        bits.ue()


def _frame_rate(units: int, scale: int, ticks_per_frame: int) -> float | None:
    if not units or not scale:
        return None
    fps = scale / (units * ticks_per_frame)
    return fps if 0.1 <= fps <= 1000 else None


def _h264_vui_fps(bits: BitReader) -> float | None:
    _skip_vui_header(bits)
    if not bits.flag():  # timing_info_present_flag
        return None
    units, scale = bits.u(32), bits.u(32)
    # H.264 counts field ticks: a frame lasts two of them (E.2.1).
    return _frame_rate(units, scale, 2)


def parse_h265_sps(nal: bytes) -> SequenceInfo:
    """Parse an H.265 sequence parameter set (ITU-T H.265 7.3.2.2)."""
    return _walk_h265_sps(nal, for_slices=False)[0]


def parse_h265_sps_and_syntax(nal: bytes) -> tuple[SequenceInfo, H265SliceSyntax]:
    """An H.265 SPS's picture size and rate, and what its slice segment headers hold.

    NalError when the SPS cannot be read as far as slice headers need, or when it has the
    screen content coding extension, which changes them (no camera sends it).
    """
    info, syntax = _walk_h265_sps(nal, for_slices=True)
    assert syntax is not None  # for_slices raises instead
    return info, syntax


def _walk_h265_sps(nal: bytes, *, for_slices: bool) -> tuple[SequenceInfo, H265SliceSyntax | None]:
    """Read an H.265 SPS once for both: what follows the picture size only adds to it.

    Without `for_slices`, a part it cannot read past the size leaves the frame rate unknown
    (some cameras truncate the VUI).
    """
    if len(nal) < 4 or (nal[0] >> 1) & 0x3F != H265_SPS:
        raise NalError("not an H.265 sequence parameter set")
    bits = BitReader(remove_emulation_prevention(nal[2:_MAX_PARAMETER_SET]))
    bits.u(4)  # sps_video_parameter_set_id
    sub_layers = bits.u(3)  # sps_max_sub_layers_minus1
    bits.flag()  # sps_temporal_id_nesting_flag
    profile, level = _h265_profile_tier_level(bits, sub_layers)
    sps_id = bits.ue(15)  # sps_seq_parameter_set_id
    chroma_format = bits.ue(3)
    separate_planes = bits.flag() if chroma_format == 3 else False
    chroma_type = 0 if separate_planes else chroma_format
    width = bits.ue(_MAX_PICTURE_SIDE)
    height = bits.ue(_MAX_PICTURE_SIDE)
    if bits.flag():  # conformance_window_flag
        sub_width = 2 if chroma_type in (1, 2) else 1
        sub_height = 2 if chroma_type == 1 else 1
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        width -= sub_width * (left + right)
        height -= sub_height * (top + bottom)
    if width <= 0 or height <= 0:
        raise NalError(f"no picture ({width}x{height})")
    fps = None
    syntax = None
    screen_content = False
    try:
        syntax = _h265_slice_syntax(bits, sub_layers, sps_id, chroma_type, separate_planes)
        if bits.flag():  # vui_parameters_present_flag
            timing, fps = _h265_vui_fps(bits)
            _skip_h265_vui_rest(bits, sub_layers, timing)
        if bits.flag():  # sps_extension_present_flag
            # range, multilayer, 3D and SCC extension flags: only SCC changes slice headers
            screen_content = bits.u(4) & 1 == 1
    except NalError:
        if for_slices and syntax is None:
            raise
    if for_slices and screen_content:
        raise NalError("the screen content coding extension is not read")
    return SequenceInfo(width, height, fps, profile, level), syntax


def _h265_profile_tier_level(bits: BitReader, sub_layers: int) -> tuple[int, int]:
    bits.u(3)  # general_profile_space, general_tier_flag
    profile = bits.u(5)
    bits.u(32)  # general_profile_compatibility_flags
    bits.u(48)  # progressive, interlaced, non-packed, frame-only, 43 reserved bits, 1 more
    level = bits.u(8)
    present = [(bits.flag(), bits.flag()) for _ in range(sub_layers)]
    if sub_layers:
        bits.u(2 * (8 - sub_layers))  # reserved_zero_2bits
    for profile_present, level_present in present:
        if profile_present:
            bits.u(88)
        if level_present:
            bits.u(8)
    return profile, level


def _h265_slice_syntax(
    bits: BitReader, sub_layers: int, sps_id: int, chroma_type: int, separate_planes: bool
) -> H265SliceSyntax:
    """Walk an H.265 SPS from the bit depths to the VUI, keeping what slice headers need."""
    bit_depth_minus8 = bits.ue(8)  # bit_depth_luma_minus8
    bits.ue(8)  # bit_depth_chroma_minus8
    poc_lsb_bits = bits.ue(12) + 4  # log2_max_pic_order_cnt_lsb_minus4
    ordering_for_all = bits.flag()  # sps_sub_layer_ordering_info_present_flag
    for _ in range(sub_layers + 1 if ordering_for_all else 1):
        bits.ue()  # sps_max_dec_pic_buffering_minus1
        bits.ue()  # sps_max_num_reorder_pics
        bits.ue()  # sps_max_latency_increase_plus1
    for _ in range(6):  # coding block, transform block sizes and hierarchy depths
        bits.ue()
    if bits.flag() and bits.flag():  # scaling_list_enabled_flag, sps_scaling_list_data_present
        skip_h265_scaling_list_data(bits)
    bits.flag()  # amp_enabled_flag
    sao = bits.flag()  # sample_adaptive_offset_enabled_flag
    if bits.flag():  # pcm_enabled_flag
        bits.u(8)
        bits.ue()
        bits.ue()
        bits.flag()
    sets: list[H265ReferenceSet] = []
    for _ in range(bits.ue(64)):  # num_short_term_ref_pic_sets
        sets.append(read_h265_reference_set(bits, sets, in_slice=False))
    long_term_present = bits.flag()
    long_term_used: tuple[bool, ...] = ()
    if long_term_present:
        long_term_used = tuple(
            bits.u(poc_lsb_bits + 1) & 1 == 1  # lt_ref_pic_poc_lsb_sps, used_by_curr_pic_lt_sps
            for _ in range(bits.ue(32))
        )
    temporal_mvp = bits.flag()  # sps_temporal_mvp_enabled_flag
    bits.flag()  # strong_intra_smoothing_enabled_flag
    return H265SliceSyntax(
        sps_id=sps_id,
        chroma_array_type=chroma_type,
        separate_colour_plane=separate_planes,
        log2_max_poc_lsb=poc_lsb_bits,
        reference_sets=tuple(sets),
        long_term_present=long_term_present,
        long_term_used=long_term_used,
        temporal_mvp=temporal_mvp,
        sao=sao,
        min_qp=-6 * bit_depth_minus8,
    )


def _h265_vui_fps(bits: BitReader) -> tuple[bool, float | None]:
    """Read an H.265 VUI up to its timing information: whether it has some, and the rate."""
    _skip_vui_header(bits)
    bits.u(3)  # neutral_chroma_indication, field_seq, frame_field_info_present flags
    if bits.flag():  # default_display_window_flag
        for _ in range(4):
            bits.ue()
    if not bits.flag():  # vui_timing_info_present_flag
        return False, None
    units, scale = bits.u(32), bits.u(32)
    return True, _frame_rate(units, scale, 1)


def _skip_h265_vui_rest(bits: BitReader, sub_layers: int, timing: bool) -> None:
    """The rest of an H.265 VUI after the frame rate (E.2.1), to the SPS's extension flags."""
    if timing:
        if bits.flag():  # vui_poc_proportional_to_timing_flag
            bits.ue()  # vui_num_ticks_poc_diff_one_minus1
        if bits.flag():  # vui_hrd_parameters_present_flag
            _skip_h265_hrd_parameters(bits, sub_layers)
    if bits.flag():  # bitstream_restriction_flag
        bits.u(3)  # tiles_fixed_structure, motion_vectors_over_pic_boundaries, restricted lists
        for _ in range(5):  # segmentation, bytes and bits per picture, motion vector lengths
            bits.ue()


def _skip_h265_hrd_parameters(bits: BitReader, sub_layers: int) -> None:
    """hrd_parameters(1, sps_max_sub_layers_minus1) (E.2.2)."""
    nal_hrd, vcl_hrd = bits.flag(), bits.flag()
    sub_picture = False
    if nal_hrd or vcl_hrd:
        sub_picture = bits.flag()  # sub_pic_hrd_params_present_flag
        if sub_picture:
            bits.u(19)  # tick divisor, DU removal delay length, in-SEI flag, DU output length
        bits.u(12 if sub_picture else 8)  # bit rate, CPB size (and DU CPB size) scales
        bits.u(15)  # initial CPB removal delay, CPB removal delay and DPB output delay lengths
    for _ in range(sub_layers + 1):
        fixed = bits.flag() or bits.flag()  # fixed_pic_rate_general, fixed_pic_rate_within_cvs
        low_delay = False
        if fixed:
            bits.ue()  # elemental_duration_in_tc_minus1
        else:
            low_delay = bits.flag()
        cpbs = 1 if low_delay else bits.ue(31) + 1  # cpb_cnt_minus1
        for _ in range(cpbs * (nal_hrd + vcl_hrd)):  # sub_layer_hrd_parameters()
            for _ in range(4 if sub_picture else 2):  # bit rate and CPB size (and per DU)
                bits.ue()
            bits.flag()  # cbr_flag


def skip_h265_scaling_list_data(bits: BitReader) -> None:
    """scaling_list_data() (7.3.4), in an SPS or a PPS."""
    for size_id in range(4):
        for _ in range(0, 6, 3 if size_id == 3 else 1):
            if not bits.flag():  # scaling_list_pred_mode_flag
                bits.ue()  # scaling_list_pred_matrix_id_delta
                continue
            if size_id > 1:
                bits.se()  # scaling_list_dc_coef_minus8
            for _ in range(min(64, 1 << (4 + (size_id << 1)))):
                bits.se()


def read_h265_reference_set(
    bits: BitReader, sets: Sequence[H265ReferenceSet], *, in_slice: bool
) -> H265ReferenceSet:
    """The st_ref_pic_set() that follows `sets` (7.3.7), its deltas derived as 7.4.8 does.

    A set predicted from an earlier one has a flag for each of that one's pictures, so the
    pictures of every set must be known to read the next. `in_slice`: the set is a slice
    header's own, which may be predicted from any of the SPS's sets.
    """
    index = len(sets)
    if index and bits.flag():  # inter_ref_pic_set_prediction_flag
        source = sets[index - 1 - (bits.ue(index - 1) if in_slice else 0)]  # delta_idx_minus1
        sign = bits.flag()  # delta_rps_sign
        delta = bits.ue(0x7FFF) + 1  # abs_delta_rps_minus1
        delta_rps = -delta if sign else delta
        total = len(source.negative) + len(source.positive)
        # per picture of the source set, then for delta_rps itself: 2 if used by the current
        # picture, 1 if only kept, 0 if dropped (use_delta_flag is inferred 1 where used)
        kept = [2 if bits.flag() else bits.u(1) for _ in range(total + 1)]
        first_positive = len(source.negative)
        before = [(d + delta_rps, kept[i]) for i, d in enumerate(source.negative)]
        after = [(d + delta_rps, kept[first_positive + i]) for i, d in enumerate(source.positive)]
        own = (delta_rps, kept[total])
        negative = [p for p in (*reversed(after), own, *before) if p[0] < 0 and p[1]]
        positive = [p for p in (*reversed(before), own, *after) if p[0] > 0 and p[1]]
        if len(negative) + len(positive) > 32:
            raise NalError("short-term reference picture set too large")
        return H265ReferenceSet(
            negative=tuple(d for d, _ in negative),
            positive=tuple(d for d, _ in positive),
            used=sum(k == 2 for _, k in (*negative, *positive)),
        )
    negative_count, positive_count = bits.ue(16), bits.ue(16)
    deltas: list[int] = []
    used = 0
    for count, step in ((negative_count, -1), (positive_count, 1)):
        poc = 0
        for _ in range(count):
            poc += step * (bits.ue(0x7FFF) + 1)  # delta_poc_s0_minus1 or delta_poc_s1_minus1
            used += bits.u(1)  # used_by_curr_pic_s0_flag or used_by_curr_pic_s1_flag
            deltas.append(poc)
    return H265ReferenceSet(
        negative=tuple(deltas[:negative_count]), positive=tuple(deltas[negative_count:]), used=used
    )


# ---------------------------------------------------------------------------------------------
# RTP depacketizing


class Depacketizer:
    """Rebuilds Annex B access units from the RTP payloads of one stream.

    The RTP layer calls `push` for each payload (in sequence order), `flush` at the end of each
    access unit (marker bit or timestamp change) and `drop` when packets were lost. Malformed
    payloads never raise: they damage the access unit, which `flush` then discards. Fragments
    are kept as slices and joined once per access unit.
    """

    __slots__ = ("_broken", "_fragment", "_key", "_parts", "discarded", "pps", "sps", "vps")

    codec = ""

    def __init__(self) -> None:
        self._parts: list[Packet] = []
        self._key = False
        self._broken = False
        self._fragment = False
        self.sps: bytes | None = None
        self.pps: bytes | None = None
        self.vps: bytes | None = None
        """The latest parameter sets seen in the stream (not fragmented ones)."""
        self.discarded = 0
        """Access units thrown away because they were damaged or malformed."""

    def push(self, packet: Packet, start: int, end: int) -> None:
        """Add the RTP payload `packet[start:end]` to the access unit being built."""
        raise NotImplementedError

    def drop(self) -> None:
        """Mark the access unit being built as damaged, so that `flush` discards it."""
        self._broken = True

    def flush(self) -> tuple[bytes, bool] | None:
        """End the access unit: its Annex B bytes and whether it is a key, or None if unusable."""
        parts = self._parts
        if self._broken or self._fragment:
            # A fragmented NAL unit still open at the end of its access unit lost its tail.
            self._broken = self._fragment = self._key = False
            if parts:
                parts.clear()
            self.discarded += 1
            return None
        if not parts:
            return None
        data = b"".join(parts)
        parts.clear()
        key, self._key = self._key, False
        return data, key

    def parameter_sets(self) -> list[bytes]:
        """The parameter sets seen in band, in the order decoders want them."""
        return [nal for nal in (self.vps, self.sps, self.pps) if nal is not None]


class H264Depacketizer(Depacketizer):
    """RFC 6184, single NAL unit and non-interleaved modes: single NAL, STAP-A and FU-A."""

    __slots__ = ()

    codec = "h264"

    def push(self, packet: Packet, start: int, end: int) -> None:  # noqa: D102
        if end <= start:
            return  # nothing but padding
        header = packet[start]
        kind = header & 0x1F
        parts = self._parts
        if kind == _H264_FU_A and end - start > 2:  # first: most packets of a big frame
            fu = packet[start + 1]
            if fu & 0x80:  # start of a fragmented NAL unit
                inner = fu & 0x1F
                if self._fragment or fu & 0x40 or not 0 < inner < _H264_STAP_A:
                    self._broken = True
                parts.append(_FU_PREFIX[(header & 0xE0) | inner])
                self._fragment = True
                if inner == H264_IDR:
                    self._key = True
            elif not self._fragment:
                self._broken = True  # its start was lost
                return
            parts.append(packet[start + 2 : end])
            if fu & 0x40:  # end
                self._fragment = False
        elif 0 < kind < _H264_STAP_A and not header & 0x80:
            if self._fragment:
                self._fragment = False
                self._broken = True
            parts.append(START_CODE)
            parts.append(packet[start:end])
            if kind == H264_IDR:
                self._key = True
            elif kind in (H264_SPS, H264_PPS):
                self._parameter_set(kind, packet[start:end])
        elif kind == _H264_STAP_A:
            self._aggregate(packet, start + 1, end)
        else:
            # 25-27 and 29 belong to interleaved mode, 0, 30 and 31 are undefined.
            self._broken = True

    def _aggregate(self, packet: Packet, pos: int, end: int) -> None:
        if self._fragment:
            self._fragment = False
            self._broken = True
        parts = self._parts
        while pos < end:
            if pos + 2 >= end:
                self._broken = True
                return
            size = (packet[pos] << 8) | packet[pos + 1]
            pos += 2
            stop = pos + size
            kind = packet[pos] & 0x1F
            if not size or stop > end or not 0 < kind < _H264_STAP_A:
                self._broken = True
                return
            parts.append(START_CODE)
            parts.append(packet[pos:stop])
            if kind == H264_IDR:
                self._key = True
            elif kind in (H264_SPS, H264_PPS):
                self._parameter_set(kind, packet[pos:stop])
            pos = stop

    def _parameter_set(self, kind: int, nal: Packet) -> None:
        if kind == H264_SPS:
            if nal != self.sps:
                self.sps = bytes(nal)
        elif nal != self.pps:
            self.pps = bytes(nal)


class H265Depacketizer(Depacketizer):
    """RFC 7798, one RTP stream: single NAL unit, aggregation (AP) and fragmentation (FU) packets.

    With `donl` (the SDP said sprop-max-don-diff > 0) packets carry decoding order numbers,
    which are skipped: over TCP the transmission order is the decoding order here.
    """

    __slots__ = ("_donl",)

    codec = "hevc"

    def __init__(self, donl: bool = False) -> None:
        super().__init__()
        self._donl = 2 if donl else 0

    def push(self, packet: Packet, start: int, end: int) -> None:  # noqa: D102
        if end <= start:
            return
        if end - start < 3 or packet[start] & 0x80:
            self._broken = True
            return
        first, second = packet[start], packet[start + 1]
        kind = (first >> 1) & 0x3F
        parts = self._parts
        donl = self._donl
        if kind < _H265_AP:
            if self._fragment:
                self._fragment = False
                self._broken = True
            parts.append(START_CODE)
            if donl:
                parts.append(packet[start : start + 2])
                parts.append(packet[start + 2 + donl : end])
            else:
                parts.append(packet[start:end])
            if H265_IRAP_FIRST <= kind <= H265_IRAP_LAST:
                self._key = True
            elif H265_VPS <= kind <= H265_PPS:
                nal = packet[start:end]
                if donl:
                    nal = bytes(packet[start : start + 2]) + bytes(packet[start + 2 + donl : end])
                self._parameter_set(kind, nal)
        elif kind == _H265_FU:
            fu = packet[start + 2]
            payload = start + 3
            if fu & 0x80:  # start of a fragmented NAL unit
                inner = fu & 0x3F
                if self._fragment or fu & 0x40 or inner >= _H265_AP:
                    self._broken = True
                parts.append(START_CODE + bytes(((first & 0x81) | (inner << 1), second)))
                self._fragment = True
                payload += donl
                if H265_IRAP_FIRST <= inner <= H265_IRAP_LAST:
                    self._key = True
            elif not self._fragment:
                self._broken = True
                return
            if payload >= end:
                self._broken = True
                return
            parts.append(packet[payload:end])
            if fu & 0x40:
                self._fragment = False
        elif kind == _H265_AP:
            self._aggregate(packet, start + 2, end)
        else:
            self._broken = True  # PACI (50) and the unspecified types 51 to 63

    def _aggregate(self, packet: Packet, pos: int, end: int) -> None:
        if self._fragment:
            self._fragment = False
            self._broken = True
        parts = self._parts
        donl = self._donl
        pos += donl  # DONL of the first unit; the others carry a one-byte DOND
        following = donl // 2
        while pos < end:
            if pos + 3 >= end:
                self._broken = True
                return
            size = (packet[pos] << 8) | packet[pos + 1]
            pos += 2
            stop = pos + size
            if size < 2 or stop > end or packet[pos] & 0x80:
                self._broken = True
                return
            kind = (packet[pos] >> 1) & 0x3F
            if kind >= _H265_AP:
                self._broken = True
                return
            parts.append(START_CODE)
            parts.append(packet[pos:stop])
            if H265_IRAP_FIRST <= kind <= H265_IRAP_LAST:
                self._key = True
            elif H265_VPS <= kind <= H265_PPS:
                self._parameter_set(kind, packet[pos:stop])
            pos = stop + following

    def _parameter_set(self, kind: int, nal: Packet) -> None:
        if kind == H265_SPS:
            if nal != self.sps:
                self.sps = bytes(nal)
        elif kind == H265_PPS:
            if nal != self.pps:
                self.pps = bytes(nal)
        elif nal != self.vps:
            self.vps = bytes(nal)


def depacketizer_for(codec: str, fmtp: Mapping[str, str]) -> Depacketizer:
    """The depacketizer for a stream announced in SDP with this codec and `a=fmtp` parameters."""
    if codec == "hevc":
        try:
            don_diff = int(fmtp.get("sprop-max-don-diff", "0"))
        except ValueError:
            raise NalError("sprop-max-don-diff is not a number") from None
        return H265Depacketizer(donl=don_diff > 0)
    if codec == "h264":
        if fmtp.get("packetization-mode", "0").strip() == "2":
            raise NalError("H.264 interleaved packetization (mode 2) is not supported")
        return H264Depacketizer()
    raise NalError(f"no depacketizer for {codec}")
