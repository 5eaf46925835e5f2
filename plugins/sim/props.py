"""The things that move through a synthetic scene: vehicles, people, trees; all facing right.

Sizes are in pixels for a scale `s` (pixels per unit of the 640 x 360 design picture); each
maker returns a sprite whose bottom centre stands on the ground.
"""

from __future__ import annotations

import math

import numpy as np

from plugins.sim.draw import Color, Sprite

CAR_COLORS: tuple[Color, ...] = (
    (200, 200, 205),
    (30, 30, 35),
    (150, 20, 25),
    (235, 235, 235),
    (40, 70, 140),
    (120, 120, 125),
    (170, 150, 110),
)
SHIRT_COLORS: tuple[Color, ...] = (
    (200, 40, 40),
    (40, 90, 170),
    (230, 230, 230),
    (30, 30, 30),
    (230, 180, 40),
    (60, 140, 80),
    (160, 80, 160),
    (240, 120, 40),
)
SKIN: tuple[Color, ...] = ((150, 105, 75), (120, 85, 60), (175, 130, 95))
HIJAB: tuple[Color, ...] = ((235, 235, 235), (30, 30, 60), (170, 60, 100), (90, 150, 170))
GLASS: Color = (70, 90, 110)
TYRE: Color = (25, 25, 25)


def _shade(color: Color, factor: float) -> Color:
    r, g, b = (min(255, round(c * factor)) for c in color)
    return (r, g, b)


def pick(rng: np.random.Generator, colors: tuple[Color, ...]) -> Color:
    """One of `colors`, chosen by the scene's generator."""
    return colors[int(rng.integers(len(colors)))]


def car(s: float, color: Color) -> Sprite:
    """A passenger car seen from the side."""
    length, height = 42 * s, 17 * s
    sprite = Sprite(round(length), round(height))
    sprite.rect(0.22 * length, 0.05 * height, 0.74 * length, 0.5 * height, _shade(color, 0.9))
    sprite.rect(0.28 * length, 0.14 * height, 0.48 * length, 0.46 * height, GLASS)
    sprite.rect(0.51 * length, 0.14 * height, 0.68 * length, 0.46 * height, GLASS)
    sprite.rect(0, 0.42 * height, length, 0.82 * height, color)
    sprite.rect(0, 0.68 * height, length, 0.82 * height, _shade(color, 0.7))
    sprite.rect(0.95 * length, 0.48 * height, length, 0.6 * height, (250, 240, 200))
    sprite.rect(0, 0.48 * height, 0.04 * length, 0.6 * height, (200, 20, 20))
    for x in (0.2, 0.8):
        sprite.ellipse(x * length, 0.8 * height, 0.1 * length, 0.2 * height, TYRE)
    return sprite


def truck(s: float, color: Color, *, raised: float | None = None) -> Sprite:
    """A dump truck seen from the side; `raised` tips the bed from 0 (down) to 1 (dumping).

    A truck that may tip (`raised` given) has headroom above it for the bed, which pivots at
    its rear, so that every pose stands on the same ground.
    """
    length, height = 70 * s, 34 * s
    top = 0.0 if raised is None else 26 * s
    raised = raised or 0.0
    sprite = Sprite(round(length), round(height + top))
    angle = math.radians(42 * raised)
    pivot_x, pivot_y = 0.03 * length, top + 0.7 * height
    corners = (
        (0.0, 0.0),
        (0.63 * length, 0.0),
        (0.63 * length, -0.4 * height),
        (0.0, -0.4 * height),
    )
    bed = [
        (
            pivot_x + dx * math.cos(angle) + dy * math.sin(angle),
            pivot_y - dx * math.sin(angle) + dy * math.cos(angle),
        )
        for dx, dy in corners
    ]
    sprite.polygon(bed, (150, 65, 40))
    sprite.rect(0.7 * length, top + 0.2 * height, 0.97 * length, top + 0.72 * height, color)
    sprite.rect(0.8 * length, top + 0.27 * height, 0.94 * length, top + 0.45 * height, GLASS)
    sprite.rect(0, top + 0.7 * height, length, top + 0.8 * height, (50, 50, 50))
    for x in (0.15, 0.3, 0.82):
        sprite.ellipse(x * length, top + 0.85 * height, 0.065 * length, 0.15 * height, TYRE)
    return sprite


def bus(s: float, color: Color) -> Sprite:
    """An intercity bus seen from the side."""
    length, height = 96 * s, 30 * s
    sprite = Sprite(round(length), round(height))
    sprite.rect(0, 0.05 * height, length, 0.85 * height, color)
    for i in range(8):
        x0 = (0.05 + i * 0.11) * length
        sprite.rect(x0, 0.15 * height, x0 + 0.09 * length, 0.45 * height, GLASS)
    sprite.rect(0, 0.6 * height, length, 0.68 * height, (240, 240, 240))
    for x in (0.15, 0.78):
        sprite.ellipse(x * length, 0.86 * height, 0.05 * length, 0.14 * height, TYRE)
    return sprite


def motorbike(s: float, rng: np.random.Generator) -> Sprite:
    """A motorbike with its rider (and a helmet)."""
    width, height = 18 * s, 20 * s
    sprite = Sprite(round(width), round(height))
    for x in (0.18, 0.82):
        sprite.ellipse(x * width, 0.84 * height, 0.16 * width, 0.15 * height, TYRE)
    sprite.rect(0.15 * width, 0.55 * height, 0.85 * width, 0.78 * height, pick(rng, CAR_COLORS))
    sprite.rect(0.3 * width, 0.2 * height, 0.6 * width, 0.6 * height, pick(rng, SHIRT_COLORS))
    sprite.ellipse(0.48 * width, 0.12 * height, 0.16 * width, 0.12 * height, pick(rng, CAR_COLORS))
    return sprite


def person(s: float, rng: np.random.Generator) -> Sprite:
    """A person standing or walking, seen from afar."""
    width, height = 7 * s, 17 * s
    sprite = Sprite(round(width), round(height))
    legs = (40, 40, 60) if rng.random() < 0.6 else pick(rng, SHIRT_COLORS)
    sprite.rect(0.2 * width, 0.55 * height, 0.8 * width, height, legs)
    sprite.rect(0.05 * width, 0.2 * height, 0.95 * width, 0.6 * height, pick(rng, SHIRT_COLORS))
    head = pick(rng, HIJAB) if rng.random() < 0.4 else pick(rng, SKIN)
    sprite.ellipse(0.5 * width, 0.11 * height, 0.32 * width, 0.11 * height, head)
    return sprite


def canopy(s: float, rng: np.random.Generator, size: float = 1.0) -> Sprite:
    """The leaves of a tree (the trunk is part of the background, so that only leaves sway)."""
    width, height = 60 * s * size, 44 * s * size
    sprite = Sprite(round(width), round(height))
    greens = ((40, 95, 40), (55, 120, 50), (35, 80, 35), (70, 135, 60))
    for _ in range(7):
        cx = width * rng.uniform(0.25, 0.75)
        cy = height * rng.uniform(0.3, 0.7)
        sprite.ellipse(cx, cy, width * 0.25, height * 0.3, greens[int(rng.integers(len(greens)))])
    return sprite
