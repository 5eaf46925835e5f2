"""NAL-level helpers: parameter sets from real encoders, depacketizing round trips, fuzzing."""

from __future__ import annotations

import base64
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.streams.h264 import (
    START_CODE,
    Depacketizer,
    H264Depacketizer,
    H265Depacketizer,
    NalError,
    annexb,
    depacketizer_for,
    nal_type,
    parameter_sets_from_extradata,
    parameter_sets_from_fmtp,
    parse_h264_sps,
    parse_h265_sps,
    parse_sps,
    remove_emulation_prevention,
    split_annexb,
    split_length_prefixed,
)
from tests.streams.fakes import X264_720P_SPS, X265_360P_SPS

# -- parameter sets from real streams


def test_sps_of_the_test_footage(car_video: Path) -> None:
    with av.open(str(car_video)) as container:
        extradata = container.streams.video[0].codec_context.extradata
    assert extradata is not None
    nals, length_size = parameter_sets_from_extradata("h264", extradata)
    assert length_size == 4
    assert [nal_type("h264", nal) for nal in nals] == [7, 8]
    sequence = parse_h264_sps(nals[0])
    assert (sequence.width, sequence.height) == (768, 432)
    assert sequence.fps == pytest.approx(12.5)
    assert sequence.profile == 66  # Baseline


def test_sps_of_x264_at_720p() -> None:
    sequence = parse_sps("h264", X264_720P_SPS)
    assert (sequence.width, sequence.height, sequence.fps) == (1280, 720, 15.0)


def test_sps_of_x265() -> None:
    sequence = parse_sps("hevc", X265_360P_SPS)
    assert (sequence.width, sequence.height, sequence.fps) == (640, 360, 25.0)
    assert sequence.profile == 1  # Main


def _encode(codec: str, width: int, height: int, options: dict[str, str]) -> list[bytes]:
    """A few frames from PyAV's encoder, as Annex B access units."""
    context = av.CodecContext.create(codec, "w")
    assert isinstance(context, av.VideoCodecContext)
    context.width, context.height = width, height
    context.pix_fmt = "yuv420p"
    context.time_base = Fraction(1, 25)
    context.framerate = Fraction(25)
    context.options = options
    rng = np.random.default_rng(7)
    units: list[bytes] = []
    for index in range(6):
        picture = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        units += [bytes(packet) for packet in context.encode(frame)]
    units += [bytes(packet) for packet in context.encode(None)]
    return units


ENCODERS = [
    ("libx264", "h264", {"preset": "ultrafast", "profile": "baseline"}),
    ("libx264", "h264", {"preset": "fast", "profile": "high", "x264-params": "cqm=jvt"}),
    ("libx265", "hevc", {"preset": "ultrafast", "x265-params": "log-level=none"}),
    ("libx265", "hevc", {"preset": "medium", "x265-params": "log-level=none:bframes=3"}),
]


@pytest.mark.parametrize(("encoder", "codec", "options"), ENCODERS)
def test_sps_with_cropping_scaling_lists_and_reference_sets(
    encoder: str, codec: str, options: dict[str, str]
) -> None:
    units = _encode(encoder, 200, 118, options)  # neither a multiple of 16: cropped
    sps_type = 33 if codec == "hevc" else 7
    sps = next(nal for nal in split_annexb(units[0]) if nal_type(codec, nal) == sps_type)
    sequence = parse_sps(codec, sps)
    assert (sequence.width, sequence.height) == (200, 118)
    assert sequence.fps == pytest.approx(25.0)


def test_emulation_prevention_is_removed() -> None:
    assert remove_emulation_prevention(b"\x00\x00\x03\x01") == b"\x00\x00\x01"
    assert remove_emulation_prevention(b"\x00\x00\x03\x00\x00\x03") == b"\x00\x00\x00\x00"
    assert remove_emulation_prevention(b"\x00\x00\x03\x03") == b"\x00\x00\x03"
    assert remove_emulation_prevention(b"\x00\x03\x00") == b"\x00\x03\x00"


def test_sps_errors_are_nal_errors() -> None:
    with pytest.raises(NalError):
        parse_h264_sps(b"\x68\x00\x00\x00")  # a PPS
    with pytest.raises(NalError):
        parse_h264_sps(X264_720P_SPS[:6])  # truncated
    with pytest.raises(NalError):
        parse_h265_sps(X264_720P_SPS)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["h264", "hevc"]))
def test_sps_parser_fuzz(data: bytes, codec: str) -> None:
    header = b"\x67" if codec == "h264" else b"\x42\x01"
    try:
        sequence = parse_sps(codec, header + data)
    except NalError:
        return
    assert sequence.width > 0 and sequence.height > 0


# -- Annex B, MP4 and SDP forms


def test_annexb_round_trip() -> None:
    nals = [b"\x67abc", b"\x68de", b"\x65" + b"\x00\x00\x03\x01" * 3]
    stream = annexb(nals)
    assert stream.startswith(START_CODE)
    assert split_annexb(stream) == nals
    assert split_annexb(b"\x00\x00\x01\x09\x10\x00\x00\x00\x01\x67x") == [b"\x09\x10", b"\x67x"]


def test_length_prefixed() -> None:
    sample = b"\x00\x00\x00\x02\x65\x01\x00\x00\x00\x01\x06"
    assert split_length_prefixed(sample, 4) == [b"\x65\x01", b"\x06"]
    with pytest.raises(NalError):
        split_length_prefixed(sample[:-1], 4)
    with pytest.raises(NalError):
        split_length_prefixed(b"\x00\x00", 4)


def test_hvcc_extradata() -> None:
    vps, sps, pps = b"\x40\x01\x0c", X265_360P_SPS, b"\x44\x01\xc0"
    record = bytearray(23)
    record[0] = 1
    record[21] = 0x03  # lengthSizeMinusOne = 3
    record[22] = 3
    for kind, nal in ((32, vps), (33, sps), (34, pps)):
        record += bytes([kind]) + (1).to_bytes(2, "big") + len(nal).to_bytes(2, "big") + nal
    assert parameter_sets_from_extradata("hevc", bytes(record)) == ([vps, sps, pps], 4)
    with pytest.raises(NalError):
        parameter_sets_from_extradata("hevc", bytes(record[:-2]))


def test_annexb_extradata_passes_through() -> None:
    assert parameter_sets_from_extradata("h264", annexb([X264_720P_SPS, b"\x68\xce"])) == (
        [X264_720P_SPS, b"\x68\xce"],
        0,
    )


def test_sprop_parameter_sets() -> None:
    fmtp = {"sprop-parameter-sets": "Z0LAH9oBQBbsBagICAoAAAMAAgAAAwA9HjBlQA==,aM48gA=="}
    assert parameter_sets_from_fmtp("h264", fmtp) == [X264_720P_SPS, b"\x68\xce\x3c\x80"]
    # Padding is often left out.
    assert parameter_sets_from_fmtp("h264", {"sprop-parameter-sets": "aM48gA"}) == [
        b"\x68\xce\x3c\x80"
    ]
    hevc = {"sprop-vps": "QAEMAQ==", "sprop-sps": base64.b64encode(X265_360P_SPS).decode()}
    assert parameter_sets_from_fmtp("hevc", hevc) == [b"\x40\x01\x0c\x01", X265_360P_SPS]
    with pytest.raises(NalError):
        parameter_sets_from_fmtp("h264", {"sprop-parameter-sets": "not base64!"})


def test_depacketizer_choice() -> None:
    assert isinstance(depacketizer_for("h264", {}), H264Depacketizer)
    assert isinstance(depacketizer_for("hevc", {"sprop-max-don-diff": "2"}), H265Depacketizer)
    with pytest.raises(NalError):
        depacketizer_for("h264", {"packetization-mode": "2"})
    with pytest.raises(NalError):
        depacketizer_for("mjpeg", {})


# -- depacketizing: a small packetizer (RFC 6184 / RFC 7798) to make payloads with


def packetize(codec: str, unit: bytes, mtu: int = 120, donl: bool = False) -> list[bytes]:
    """RTP payloads for one access unit: aggregates small NAL units, fragments large ones."""
    header_size = 2 if codec == "hevc" else 1
    payloads: list[bytes] = []
    pending: list[bytes] = []
    don = b"\x00\x07" if donl else b""

    def flush_pending() -> None:
        if len(pending) == 1:
            nal = pending[0]
            payloads.append(nal[:header_size] + don + nal[header_size:])
        elif pending:
            if codec == "hevc":
                body = b"".join(
                    (b"\x00" if donl and i else b"") + len(nal).to_bytes(2, "big") + nal
                    for i, nal in enumerate(pending)
                )
                payloads.append(bytes([48 << 1, 1]) + don + body)
            else:
                body = b"".join(len(nal).to_bytes(2, "big") + nal for nal in pending)
                payloads.append(bytes([24 | (pending[0][0] & 0x60)]) + body)
        pending.clear()

    for nal in split_annexb(unit):
        if len(nal) + 8 <= mtu // 3:
            pending.append(nal)
            continue
        flush_pending()
        if len(nal) <= mtu:
            payloads.append(nal[:header_size] + don + nal[header_size:])
            continue
        body = nal[header_size:]
        chunks = [body[i : i + mtu] for i in range(0, len(body), mtu)]
        for index, chunk in enumerate(chunks):
            start, end = index == 0, index == len(chunks) - 1
            if codec == "hevc":
                kind = (nal[0] >> 1) & 0x3F
                fu = (0x80 if start else 0) | (0x40 if end else 0) | kind
                head = bytes([(nal[0] & 0x81) | (49 << 1), nal[1], fu])
                payloads.append(head + (don if start else b"") + chunk)
            else:
                fu = (0x80 if start else 0) | (0x40 if end else 0) | (nal[0] & 0x1F)
                payloads.append(bytes([(nal[0] & 0xE0) | 28, fu]) + chunk)
    flush_pending()
    return payloads


def _depacketize(depacketizer: Depacketizer, payloads: list[bytes]) -> tuple[bytes, bool] | None:
    for payload in payloads:
        depacketizer.push(payload, 0, len(payload))
    return depacketizer.flush()


@pytest.mark.parametrize(
    ("encoder", "codec", "options", "donl"),
    [(*ENCODERS[0], False), (*ENCODERS[2], False), (*ENCODERS[2], True)],
)
def test_depacketizing_rebuilds_encoder_output(
    encoder: str, codec: str, options: dict[str, str], donl: bool
) -> None:
    units = _encode(encoder, 96, 64, options)
    depacketizer = depacketizer_for(codec, {"sprop-max-don-diff": "1" if donl else "0"})
    decoder = av.CodecContext.create(codec, "r")
    assert isinstance(decoder, av.VideoCodecContext)
    pictures = 0
    for index, unit in enumerate(units):
        rebuilt = _depacketize(depacketizer, packetize(codec, unit, donl=donl))
        assert rebuilt is not None
        data, key = rebuilt
        # The same NAL units, each after a four-byte start code.
        assert split_annexb(data) == split_annexb(unit)
        assert key == (index == 0)
        pictures += len(decoder.decode(av.Packet(data)))
    pictures += len(decoder.decode(None))
    assert pictures == len(units)
    sps_type = 33 if codec == "hevc" else 7
    first_sps = next(nal for nal in split_annexb(units[0]) if nal_type(codec, nal) == sps_type)
    assert depacketizer.sps == first_sps and depacketizer.pps is not None


def test_h264_fragments_are_joined() -> None:
    depacketizer = H264Depacketizer()
    idr = b"\x65" + bytes(range(200))
    payloads = packetize("h264", annexb([b"\x67\x42\x00\x1e\xab", b"\x68\xce\x38\x80", idr]))
    assert [p[0] & 0x1F for p in payloads] == [24, 28, 28]
    data, key = _depacketize(depacketizer, payloads) or (b"", False)
    assert key
    assert data == annexb([b"\x67\x42\x00\x1e\xab", b"\x68\xce\x38\x80", idr])
    assert depacketizer.sps == b"\x67\x42\x00\x1e\xab"
    assert depacketizer.parameter_sets() == [b"\x67\x42\x00\x1e\xab", b"\x68\xce\x38\x80"]


def test_damaged_units_are_dropped() -> None:
    depacketizer = H264Depacketizer()
    slices = packetize("h264", annexb([b"\x41" + bytes(range(1, 251)) * 2]))
    assert len(slices) == 5
    # The first fragment lost: the unit is dropped, and the next one is whole again.
    assert _depacketize(depacketizer, slices[1:]) is None
    assert _depacketize(depacketizer, slices) is not None
    # The last fragment lost: the NAL unit is still open when the unit ends.
    assert _depacketize(depacketizer, slices[:-1]) is None
    # Loss reported by the RTP layer.
    depacketizer.push(slices[0], 0, len(slices[0]))
    depacketizer.drop()
    assert depacketizer.flush() is None
    assert depacketizer.discarded == 3
    assert _depacketize(depacketizer, slices) is not None


def test_h265_fragment_header_is_rebuilt() -> None:
    depacketizer = H265Depacketizer()
    cra = bytes([21 << 1, 1]) + bytes(range(250))
    payloads = packetize("hevc", annexb([cra]))
    assert all((p[0] >> 1) & 0x3F == 49 for p in payloads)
    assert _depacketize(depacketizer, payloads) == (START_CODE + cra, True)


def test_payloads_offsets_into_a_larger_buffer() -> None:
    depacketizer = H264Depacketizer()
    buffer = bytearray(b"junk" + b"\x41\x9a\x01\x02" + b"more")
    depacketizer.push(buffer, 4, 8)
    assert depacketizer.flush() == (START_CODE + b"\x41\x9a\x01\x02", False)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.binary(max_size=64), max_size=12),
    st.sampled_from(["h264", "hevc"]),
    st.booleans(),
)
def test_depacketizer_fuzz(payloads: list[bytes], codec: str, donl: bool) -> None:
    """Random payloads never raise: units come out as Annex B, or are dropped."""
    depacketizer = depacketizer_for(codec, {"sprop-max-don-diff": "1" if donl else "0"})
    outcome = _depacketize(depacketizer, payloads)
    if outcome is not None:
        data, key = outcome
        assert data.startswith(START_CODE)
        assert isinstance(key, bool)
    assert depacketizer.flush() is None  # nothing is left over
