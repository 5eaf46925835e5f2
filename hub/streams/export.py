"""Clips that leave the hub: privacy masks burned into every frame, re-encoded as H.264 MP4.

A clip is cut by remuxing the camera's own packets (`hub.streams.clips`), which carry every
pixel the camera saw. For a camera with privacy masks that file must not leave the hub: here
every frame is decoded, the polygons are filled exactly as in snapshots (`PrivacyMask.burn`),
and the frames are encoded again with libx264. A camera without masks (or a clip whose mask
was lifted, which the caller decides) leaves as it was remuxed: the same packets, no encode.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
from dataclasses import dataclass
from pathlib import Path

import av

from hub.streams.privacy import PrivacyMask

log = logging.getLogger(__name__)

PRESET = "veryfast"
"""x264's speed against size: a 20 s 720p clip encodes in a few seconds on one core."""
CRF = 23
"""x264's constant quality: its default, a picture an operator cannot tell from the camera's."""
GOP_SECONDS = 2.0
"""A keyframe at least this often, so that a player seeks without decoding the whole clip."""


@dataclass(frozen=True, slots=True)
class ExportedClip:
    """A clip ready to leave the hub."""

    path: Path
    frames: int
    duration: float
    """Seconds, from the first frame's start to the last frame's end."""
    size: int
    """Bytes."""
    masked: bool
    """Whether privacy masks were burned in (False: the remuxed packets as they came)."""


async def export_clip(source: Path, target: Path, privacy: PrivacyMask | None) -> ExportedClip:
    """`finish_clip` in a worker thread: a decode and an encode of every frame, off the loop."""
    return await asyncio.to_thread(finish_clip, source, target, privacy)


def finish_clip(source: Path, target: Path, privacy: PrivacyMask | None) -> ExportedClip:
    """Make `target`, the clip that may leave the hub, from the remuxed `source`; delete `source`.

    With `privacy`, every frame is decoded, masked and re-encoded; without, `source` is renamed.
    The unmasked `source` is deleted whatever happens: it never outlives the export.
    """
    try:
        if privacy is None:
            source.replace(target)
            frames, duration = _measure(target)
            return ExportedClip(target, frames, duration, target.stat().st_size, masked=False)
        frames, duration = _burn_and_encode(source, target, privacy)
        return ExportedClip(target, frames, duration, target.stat().st_size, masked=True)
    finally:
        source.unlink(missing_ok=True)


def _burn_and_encode(source: Path, target: Path, privacy: PrivacyMask) -> tuple[int, float]:
    partial = target.with_name(target.name + ".part")
    try:
        with av.open(str(source)) as clip:
            if not clip.streams.video:
                raise ValueError(f"{source.name} holds no video to mask")
            video = clip.streams.video[0]
            time_base = video.time_base or fractions.Fraction(1, 90_000)
            rate = video.average_rate or video.guessed_rate or fractions.Fraction(15)
            with av.open(
                str(partial), "w", format="mp4", options={"movflags": "+faststart"}
            ) as out:
                stream = out.add_stream("libx264", rate=rate)
                stream.width = video.codec_context.width
                stream.height = video.codec_context.height
                stream.pix_fmt = "yuv420p"
                stream.time_base = time_base
                stream.codec_context.gop_size = max(1, round(float(rate) * GOP_SECONDS))
                stream.codec_context.options = {"preset": PRESET, "crf": str(CRF)}
                frames = 0
                first: int | None = None
                last = 0
                for frame in clip.decode(video):
                    pts = frame.pts  # read first: the encoder rebases the frame's own in place
                    picture = frame.reformat(format="yuv420p")
                    if picture is frame:
                        # The decoder may still refer to this picture for the next ones: burn
                        # into our own copy, or its grey would bleed into the unmasked areas.
                        picture.make_writable()
                    privacy.burn(picture)
                    picture.pts = pts
                    picture.time_base = time_base
                    picture.pict_type = frame.pict_type  # the camera's keyframes stay keyframes
                    for packet in stream.encode(picture):
                        out.mux(packet)
                    if pts is not None:
                        first = pts if first is None else first
                        last = pts
                    frames += 1
                for packet in stream.encode(None):
                    out.mux(packet)
        if frames == 0:
            raise ValueError(f"{source.name} has no picture that decodes")
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    span = float((last - (first or 0)) * time_base) + 1 / float(rate)
    return frames, round(span, 3)


def _measure(path: Path) -> tuple[int, float]:
    """Frames and seconds of an MP4, from its packets (no decode)."""
    with av.open(str(path)) as clip:
        video = clip.streams.video[0]
        time_base = video.time_base or fractions.Fraction(1, 90_000)
        rate = video.average_rate or video.guessed_rate or fractions.Fraction(15)
        stamps = [p.pts for p in clip.demux(video) if p.pts is not None and p.size]
    if not stamps:
        return 0, 0.0
    span = float((max(stamps) - min(stamps)) * time_base) + 1 / float(rate)
    return len(stamps), round(span, 3)
