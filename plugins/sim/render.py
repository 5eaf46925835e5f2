"""Render a scene once into an H.264 MP4 that looks to the engine like a camera's recording.

Camera-like means: yuv420p, constant frame rate, a keyframe every `GOP_SECONDS` exactly, no
B-frames (so pts == dts, as from a live encoder), and a constant quantiser, which keeps the
bitrate near what small IP cameras send and makes a frozen picture decode to identical frames.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av

from plugins.sim.scenes import make_scene
from plugins.sim.stage import GOP_SECONDS

log = logging.getLogger(__name__)

RENDER_VERSION = 1
"""Bumped whenever scenes or encoding change, so that cached files are rendered again."""

QUANTISER = 22
"""x264's constant QP for P-frames (I-frames get a little less): about 0.3-0.8 Mbit/s at 640x360."""

Progress = Callable[[int, int], None]
"""Called with (frames done, frames in all) while rendering."""


def cache_name(
    scene_name: str, *, width: int, height: int, fps: int, duration: float, seed: int
) -> str:
    """The file name of a rendering: the scene, then a hash of everything that shapes it."""
    settings = {
        "scene": scene_name,
        "width": int(width),
        "height": int(height),
        "fps": int(fps),
        "duration": float(duration),
        "seed": int(seed),
        "version": RENDER_VERSION,
        "qp": QUANTISER,
        "gop_s": GOP_SECONDS,
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return f"{scene_name}-{digest}.mp4"


def encoder_options(fps: int) -> dict[str, str]:
    """libx264 settings of a camera: fixed GOP, no B-frames, no scene cuts, low latency."""
    gop = GOP_SECONDS * fps
    return {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "qp": str(QUANTISER),
        "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:open-gop=0",
    }


def render_scene(
    scene_name: str,
    *,
    width: int = 640,
    height: int = 360,
    fps: int = 15,
    duration: float = 60.0,
    seed: int = 0,
    out: Path,
    progress: Progress | None = None,
) -> Path:
    """Render `scene_name` into an MP4 at `out` (written aside, then moved into place)."""
    scene = make_scene(
        scene_name, width=width, height=height, fps=fps, duration=duration, seed=seed
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}-{threading.get_ident()}.part")
    started = time.perf_counter()
    try:
        with av.open(str(partial), mode="w", format="mp4") as container:
            container.metadata["title"] = f"Pantau sim: {scene_name}"
            container.metadata["comment"] = scene.describe()
            stream = container.add_stream("libx264", rate=fps, options=encoder_options(fps))
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            stream.codec_context.gop_size = GOP_SECONDS * fps
            stream.codec_context.max_b_frames = 0
            time_base = Fraction(1, fps)
            stream.codec_context.time_base = time_base
            for index in range(scene.frames):
                picture = av.VideoFrame.from_ndarray(scene.frame(index), format="rgb24")
                picture.pts = index
                picture.time_base = time_base
                container.mux(stream.encode(picture))
                if progress is not None:
                    progress(index + 1, scene.frames)
            container.mux(stream.encode(None))
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    log.info(
        "rendered sim scene %s (%dx%d, %d fps, %g s) in %.1fs",
        scene_name,
        width,
        height,
        fps,
        scene.duration,
        time.perf_counter() - started,
    )
    return out
