"""The stage every synthetic scene plays on: paths, movers, night, noise and the ground truth.

A scene is deterministic for its seed: `frame(i)` depends only on the seed, the size and `i`,
never on which frames were drawn before, so a frozen stretch is the same frame drawn again.
Scenes are laid out on a 640 x 360 design picture and scaled to the size asked for. Scripted
happenings scale with the scene's duration (a 60 s `road_night_stop` stops its car at 20 s) and
are returned by `happenings()` as the ground truth that engine tests check against.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from plugins.sim import props
from plugins.sim.draw import (
    Color,
    Image,
    Sprite,
    add_light,
    dimmed,
    fill_ellipse,
    fill_polygon,
    fill_rect,
    glow,
    solid,
    speckle,
    vertical_gradient,
)

GOP_SECONDS = 2
"""Seconds between keyframes in rendered scenes; scripted freezes start on a keyframe."""

DESIGN_WIDTH, DESIGN_HEIGHT = 640, 360
GRAINS = 7
"""How many noisy copies of the background a scene keeps (a prime, so not in step with GOPs)."""

Box = tuple[float, float, float, float]
"""(x0, y0, x1, y1) as fractions of the picture's width and height."""

Place = tuple[float, float]
"""A point of the design picture: where a thing's bottom centre stands."""

Path = Callable[[float], Place | None]
"""Where a thing stands at a time in seconds, or None while it is out of the picture."""

Light = tuple[float, float, Image]
"""A light a thing carries at night: offset from its bottom centre (facing right), and the glow."""


@dataclass(frozen=True, slots=True)
class Happening:
    """Something the scene shows between two times: the ground truth for the engine's tests."""

    start_s: float
    end_s: float
    kind: str
    box: Box | None = None
    """Where in the picture, as fractions of width and height; None: the whole picture."""

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The box in pixels of a width x height picture (the whole picture when no box)."""
        x0, y0, x1, y1 = self.box or (0.0, 0.0, 1.0, 1.0)
        return round(x0 * width), round(y0 * height), round(x1 * width), round(y1 * height)

    def covers(self, t: float) -> bool:
        """Whether the happening is going on at time `t` (start included, end excluded)."""
        return self.start_s <= t < self.end_s


def design_box(x0: float, y0: float, x1: float, y1: float) -> Box:
    """A box given in design pixels, as fractions of the picture."""
    return (x0 / DESIGN_WIDTH, y0 / DESIGN_HEIGHT, x1 / DESIGN_WIDTH, y1 / DESIGN_HEIGHT)


# -- paths ---------------------------------------------------------------------------------


def lane(x_from: float, x_to: float, y: float, speed: float, start: float, period: float) -> Path:
    """Drive along y from x_from to x_to at `speed` design pixels per second, every `period`."""
    travel = abs(x_to - x_from) / speed
    step = speed if x_to >= x_from else -speed

    def at(t: float) -> Place | None:
        elapsed = (t - start) % period
        return None if elapsed > travel else (x_from + step * elapsed, y)

    return at


def walk(points: Sequence[Place], speed: float, phase: float) -> Path:
    """Walk round a closed polyline at `speed` design pixels per second, starting `phase` along."""
    corners = [*points, points[0]]
    legs = [math.dist(a, b) for a, b in zip(corners, corners[1:], strict=False)]
    total = sum(legs) or 1.0

    def at(t: float) -> Place:
        along = (phase + speed * t) % total
        for (ax, ay), (bx, by), leg in zip(corners, corners[1:], legs, strict=False):
            if along <= leg and leg > 0:
                u = along / leg
                return ax + (bx - ax) * u, ay + (by - ay) * u
            along -= leg
        return corners[0]

    return at


def orbit(cx: float, cy: float, rx: float, ry: float, turns_per_s: float, phase: float) -> Path:
    """Go round an ellipse; positive turns go clockwise on the picture (Indonesian roundabouts)."""

    def at(t: float) -> Place:
        angle = phase + 2 * math.pi * turns_per_s * t
        return cx + rx * math.cos(angle), cy + ry * math.sin(angle)

    return at


def sway(x: float, y: float, amplitude: float, period: float, phase: float) -> Path:
    """Stay at (x, y), swaying sideways a little: leaves in the wind."""

    def at(t: float) -> Place:
        return x + amplitude * math.sin(2 * math.pi * t / period + phase), y

    return at


def still(x: float, y: float) -> Path:
    """Stay at (x, y): a statue that must hide what passes behind it."""
    return lambda t: (x, y)


class Mover:
    """A sprite on a path, with the lights it carries at night; it faces the way it goes."""

    __slots__ = ("left", "lights", "night_left", "night_right", "path", "right")

    def __init__(
        self, sprite: Sprite, path: Path, lights: Sequence[Light] = (), *, turns: bool = True
    ) -> None:
        self.right = sprite
        self.left = sprite.flipped() if turns else sprite
        self.night_right = sprite.dimmed(0.3, (190, 190, 230))
        self.night_left = self.night_right.flipped() if turns else self.night_right
        self.path = path
        self.lights = tuple(lights)

    def place(self, t: float) -> tuple[float, float, bool] | None:
        """Where the mover stands at `t` and whether it faces right; None when out of sight."""
        here = self.path(t)
        if here is None:
            return None
        ahead = self.path(t + 0.05)
        facing_right = ahead is None or ahead[0] >= here[0]
        return here[0], here[1], facing_right


# -- scenes --------------------------------------------------------------------------------


class Scene:
    """A camera's view: a still background, movers, lights at night, noise and a script."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    night: ClassVar[bool] = False
    noise_sigma: ClassVar[float] = 2.0
    """Sensor noise (standard deviation of the picture's brightness, in 8-bit steps)."""

    def __init__(
        self,
        *,
        width: int = 640,
        height: int = 360,
        fps: int = 15,
        duration: float = 60.0,
        seed: int = 0,
    ) -> None:
        self.width, self.height, self.fps, self.seed = width, height, fps, seed
        self.frames = max(1, round(duration * fps))
        self.duration = self.frames / fps
        self.gop = GOP_SECONDS * fps
        self.s = min(width / DESIGN_WIDTH, height / DESIGN_HEIGHT)
        """Pixels per design pixel, for the size of things."""
        self.rng = np.random.default_rng([seed, zlib.crc32(self.name.encode())])
        self.movers: list[Mover] = []
        self.lamps: list[tuple[float, float]] = []
        self.windows: list[tuple[float, float, float, float]] = []
        self._lights: dict[tuple[int, ...], Image] = {}
        day = self.backdrop()
        self.populate()
        self.background = self._at_night(day) if self.night else day
        self._grainy = self._with_grain(self.background, self.noise_sigma)
        self._dark = self._with_grain(solid(width, height, (3, 3, 4)), 0.6 * self.noise_sigma)

    # -- what subclasses write -----------------------------------------------------------

    def backdrop(self) -> Image:
        """The still picture behind everything, by day."""
        return solid(self.width, self.height, (90, 120, 80))

    def populate(self) -> None:
        """Add the movers."""

    def animate(self, image: Image, t: float, rng: np.random.Generator) -> None:
        """Draw what changes but is no mover (water, a growing heap), before the movers."""

    def happenings(self) -> list[Happening]:
        """The scripted happenings: the ground truth."""
        return []

    def source_index(self, index: int) -> int:
        """The frame actually shown at `index`: a frozen camera keeps showing an old one."""
        return index

    def is_dark(self, index: int) -> bool:
        """Whether the camera shows nothing at `index` (lens covered, power lost)."""
        return False

    # -- what every scene shares ---------------------------------------------------------

    def describe(self) -> str:
        """What the camera shows, in a sentence, for logs, stream titles and the docs."""
        light = "at night" if self.night else "by day"
        return f"{self.summary} ({light}, {self.duration:g} s, seed {self.seed})"

    def x(self, design_x: float) -> int:
        """A design x in pixels of this picture."""
        return round(design_x * self.width / DESIGN_WIDTH)

    def y(self, design_y: float) -> int:
        """A design y in pixels of this picture."""
        return round(design_y * self.height / DESIGN_HEIGHT)

    def frame(self, index: int) -> Image:
        """The RGB picture (height x width x 3, uint8) of frame `index`, looping over the scene."""
        index = self.source_index(index % self.frames)
        grain = index % GRAINS
        if self.is_dark(index):
            return self._dark[grain].copy()
        return self._compose(index, self._grainy[grain].copy())

    def _compose(self, index: int, image: Image) -> Image:
        t = index / self.fps
        self.animate(image, t, np.random.default_rng([self.seed, index]))
        shown: list[tuple[float, float, bool, Mover]] = []
        for mover in self.movers:
            place = mover.place(t)
            if place is not None:
                shown.append((*place, mover))
        shown.sort(key=lambda item: item[1])
        for x, y, facing_right, mover in shown:
            if self.night:
                sprite = mover.night_right if facing_right else mover.night_left
            else:
                sprite = mover.right if facing_right else mover.left
            sprite.blit(image, self.x(x) - sprite.width // 2, self.y(y) - sprite.height)
        if self.night:
            for x, y, facing_right, mover in shown:
                for dx, dy, light in mover.lights:
                    dx = dx if facing_right else -dx
                    add_light(image, light, self.x(x) + round(dx), self.y(y) + round(dy))
        return image

    def _with_grain(self, picture: Image, sigma: float) -> list[Image]:
        # Sensor noise baked into a few copies of the still background, used in turn: fresh
        # noise on every frame would cost more than drawing it. Movers are drawn noiseless.
        rng = np.random.default_rng([self.seed, 7])
        grains = []
        for _ in range(GRAINS):
            noise = rng.standard_normal((self.height, self.width, 1)) * sigma
            grains.append((picture + noise).round().clip(0, 255).astype(np.uint8))
        return grains

    def _at_night(self, day: Image) -> Image:
        night = dimmed(day, 0.2, (170, 180, 255))
        rng = np.random.default_rng([self.seed, 11])
        for x0, y0, x1, y1 in self.windows:
            if rng.random() < 0.45:
                fill_rect(night, self.x(x0), self.y(y0), self.x(x1), self.y(y1), (200, 170, 90))
        pool = glow(round(70 * self.s), round(26 * self.s), (230, 150, 70), 0.55)
        bulb = glow(round(14 * self.s), round(14 * self.s), (255, 210, 140), 1.0)
        for x, y in self.lamps:
            add_light(night, bulb, self.x(x), self.y(y))
            add_light(night, pool, self.x(x), self.y(y + 80))
        return night

    # -- helpers for drawing the backdrop ------------------------------------------------

    def rect(self, image: Image, x0: float, y0: float, x1: float, y1: float, color: Color) -> None:
        """Paint a rectangle given in design pixels."""
        fill_rect(image, self.x(x0), self.y(y0), self.x(x1), self.y(y1), color)

    def ellipse(
        self, image: Image, cx: float, cy: float, rx: float, ry: float, color: Color
    ) -> None:
        """Paint an ellipse given in design pixels."""
        fill_ellipse(
            image,
            self.x(cx),
            self.y(cy),
            rx * self.width / DESIGN_WIDTH,
            ry * self.height / DESIGN_HEIGHT,
            color,
        )

    def polygon(self, image: Image, points: Sequence[Place], color: Color) -> None:
        """Paint a polygon given in design pixels."""
        fill_polygon(image, [(self.x(px), self.y(py)) for px, py in points], color)

    def texture(
        self, image: Image, box: Box, colors: Sequence[Color], density: float = 0.08
    ) -> None:
        """Scatter specks over a design box: grass, gravel, rubbish."""
        x0, y0, x1, y1 = box
        speckle(image, self.rng, (self.x(x0), self.y(y0), self.x(x1), self.y(y1)), colors, density)

    def sky(self, horizon: float) -> Image:
        """A picture with the sky above `horizon` and ground colour below."""
        image = solid(self.width, self.height, (110, 120, 100))
        sky = vertical_gradient(self.width, self.y(horizon), (120, 165, 215), (200, 215, 225))
        image[: sky.shape[0]] = sky
        return image

    def shophouses(self, image: Image, base: float, x_from: float, x_to: float) -> None:
        """A row of ruko (shophouses) standing on `base`, with windows that light up at night."""
        colors = ((205, 195, 170), (180, 190, 200), (215, 205, 150), (190, 160, 140))
        x = x_from
        while x < x_to:
            width = float(self.rng.uniform(40, 75))
            tall = float(self.rng.uniform(45, 80))
            color = colors[int(self.rng.integers(len(colors)))]
            self.rect(image, x, base - tall, x + width - 2, base, color)
            self.rect(image, x - 2, base - tall - 4, x + width, base - tall, (150, 80, 60))
            self.rect(image, x + 4, base - 16, x + width - 6, base, (70, 70, 75))
            for row in range(int((tall - 24) // 16)):
                for col in range(int((width - 8) // 14)):
                    wx, wy = x + 6 + col * 14, base - tall + 8 + row * 16
                    self.rect(image, wx, wy, wx + 8, wy + 8, (90, 105, 120))
                    self.windows.append((wx, wy, wx + 8, wy + 8))
            x += width

    def lamp_post(self, image: Image, x: float, top: float, bottom: float) -> None:
        """A street lamp: a pole and a head; its light is added at night."""
        self.rect(image, x - 1.5, top, x + 1.5, bottom, (70, 70, 75))
        self.rect(image, x - 1.5, top, x + 12, top + 3, (70, 70, 75))
        self.lamps.append((x + 10, top + 4))

    def person_walking(self, path: Path, scale: float = 1.0) -> None:
        """Add a person on a path."""
        self.movers.append(Mover(props.person(self.s * scale, self.rng), path))

    def vehicle_lights(self, sprite: Sprite, beam: float = 1.0) -> list[Light]:
        """Headlights, their beam on the road ahead and tail lights, for a right-facing sprite."""
        key = (sprite.width, sprite.height, round(beam * 10))
        half = sprite.width / 2
        rx, ry = round(26 * self.s * beam), round(5 * self.s * beam)
        head = self._light(key + (0,), lambda: glow(rx, ry, (250, 235, 190), 0.9))
        spot = self._light(
            key + (1,), lambda: glow(round(4 * self.s), round(3 * self.s), (255, 250, 220))
        )
        tail = self._light(
            key + (2,), lambda: glow(round(4 * self.s), round(3 * self.s), (220, 30, 20))
        )
        lamp_y = -0.45 * sprite.height
        return [
            (half + rx * 0.8, -2 * self.s, head),
            (half, lamp_y, spot),
            (-half, lamp_y, tail),
        ]

    def _light(self, key: tuple[int, ...], make: Callable[[], Image]) -> Image:
        found = self._lights.get(key)
        if found is None:
            found = self._lights[key] = make()
        return found
