"""Access units from the test footage: MP4 (AVCC) demuxed with PyAV and turned into Annex B."""

from __future__ import annotations

import functools
from pathlib import Path

import av

from hub.streams.pictures import Grey, grey_small
from hub.streams.units import VIDEO_CLOCK, AccessUnit, StreamInfo

MEDIA = Path(__file__).resolve().parent.parent / "fixtures" / "media"
CARS = MEDIA / "car-detection.mp4"
"""768x432, 12.5 fps, 377 frames, keyframes every 60 frames (4.8 s), CC BY 4.0 Intel IoT DevKit."""

START_CODE = b"\x00\x00\x00\x01"


def avcc_parameter_sets(avcc: bytes) -> tuple[bytes, int]:
    """SPS and PPS of an avcC record in Annex B form, and the NAL length size of the samples."""
    if len(avcc) < 7 or avcc[0] != 1:
        raise ValueError("not an avcC record")
    length_size = (avcc[4] & 0x03) + 1
    out = bytearray()
    at = 5
    for mask in (0x1F, 0xFF):  # the SPS count sits in the low five bits, the PPS count in a byte
        count = avcc[at] & mask
        at += 1
        for _ in range(count):
            size = int.from_bytes(avcc[at : at + 2], "big")
            out += START_CODE + avcc[at + 2 : at + 2 + size]
            at += 2 + size
    return bytes(out), length_size


def annexb(sample: bytes, length_size: int) -> bytes:
    """A length-prefixed (AVCC) sample as start-code-prefixed (Annex B) NAL units."""
    out = bytearray()
    at = 0
    while at + length_size <= len(sample):
        size = int.from_bytes(sample[at : at + length_size], "big")
        at += length_size
        out += START_CODE + sample[at : at + size]
        at += size
    return bytes(out)


@functools.cache
def read_units(path: Path = CARS) -> tuple[StreamInfo, tuple[AccessUnit, ...]]:
    """The file's stream description and every access unit, timed on the 90 kHz clock."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        extradata, length_size = avcc_parameter_sets(stream.codec_context.extradata or b"")
        fps = float(stream.average_rate) if stream.average_rate else None
        info = StreamInfo(
            codec=stream.codec_context.name,
            width=stream.width,
            height=stream.height,
            fps=fps,
            extradata=extradata,
            transport="file",
        )
        assert stream.time_base is not None
        units = []
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue
            seconds = float(packet.pts * stream.time_base)
            units.append(
                AccessUnit(
                    data=annexb(bytes(packet), length_size),
                    pts=round(seconds * VIDEO_CLOCK),
                    keyframe=packet.is_keyframe,
                    arrival=seconds,
                )
            )
    return info, tuple(units)


@functools.cache
def grey_frames(rate: float = 5.0, width: int = 320, path: Path = CARS) -> tuple[Grey, ...]:
    """Every frame decoded, sampled at about `rate` per second and scaled down: T3's input."""
    pictures: list[Grey] = []
    next_at = 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is None or frame.time + 1e-6 < next_at:
                continue
            next_at += 1 / rate
            picture = grey_small(frame, width)
            picture.setflags(write=False)
            pictures.append(picture)
    return tuple(pictures)
