"""Tier T3: motion in zones, from small grey pictures at a low rate, in plain numpy.

The detector works on a copy of the picture shrunk to about 160 px wide, centred on its median
and scaled by its interquartile range, so that the camera's auto exposure, a cloud or a car's
white roof rescaling the histogram does not look like motion. Against a running-average
background it marks pixels whose difference passes a threshold that rises with the picture's
noise (at once when grain jumps at dusk), with each pixel's own flicker (ringing at white
lines), and, while the exposure is changing, with how far the pixel is from mid grey (clipped
whites and crushed blacks do not follow the exposure). A coarse grid keeps only cells busy
enough to be a thing; each zone turns its share of those pixels into start and end changes
with hysteresis. What moved joins the background by a bounded step, so passing cars leave no
ghost and parked ones still fade in. The first pictures, and any picture where most of the
view changed at once (lights, an IR filter, the camera turned), only (re)build the background.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Point = tuple[float, float]
Polygon = tuple[Point, ...]
"""Corners as (x, y), normalized: 0..1 from the picture's left and top edges."""

Box = tuple[float, float, float, float]
"""x0, y0, x1, y1, normalized like a polygon."""

_Mask = npt.NDArray[np.bool_]
_Floats = npt.NDArray[np.float32]

ALL = "all"
"""The zone a detector watches when none is configured: the whole picture."""

WORKING_WIDTH = 160
"""The detector shrinks pictures by whole factors to about this width."""

CONTRAST = 32.0
"""Pictures are normalized to this spread (a standard deviation's worth of interquartile range),
so that thresholds read as grey levels of a picture of ordinary contrast."""

_QUARTILES_PER_SPREAD = 1.349
"""The interquartile range of a normal distribution, in standard deviations."""


def _check_polygon(points: Sequence[Point], what: str) -> None:
    if len(points) < 3:
        raise ValueError(f"{what} needs at least 3 corners, has {len(points)}")
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"{what}: corner ({x}, {y}) is outside 0..1 (normalized coordinates)")


@dataclass(frozen=True, slots=True)
class Zone:
    """A named area of the picture where motion is reported on its own."""

    name: str
    polygon: Polygon

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a zone needs a name")
        _check_polygon(self.polygon, f"zone {self.name!r}")


def parse_polygon(value: object, what: str = "polygon") -> Polygon:
    """A polygon from config: a list of [x, y] pairs, normalized 0..1; ValueError if it is not."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"{what} must be a list of [x, y] corners, not {type(value).__name__}")
    corners: list[Point] = []
    for index, corner in enumerate(value):
        if (
            not isinstance(corner, list | tuple)
            or len(corner) != 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in corner)
        ):
            raise ValueError(f"{what}: corner {index} must be [x, y] numbers, not {corner!r}")
        corners.append((float(corner[0]), float(corner[1])))
    _check_polygon(corners, what)
    return tuple(corners)


def parse_zone(value: object) -> Zone:
    """A zone from config: {"name": "gate", "polygon": [[x, y], ...]}; ValueError if malformed."""
    if not isinstance(value, Mapping):
        raise ValueError(f"a zone must be a mapping with name and polygon, not {value!r}")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a zone needs a non-empty name, got {name!r}")
    unknown = set(value) - {"name", "polygon"}
    if unknown:
        raise ValueError(f"zone {name!r}: unknown keys {sorted(map(str, unknown))}")
    if "polygon" not in value:
        raise ValueError(f"zone {name!r} has no polygon")
    return Zone(name, parse_polygon(value["polygon"], f"zone {name!r}"))


def parse_zones(values: object) -> list[Zone]:
    """Zones from config, with unique names; ValueError if malformed."""
    if not isinstance(values, list | tuple):
        raise ValueError(f"zones must be a list, not {type(values).__name__}")
    zones = [parse_zone(value) for value in values]
    names = [zone.name for zone in zones]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise ValueError(f"zone names must be unique: {doubled} appear more than once")
    return zones


def parse_masks(values: object) -> list[Polygon]:
    """Masks (areas where motion is ignored: trees, a clock overlay) from config polygons."""
    if not isinstance(values, list | tuple):
        raise ValueError(f"masks must be a list of polygons, not {type(values).__name__}")
    return [parse_polygon(value, f"mask {index}") for index, value in enumerate(values)]


def rasterize(polygon: Polygon, width: int, height: int) -> _Mask:
    """Pixels whose centres lie inside the polygon (even-odd rule), as a height x width mask."""
    xs = (np.arange(width, dtype=np.float64) + 0.5) / width
    ys = (np.arange(height, dtype=np.float64) + 0.5) / height
    inside = np.zeros((height, width), dtype=np.bool_)
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if y0 == y1:
            continue  # a horizontal edge crosses no row's centre line
        rows = (ys >= min(y0, y1)) & (ys < max(y0, y1))
        if not rows.any():
            continue
        crossing = x0 + (ys[rows] - y0) * (x1 - x0) / (y1 - y0)
        inside[rows] ^= xs[np.newaxis, :] < crossing[:, np.newaxis]
    return inside


@dataclass(frozen=True, slots=True)
class MotionChange:
    """Motion started or ended in a zone.

    At a start, `box` and `score` are the confirming picture's; at an end they cover the whole
    episode (the union of its boxes and its peak score). `at` is the time of the picture that
    decided the change.
    """

    zone: str
    started: bool
    box: Box
    score: float
    """Share of the zone's (unmasked) area that moved."""
    at: float


@dataclass(frozen=True, slots=True)
class MotionSettings:
    """How sensitive the detector is; grey levels are of the contrast-normalized picture."""

    threshold: float = 25.0
    """Least difference from the background that makes a pixel move."""
    noise_factor: float = 5.0
    """The threshold rises to this many times the median difference (noise, rain, night)..."""
    pixel_factor: float = 4.0
    """...and, per pixel, to this many times that pixel's own mean difference (flicker)."""
    deviation_rate: float = 0.02
    """How fast each pixel's mean difference is learned."""
    exposure_factor: float = 2.0
    """While the exposure changes, pixels far from mid grey need more: this much per unit of
    change (log of the contrast ratio plus the median's relative shift) per grey level out."""
    background_rate: float = 0.05
    """Share of each still picture blended into the background."""
    moving_step: float = 2.0
    """...but where something moved, at most this much per picture: a parked car fades into the
    background in 10 to 60 s at 5 fps, depending on its contrast."""
    cell: int = 8
    """Side of a grid cell in working pixels; a cell needs `cell_share` of its pixels moving."""
    cell_share: float = 0.15
    min_pixels: int = 16
    """Moving working pixels a zone needs in one picture (about 64 at 320 px wide)."""
    frames_on: int = 2
    """Pictures in a row with motion before a zone's motion starts."""
    frames_off: int = 10
    """Pictures in a row without motion before it ends."""
    calibration_frames: int = 10
    """Pictures that only build the background, after start and after a global change."""
    global_change: float = 0.4
    """If this share of the picture moves at once, it is lighting or the camera moving: relearn."""


@dataclass(slots=True)
class _ZoneWatch:
    name: str
    area: _Mask
    pixels: int
    active: bool = False
    hits: int = 0
    misses: int = 0
    peak: float = 0.0
    box: Box | None = None


def _cells(length: int, cell: int) -> _Floats:
    """A length x cells matrix with a 1 where a pixel falls in a cell (the last may be short)."""
    cells = -(-length // cell)
    membership = np.zeros((length, cells), dtype=np.float32)
    membership[np.arange(length), np.arange(length) // cell] = 1.0
    return membership


def _union(a: Box | None, b: Box) -> Box:
    if a is None:
        return b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


class MotionDetector:
    """Motion per zone in one camera's small grey pictures, fed at a low, steady rate."""

    def __init__(
        self,
        width: int,
        height: int,
        zones: Sequence[Zone] = (),
        masks: Sequence[Polygon] = (),
        settings: MotionSettings | None = None,
    ) -> None:
        self.width = width
        self.height = height
        self.settings = s = settings or MotionSettings()
        self._factor = max(1, width // WORKING_WIDTH)
        self._columns = width // self._factor
        self._rows = height // self._factor
        if self._columns < s.cell or self._rows < s.cell:
            raise ValueError(f"a {width}x{height} picture is too small for motion detection")
        masked = np.zeros((self._rows, self._columns), dtype=np.bool_)
        for mask in masks:
            _check_polygon(mask, "mask")
            masked |= rasterize(mask, self._columns, self._rows)
        self._open = ~masked
        self._open_pixels = int(self._open.sum())
        self._zones: list[_ZoneWatch] = []
        for zone in zones or (Zone(ALL, ((0, 0), (1, 0), (1, 1), (0, 1))),):
            area = rasterize(zone.polygon, self._columns, self._rows)
            if not area.any():
                raise ValueError(
                    f"zone {zone.name!r} covers no pixel of the {self._columns}x{self._rows}"
                    " working picture: draw it larger"
                )
            area &= self._open
            self._zones.append(_ZoneWatch(zone.name, area, int(area.sum())))
        # which grid cell each working row and column falls in, as 0/1 matrices
        self._cell_rows = _cells(self._rows, s.cell).T.copy()
        self._cell_columns = _cells(self._columns, s.cell)
        self._background: _Floats | None = None
        self._deviation: _Floats | None = None
        self._calibrating = s.calibration_frames
        self._noise = 0.0
        self._level = 0.0
        self._spread = 1.0
        self.relearned = 0
        """How many times a global change (lighting, the camera moving) reset the background."""

    @property
    def zones(self) -> list[str]:
        """Names of the zones watched, in order."""
        return [zone.name for zone in self._zones]

    @property
    def calibrating(self) -> bool:
        """Whether it is still learning the scene (at first, or after a global change)."""
        return self._background is None or self._calibrating > 0

    def active(self) -> list[str]:
        """Zones with motion going on now."""
        return [zone.name for zone in self._zones if zone.active]

    def update(self, grey: npt.NDArray[np.uint8], at: float) -> list[MotionChange]:
        """Take the next picture, taken at `at` (seconds); where motion started or ended."""
        if grey.shape != (self.height, self.width):
            raise ValueError(f"expected a {self.width}x{self.height} picture, got {grey.shape}")
        picture, level, spread = self._normalized(grey)
        if self._background is None or self._calibrating > 0:
            self._learn(picture, level, spread)
            return self._judge(None, at)
        s = self.settings
        difference = np.abs(picture - self._background)
        threshold = max(s.threshold, s.noise_factor * self._noise)
        assert self._deviation is not None
        # a pixel that always flickers (a white line's coding ringing, leaves) needs more to move
        limit = self._deviation * s.pixel_factor
        np.maximum(limit, threshold, out=limit)
        exposure = abs(math.log(spread / self._spread)) + abs(level - self._level) / (
            self._level + self._spread
        )
        if exposure > 0.01:
            # the exposure is changing: normalization holds for mid tones, but whites that were
            # clipped and blacks under the sensor's floor change by more, the further out the more
            limit += (s.exposure_factor * exposure) * np.abs(self._background)
        moving = (difference > limit) & self._open
        share = np.count_nonzero(moving) / max(1, self._open_pixels)
        if share > s.global_change:  # lights switched, an IR filter flipped, the camera moved
            self.relearned += 1
            self._background = picture
            self._level, self._spread = level, spread
            self._calibrating = s.calibration_frames
            return self._judge(None, at)
        if self._follow_noise(difference):  # more grain than a moment ago: that is not motion
            threshold = max(s.threshold, s.noise_factor * self._noise)
            moving &= difference > threshold
        self._deviation += s.deviation_rate * (np.minimum(difference, threshold) - self._deviation)
        moved = self._clustered(moving)
        # what moves blends in by a small step, however bright: a passing car leaves no ghost,
        # and one that parks still fades into the background
        change = picture - self._background
        step = np.clip(change, -s.moving_step, s.moving_step)
        change *= s.background_rate
        np.copyto(change, step, where=moved)
        self._background += change
        self._level += s.background_rate * (level - self._level)
        self._spread += s.background_rate * (spread - self._spread)
        return self._judge(moved, at)

    def _normalized(self, grey: npt.NDArray[np.uint8]) -> tuple[_Floats, float, float]:
        """The picture shrunk to working size, centred on its median, at `CONTRAST` spread.

        Also its median and interquartile range (in block sums): the exposure it was taken at.
        """
        f = self._factor
        rows, columns = self._rows, self._columns
        # block sums, rows then columns, in integers: a few adds, cheaper than reshape-and-sum
        lines: npt.NDArray[np.uint8] = grey[: rows * f, : columns * f].reshape(rows, f, -1)
        wide = np.uint16 if f <= 16 else np.uint32  # room for the sum of f * f bytes
        summed: npt.NDArray[np.unsignedinteger[Any]] = lines[:, 0].astype(wide)
        for dy in range(1, f):
            summed += lines[:, dy]
        picture = summed[:, 0::f].astype(np.float32)
        for dx in range(1, f):
            picture += summed[:, dx::f]
        # median and quartiles, not mean and deviation: a white car filling a tenth of the
        # picture must not rescale the rest of it, while the camera's exposure change must
        sample = picture[::4, ::4].ravel()
        n = sample.size - 1
        quartiles = np.partition(sample, (n // 4, n // 2, 3 * n // 4))
        low, level, high = (float(quartiles[i]) for i in (n // 4, n // 2, 3 * n // 4))
        spread = max(high - low, 2.0 * f * f)  # a flat picture's noise is not contrast
        picture -= level
        picture *= CONTRAST * _QUARTILES_PER_SPREAD / spread
        return picture, level, spread

    def _learn(self, picture: _Floats, level: float, spread: float) -> None:
        if self._background is None:
            self._background = picture
            self._deviation = np.zeros_like(picture)
            self._level, self._spread = level, spread
        else:
            self._background += 0.5 * (picture - self._background)
            self._level += 0.5 * (level - self._level)
            self._spread += 0.5 * (spread - self._spread)
            difference = np.abs(picture - self._background)
            self._follow_noise(difference)
            assert self._deviation is not None
            self._deviation += 0.3 * (difference - self._deviation)
        self._calibrating -= 1

    def _follow_noise(self, difference: _Floats) -> bool:
        """Track the typical difference of a still pixel: the median, which moving things skip.

        Up at once, so grain that jumps with the camera's gain at dusk is never motion, and
        down slowly, so a moment of quiet does not leave the detector oversensitive. True if
        it went up.
        """
        sample = difference[::4, ::4].ravel()
        middle = sample.size // 2
        median = float(np.partition(sample, middle)[middle])
        rose = median > self._noise
        self._noise = median if rose else self._noise + 0.1 * (median - self._noise)
        return rose

    def _clustered(self, moving: _Mask) -> _Mask:
        """Moving pixels in grid cells busy enough to be a thing, not scattered noise."""
        s = self.settings
        # per-cell counts as two small matrix products: far cheaper than a 4-axis reshape-sum
        counts = self._cell_rows @ moving.astype(np.float32) @ self._cell_columns
        busy = counts >= s.cell_share * s.cell * s.cell
        keep = np.repeat(np.repeat(busy, s.cell, axis=0), s.cell, axis=1)
        kept: _Mask = moving & keep[: self._rows, : self._columns]
        return kept

    def _judge(self, moving: _Mask | None, at: float) -> list[MotionChange]:
        s = self.settings
        changes: list[MotionChange] = []
        for zone in self._zones:
            box: Box | None = None
            score = 0.0
            if moving is not None and zone.pixels:
                inside = moving & zone.area
                count = int(np.count_nonzero(inside))
                if count >= s.min_pixels:
                    score = count / zone.pixels
                    box = self._box(inside)
            if box is not None:
                zone.hits += 1
                zone.misses = 0
                if zone.active or zone.hits >= s.frames_on:
                    zone.peak = max(zone.peak, score)
                    zone.box = _union(zone.box, box)
                if not zone.active and zone.hits >= s.frames_on:
                    zone.active = True
                    changes.append(MotionChange(zone.name, True, box, score, at))
            else:
                zone.misses += 1
                zone.hits = 0
                if zone.active and zone.misses >= s.frames_off:
                    assert zone.box is not None
                    changes.append(MotionChange(zone.name, False, zone.box, zone.peak, at))
                    zone.active, zone.peak, zone.box = False, 0.0, None
        return changes

    def _box(self, inside: _Mask) -> Box:
        rows = np.flatnonzero(inside.any(axis=1))
        columns = np.flatnonzero(inside.any(axis=0))
        return (
            float(columns[0]) / self._columns,
            float(rows[0]) / self._rows,
            float(columns[-1] + 1) / self._columns,
            float(rows[-1] + 1) / self._rows,
        )
