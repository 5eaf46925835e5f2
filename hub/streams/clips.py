"""Clips for incidents: a ring buffer of packets per camera, remuxed to MP4, never re-encoded."""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import av

from hub.streams.units import VIDEO_CLOCK, AccessUnit, StreamInfo

_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
MAX_GAP = 5 * VIDEO_CLOCK
"""A jump of timestamps larger than this (or backwards) is a restart of the camera's clock."""


class Ring(Protocol):
    """Where a camera's clip pre-roll is kept: `PacketRing` in memory, `DiskPacketRing` on disk."""

    pre_roll: float

    def append(self, unit: AccessUnit) -> None:
        """Keep `unit`; drop whole GOPs that fell out of the pre-roll."""
        ...

    def since(self, at: float) -> list[AccessUnit]:
        """The units from the last keyframe at or before `at` (or the oldest keyframe held)."""
        ...

    def clear(self) -> None:
        """Forget everything (the stream restarted: old and new packets do not join)."""
        ...

    def close(self) -> None:
        """Let go of everything held: the camera is no longer watched."""
        ...

    def __len__(self) -> int: ...


class PacketRing:
    """The last `pre_roll` seconds of a camera's access units, always starting at a keyframe."""

    __slots__ = ("_keys", "_units", "max_units", "pre_roll")

    def __init__(self, pre_roll: float = 10.0, max_units: int = 4000) -> None:
        self.pre_roll = pre_roll
        self.max_units = max_units
        self._units: deque[AccessUnit] = deque()
        self._keys: deque[AccessUnit] = deque()

    def append(self, unit: AccessUnit) -> None:
        """Keep `unit`; drop whole GOPs that fell out of the pre-roll."""
        units = self._units
        units.append(unit)
        if unit.keyframe:
            keys = self._keys
            keys.append(unit)
            cutoff = unit.arrival - self.pre_roll
            while len(keys) >= 2 and keys[1].arrival <= cutoff:
                keys.popleft()
                first = keys[0]
                while units[0] is not first:
                    units.popleft()
        if len(units) > self.max_units:  # a stream without keyframes must not grow forever
            dropped = units.popleft()
            if self._keys and self._keys[0] is dropped:
                self._keys.popleft()

    def since(self, at: float) -> list[AccessUnit]:
        """The units from the last keyframe at or before `at` (or the oldest keyframe held)."""
        start: AccessUnit | None = None
        for key in self._keys:
            if key.arrival <= at or start is None:
                start = key
            else:
                break
        if start is None:
            return []
        out: list[AccessUnit] = []
        found = False
        for unit in self._units:
            if unit is start:
                found = True
            if found:
                out.append(unit)
        return out

    def clear(self) -> None:
        """Forget everything (the stream restarted: old and new packets do not join)."""
        self._units.clear()
        self._keys.clear()

    def close(self) -> None:
        """Let go of everything held."""
        self.clear()

    def __len__(self) -> int:
        return len(self._units)


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """A written clip."""

    path: Path
    frames: int
    duration: float
    started_at: float


class _PendingClip:
    __slots__ = ("done", "path", "units", "until")

    def __init__(self, units: list[AccessUnit], until: float, path: Path) -> None:
        self.units = units
        self.until = until
        self.path = path
        self.done: asyncio.Future[list[AccessUnit]] = asyncio.get_running_loop().create_future()


class ClipRecorder:
    """Cuts clips from a camera's ring buffer: `pre` seconds before the request, `post` after."""

    __slots__ = ("_pending", "ring")

    def __init__(self, ring: Ring) -> None:
        self.ring = ring
        self._pending: list[_PendingClip] = []

    def on_unit(self, unit: AccessUnit) -> None:
        """Feed the ring and every clip still collecting; hot path."""
        self.ring.append(unit)
        if self._pending:
            for clip in self._pending:
                clip.units.append(unit)
            if unit.arrival >= self._pending[0].until:
                self._finish(unit.arrival)

    def _finish(self, now: float) -> None:
        keep = []
        for clip in self._pending:
            if now >= clip.until:
                if not clip.done.done():
                    clip.done.set_result(clip.units)
            else:
                keep.append(clip)
        self._pending = keep

    def abort(self, reason: str) -> None:
        """The stream stopped: finish every pending clip with what it has."""
        for clip in self._pending:
            if not clip.done.done():
                clip.done.set_result(clip.units)
        self._pending = []

    async def record(
        self, info: StreamInfo, path: Path, *, pre: float, post: float, now: float
    ) -> ClipInfo:
        """Collect `pre` + `post` seconds around `now` and write them to `path` as MP4."""
        units = self.ring.since(now - pre)
        pending = _PendingClip(units, now + post, path)
        self._pending.append(pending)
        self._pending.sort(key=lambda c: c.until)
        collected = await pending.done
        if not collected:
            raise ValueError("no keyframe in the buffer yet: nothing to cut a clip from")
        return await asyncio.to_thread(write_mp4, collected, info, path)


def write_mp4(units: list[AccessUnit], info: StreamInfo, path: Path) -> ClipInfo:
    """Remux access units (from a keyframe on) into an MP4 file; no picture is decoded.

    MJPEG cameras' JPEGs go in as they came (MP4's JPEG sample type): FFmpeg, VLC and players
    built on them play such clips, most web browsers do not.
    """
    if not units or not units[0].keyframe:
        raise ValueError("a clip must start at a keyframe")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    first_pts = units[0].pts
    rate = fractions.Fraction(info.fps).limit_denominator(1001) if info.fps else None
    with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream(info.codec, rate=rate)
        assert isinstance(stream, av.video.stream.VideoStream)  # noqa: S101 - a video codec
        if info.width and info.height:
            stream.width = info.width
            stream.height = info.height
        if info.codec == "mjpeg":
            # Only so the muxer can open the stream's (unused) encoder; the JPEGs say their own.
            stream.pix_fmt = "yuvj420p"
        if info.extradata:
            stream.codec_context.extradata = info.extradata
        stream.time_base = _TIME_BASE
        step = round(VIDEO_CLOCK / info.fps) if info.fps else VIDEO_CLOCK // 15
        offset = -first_pts
        previous: int | None = None
        last_dts = -1
        written = 0
        waiting_for_key = False
        for unit in units:
            raw = unit.pts
            if previous is not None and not 0 < raw - previous <= MAX_GAP:
                # The camera restarted its clock (reboot, server restart): continue the timeline
                # from the next keyframe, since what follows may refer to pictures before the break.
                waiting_for_key = True
            previous = raw
            if waiting_for_key:
                if not unit.keyframe:
                    continue
                offset = last_dts + step - raw
                waiting_for_key = False
            written += 1
            pts = raw + offset
            dts = pts if pts > last_dts else last_dts + 1  # MP4 needs strictly rising dts
            packet = av.Packet(unit.data)
            packet.pts = max(pts, dts)
            packet.dts = dts
            last_dts = dts
            packet.time_base = _TIME_BASE
            packet.stream = stream
            packet.is_keyframe = unit.keyframe
            out.mux(packet)
    tmp.replace(path)
    duration = (last_dts + step) / VIDEO_CLOCK
    return ClipInfo(path, written, round(duration, 3), units[0].arrival)
