"""Synthetic small grey pictures for exact cases: a scene, its noise, and what happens to it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hub.streams.pictures import Grey

WIDTH, HEIGHT = 320, 180

Floats = npt.NDArray[np.float64]


def scene(seed: int, low: float = 40.0, high: float = 210.0) -> Floats:
    """A street-like picture: blocks of flat tone with hard edges (walls, road) on a gradient."""
    rng = np.random.default_rng(seed)
    blocks = rng.uniform(low, high, size=(HEIGHT // 10, WIDTH // 10))
    picture = np.kron(blocks, np.ones((10, 10)))
    gradient = np.linspace(-10.0, 10.0, WIDTH)[np.newaxis, :]
    return np.asarray(picture + gradient, dtype=np.float64)


def shot(picture: Floats, rng: np.random.Generator, noise: float = 1.5) -> Grey:
    """The picture as a camera delivers it: sensor noise added, clipped to bytes."""
    noisy = picture + rng.normal(0.0, noise, size=picture.shape) if noise else picture
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def smooth(level: float = 120.0, depth: float = 40.0) -> Floats:
    """A palm or a sticker on the lens: one soft blob of light, no edges."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    distance = np.hypot((xs - WIDTH / 2) / WIDTH, (ys - HEIGHT / 2) / HEIGHT)
    return np.asarray(level + depth * (0.5 - distance) * 2, dtype=np.float64)
