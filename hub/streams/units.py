"""What flows from a camera into the engine: access units and what is known of the stream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

VIDEO_CLOCK = 90_000
"""RTP's video clock: access unit timestamps count 1/90000 s."""


class AccessUnit:
    """One coded picture as it arrived: Annex B bytes, its time, and whether it is a keyframe.

    Plain and slotted, because one is made per frame per camera.
    """

    __slots__ = ("arrival", "data", "keyframe", "pts")

    def __init__(self, data: bytes, pts: int, keyframe: bool, arrival: float) -> None:
        self.data = data
        self.pts = pts
        self.keyframe = keyframe
        self.arrival = arrival

    @property
    def size(self) -> int:
        """Bytes of coded picture."""
        return len(self.data)

    def __repr__(self) -> str:
        kind = "key" if self.keyframe else "delta"
        return f"<AccessUnit {kind} pts={self.pts} {len(self.data)}B>"


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What the engine knows of a stream once it is open."""

    codec: str
    """FFmpeg codec name: "h264" or "hevc"."""
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    """Nominal frame rate, when the source says (SDP framerate, SPS timing, container)."""
    extradata: bytes = b""
    """Parameter sets (SPS/PPS, and VPS for H.265) in Annex B form, for decoders and muxers."""
    transport: str = ""
    """How it arrives: "rtsp/tcp", "file", "http", ..."""


class SourceFailure(StrEnum):
    """Why a source stopped, in words the operator can act on."""

    UNREACHABLE = "unreachable"
    AUTH = "auth"
    TIMEOUT = "timeout"
    PROTOCOL = "protocol"
    ENDED = "ended"
    UNSUPPORTED = "unsupported"


class SourceError(Exception):
    """A source that could not open or stopped delivering; the message never holds credentials."""

    def __init__(self, kind: SourceFailure, message: str) -> None:
        super().__init__(message)
        self.kind = kind


Sink = Callable[[AccessUnit], None]
"""Receives every access unit, on the event loop; it must be quick and must not raise."""


class PacketSource(Protocol):
    """A camera's stream as the engine reads it: RTSP, a file, HTTP, a synthetic camera."""

    async def open(self) -> StreamInfo:
        """Connect and learn the stream; raises `SourceError`."""
        ...

    async def run(self, sink: Sink) -> None:
        """Deliver access units to `sink` until the stream ends or fails (`SourceError`)."""
        ...

    async def close(self) -> None:
        """Release the connection; safe to call more than once."""
        ...
