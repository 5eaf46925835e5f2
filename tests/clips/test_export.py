"""Masked exports: the polygons are filled in every frame of the re-encoded clip, which plays;
a camera without masks leaves with the very packets it was remuxed from."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from hub.streams.clips import write_mp4
from hub.streams.export import finish_clip
from hub.streams.privacy import PrivacyMask, privacy_mask
from tests.streams.test_clips import real_units

SQUARE = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]
"""A fifth of the 768x432 footage, over the road: x 77-384, y 43-216."""


def remuxed(path: Path, frames: int = 40) -> Path:
    """A remuxed clip of the real footage, starting at a keyframe, as the engine cuts one."""
    info, units = real_units()
    start = next(i for i, u in enumerate(units) if u.keyframe and u.arrival > 4.0)
    write_mp4(units[start : start + frames], info, path)
    return path


def planes(frame: av.VideoFrame) -> list[npt.NDArray[np.uint8]]:
    """Y, U and V of a yuv420p frame, without the lines' padding."""
    out = []
    for plane in frame.planes:
        pixels = np.frombuffer(memoryview(plane), dtype=np.uint8)
        out.append(pixels.reshape(plane.height, plane.line_size)[:, : plane.width])
    return out


def packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as clip:
        return [bytes(p) for p in clip.demux(clip.streams.video[0]) if p.size]


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level boxes in file order (ftyp, moov, mdat, ...)."""
    data = path.read_bytes()
    names, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        names.append(data[at + 4 : at + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[at + 8 : at + 16], "big")
        if size < 8:
            break
        at += size
    return names


def test_a_masked_clip_has_the_polygon_filled_in_every_frame_and_plays(tmp_path: Path) -> None:
    source = remuxed(tmp_path / "cut.remux.mp4")
    camera_frames = len(packets(source))
    mask = privacy_mask({"privacy_masks": [SQUARE]})
    assert isinstance(mask, PrivacyMask)

    done = finish_clip(source, tmp_path / "cut.mp4", mask)

    assert not source.exists(), "the unmasked remux must not outlive the export"
    assert done.masked and done.frames == camera_frames and done.size > 0
    assert done.duration == pytest.approx(camera_frames / 12.5, abs=0.1)
    decoded = 0
    with av.open(str(done.path)) as clip:
        for frame in clip.decode(video=0):
            luma, cb, cr = planes(frame)
            inside = luma[55:205, 90:370]  # a few pixels within the polygon's edges
            assert abs(float(inside.mean()) - 128) < 2 and int(np.ptp(inside)) <= 8, decoded
            for chroma in (cb[30:100, 45:185], cr[30:100, 45:185]):
                assert abs(float(chroma.mean()) - 128) < 2
            outside = luma[250:420, 420:760]  # the road below and right of it: not flat
            assert float(outside.std()) > 4, decoded
            decoded += 1
    assert decoded == camera_frames
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe not installed (apt-get install ffmpeg); the PyAV checks passed")
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json",
         str(done.path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    stream = json.loads(probe.stdout)["streams"][0]
    assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p"
    assert int(stream["nb_read_frames"]) == camera_frames
    boxes = top_level_boxes(done.path)
    assert boxes.index("moov") < boxes.index("mdat"), "a browser must not wait for the end"


def test_a_clip_without_masks_leaves_with_the_packets_it_was_remuxed_from(tmp_path: Path) -> None:
    source = remuxed(tmp_path / "cut.remux.mp4")
    original = packets(source)

    done = finish_clip(source, tmp_path / "cut.mp4", None)

    assert not done.masked and not source.exists()
    assert packets(done.path) == original
    assert done.frames == len(original) and done.size == done.path.stat().st_size


def test_a_clip_that_does_not_decode_fails_and_leaves_nothing_behind(tmp_path: Path) -> None:
    source = tmp_path / "cut.remux.mp4"
    source.write_bytes(b"not an mp4 at all" * 100)
    mask = privacy_mask({"privacy_masks": [SQUARE]})
    with pytest.raises(av.FFmpegError):
        finish_clip(source, tmp_path / "cut.mp4", mask)
    assert sorted(tmp_path.iterdir()) == []
