"""Clips: the ring buffer keeps whole GOPs for the pre-roll, and clips are remuxed MP4s."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import av
import pytest
from av.bitstream import BitStreamFilterContext

from hub.streams.clips import ClipRecorder, PacketRing, write_mp4
from hub.streams.units import VIDEO_CLOCK, AccessUnit, StreamInfo

MEDIA = Path(__file__).resolve().parent.parent / "fixtures" / "media" / "car-detection.mp4"


def synthetic(n: int, fps: float = 10, gop: int = 20, start: float = 0.0) -> list[AccessUnit]:
    return [
        AccessUnit(bytes([i % 256]) * 10, i * int(VIDEO_CLOCK / fps), i % gop == 0, start + i / fps)
        for i in range(n)
    ]


def real_units() -> tuple[StreamInfo, list[AccessUnit]]:
    """Access units of the real footage in Annex B, timed as if they arrived live."""
    with av.open(str(MEDIA)) as container:
        stream = container.streams.video[0]
        bsf = BitStreamFilterContext("h264_mp4toannexb", stream)
        tb = stream.time_base
        assert tb is not None
        units = []
        for packet in container.demux(stream):
            for out in bsf.filter(packet):
                assert out.pts is not None
                pts = int(out.pts * tb * VIDEO_CLOCK)
                units.append(AccessUnit(bytes(out), pts, out.is_keyframe, pts / VIDEO_CLOCK))
        fps = float(stream.average_rate or 12.5)
        info = StreamInfo("h264", stream.width, stream.height, fps, b"", "file")
    return info, units


def test_ring_keeps_whole_gops_covering_the_pre_roll() -> None:
    ring = PacketRing(pre_roll=3.0)
    for unit in synthetic(100):  # 10 s at 10 fps, a keyframe every 2 s
        ring.append(unit)
    held = ring.since(0.0)
    assert held[0].keyframe
    # the newest unit is at 9.9 s; 3 s back is 6.9 s, so the GOP starting at 6.0 s must be held;
    # whole GOPs are dropped only when a keyframe arrives, so at most one more GOP is kept
    assert 4.0 <= held[0].arrival <= 6.0
    assert held[-1].arrival == pytest.approx(9.9)
    assert ring.since(8.5)[0].arrival == 8.0


def test_ring_without_keyframes_stays_bounded() -> None:
    ring = PacketRing(pre_roll=10.0, max_units=50)
    for unit in synthetic(10, gop=1000) + [
        AccessUnit(b"x", i, False, i / 10) for i in range(10, 500)
    ]:
        ring.append(unit)
    assert len(ring) <= 50


def has_ffprobe() -> bool:
    return shutil.which("ffprobe") is not None


def test_clip_is_remuxed_from_a_keyframe_and_playable(tmp_path: Path) -> None:
    info, units = real_units()
    start = next(i for i, u in enumerate(units) if u.keyframe and u.arrival > 4.0)
    clip = write_mp4(units[start : start + 100], info, tmp_path / "clip.mp4")
    assert clip.frames == 100
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (768, 432)
        decoded = sum(1 for _ in container.decode(stream))
    assert decoded == 100
    # the very bytes of the camera, not a re-encoding
    with av.open(str(clip.path)) as container:
        first = next(p for p in container.demux(container.streams.video[0]) if p.size)
        assert first.is_keyframe
    if not has_ffprobe():
        pytest.skip("ffprobe not installed (apt-get install ffmpeg); the PyAV checks passed")
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(clip.path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    s = json.loads(probe.stdout)["streams"][0]
    assert s["codec_name"] == "h264" and s["codec_tag_string"] == "avc1"
    assert int(s["nb_read_frames"]) == 100
    assert float(s["duration"]) == pytest.approx(100 / 12.5, abs=0.2)


def test_clip_must_start_at_a_keyframe(tmp_path: Path) -> None:
    info, units = real_units()
    with pytest.raises(ValueError, match="must start at a keyframe"):
        write_mp4(units[1:10], info, tmp_path / "bad.mp4")
    assert not (tmp_path / "bad.mp4").exists()


async def test_recorder_cuts_pre_and_post(tmp_path: Path) -> None:
    info, units = real_units()
    recorder = ClipRecorder(PacketRing(pre_roll=10.0))
    for unit in units[:200]:  # 16 s of footage
        recorder.on_unit(unit)
    now = units[199].arrival
    task = asyncio.create_task(
        recorder.record(info, tmp_path / "c.mp4", pre=5.0, post=3.0, now=now)
    )
    await asyncio.sleep(0)
    for unit in units[200:]:
        recorder.on_unit(unit)
        if task.done():
            break
    clip = await task
    # starts at the last keyframe at or before now - 5 s, ends 3 s after now
    assert clip.started_at <= now - 5.0
    assert clip.started_at > now - 5.0 - 4.5  # GOP is about 4 s
    assert clip.duration >= 8.0
    assert (tmp_path / "c.mp4").exists()


def test_clip_across_a_clock_restart_keeps_a_rising_timeline(tmp_path: Path) -> None:
    info, units = real_units()
    first, second = units[:60], units[100:160]
    restarted = [AccessUnit(u.data, u.pts - 10**9, u.keyframe, u.arrival) for u in second]
    # after the break, frames before the next keyframe are left out: they cannot be decoded
    start = next(i for i, u in enumerate(restarted) if u.keyframe)
    clip = write_mp4(first + restarted, info, tmp_path / "joined.mp4")
    assert clip.frames == len(first) + len(restarted) - start
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        pts = [p.pts for p in container.demux(stream) if p.size and p.pts is not None]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    steps = {b - a for a, b in zip(pts, pts[1:], strict=False)}
    assert steps == {7200}  # 12.5 fps in 1/90000 s, with no jump where the clock restarted
    assert clip.duration == pytest.approx(len(pts) / 12.5, abs=0.1)
