"""Drawing for synthetic cameras: flat shapes, masked sprites and additive lights, in numpy.

Everything works on RGB pictures of shape (height, width, 3), dtype uint8, clipped at the edges,
so that a scene can place things partly outside the picture.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]
Color = tuple[int, int, int]


Window = tuple[slice, slice, slice, slice]
"""Rows and columns in the picture, then the same rows and columns in the thing placed on it."""


def _clip(x0: int, y0: int, x1: int, y1: int, width: int, height: int) -> tuple[int, int, int, int]:
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def _window(
    x: int, y: int, width: int, height: int, image: npt.NDArray[np.generic]
) -> Window | None:
    """Where a width x height thing with its top-left corner at (x, y) lands on `image`."""
    x0, y0, x1, y1 = _clip(x, y, x + width, y + height, image.shape[1], image.shape[0])
    if x0 >= x1 or y0 >= y1:
        return None
    return slice(y0, y1), slice(x0, x1), slice(y0 - y, y1 - y), slice(x0 - x, x1 - x)


def solid(width: int, height: int, color: Color) -> Image:
    """A picture of one colour."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = color
    return image


def vertical_gradient(width: int, height: int, top: Color, bottom: Color) -> Image:
    """A picture fading from `top` to `bottom`, like a sky or a lit wall."""
    ramp = np.linspace(0.0, 1.0, max(height, 1))[:, None]
    colors = np.asarray(top, float) * (1 - ramp) + np.asarray(bottom, float) * ramp
    return np.repeat(colors[:, None, :], width, axis=1).round().astype(np.uint8)


def fill_rect(image: Image, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
    """Paint the rectangle [x0, x1) x [y0, y1)."""
    x0, y0, x1, y1 = _clip(x0, y0, x1, y1, image.shape[1], image.shape[0])
    if x0 < x1 and y0 < y1:
        image[y0:y1, x0:x1] = color


def ellipse_mask(width: int, height: int) -> Mask:
    """The pixels of an ellipse inscribed in a width x height box."""
    ys = (np.arange(height) + 0.5 - height / 2) / max(height / 2, 0.5)
    xs = (np.arange(width) + 0.5 - width / 2) / max(width / 2, 0.5)
    mask: Mask = (xs[None, :] ** 2 + ys[:, None] ** 2) <= 1.0
    return mask


def polygon_mask(width: int, height: int, points: Sequence[tuple[float, float]]) -> Mask:
    """The pixels inside a polygon (even-odd rule), in a width x height box."""
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    inside = np.zeros((height, width), bool)
    count = len(points)
    for i in range(count):
        (ax, ay), (bx, by) = points[i], points[(i + 1) % count]
        if ay == by:
            continue
        crosses = (ay > ys) != (by > ys)
        at_x = ax + (ys - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (xs < at_x)
    return inside


def paint(image: Image, mask: Mask, x: int, y: int, color: Color) -> None:
    """Paint `color` where `mask` is set, with the mask's top-left corner at (x, y)."""
    window = _window(x, y, mask.shape[1], mask.shape[0], image)
    if window is not None:
        rows, cols, mask_rows, mask_cols = window
        image[rows, cols][mask[mask_rows, mask_cols]] = color


def fill_ellipse(image: Image, cx: float, cy: float, rx: float, ry: float, color: Color) -> None:
    """Paint an ellipse centred on (cx, cy) with radii rx and ry."""
    width, height = max(round(2 * rx), 1), max(round(2 * ry), 1)
    paint(image, ellipse_mask(width, height), round(cx - width / 2), round(cy - height / 2), color)


def fill_polygon(image: Image, points: Sequence[tuple[float, float]], color: Color) -> None:
    """Paint a polygon given in picture coordinates."""
    x0, y0 = int(min(p[0] for p in points)), int(min(p[1] for p in points))
    x1, y1 = int(max(p[0] for p in points)) + 1, int(max(p[1] for p in points)) + 1
    local = [(px - x0, py - y0) for px, py in points]
    paint(image, polygon_mask(x1 - x0, y1 - y0, local), x0, y0, color)


def speckle(
    image: Image,
    rng: np.random.Generator,
    box: tuple[int, int, int, int],
    colors: Sequence[Color],
    density: float,
) -> None:
    """Scatter single pixels of `colors` over a box: grass, gravel, rubbish."""
    x0, y0, x1, y1 = _clip(*box, image.shape[1], image.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    count = int((x1 - x0) * (y1 - y0) * density)
    xs = rng.integers(x0, x1, count)
    ys = rng.integers(y0, y1, count)
    palette = np.asarray(colors, np.uint8)
    image[ys, xs] = palette[rng.integers(0, len(palette), count)]


def dimmed(image: Image, factor: float, tint: Color = (255, 255, 255)) -> Image:
    """The picture as it looks in little light: darker, towards the tint's colour."""
    scale = factor * np.asarray(tint, float) / 255.0
    return (image.astype(float) * scale).round().clip(0, 255).astype(np.uint8)


def glow(rx: int, ry: int, color: Color, strength: float = 1.0) -> Image:
    """A soft elliptic light to add onto a picture: a lamp, a headlight's beam on the road."""
    ys, xs = np.mgrid[-ry : ry + 1, -rx : rx + 1]
    distance = np.hypot(xs / (rx + 0.5), ys / (ry + 0.5))
    falloff = np.clip(1.0 - distance, 0.0, 1.0) ** 2
    light = falloff[:, :, None] * np.asarray(color, float) * strength
    rounded: Image = light.round().clip(0, 255).astype(np.uint8)
    return rounded


def add_light(image: Image, light: Image, cx: int, cy: int) -> None:
    """Add a light centred on (cx, cy), saturating at white."""
    height, width = light.shape[:2]
    window = _window(cx - width // 2, cy - height // 2, width, height, image)
    if window is not None:
        rows, cols, light_rows, light_cols = window
        region = image[rows, cols]
        np.add(region, np.minimum(light[light_rows, light_cols], 255 - region), out=region)


class Sprite:
    """A small picture with a mask of the pixels it covers: a car, a person, a tree."""

    __slots__ = ("height", "mask", "rgb", "width")

    def __init__(self, width: int, height: int) -> None:
        self.width = max(width, 1)
        self.height = max(height, 1)
        self.rgb: Image = np.zeros((self.height, self.width, 3), np.uint8)
        self.mask: Mask = np.zeros((self.height, self.width, 3), bool)
        """Per channel, because `np.copyto` with a full-shape mask is the fastest blit."""

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: Color) -> Sprite:
        """Add a rectangle (sprite coordinates); returns the sprite for chaining."""
        box = _clip(round(x0), round(y0), round(x1), round(y1), self.width, self.height)
        if box[0] < box[2] and box[1] < box[3]:
            self.rgb[box[1] : box[3], box[0] : box[2]] = color
            self.mask[box[1] : box[3], box[0] : box[2]] = True
        return self

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, color: Color) -> Sprite:
        """Add an ellipse (sprite coordinates); returns the sprite for chaining."""
        width, height = max(round(2 * rx), 1), max(round(2 * ry), 1)
        shape = ellipse_mask(width, height)
        window = _window(round(cx - width / 2), round(cy - height / 2), width, height, self.rgb)
        if window is not None:
            rows, cols, shape_rows, shape_cols = window
            self._add(rows, cols, shape[shape_rows, shape_cols], color)
        return self

    def polygon(self, points: Sequence[tuple[float, float]], color: Color) -> Sprite:
        """Add a polygon (sprite coordinates); returns the sprite for chaining."""
        shape = polygon_mask(self.width, self.height, points)
        self._add(slice(None), slice(None), shape, color)
        return self

    def _add(self, rows: slice, cols: slice, shape: Mask, color: Color) -> None:
        self.rgb[rows, cols][shape] = color
        self.mask[rows, cols] |= shape[:, :, None]

    def _copy(self, rgb: Image, mask: Mask) -> Sprite:
        other = Sprite(self.width, self.height)
        other.rgb = np.ascontiguousarray(rgb)
        other.mask = np.ascontiguousarray(mask)
        return other

    def flipped(self) -> Sprite:
        """The sprite seen from the other side (facing the other way)."""
        return self._copy(self.rgb[:, ::-1], self.mask[:, ::-1])

    def dimmed(self, factor: float, tint: Color = (255, 255, 255)) -> Sprite:
        """The sprite in little light."""
        return self._copy(dimmed(self.rgb, factor, tint), self.mask)

    def blit(self, image: Image, x: int, y: int) -> None:
        """Draw the sprite with its top-left corner at (x, y)."""
        window = _window(x, y, self.width, self.height, image)
        if window is not None:
            rows, cols, own_rows, own_cols = window
            np.copyto(
                image[rows, cols], self.rgb[own_rows, own_cols], where=self.mask[own_rows, own_cols]
            )
