"""Benchmark: one T3 MotionDetector.update at 320 px against a bare frame-difference detector.

Run: python bench/bench_motion.py [--repeats 5]

Both sides get the same 151 small grey pictures (the test footage at 5 fps, 320x180) with two
zones. The baseline is the least a motion detector can do: absolute difference to the previous
picture, a fixed threshold, a count per zone; no background, no normalization, no noise or
exposure handling, no grid, no hysteresis. The ratio is detector time / baseline time. Also
printed for scale: making the small grey picture from a decoded frame (`grey_small`).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.streams.motion import MotionDetector, Zone, rasterize  # noqa: E402
from hub.streams.pictures import grey_small  # noqa: E402
from tests.streams_pictures.media import CARS, grey_frames  # noqa: E402

ZONES = [
    Zone("road", ((0.15, 0.0), (0.6, 0.0), (0.6, 1.0), (0.15, 1.0))),
    Zone("verge", ((0.85, 0.15), (0.98, 0.15), (0.98, 0.85), (0.85, 0.85))),
]


class FrameDifference:
    """The baseline: previous-picture difference, fixed threshold, pixel count per zone."""

    def __init__(self, width: int, height: int) -> None:
        self.areas = [rasterize(zone.polygon, width, height) for zone in ZONES]
        self.previous: npt.NDArray[np.int16] | None = None

    def update(self, grey: npt.NDArray[np.uint8], at: float) -> list[int]:
        current = grey.astype(np.int16)
        previous, self.previous = self.previous, current
        if previous is None:
            return [0] * len(self.areas)
        moving = np.abs(current - previous) > 25
        return [int(np.count_nonzero(moving & area)) for area in self.areas]


def time_each(
    update: Callable[[npt.NDArray[np.uint8], float], object], frames: list[npt.NDArray[np.uint8]]
) -> list[float]:
    samples = []
    for index, grey in enumerate(frames):
        start = time.perf_counter()
        update(grey, index / 5.0)
        samples.append(time.perf_counter() - start)
    return samples


def main(repeats: int) -> None:
    frames = list(grey_frames())
    height, width = frames[0].shape
    detector_times: list[float] = []
    baseline_times: list[float] = []
    for _ in range(repeats):
        gc.collect()
        detector = MotionDetector(width, height, ZONES)
        detector_times += time_each(detector.update, frames)[10:]  # after calibration
        baseline = FrameDifference(width, height)
        baseline_times += time_each(baseline.update, frames)[10:]

    with av.open(str(CARS)) as container:
        decoded = [frame for _, frame in zip(range(20), container.decode(video=0), strict=False)]
    shrink = []
    for frame in decoded * 5:
        start = time.perf_counter()
        grey_small(frame)
        shrink.append(time.perf_counter() - start)

    def us(samples: list[float], fraction: float | None = None) -> float:
        if fraction is None:
            return statistics.median(samples) * 1e6
        return sorted(samples)[int(fraction * (len(samples) - 1))] * 1e6

    print(f"T3 motion at {width}x{height}, {len(frames)} pictures x {repeats}, 2 zones")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {sys.platform}")
    print(f"{'':<32} {'median us':>10} {'p99 us':>10}")
    rows = [
        ("MotionDetector.update", detector_times),
        ("baseline frame difference", baseline_times),
        ("grey_small 768x432 -> 320x180", shrink),
    ]
    for name, samples in rows:
        print(f"{name:<32} {us(samples):>10.0f} {us(samples, 0.99):>10.0f}")
    ratio = statistics.median(detector_times) / statistics.median(baseline_times)
    print(f"ratio detector / baseline (medians): {ratio:.2f}")
    per_core = 1 / (statistics.median(detector_times) * 5)
    print(f"cameras per core at 5 fps, motion only: {per_core:,.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5)
    main(parser.parse_args().repeats)
