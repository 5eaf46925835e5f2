"""Privacy masks: parts of a camera's view (a home's windows, a yard) no picture from the hub shows.

A camera's `options.privacy_masks` lists polygons in shares of the picture, as motion masks do.
T2 fills them with flat grey in the scaled picture before it encodes the cached JPEG, so the
snapshot route and the alerts' pictures, which both read that cache, never hold the pixels.
The picture checks (black, frozen, covered, moved) and T3's motion look at the whole, unmasked
picture: those never leave the hub, and a large grey area must not read as a covered lens.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from hub.streams.motion import Polygon, parse_polygon, rasterize

OPTION = "privacy_masks"
"""The camera option that holds the polygons."""

FILL = (128, 128, 128)
"""Y, Cb, Cr of the fill (full range): mid grey, which reads neither as night nor as no signal."""

_Mask = npt.NDArray[np.bool_]
_Region = tuple[int, int, int, int, _Mask]
"""A plane's pixels to fill: rows y0..y1 and columns x0..x1, and which pixels of that box."""

_KEEP_SIZES = 4
"""Picture sizes whose rasters a mask keeps (the snapshot size, rarely another after a change)."""


def parse_privacy_masks(values: object) -> list[Polygon]:
    """The polygons of `options.privacy_masks`; ValueError naming the polygon and what is wrong."""
    if not isinstance(values, list | tuple):
        raise ValueError(
            f"options.{OPTION} must be a list of polygons, not {type(values).__name__}"
        )
    polygons = []
    for index, value in enumerate(values):
        what = f"options.{OPTION}[{index}]"
        if isinstance(value, Mapping):  # the zones' {name:, polygon:} shape, by analogy
            raise ValueError(
                f"{what} must be the polygon itself, a list of [x, y] corners, not a mapping"
            )
        polygons.append(parse_polygon(value, what))
    return polygons


def privacy_mask(options: Mapping[str, Any]) -> PrivacyMask | None:
    """The camera's privacy mask from its options, None without one; ValueError if malformed.

    A misspelt key (`privacy_mask`) is an error too: it would leave the camera unmasked unseen.
    """
    for key in options:
        if key != OPTION and difflib.get_close_matches(str(key), [OPTION], cutoff=0.75):
            raise ValueError(f"unknown option {key!r} (did you mean {OPTION!r}?)")
    polygons = parse_privacy_masks(options.get(OPTION) or [])
    return PrivacyMask(polygons) if polygons else None


def privacy_problems(options: Mapping[str, Any]) -> list[str]:
    """What is wrong with a camera's privacy masks, in plain words, for `pantau check`."""
    try:
        privacy_mask(options)
    except ValueError as exc:
        return [str(exc)]
    return []


class PrivacyMask:
    """One camera's privacy polygons, burned into its pictures; the rasters kept per size.

    A pixel is filled if its centre, or a neighbour's, lies in a polygon: one pixel wider than
    the polygon, so a pixel the edge cuts through, partly mixed from inside by the scaling, goes.
    A chroma sample is filled if any of its 2x2 pixels is.
    """

    __slots__ = ("_regions", "polygons")

    def __init__(self, polygons: Sequence[Polygon]) -> None:
        if not polygons:
            raise ValueError("a privacy mask needs at least one polygon")
        self.polygons = tuple(polygons)
        self._regions: dict[tuple[int, int], tuple[_Region | None, _Region | None]] = {}

    def covered(self, width: int, height: int) -> _Mask:
        """The pixels of a `width` x `height` picture that the mask fills."""
        inside = np.zeros((height, width), dtype=np.bool_)
        for polygon in self.polygons:
            inside |= rasterize(polygon, width, height)
        grown = inside.copy()  # one pixel out, down, up, then left and right of that
        grown[1:] |= inside[:-1]
        grown[:-1] |= inside[1:]
        wide = grown.copy()
        wide[:, 1:] |= grown[:, :-1]
        wide[:, :-1] |= grown[:, 1:]
        return wide

    def burn(self, picture: av.VideoFrame) -> None:
        """Fill the masked pixels of a yuv420p or yuvj420p picture with `FILL`, in place."""
        if picture.format.name not in ("yuvj420p", "yuv420p"):
            raise ValueError(f"privacy masks burn into 4:2:0 pictures, not {picture.format.name}")
        luma, chroma = self._regions_for(picture.width, picture.height)
        for plane, region, value in zip(picture.planes, (luma, chroma, chroma), FILL, strict=True):
            if region is None:
                continue
            y0, y1, x0, x1, where = region
            buffer = np.frombuffer(memoryview(plane), dtype=np.uint8)
            pixels = buffer.reshape(plane.height, plane.line_size)  # lines may be padded
            pixels[y0:y1, x0:x1][where] = value

    def _regions_for(self, width: int, height: int) -> tuple[_Region | None, _Region | None]:
        regions = self._regions.get((width, height))
        if regions is None:
            luma = self.covered(width, height)
            # a chroma sample covers 2x2 pixels (the last row or column may be half of that)
            padded = np.zeros((height + height % 2, width + width % 2), dtype=np.bool_)
            padded[:height, :width] = luma
            chroma = (
                padded[0::2, 0::2] | padded[0::2, 1::2] | padded[1::2, 0::2] | padded[1::2, 1::2]
            )
            regions = (_region(luma), _region(chroma))
            if len(self._regions) >= _KEEP_SIZES:  # the decode threads may race here: harmless
                self._regions.clear()
            self._regions[(width, height)] = regions
        return regions


def _region(mask: _Mask) -> _Region | None:
    """The mask's bounding box and the mask within it: small to keep, quick to apply."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(mask.any(axis=0))
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    x0, x1 = int(columns[0]), int(columns[-1]) + 1
    return y0, y1, x0, x1, np.ascontiguousarray(mask[y0:y1, x0:x1])
