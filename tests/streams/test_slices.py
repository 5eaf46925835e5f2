"""Each picture's QP from its first slice header, checked against FFmpeg's own header reader.

The streams are the real test footage (tests/fixtures/media/car-detection.mp4, CC BY 4.0 Intel
IoT DevKit) encoded by ffmpeg/libx264 in the ways slice headers differ: CAVLC and CABAC, B-frames
and weighted prediction, many references, interlaced (MBAFF), several slices per picture, and
intra refresh without IDR pictures. The truth is `ffmpeg -bsf:v trace_headers`: pic_init_qp from
the PPS plus slice_qp_delta of each picture's first slice.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import av
import pytest

from hub.streams.h264 import H264SliceSyntax, parse_h264_sps_and_syntax, split_annexb
from hub.streams.slices import SliceQp
from tests.streams.conftest import CAR_VIDEO

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (apt-get install ffmpeg)"
)

ENCODINGS = {
    "camera: baseline, CAVLC, CBR": "-profile:v baseline -preset ultrafast -tune zerolatency"
    " -b:v 600k -maxrate 600k -bufsize 360k -g 15 -bf 0",
    "main: CABAC, B-frames, weighted P, 4 references": "-profile:v main -preset medium -crf 26"
    " -bf 3 -refs 4 -x264-params weightp=2:b-pyramid=normal",
    "high: B-frames with weights, slow": "-profile:v high -preset slow -crf 30 -bf 2"
    " -x264-params weightb=1:b-adapt=2",
    "interlaced (MBAFF)": "-profile:v high -preset fast -crf 24 -flags +ildct+ilme"
    " -x264-params tff=1",
    "four slices per picture": "-preset veryfast -crf 22 -x264-params slices=4",
    "intra refresh, no IDR after the first": "-preset veryfast -crf 22"
    " -x264-params intra-refresh=1:keyint=15",
    "16 references, 4 B-frames": "-preset veryslow -crf 28 -refs 16 -bf 4",
}
"""ffmpeg options of each encoding (the footage's first 2 s, 384 pixels wide)."""


def encode(name: str, options: str, folder: Path) -> Path:
    path = folder / (re.sub(r"\W+", "-", name) + ".h264")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(CAR_VIDEO), "-t", "2"]
        + ["-an", "-vf", "scale=384:-2", "-c:v", "libx264", *options.split()]
        + ["-f", "h264", str(path)],
        check=True,
    )
    return path


def ffmpeg_qps(path: Path) -> list[int]:
    """The QP of each picture's first slice, as FFmpeg's trace_headers reads them."""
    trace = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "trace", "-i", str(path), "-c", "copy"]
        + ["-bsf:v", "trace_headers", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    init: dict[int, int] = {}
    pps = 0
    qps: list[int] = []
    first = True
    for line in trace.splitlines():
        if "trace_headers" in line and "Packet:" in line:
            first = True
        found = re.search(r"\] \d+\s+(\w+)\s+\S+ = (-?\d+)$", line)
        if found is None:
            continue
        field, value = found[1], int(found[2])
        if field == "pic_parameter_set_id":
            pps = value
        elif field == "pic_init_qp_minus26":
            init[pps] = value
        elif field == "slice_qp_delta" and first:
            qps.append(26 + init[pps] + value)
            first = False
    return qps


def units(path: Path) -> list[bytes]:
    """The stream's access units, Annex B, as a camera's depacketizer hands them over."""
    with av.open(str(path)) as container:
        return [
            bytes(packet) for packet in container.demux(container.streams.video[0]) if packet.size
        ]


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("slices")
    return {name: encode(name, options, folder) for name, options in ENCODINGS.items()}


@pytest.mark.parametrize("name", ENCODINGS)
def test_every_picture_s_qp_agrees_with_ffmpeg(streams: dict[str, Path], name: str) -> None:
    path = streams[name]
    truth = ffmpeg_qps(path)
    reader = SliceQp()
    got = [reader.qp(unit) for unit in units(path)]
    assert len(got) == len(truth) >= 25  # 2 s at 12.5 fps
    assert got == truth
    assert reader.unreadable == 0
    assert len(set(truth)) > 1  # the QP moves: an answer stuck at one value would not pass


def test_the_encodings_take_the_header_s_branches(streams: dict[str, Path]) -> None:
    """The encodings above do reach the syntax they are there for."""
    sps = {name: _syntax(path) for name, path in streams.items()}
    assert not sps["interlaced (MBAFF)"].frame_mbs_only
    assert all(s.frame_mbs_only for name, s in sps.items() if "MBAFF" not in name)
    assert {s.poc_type for s in sps.values()} == {0, 2}


def _syntax(path: Path) -> H264SliceSyntax:
    data = path.read_bytes()
    return next(
        parse_h264_sps_and_syntax(nal)[1] for nal in split_annexb(data) if nal[0] & 0x1F == 7
    )


def test_parameter_sets_out_of_band_or_late_and_in_any_order(streams: dict[str, Path]) -> None:
    path = streams["main: CABAC, B-frames, weighted P, 4 references"]
    truth = ffmpeg_qps(path)
    stream = units(path)
    nals = [split_annexb(unit) for unit in stream]
    sets = [nal for unit in nals for nal in unit if nal[0] & 0x1F in (7, 8)][:2]
    bare = [_annexb([nal for nal in unit if nal[0] & 0x1F not in (7, 8)]) for unit in nals]
    # From the SDP or the container, before the first picture (as StreamInfo.extradata).
    assert [SliceQp("h264", _annexb(sets)).qp(unit) for unit in bare] == truth
    # None until they come, and a PPS that comes before its SPS is kept until the SPS comes.
    late = SliceQp()
    assert late.qp(bare[0]) is None and late.unreadable == 1
    assert late.qp(_annexb([sets[1]]) + bare[1]) is None
    assert [late.qp(_annexb([sets[0]]) + unit) for unit in bare[1:]] == truth[1:]


def _annexb(nals: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)


def test_damaged_units_give_none_and_never_raise(streams: dict[str, Path]) -> None:
    stream = units(streams["camera: baseline, CAVLC, CBR"])
    reader = SliceQp()
    assert reader.qp(stream[0]) is not None  # the keyframe with its parameter sets
    unit = stream[1]
    whole = reader.qp(unit)
    assert whole is not None
    for cut in range(64):  # cut inside the header: nothing; past its QP: the QP
        assert reader.qp(unit[:cut]) in ((None, whole) if cut > 5 else (None,)), cut
    rng = random.Random(5)
    for _ in range(2000):
        noise = bytearray(unit[: rng.randrange(5, 40)])
        for _ in range(rng.randrange(1, 6)):
            noise[rng.randrange(4, len(noise))] = rng.randrange(256)
        qp = reader.qp(bytes(noise))
        assert qp is None or 0 <= qp <= 51
    assert reader.qp(b"") is None and reader.qp(b"\x00\x00\x01") is None
    assert reader.qp(bytes(rng.randrange(256) for _ in range(5000))) in (None, *range(52))
    assert reader.unreadable > 0
    assert SliceQp("hevc").qp(unit) is None  # H.265's headers are not read (yet)
