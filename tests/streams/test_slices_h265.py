"""Each H.265 picture's QP from its first slice segment header, checked against FFmpeg's reader.

The streams are the real test footage (tests/fixtures/media/car-detection.mp4, CC BY 4.0 Intel
IoT DevKit) encoded by ffmpeg/libx265 in the ways slice segment headers differ: a camera's CBR
with P pictures only, B-pyramids and many references, open GOPs (CRA and RASL pictures) and
closed ones (IDR), weighted prediction through a fade, four slices per picture, SAO and
temporal MVP off, monochrome and 4:4:4, 10 bits with QPs below 0, a temporal sub-layer, and
PPSs that change in band. The truth is `ffmpeg -bsf:v trace_headers`: init_qp_minus26 of the
PPS plus slice_qp_delta of each picture's first slice segment.

x265 leaves some syntax out: it sends every reference picture set in the slice header (its
multi-pass-opt-rps, which would put them in the SPS, writes an SPS FFmpeg cannot read in
x265 3.5), and it writes no long-term pictures, reference list changes, extra slice header bits,
output flags, CABAC init flags or dependent slice segments. For those, real x265 streams are
rewritten header by header: the fields FFmpeg's trace reads, at the bit positions it gives, are
changed or added, the slice data is kept, and FFmpeg reads the rewritten stream for the truth.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import av
import pytest

from hub.streams.h264 import (
    H265SliceSyntax,
    parse_h265_sps_and_syntax,
    remove_emulation_prevention,
    split_annexb,
)
from hub.streams.slices import SliceQp
from tests.streams.conftest import CAR_VIDEO


def _has_libx265() -> bool:
    if shutil.which("ffmpeg") is None:
        return False
    encoders = subprocess.run(
        ["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, check=False
    ).stdout
    return "libx265" in encoders


pytestmark = pytest.mark.skipif(
    not _has_libx265(),
    reason="ffmpeg with libx265 is not installed (apt-get install ffmpeg, which has it)",
)

SCALE = "-vf scale=384:-2"
ENCODINGS = {
    "camera: P only, CBR under a VBV, closed GOP (IDR), HRD and AUD": "-preset ultrafast"
    " -b:v 300k -x265-params bframes=0:ref=3:vbv-maxrate=300:vbv-bufsize=180"
    ":keyint=12:min-keyint=12:scenecut=0:open-gop=0:repeat-headers=1:hrd=1:aud=1",
    "B-pyramid, 4 references, open GOP (CRA, RASL)": "-preset medium -crf 26 -x265-params"
    " bframes=4:b-pyramid=1:b-adapt=2:ref=4:keyint=12:open-gop=1",
    "weighted P and B through a fade": "-vf scale=384:-2,fade=t=in:st=0:d=1.5:color=0x4080c0"
    " -preset fast -crf 26 -x265-params bframes=3:b-pyramid=1:weightp=1:weightb=1:ref=3",
    "four slices, no SAO, no temporal MVP": "-preset fast -crf 24 -x265-params"
    " slices=4:sao=0:temporal-mvp=0:bframes=2:keyint=15:open-gop=0",
    "6 references, 3 B-frames, 6-bit POC": "-preset slow -crf 28 -x265-params"
    " ref=6:bframes=3:rc-lookahead=10:log2-max-poc-lsb=6",
    "monochrome (4:0:0), weighted": "-pix_fmt gray -preset fast -crf 26 -x265-params"
    " weightp=1:weightb=1:bframes=3:keyint=12",
    "10 bits, a temporal sub-layer, PPSs changing": "-pix_fmt yuv420p10le"
    " -preset fast -crf 4 -x265-params bframes=2:temporal-layers=1:keyint=12:open-gop=0"
    ":opt-qp-pps=1:opt-ref-list-length-pps=1:repeat-headers=1",
    "4:4:4, scaling lists, weighted P": "-pix_fmt yuv444p -preset fast -crf 30 -x265-params"
    " bframes=2:weightp=1:scaling-list=default:keyint=12",
}
"""ffmpeg options of each encoding (the footage's first 2 s, 384 pixels wide)."""


def encode(name: str, options: str, folder: Path) -> Path:
    path = folder / (re.sub(r"\W+", "-", name).strip("-") + ".hevc")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(CAR_VIDEO), "-t", "2"]
        + ["-an", *SCALE.split(), "-c:v", "libx265", *options.split()]
        + ["-f", "hevc", str(path)],
        check=True,
        capture_output=True,
    )
    return path


# -- FFmpeg's reading of the headers -------------------------------------------------------------

_FIELD = re.compile(r"\] (\d+)\s+(\S+)\s+([01]+) = (-?\d+)$")


@dataclass(frozen=True, slots=True)
class Field:
    """One syntax element as FFmpeg's trace_headers read it: where, its bits, its value."""

    pos: int
    name: str
    bits: str
    value: int


Unit = list[Field]
"""The fields of one NAL unit, from its header's first bit."""


@dataclass
class Trace:
    """What FFmpeg read: the parameter sets before the first packet, then each packet's units."""

    extradata: list[Unit] = field(default_factory=list)
    packets: list[list[Unit]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def units(self) -> Iterator[Unit]:
        yield from self.extradata
        for packet in self.packets:
            yield from packet

    def qps(self) -> list[int]:
        """The QP of each picture's first slice segment: init_qp_minus26 + slice_qp_delta."""
        init: dict[int, int] = {}
        qps = []
        for packet in [self.extradata, *self.packets]:
            first = packet is not self.extradata
            for unit in packet:
                values = {f.name: f.value for f in unit}
                if values["nal_unit_type"] == 34:
                    init[values["pps_pic_parameter_set_id"]] = values["init_qp_minus26"]
                elif "slice_qp_delta" in values and first:
                    pps = values["slice_pic_parameter_set_id"]
                    qps.append(26 + init[pps] + values["slice_qp_delta"])
                    first = False
        return qps

    def values(self, name: str) -> set[int]:
        """The values read for fields of this name (without [index])."""
        return {f.value for unit in self.units() for f in unit if f.name.split("[")[0] == name}

    def count(self, name: str, value: int | None = None) -> int:
        """How many fields of this name (without [index]), with this value if given, were read."""
        return sum(
            1
            for unit in self.units()
            for f in unit
            if f.name.split("[")[0] == name and (value is None or f.value == value)
        )


def unit_value(unit: Unit, name: str) -> int:
    return next(f.value for f in unit if f.name == name)


def trace(path: Path) -> Trace:
    stderr = subprocess.run(
        ["ffmpeg", "-nostdin", "-nostats", "-loglevel", "trace", "-i", str(path), "-c", "copy"]
        + ["-bsf:v", "trace_headers", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    found = Trace()
    units: list[Unit] = found.extradata
    for line in stderr.splitlines():
        if "Failed to" in line or "out of range" in line or "Invalid" in line:
            found.errors.append(line)
        if "trace_headers" not in line:
            continue
        if "Packet:" in line:
            found.packets.append([])
            units = found.packets[-1]
            continue
        match = _FIELD.search(line)
        if match is None:
            continue
        item = Field(int(match[1]), match[2], match[3], int(match[4]))
        if item.pos == 0:
            units.append([])
        units[-1].append(item)
    return found


def demux(path: Path) -> tuple[list[bytes], bytes]:
    """The stream's access units, Annex B, as a camera's depacketizer hands them over; and the
    parameter sets FFmpeg found for its extradata."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        extradata = bytes(stream.codec_context.extradata or b"")
        return [bytes(p) for p in container.demux(stream) if p.size], extradata


def kind(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F


def annexb(nals: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)


@dataclass(frozen=True)
class Stream:
    path: Path
    units: list[bytes]
    extradata: bytes
    trace: Trace


def load(path: Path) -> Stream:
    units, extradata = demux(path)
    found = trace(path)
    assert not found.errors, found.errors[:3]
    assert len(found.packets) == len(units)
    return Stream(path, units, extradata, found)


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Stream]:
    folder = tmp_path_factory.mktemp("slices-h265")
    with ThreadPoolExecutor(2) as pool:  # two encodings at a time
        paths = list(pool.map(lambda item: encode(item[0], item[1], folder), ENCODINGS.items()))
        loaded = list(pool.map(load, paths))
    return dict(zip(ENCODINGS, loaded, strict=True))


@pytest.mark.parametrize("name", ENCODINGS)
def test_every_picture_s_qp_agrees_with_ffmpeg(streams: dict[str, Stream], name: str) -> None:
    stream = streams[name]
    truth = stream.trace.qps()
    reader = SliceQp("hevc")
    got = [reader.qp(unit) for unit in stream.units]
    assert len(got) == len(truth) == 25  # 2 s at 12.5 fps
    assert got == truth
    assert reader.unreadable == 0
    assert len(set(truth)) > 1  # the QP moves: an answer stuck at one value would not pass


def test_the_encodings_take_the_header_s_branches(streams: dict[str, Stream]) -> None:
    """The encodings above do reach the syntax they are there for."""

    def traced(name: str) -> Trace:
        return streams[name].trace

    camera = traced("camera: P only, CBR under a VBV, closed GOP (IDR), HRD and AUD")
    assert camera.count("slice_type", 0) == 0 and camera.count("vui_hrd_parameters_present_flag", 1)
    assert camera.count("nal_unit_type", 20) and camera.count("nal_unit_type", 35)  # IDR, AUD
    pyramid = traced("B-pyramid, 4 references, open GOP (CRA, RASL)")
    assert pyramid.count("nal_unit_type", 21) and pyramid.count("nal_unit_type", 8)  # CRA, RASL
    assert max(pyramid.values("num_ref_idx_l0_active_minus1")) >= 2
    assert pyramid.values("num_ref_idx_l1_active_minus1") == {0, 1}
    assert pyramid.count("collocated_ref_idx")
    fade = traced("weighted P and B through a fade")
    for flag in ("luma_weight_l0_flag", "chroma_weight_l0_flag", "luma_weight_l1_flag"):
        assert fade.count(flag, 1) and fade.count(flag, 0), flag
    sliced = traced("four slices, no SAO, no temporal MVP")
    assert sliced.count("first_slice_segment_in_pic_flag", 0) == 3 * 25
    assert not sliced.count("slice_sao_luma_flag") and not sliced.count("collocated_ref_idx")
    assert (
        max(traced("6 references, 3 B-frames, 6-bit POC").values("num_ref_idx_l0_active_minus1"))
        == 5
    )
    mono = traced("monochrome (4:0:0), weighted")
    assert mono.count("chroma_format_idc", 0) and not mono.count("slice_sao_chroma_flag")
    assert mono.count("luma_weight_l1_flag") and not mono.count("chroma_weight_l1_flag")
    deep = traced("10 bits, a temporal sub-layer, PPSs changing")
    assert deep.count("bit_depth_luma_minus8", 2) and deep.count("sps_max_sub_layers_minus1", 1)
    assert len(deep.values("num_ref_idx_l0_default_active_minus1")) > 1
    assert len(deep.values("init_qp_minus26")) > 1
    assert traced("4:4:4, scaling lists, weighted P").count("chroma_format_idc", 3)
    syntax = {name: _syntax(stream.units) for name, stream in streams.items()}
    assert {s.sao for s in syntax.values()} == {True, False}
    assert {s.temporal_mvp for s in syntax.values()} == {True, False}
    assert {s.chroma_array_type for s in syntax.values()} == {0, 1, 3}
    assert {s.log2_max_poc_lsb for s in syntax.values()} == {6, 8}


def _syntax(units: list[bytes]) -> H265SliceSyntax:
    return next(
        parse_h265_sps_and_syntax(nal)[1]
        for unit in units
        for nal in split_annexb(unit)
        if kind(nal) == 33
    )


# -- rewritten streams: the syntax x265 does not write ---------------------------------------------


def ue(value: int) -> str:
    return format(value + 1, "b").rjust(2 * (value + 1).bit_length() - 1, "0")


def se(value: int) -> str:
    return ue(2 * value - 1 if value > 0 else -2 * value)


def u(value: int, width: int) -> str:
    return format(value, f"0{width}b") if width else ""


def escape(rbsp: bytes) -> bytes:
    """A NAL unit from its RBSP: emulation prevention bytes put back (7.4.2)."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def to_bytes(bits: str) -> bytes:
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


ReferenceSet = tuple[tuple[tuple[int, bool], ...], tuple[tuple[int, bool], ...]]
"""A short-term reference picture set: (POC delta, used by the picture) before, after."""

_RPS_FIELDS = {
    "short_term_ref_pic_set_sps_flag", "num_negative_pics", "num_positive_pics",
    "delta_poc_s0_minus1", "used_by_curr_pic_s0_flag", "delta_poc_s1_minus1",
    "used_by_curr_pic_s1_flag",
}  # fmt: skip
LONG_TERM_SPS = ((5, True), (9, False), (17, True))
"""lt_ref_pic_poc_lsb_sps and used_by_curr_pic_lt_sps_flag of the rewritten SPS."""


def base(name: str) -> str:
    return name.split("[")[0]


def explicit_set(fields: list[Field]) -> ReferenceSet:
    """The set a slice header writes out (x265's only way), from its traced fields."""
    lists: dict[str, list[tuple[int, bool]]] = {"s0": [], "s1": []}
    poc = {"s0": 0, "s1": 0}
    for item in fields:
        for side, step in (("s0", -1), ("s1", 1)):
            if base(item.name) == f"delta_poc_{side}_minus1":
                poc[side] += step * (item.value + 1)
            elif base(item.name) == f"used_by_curr_pic_{side}_flag":
                lists[side].append((poc[side], item.value == 1))
    return tuple(lists["s0"]), tuple(lists["s1"])


def relaxed(target: ReferenceSet) -> ReferenceSet:
    """The set with its farthest earlier picture kept but no longer used by the picture (x265
    rarely marks one so): the pictures the picture references are then fewer than the set's."""
    negative, positive = target
    if len(negative) < 2 or not negative[-1][1]:
        return target
    return negative[:-1] + ((negative[-1][0], False),), positive


def coded_explicitly(target: ReferenceSet) -> str:
    negative, positive = target
    bits = ue(len(negative)) + ue(len(positive))
    for pictures in (negative, positive):
        last = 0
        for delta, used in pictures:
            bits += ue(abs(delta - last) - 1) + str(int(used))
            last = delta
    return bits


def predicted(target: ReferenceSet, source: ReferenceSet) -> str | None:
    """The bits after inter_ref_pic_set_prediction_flag (and delta_idx_minus1) that make
    `target` from `source` (7.4.8), or None if it cannot be."""
    wanted = dict(target[0] + target[1])
    deltas = [delta for delta, _ in source[0] + source[1]]
    for delta_rps in sorted((d for d in range(-8, 9) if d), key=lambda d: (abs(d), d)):
        candidates = [d + delta_rps for d in deltas] + [delta_rps]
        if not set(wanted) <= set(candidates):
            continue
        bits = str(int(delta_rps < 0)) + ue(abs(delta_rps) - 1)
        for candidate in candidates:  # used_by_curr_pic_flag, else use_delta_flag
            bits += ("1" if wanted[candidate] else "01") if candidate in wanted else "00"
        return bits
    return None


def body(fields: list[Field]) -> str:
    """A unit's bits up to its rbsp_trailing_bits() or byte_alignment()."""
    out = ""
    for item in fields:
        if item.name.startswith(("rbsp_stop_one_bit", "alignment_bit_equal_to_one")):
            break
        out += item.bits
    return out


class Headers:
    """Rewrites nothing: each unit's bits as FFmpeg read them (subclasses change some)."""

    def sps(self, fields: list[Field]) -> str:
        return body(fields)

    def pps(self, fields: list[Field]) -> str:
        return body(fields)

    def slice(self, fields: list[Field]) -> str:
        return body(fields)


@dataclass
class Extensions(Headers):
    """Parameter sets with extensions: the bits after sps_ and pps_extension_present_flag."""

    sps_extension: str
    pps_extension: str | None = None
    """None: the PPS as it was."""

    def sps(self, fields: list[Field]) -> str:
        return self._extended(fields, "sps_extension_present_flag", self.sps_extension)

    def pps(self, fields: list[Field]) -> str:
        return self._extended(fields, "pps_extension_present_flag", self.pps_extension)

    @staticmethod
    def _extended(fields: list[Field], flag: str, extension: str | None) -> str:
        if extension is None:
            return body(fields)
        at = next(i for i, item in enumerate(fields) if item.name == flag)
        assert fields[at].value == 0
        return body(fields[:at]) + "1" + extension


@dataclass
class Rewrite(Headers):
    """How a stream's headers are rewritten: the SPS's sets and the PPS's new flags."""

    sets: list[ReferenceSet]
    qp_shift: int = 0
    """Added to the PPS's init_qp_minus26: every slice QP moves with it."""
    poc_bits: int = 8
    defaults: dict[str, int] = field(default_factory=dict)
    """The latest PPS's num_ref_idx_lX_default_active_minus1."""
    picture: int = 0
    """Independent slice segments rewritten so far: each picks other variants."""
    segment: int = 0

    def sps(self, fields: list[Field]) -> str:
        out = ""
        for item in fields:
            if item.name.startswith("rbsp_stop_one_bit"):
                break
            if item.name == "log2_max_pic_order_cnt_lsb_minus4":
                self.poc_bits = item.value + 4
            if item.name == "num_short_term_ref_pic_sets":
                assert item.value == 0
                out += ue(len(self.sets))
                for index, target in enumerate(self.sets):
                    if index:
                        inter = predicted(target, self.sets[index - 1])
                        out += "0" + coded_explicitly(target) if inter is None else "1" + inter
                    else:
                        out += coded_explicitly(target)
            elif item.name == "long_term_ref_pics_present_flag":
                out += "1" + ue(len(LONG_TERM_SPS))
                out += "".join(
                    u(lsb, self.poc_bits) + str(int(used)) for lsb, used in LONG_TERM_SPS
                )
            else:
                out += item.bits
        return out

    def pps(self, fields: list[Field]) -> str:
        changes = {
            "dependent_slice_segments_enabled_flag": "1",
            "output_flag_present_flag": "1",
            "num_extra_slice_header_bits": "010",
            "cabac_init_present_flag": "1",
            "lists_modification_present_flag": "1",
        }
        out = ""
        for item in fields:
            if item.name.startswith("rbsp_stop_one_bit"):
                break
            if item.name.startswith("num_ref_idx_l"):
                self.defaults[item.name[:14]] = item.value
            if item.name == "init_qp_minus26":
                out += se(item.value + self.qp_shift)
            else:
                out += changes.get(item.name, item.bits)
        return out

    def reference_set(self, target: ReferenceSet) -> str:
        """short_term_ref_pic_set_sps_flag and what follows it, for the slice's set."""
        if target in self.sets:
            return "1" + u(self.sets.index(target), (len(self.sets) - 1).bit_length())
        for index, source in enumerate(self.sets):  # the oldest first: delta_idx_minus1 > 0
            inter = predicted(target, source)
            if inter is not None:
                return "01" + ue(len(self.sets) - index - 1) + inter
        return "00" + coded_explicitly(target)

    def long_term(self) -> tuple[str, int]:
        """The slice's long-term pictures, a variant per picture, and how many it uses."""
        choices: list[tuple[list[int], list[tuple[int, bool, int | None]]]] = [
            ([], []),
            ([2], []),
            ([1], [(3, True, 2)]),
            ([0, 2], [(30, False, None), (7, True, 1)]),
        ]
        # by threes: the picture after an IDR (every 12th) also gets each variant
        from_sps, own = choices[self.picture // 3 % len(choices)]
        bits = ue(len(from_sps)) + ue(len(own))
        used = 0
        for index in from_sps:
            bits += u(index, 2) + "0"  # lt_idx_sps, delta_poc_msb_present_flag
            used += LONG_TERM_SPS[index][1]
        for lsb, used_here, cycle in own:
            bits += u(lsb, self.poc_bits) + str(int(used_here))
            bits += "0" if cycle is None else "1" + ue(cycle)
            used += used_here
        return bits, used

    def slice(self, fields: list[Field]) -> str:
        values = {item.name: item.value for item in fields}
        first = values["first_slice_segment_in_pic_flag"] == 1
        if first:
            self.picture += 1
            self.segment = 0
        else:
            self.segment += 1
        dependent = self.segment % 2 == 1
        slice_type = values.get("slice_type", -1)
        current = 0  # NumPicTotalCurr
        out = ""
        at = 0
        lists_done = cabac_done = False
        while at < len(fields):
            item = fields[at]
            name = base(item.name)
            if name.startswith("alignment_bit_equal"):
                break
            if name == "slice_segment_address":
                out += str(int(dependent)) + item.bits
                at += 1
                if dependent:
                    while base(fields[at].name) not in (
                        "num_entry_point_offsets", "slice_segment_header_extension_length",
                        "alignment_bit_equal_to_one",
                    ):  # fmt: skip
                        at += 1
                continue
            if name == "slice_type":
                out += "10" + item.bits + "1"  # slice_reserved_flag[2], slice_type, pic_output
            elif name in _RPS_FIELDS:
                end = at
                while end < len(fields) and base(fields[end].name) in _RPS_FIELDS:
                    end += 1
                target = relaxed(explicit_set(fields[at:end]))
                out += self.reference_set(target)
                long_term, used = self.long_term()
                out += long_term
                current = sum(used for _, used in target[0] + target[1]) + used
                at = end
                continue
            elif slice_type in (0, 1) and not lists_done and name in (
                "mvd_l1_zero_flag", "collocated_from_l0_flag", "collocated_ref_idx",
                "luma_log2_weight_denom", "five_minus_max_num_merge_cand",
            ):  # fmt: skip
                lists_done = True
                if current > 1:
                    out += self.list_changes(values, slice_type, current)
                continue  # the same field again, for the CABAC init flag
            elif (
                lists_done
                and not cabac_done
                and slice_type in (0, 1)
                and name != "mvd_l1_zero_flag"
            ):
                cabac_done = True
                out += str(self.picture % 2)  # cabac_init_flag
                continue
            else:
                out += item.bits
            at += 1
        return out

    def list_changes(self, values: dict[str, int], slice_type: int, current: int) -> str:
        width = (current - 1).bit_length()
        out = ""
        for side in ("l0", "l1") if slice_type == 0 else ("l0",):
            name = f"num_ref_idx_{side}"
            count = values.get(f"{name}_active_minus1", self.defaults[name]) + 1
            if (self.picture + (side == "l1")) % 3:
                out += "1" + "".join(u((i + self.picture) % current, width) for i in range(count))
            else:
                out += "0"
        return out


def plan(stream: Stream, qp_shift: int = 0) -> Rewrite:
    """A Rewrite whose SPS holds most of the sets the stream's slice headers write out."""
    sets: list[ReferenceSet] = []
    for unit in stream.trace.units():
        if "short_term_ref_pic_set_sps_flag" in {f.name for f in unit}:
            target = relaxed(explicit_set(unit))
            if target not in sets:
                sets.append(target)
    assert len(sets) >= 3
    # every third set left out of the SPS: slices predict those from one of the SPS's sets
    return Rewrite([s for index, s in enumerate(sets) if index % 3 != 2], qp_shift)


def rewrite(stream: Stream, headers: Headers) -> list[bytes]:
    """The stream's access units with their parameter sets and slice segment headers rewritten."""
    units = []
    for unit_bytes, traced in zip(stream.units, stream.trace.packets, strict=True):
        fields = iter(traced)
        out = bytearray()
        for nal in split_annexb(unit_bytes):
            nal_kind = kind(nal)
            rewriter: Callable[[list[Field]], str] | None = {33: headers.sps, 34: headers.pps}.get(
                nal_kind, headers.slice if nal_kind <= 21 else None
            )
            if nal_kind <= 21 or nal_kind in (32, 33, 34, 35, 39, 40):  # the units FFmpeg reads
                unit = next(fields)
                assert unit_value(unit, "nal_unit_type") == nal_kind
            if rewriter is None:
                out += b"\x00\x00\x00\x01" + nal
                continue
            rbsp = remove_emulation_prevention(nal)
            read = "".join(f.bits for f in unit)
            whole = "".join(format(byte, "08b") for byte in rbsp)
            assert whole.startswith(read), "the trace's bits are the unit's"
            bits = rewriter(unit) + "1"  # rbsp_stop_one_bit or alignment_bit_equal_to_one
            bits += "0" * (-len(bits) % 8)
            rest = rbsp[len(read) // 8 :] if nal_kind <= 21 else b""  # the slice data
            out += b"\x00\x00\x00\x01" + escape(to_bytes(bits) + rest)
        units.append(bytes(out))
    return units


def save(units: list[bytes], path: Path) -> Stream:
    path.write_bytes(b"".join(units))
    return load(path)


REWRITTEN = {
    "P only, RPS from the SPS, long-term pictures, list changes": (
        "camera: P only, CBR under a VBV, closed GOP (IDR), HRD and AUD",
        0,
    ),
    "B-pyramid with all of them, and CABAC init, output and extra flags": (
        "B-pyramid, 4 references, open GOP (CRA, RASL)",
        0,
    ),
    "four slices, every other one dependent": ("four slices, no SAO, no temporal MVP", 0),
    "weighted, with long-term pictures and list changes": ("weighted P and B through a fade", 0),
    "10 bits, QPs below 0 (the PPS's initial QP lowered)": (
        "10 bits, a temporal sub-layer, PPSs changing",
        -15,
    ),
}
"""Each rewritten stream: its source encoding, and how far its QPs are moved."""


@pytest.fixture(scope="module")
def rewritten(
    streams: dict[str, Stream], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Stream]:
    folder = tmp_path_factory.mktemp("slices-h265-rewritten")
    return {
        name: save(rewrite(streams[source], plan(streams[source], shift)), folder / f"{i}.hevc")
        for i, (name, (source, shift)) in enumerate(REWRITTEN.items())
    }


@pytest.mark.parametrize("name", REWRITTEN)
def test_syntax_x265_does_not_write_agrees_with_ffmpeg(
    rewritten: dict[str, Stream], streams: dict[str, Stream], name: str
) -> None:
    stream = rewritten[name]
    truth = stream.trace.qps()
    source, shift = REWRITTEN[name]
    assert truth == [qp + shift for qp in streams[source].trace.qps()]
    reader = SliceQp("hevc")
    assert [reader.qp(unit) for unit in stream.units] == truth
    assert reader.unreadable == 0


def test_the_rewritten_streams_take_the_header_s_branches(rewritten: dict[str, Stream]) -> None:
    every = [stream.trace for stream in rewritten.values()]

    def seen(name: str, value: int | None = None) -> bool:
        return all(t.count(name, value) for t in every)

    assert seen("num_short_term_ref_pic_sets") and seen("short_term_ref_pic_set_idx")
    assert seen("short_term_ref_pic_set_sps_flag", 0) and seen("short_term_ref_pic_set_sps_flag", 1)
    assert seen("inter_ref_pic_set_prediction_flag", 1)  # in the SPS or the slice
    assert any(t.count("delta_idx_minus1") for t in every)
    assert seen("lt_idx_sps") and seen("poc_lsb_lt") and seen("delta_poc_msb_cycle_lt")
    assert seen("list_entry_l0") and any(t.count("list_entry_l1") for t in every)
    assert seen("slice_reserved_flag") and seen("pic_output_flag") and seen("cabac_init_flag")
    assert min(rewritten["10 bits, QPs below 0 (the PPS's initial QP lowered)"].trace.qps()) < 0
    sliced = rewritten["four slices, every other one dependent"].trace
    assert sliced.count("dependent_slice_segment_flag", 1) == 2 * 25


def test_a_range_extension_is_read_and_screen_content_refused(
    streams: dict[str, Stream], tmp_path: Path
) -> None:
    # The camera's SPS has HRD parameters in its VUI: the extension flags come after them.
    source = streams["camera: P only, CBR under a VBV, closed GOP (IDR), HRD and AUD"]
    truth = source.trace.qps()
    # sps_range_extension_flag, its 9 flags all 0; the PPS's: cross-component prediction and
    # chroma QP offset lists off, SAO offset scales 0
    ranged = Extensions("1000" + "0000" + "0" * 9, "1000" + "0000" + "00" + "1" + "1")
    stream = save(rewrite(source, ranged), tmp_path / "range.hevc")
    assert stream.trace.count("sps_range_extension_flag", 1)
    assert stream.trace.qps() == truth
    reader = SliceQp("hevc")
    assert [reader.qp(unit) for unit in stream.units] == truth
    # sps_scc_extension_flag: current picture referencing, palettes, integer motion vectors and
    # intra boundary filtering off; still refused (FFmpeg 5 does not read it either)
    screen = rewrite(source, Extensions("0001" + "0000" + "00" + "00" + "0"))
    reader = SliceQp("hevc")
    assert [reader.qp(unit) for unit in screen] == [None] * len(truth)
    assert reader.unreadable == len(truth)


# -- parameter sets, damage ----------------------------------------------------------------------


def test_parameter_sets_out_of_band_or_late_and_in_any_order(streams: dict[str, Stream]) -> None:
    stream = streams["B-pyramid, 4 references, open GOP (CRA, RASL)"]
    truth = stream.trace.qps()
    nals = [split_annexb(unit) for unit in stream.units]
    vps, sps, pps = (next(n for unit in nals for n in unit if kind(n) == k) for k in (32, 33, 34))
    bare = [annexb([nal for nal in unit if kind(nal) not in (32, 33, 34)]) for unit in nals]
    # From the container's extradata, before the first picture (as StreamInfo.extradata).
    assert split_annexb(stream.extradata) == [vps, sps, pps]
    assert [SliceQp("hevc", stream.extradata).qp(unit) for unit in bare] == truth
    # None until they come; a PPS that comes before its SPS is kept until the SPS comes.
    late = SliceQp("hevc")
    assert late.qp(bare[0]) is None and late.unreadable == 1
    assert late.qp(annexb([pps]) + bare[1]) is None and late.unreadable == 2
    assert [late.qp(annexb([vps, sps]) + unit) for unit in bare[2:]] == truth[2:]
    # Out of band in any order, and an SPS sent again in band changes nothing.
    mixed = SliceQp("hevc", annexb([pps, sps]))
    assert [mixed.qp(annexb([sps, pps]) + unit) for unit in bare] == truth
    assert mixed.unreadable == 0


def test_damaged_units_give_none_and_never_raise(streams: dict[str, Stream]) -> None:
    rng = random.Random(265)
    for name in (
        "weighted P and B through a fade",
        "10 bits, a temporal sub-layer, PPSs changing",
    ):
        units = streams[name].units
        reader = SliceQp("hevc")
        assert None not in [reader.qp(unit) for unit in units]
        unit = units[3]  # a predicted picture with its weights
        whole = reader.qp(unit)  # (with the latest PPS: the 10-bit stream's QP in it changes)
        for cut in range(80):  # cut inside the header: nothing; past its QP: the QP
            assert reader.qp(unit[:cut]) in (None, whole), cut
        for _ in range(1500):
            picked = rng.randrange(len(units))
            noise = bytearray(units[picked][: rng.randrange(6, 300)])
            for _ in range(rng.randrange(1, 6)):
                noise[rng.randrange(4, len(noise))] = rng.randrange(256)
            qp = reader.qp(bytes(noise))
            assert qp is None or -12 <= qp <= 51
        assert reader.unreadable > 0
    # damaged parameter sets: refused, or read as something else, but never an exception
    stream = streams["B-pyramid, 4 references, open GOP (CRA, RASL)"]
    sets = stream.extradata
    for _ in range(1500):
        noise = bytearray(sets)
        for _ in range(rng.randrange(1, 4)):
            noise[rng.randrange(4, len(noise))] = rng.randrange(256)
        reader = SliceQp("hevc", bytes(noise))
        for unit in rng.sample(stream.units[1:], 3):
            for qp in (reader.qp(unit), reader.qp(bytes(noise) + unit)):
                assert qp is None or -48 <= qp <= 51
    reader = SliceQp("hevc")
    assert reader.qp(b"") is None and reader.qp(b"\x00\x00\x01") is None
    assert reader.qp(b"\x00\x00\x01\x02") is None
    assert reader.qp(bytes(rng.randrange(256) for _ in range(5000))) in (None, *range(-48, 52))
