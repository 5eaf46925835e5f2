"""The `day` scene of bench_streams.py: a quiet car park that a car drives through now and then.

The default footage, the test clip looped every 30 s, is busy all the time: the activity meter
takes its level as the scene's usual one, so T3 never starts (checked offline: the loop played
for 300 s gives no activity change). A camera over a road, a gate or a car park is quiet most of
the day. This scene is the activity benchmark's camera day (bench/activity_support/camera_day.py):
the empty lot for `quiet` seconds, a car, the lot again, and so on for each of the clip's cars,
made once as a lossless file that `footage.prepare` then encodes like a camera and cuts into the
mounts' rotations. With K mounts each camera sees its cars at its own times, so T3's leases come
and go as they would across a city, and the benchmark measures the default tiers with T3 in them.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from activity_support import camera_day

from streams_support.footage import atomic_write, file_digest

QUIET_S = 40.0
"""Seconds of empty lot between two cars: with the clip's three cars, about a tenth of the time
has a car in the picture."""
GRAIN = 0.5
"""Sensor noise added to every picture, in grey levels (see camera_day.pictures). Without it
the lot's pictures come back every 24 s, and T2's keyframes 12 s apart fell on the same pictures
(mirrored about a turn of the back-and-forth): 14 false `frozen` in one 180 s run at N=25. With
it, keyframes of one picture differ 0.36-0.40 grey levels (the frozen check's limit is 0.3).
More noise costs the cars' activity: at 1.0 the meter saw each car for 4-9 s instead of 10-20 s
(0.5: 8-14 s), and the hub 56 activity starts for 75 car passes."""
_VERSION = 2
"""Bump when the composition changes, so that cached files are made again."""


@dataclass(frozen=True, slots=True)
class Scene:
    """The composed file and what happens in it."""

    path: Path
    seconds: float
    car_seconds: float
    made_s: float | None
    """Seconds it took to compose now; None when it came from the cache."""

    @property
    def car_share(self) -> float:
        return self.car_seconds / self.seconds

    def as_dict(self) -> dict[str, object]:
        return {
            "name": "day",
            "composed_from": str(camera_day.SOURCE.name),
            "seconds": round(self.seconds, 2),
            "car_seconds": round(self.car_seconds, 2),
            "car_share": round(self.car_share, 4),
        }


def day(cache: Path, quiet: float = QUIET_S) -> Scene:
    """The camera day as a lossless file in `cache` (made on the first call, then reused)."""
    key = json.dumps(
        {
            "source": file_digest(camera_day.SOURCE),
            "quiet": quiet,
            "grain": GRAIN,
            "version": _VERSION,
        },
        sort_keys=True,
    )
    dest = cache / f"day-{hashlib.sha256(key.encode()).hexdigest()[:16]}.mkv"
    lot = camera_day.load_footage()
    composed = camera_day.camera_day(lot, quiet, name="streams bench day")
    fps = float(camera_day.FPS)
    cars = sum(part.stop - part.start for part in composed.parts if part.kind == "car") / fps
    made: float | None = None
    if not dest.exists():
        started = time.monotonic()
        cache.mkdir(parents=True, exist_ok=True)
        atomic_write(dest, lambda tmp: _write(tmp, composed, lot))
        made = round(time.monotonic() - started, 1)
    return Scene(dest, composed.seconds, cars, made)


def _write(path: Path, composed: camera_day.Day, lot: camera_day.Footage) -> None:
    """Every picture of the day, losslessly (FFV1 in Matroska) at the clip's own rate."""
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("ffv1", rate=Fraction(camera_day.FPS))
        stream.width, stream.height, stream.pix_fmt = lot.width, lot.height, "yuv420p"
        for index, picture in enumerate(camera_day.pictures(composed, lot, grain=GRAIN)):
            frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
            frame.pts = index
            frame.time_base = 1 / Fraction(camera_day.FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
