"""The `sim` vendor: a camera is a scripted scene, rendered once to an MP4 and read like a file.

Scenes, PyAV and the stream engine are imported only when a sim camera is checked or streamed,
so loading the plugin stays cheap.
"""

from __future__ import annotations

import asyncio
import difflib
import functools
import logging
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hub.vendorkit import option_typos

if TYPE_CHECKING:
    from hub.config import CameraConfig
    from hub.registry import CameraRecord
    from hub.streams.avsource import AvSource
    from hub.streams.units import Sink, StreamInfo

log = logging.getLogger(__name__)

URL_SCHEME = "sim"
OPTIONS = ("scene", "seed", "width", "height", "fps", "duration")
LIMITS: dict[str, tuple[float, float]] = {
    "width": (64, 1920),
    "height": (64, 1080),
    "fps": (1, 30),
    "duration": (2, 600),
}
"""Allowed ranges of the numeric options, both ends included."""


@dataclass(frozen=True, slots=True)
class SceneSettings:
    """What a sim camera renders: the scene and the shape of its video."""

    scene: str
    seed: int
    width: int
    height: int
    fps: int
    duration: float


DEFAULTS: dict[str, float] = {"width": 640, "height": 360, "fps": 15, "duration": 60.0}


def _scene_names() -> list[str]:
    from plugins.sim.scenes import SCENES  # numpy is imported only once a sim camera exists

    return sorted(SCENES)


def read_options(options: Mapping[str, Any]) -> tuple[SceneSettings | None, list[str]]:
    """The settings a camera's `options` ask for, or the problems with them in plain words."""
    problems = option_typos(options, OPTIONS)
    scene = options.get("scene")
    names = _scene_names()
    if scene is None:
        problems.append(
            f"vendor 'sim' needs a scene (url sim://<scene> or options.scene): {', '.join(names)}"
        )
    elif not isinstance(scene, str) or scene not in names:
        close = difflib.get_close_matches(str(scene), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"unknown scene {scene!r}{hint}; known scenes: {', '.join(names)}")
    seed = options.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(f"seed must be a whole number, 0 or more, got {seed!r}")
    numbers: dict[str, float] = {}
    for key, (low, high) in LIMITS.items():
        value = options.get(key, DEFAULTS[key])
        whole = key != "duration"
        kind_ok = isinstance(value, int) if whole else isinstance(value, int | float)
        if isinstance(value, bool) or not kind_ok or not low <= value <= high:
            kind = "a whole number" if whole else "a number of seconds"
            problems.append(f"{key} must be {kind} from {low:g} to {high:g}, got {value!r}")
            continue
        numbers[key] = value
    for key in ("width", "height"):
        if key in numbers and numbers[key] % 2:
            problems.append(f"{key} must be even (the video is yuv420p), got {numbers[key]:g}")
    if problems:
        return None, problems
    settings = SceneSettings(
        scene=str(scene),
        seed=int(seed),
        width=int(numbers["width"]),
        height=int(numbers["height"]),
        fps=int(numbers["fps"]),
        duration=float(numbers["duration"]),
    )
    return settings, []


def camera_options(url: str | None, options: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A camera's options with the scene its url sim://<scene> names, and problems with the url."""
    merged = dict(options)
    if url is None:
        return merged, []
    parts = urlsplit(url)
    if parts.scheme.lower() != URL_SCHEME:
        return merged, ["vendor 'sim' makes its own video; url must be sim://<scene> or none"]
    named = parts.hostname
    if named and "scene" in options and options["scene"] != named:
        return merged, [f"url names scene {named!r} but options.scene is {options['scene']!r}"]
    if named:
        merged["scene"] = named
    return merged, []


class SimVendor:
    """Synthetic cameras: scripted scenes of the Pati sites, rendered with PyAV."""

    name = "sim"
    description = "Synthetic cameras: scripted scenes rendered to H.264 with PyAV, read as files"

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._rendering: dict[Path, threading.Lock] = {}
        self._renderers: ThreadPoolExecutor | None = None

    def check_camera(self, camera: CameraConfig) -> list[str]:
        """A sim camera names its scene by url sim://<scene> or options.scene; it has no host."""
        options, problems = camera_options(camera.url, camera.options)
        problems += read_options(options)[1]
        if camera.host is not None:
            problems.append("vendor 'sim' has no host; give url sim://<scene> instead")
        return problems

    def cache_path(self, camera_options: Mapping[str, Any], data_dir: Path) -> Path:
        """Where the rendering of these options lives under the hub's data folder."""
        from plugins.sim.render import cache_name

        settings = self._settings(camera_options)
        name = cache_name(
            settings.scene,
            width=settings.width,
            height=settings.height,
            fps=settings.fps,
            duration=settings.duration,
            seed=settings.seed,
        )
        return data_dir / "plugins" / self.name / name

    def stream_url(
        self, camera_options: Mapping[str, Any], data_dir: Path, *, camera_id: str | None = None
    ) -> str:
        """A file:// URL of the camera's video, rendering it first unless already cached.

        `data_dir` is the hub's data folder; files go to `<data_dir>/plugins/sim/`. Rendering
        takes seconds of CPU, so call this from a worker thread; concurrent calls for the same
        camera render once. Raises ValueError when the options are wrong.
        """
        from plugins.sim.render import render_scene

        settings = self._settings(camera_options)
        path = self.cache_path(camera_options, data_dir)
        with self._lock_for(path):
            if not path.exists():
                log.info(
                    "rendering sim scene %s to %s",
                    settings.scene,
                    path,
                    extra={"camera": camera_id},
                )
                render_scene(
                    settings.scene,
                    width=settings.width,
                    height=settings.height,
                    fps=settings.fps,
                    duration=settings.duration,
                    seed=settings.seed,
                    out=path,
                )
        return path.resolve().as_uri()

    def stream_source(
        self, camera: CameraRecord, password: str | None, data_dir: Path
    ) -> SimSource:
        """The source the stream engine reads: rendered on first open, then read as a file."""
        return SimSource(self, camera.id, camera_options(camera.url, camera.options)[0], data_dir)

    async def render(
        self, camera_options: Mapping[str, Any], data_dir: Path, *, camera_id: str | None = None
    ) -> str:
        """`stream_url` off the event loop, at most one rendering per processor at a time."""
        with self._guard:
            if self._renderers is None:
                workers = max(1, os.cpu_count() or 1)
                self._renderers = ThreadPoolExecutor(workers, thread_name_prefix="sim-render")
            renderers = self._renderers
        loop = asyncio.get_running_loop()
        work = functools.partial(self.stream_url, camera_options, data_dir, camera_id=camera_id)
        return await loop.run_in_executor(renderers, work)

    def _settings(self, camera_options: Mapping[str, Any]) -> SceneSettings:
        settings, problems = read_options(camera_options)
        if settings is None:
            raise ValueError("; ".join(problems))
        return settings

    def _lock_for(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._rendering.setdefault(path, threading.Lock())


class SimSource:
    """A sim camera as the engine reads it: paced in real time and looped, like a live camera."""

    def __init__(
        self, vendor: SimVendor, camera_id: str, options: Mapping[str, Any], data_dir: Path
    ) -> None:
        self._vendor = vendor
        self._camera_id = camera_id
        self._options = options
        self._data_dir = data_dir
        self._inner: AvSource | None = None

    async def open(self) -> StreamInfo:
        """Render the video unless cached, then open it; raises `SourceError`."""
        from hub.streams.avsource import AvSource
        from hub.streams.units import SourceError, SourceFailure

        try:
            url = await self._vendor.render(
                self._options, self._data_dir, camera_id=self._camera_id
            )
        except ValueError as exc:
            raise SourceError(SourceFailure.UNSUPPORTED, f"sim camera: {exc}") from None
        except Exception as exc:  # a rendering that failed is the camera's failure, not ours
            log.exception("sim: rendering failed", extra={"camera": self._camera_id})
            reason = f"sim camera: rendering failed ({type(exc).__name__})"
            raise SourceError(SourceFailure.PROTOCOL, reason) from None
        self._inner = AvSource(url, realtime=True, loop=True)
        return await self._inner.open()

    async def run(self, sink: Sink) -> None:
        """Deliver access units until closed; the video loops forever."""
        if self._inner is None:
            raise RuntimeError("open() the SimSource before run()")
        await self._inner.run(sink)

    async def close(self) -> None:
        """Stop reading; safe to call more than once."""
        if self._inner is not None:
            await self._inner.close()
