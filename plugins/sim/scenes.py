"""The scene scripts of the sim vendor: the Pati trial sites, and cameras that fail on cue.

Each scene is a `Scene` (see `plugins.sim.stage`): `frame(i)` is the picture of frame i,
`happenings()` the ground truth of what it shows when, `describe()` a sentence about it.
"""

from __future__ import annotations

import math

import numpy as np

from plugins.sim import props
from plugins.sim.draw import Image, Sprite, vertical_gradient
from plugins.sim.stage import (
    Happening,
    Mover,
    Place,
    Scene,
    design_box,
    lane,
    orbit,
    still,
    sway,
    walk,
)

__all__ = ["SCENES", "Happening", "Scene", "make_scene"]


def _smooth(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return u * u * (3 - 2 * u)


class RoadScene(Scene):
    """A town road: shophouses behind, two lanes each way, a shoulder and grass in front."""

    LANES = ((200.0, -1, 0.8), (228.0, -1, 0.87), (262.0, 1, 0.95), (292.0, 1, 1.05))
    """(where wheels touch, direction, size) of each lane, far to near."""
    SHOULDER = 316.0
    vehicles_per_minute = 8.0

    def backdrop(self) -> Image:
        """Sky, shophouses, sidewalk, the road with its markings, the shoulder and grass."""
        image = self.sky(150)
        self.front(image)
        self.rect(image, 0, 150, 640, 166, (170, 165, 155))
        self.rect(image, 0, 164, 640, 167, (120, 120, 120))
        self.rect(image, 0, 167, 640, 300, (66, 68, 72))
        self.texture(image, (0, 167, 640, 300), [(58, 60, 63), (76, 78, 82)], 0.1)
        for y in (214.0, 277.0):
            for dash in range(0, 640, 40):
                self.rect(image, dash, y, dash + 20, y + 2, (225, 225, 220))
        self.rect(image, 0, 244, 640, 246, (225, 225, 220))
        self.rect(image, 0, 248, 640, 250, (225, 225, 220))
        self.rect(image, 0, 298, 640, 300, (225, 225, 220))
        self.rect(image, 0, 300, 640, 322, (104, 100, 94))
        self.texture(image, (0, 300, 640, 322), [(90, 86, 80), (120, 116, 108)], 0.15)
        self.rect(image, 0, 322, 640, 360, (78, 118, 58))
        self.texture(image, (0, 322, 640, 360), [(60, 100, 45), (96, 140, 70)], 0.25)
        for x in (70.0, 290.0, 510.0):
            self.lamp_post(image, x, 92, 160)
        return image

    def front(self, image: Image) -> None:
        """What stands behind the far sidewalk."""
        self.shophouses(image, 150, -10, 650)

    def populate(self) -> None:
        """Traffic in every lane, and people on the sidewalk."""
        per_lane = max(1, round(self.vehicles_per_minute * self.duration / 60))
        slot = self.duration / per_lane
        for y, direction, size in self.LANES:
            speed = 72 * size * float(self.rng.uniform(0.9, 1.1))
            ends = (-70.0, 710.0) if direction > 0 else (710.0, -70.0)
            for i in range(per_lane):
                sprite = self.vehicle(self.s * size)
                start = (i + float(self.rng.uniform(0, 0.6))) * slot
                path = lane(
                    *ends, y, speed * float(self.rng.uniform(0.96, 1.04)), start, self.duration
                )
                lights = self.vehicle_lights(sprite) if self.night else []
                self.movers.append(Mover(sprite, path, lights))
        for _ in range(max(1, round(4 * self.duration / 60))):
            x_from = float(self.rng.uniform(-20, 660))
            along = [(x_from, 162.0), (x_from + float(self.rng.choice([-1, 1])) * 700, 162.0)]
            self.person_walking(walk(along, float(self.rng.uniform(10, 18)), 0.0), 0.8)

    def vehicle(self, s: float) -> Sprite:
        """A car, a motorbike or now and then a truck."""
        roll = float(self.rng.random())
        if roll < 0.45:
            return props.car(s, props.pick(self.rng, props.CAR_COLORS))
        if roll < 0.9:
            return props.motorbike(s, self.rng)
        return props.truck(s, (40, 110, 60))


class RoadNightStop(RoadScene):
    """A road at night where a car pulls onto the shoulder and stays."""

    name = "road_night_stop"
    summary = "A town road at night; a car pulls onto the shoulder and stops, others pass"
    night = True
    noise_sigma = 2.4
    vehicles_per_minute = 3.0
    STOP_X = 430.0
    SPEED = 75.0
    BRAKING_S = 2.0

    def populate(self) -> None:
        """Light traffic, and the car that stops at a third of the scene."""
        super().populate()
        self.stop_s = self.duration / 3
        self.stopper = props.car(self.s * 1.05, (200, 200, 205))
        self.movers.append(Mover(self.stopper, self._stopping, self.vehicle_lights(self.stopper)))

    def _arrival(self) -> tuple[float, float]:
        braking_from = self.stop_s - self.BRAKING_S
        braking_x = self.STOP_X - self.SPEED * self.BRAKING_S / 2
        return braking_from - (braking_x + 70) / self.SPEED, braking_from

    def _stopping(self, t: float) -> Place | None:
        enter_s, braking_from = self._arrival()
        lane_y = self.LANES[-1][0]
        if t < enter_s:
            return None
        if t < braking_from:
            return -70 + self.SPEED * (t - enter_s), lane_y
        u = min((t - braking_from) / self.BRAKING_S, 1.0)
        x = self.STOP_X - self.SPEED * self.BRAKING_S / 2 * (1 - u) ** 2
        return x, lane_y + (self.SHOULDER - lane_y) * _smooth(u)

    def happenings(self) -> list[Happening]:
        """The car driving in, then standing on the shoulder to the end."""
        enter_s, _ = self._arrival()
        length = self.stopper.width / self.s
        tall = self.stopper.height / self.s
        half = length / 2
        return [
            Happening(
                max(enter_s, 0.0),
                self.stop_s,
                "vehicle_arriving",
                design_box(0, self.LANES[-1][0] - tall, self.STOP_X + half, self.SHOULDER),
            ),
            Happening(
                self.stop_s,
                self.duration,
                "vehicle_stopped",
                design_box(
                    self.STOP_X - half, self.SHOULDER - tall, self.STOP_X + half, self.SHOULDER
                ),
            ),
        ]


class Frozen(RoadScene):
    """A road by day whose picture stops changing for a while, though the stream flows."""

    name = "frozen"
    summary = "A town road by day; the picture freezes for a while, the stream goes on"

    def _stretch(self) -> tuple[int, int]:
        # Frozen from a keyframe on, so every decoded frame of the stretch is the same.
        start = max(self.gop, round(0.4 * self.frames / self.gop) * self.gop)
        end = max(start + self.gop, round(0.7 * self.frames / self.gop) * self.gop)
        return min(start, self.frames), min(end, self.frames)

    def source_index(self, index: int) -> int:
        """Inside the stretch, the first frame of the stretch."""
        start, end = self._stretch()
        return start if start <= index < end else index

    def happenings(self) -> list[Happening]:
        """The frozen stretch."""
        start, end = self._stretch()
        return [Happening(start / self.fps, end / self.fps, "frozen")] if start < end else []


class GoesDark(RoadScene):
    """Terminal Kembangjoyo by day; the camera goes black for a while, then comes back."""

    name = "goes_dark"
    summary = "Terminal Kembangjoyo by day; the picture goes black (lens covered, power lost)"

    def front(self, image: Image) -> None:
        """The terminal: a long roof on pillars, buses waiting in their bays."""
        self.rect(image, 0, 60, 640, 150, (200, 200, 195))
        self.polygon(image, [(-10, 70), (650, 70), (620, 40), (20, 40)], (150, 60, 45))
        self.rect(image, 230, 74, 410, 92, (30, 80, 150))
        self.rect(image, 240, 80, 400, 86, (230, 230, 230))
        for x in range(10, 640, 60):
            self.rect(image, x, 92, x + 6, 150, (170, 170, 165))
        colors = ((200, 40, 40), (230, 230, 230), (40, 90, 170), (240, 150, 30))
        for i, x in enumerate((20, 140, 260, 380, 500)):
            bus = props.bus(self.s * 0.9, colors[i % len(colors)])
            bus.blit(image, self.x(x), self.y(148) - bus.height)

    def vehicle(self, s: float) -> Sprite:
        """Buses and angkot often, motorbikes always."""
        roll = float(self.rng.random())
        if roll < 0.2:
            return props.bus(s, props.pick(self.rng, ((200, 40, 40), (40, 90, 170))))
        if roll < 0.45:
            return props.car(s, props.pick(self.rng, ((60, 150, 70), (230, 200, 40))))
        return super().vehicle(s)

    def _stretch(self) -> tuple[int, int]:
        start = round(0.4 * self.frames)
        return start, max(start + 1, round(0.7 * self.frames))

    def is_dark(self, index: int) -> bool:
        """Black from 40 % to 70 % of the scene."""
        start, end = self._stretch()
        return start <= index < end

    def happenings(self) -> list[Happening]:
        """The dark stretch."""
        start, end = self._stretch()
        return [Happening(start / self.fps, end / self.fps, "dark")]


class BusySquare(Scene):
    """Alun-alun Pati: the great square before the mosque, many people walking."""

    name = "busy_square"
    summary = "Alun-alun Pati: the square before the Masjid Agung, many people walking"
    FIELD = (20.0, 122.0, 620.0, 292.0)

    def backdrop(self) -> Image:
        """The mosque and the pendopo, the field with its two banyans, a street in front."""
        image = self.sky(100)
        self.rect(image, 60, 62, 250, 100, (235, 230, 215))
        self.polygon(image, [(40, 66), (270, 66), (220, 30), (90, 30)], (95, 60, 40))
        self.ellipse(image, 495, 56, 36, 24, (40, 130, 90))
        self.rect(image, 420, 56, 570, 100, (240, 240, 235))
        self.rect(image, 585, 14, 597, 100, (240, 240, 235))
        self.ellipse(image, 591, 14, 8, 8, (40, 130, 90))
        self.rect(image, 0, 100, 640, 116, (96, 98, 100))
        self.rect(image, 0, 116, 640, 300, (96, 150, 70))
        for stripe in range(0, 640, 80):
            self.rect(image, stripe, 116, stripe + 40, 300, (104, 158, 76))
        self.texture(image, (0, 116, 640, 300), [(80, 130, 60), (120, 170, 90)], 0.12)
        self.rect(image, 0, 116, 640, 124, (190, 185, 170))
        self.rect(image, 0, 288, 640, 300, (190, 185, 170))
        self.polygon(image, [(300, 124), (340, 124), (360, 288), (280, 288)], (190, 185, 170))
        for x in (250.0, 390.0):
            self.rect(image, x - 5, 160, x + 5, 215, (90, 65, 45))
        self.rect(image, 0, 300, 640, 360, (70, 72, 76))
        self.rect(image, 0, 329, 640, 331, (220, 220, 215))
        for x in (30.0, 610.0):
            self.lamp_post(image, x, 60, 118)
        return image

    def populate(self) -> None:
        """Two banyan canopies swaying, people all over the square, motorbikes in front."""
        for x in (250.0, 390.0):
            canopy = props.canopy(self.s, self.rng, 2.0)
            self.movers.append(Mover(canopy, sway(x, 190, 0.8, 5.0, x), turns=False))
        x0, y0, x1, y1 = self.FIELD
        for _ in range(46):
            points = [
                (float(self.rng.uniform(x0, x1)), float(self.rng.uniform(y0, y1)))
                for _ in range(int(self.rng.integers(2, 5)))
            ]
            depth = sum(p[1] for p in points) / len(points)
            scale = 0.6 + 0.55 * (depth - y0) / (y1 - y0)
            speed = float(self.rng.uniform(10, 22)) * scale
            phase = float(self.rng.uniform(0, 500))
            self.person_walking(walk(points, speed, phase), scale)
        for i in range(max(2, round(10 * self.duration / 60))):
            direction = 1 if i % 2 else -1
            y = 326.0 if direction < 0 else 352.0
            ends = (-40.0, 680.0) if direction > 0 else (680.0, -40.0)
            start = float(self.rng.uniform(0, self.duration))
            bike = props.motorbike(self.s * 1.1, self.rng)
            self.movers.append(Mover(bike, lane(*ends, y, 65, start, self.duration)))

    def happenings(self) -> list[Happening]:
        """People on the square the whole time."""
        return [Happening(0.0, self.duration, "crowd", design_box(*self.FIELD))]


class QuietPark(Scene):
    """Taman Bandeng: a park with its milkfish fountain, few people, leaves moving a little."""

    name = "quiet_park"
    summary = "Taman Bandeng: the milkfish fountain, a few people, trees swaying a little"
    FOUNTAIN = (320.0, 232.0)

    def backdrop(self) -> Image:
        """Far trees, the lawn, paths, benches, the pool and the bandeng on its pedestal."""
        image = self.sky(110)
        for crown in range(-20, 660, 45):
            self.ellipse(image, crown, 112, 34, 24, (45, 90, 45))
        self.rect(image, 0, 118, 640, 360, (92, 145, 66))
        self.texture(image, (0, 118, 640, 360), [(78, 128, 56), (110, 160, 80)], 0.15)
        stone = (200, 192, 175)
        self.polygon(image, [(0, 300), (640, 270), (640, 296), (0, 330)], stone)
        self.polygon(image, [(300, 118), (340, 118), (380, 360), (260, 360)], stone)
        cx, cy = self.FOUNTAIN
        self.ellipse(image, cx, cy, 118, 40, (170, 165, 155))
        self.ellipse(image, cx, cy, 108, 34, (70, 120, 150))
        self.rect(image, cx - 12, cy - 30, cx + 12, cy + 4, (180, 175, 165))
        self.ellipse(image, cx, cy - 44, 26, 10, (190, 200, 210))
        self.polygon(
            image, [(cx + 20, cy - 44), (cx + 38, cy - 58), (cx + 38, cy - 30)], (175, 185, 195)
        )
        self.ellipse(image, cx - 14, cy - 46, 2, 2, (30, 30, 30))
        for x, y in ((120.0, 262.0), (520.0, 250.0)):
            self.rect(image, x - 22, y - 10, x + 22, y - 6, (120, 80, 50))
            self.rect(image, x - 20, y - 6, x - 17, y, (60, 60, 60))
            self.rect(image, x + 17, y - 6, x + 20, y, (60, 60, 60))
        for x, y, _ in self._trees():
            self.rect(image, x - 4, y - 40, x + 4, y, (95, 70, 50))
        for x in (230.0, 420.0):
            self.lamp_post(image, x, 150, 215)
        return image

    def _trees(self) -> list[tuple[float, float, float]]:
        return [(70, 215, 1.3), (180, 180, 1.0), (470, 185, 1.0), (585, 225, 1.4), (40, 330, 1.6)]

    def populate(self) -> None:
        """Canopies swaying slowly, and a few people strolling."""
        for x, y, size in self._trees():
            canopy = props.canopy(self.s, self.rng, size)
            period = float(self.rng.uniform(4, 7))
            path = sway(x, y - 30 * size, 0.9, period, float(self.rng.uniform(0, 6)))
            self.movers.append(Mover(canopy, path, turns=False))
        rounds: list[list[Place]] = [
            [(20, 318), (620, 284), (620, 290), (20, 324)],
            [(318, 128), (324, 182), (322, 184), (316, 130)],
            [(330, 276), (350, 356), (346, 358), (326, 278)],
            [(200, 262), (440, 262), (440, 272), (200, 272)],
        ]
        for points in rounds:
            self.person_walking(walk(points, float(self.rng.uniform(8, 13)), 0), 1.0)
        self.person_walking(walk([(510, 244), (512, 244)], 0.05, 0), 0.95)
        size = max(round(4 * self.s), 1)
        self.jet = Sprite(size, size).ellipse(
            size / 2, size / 2, size / 2, size / 2, (215, 230, 240)
        )
        self.drop = Sprite(size, max(size // 2, 1)).rect(0, 0, size, size, (180, 205, 220))

    def animate(self, image: Image, t: float, rng: np.random.Generator) -> None:
        """The fountain: jets rising and falling round the fish, and drops in the pool."""
        cx, cy = self.FOUNTAIN
        jet, drop = self.jet, self.drop
        for k in range(8):
            angle = 2 * math.pi * k / 8
            reach = 1.0 + 0.08 * math.sin(2 * math.pi * (t / 2.5) + k)
            for step in range(1, 8):
                u = step / 8
                x = cx + math.cos(angle) * 80 * u * reach
                y = cy - 50 - 70 * u * (1 - u) * reach + math.sin(angle) * 22 * u + 45 * u * u
                jet.blit(image, self.x(x) - jet.width // 2, self.y(y) - jet.height // 2)
        for _ in range(12):
            angle = float(rng.uniform(0, 2 * math.pi))
            radius = float(rng.uniform(60, 95))
            x, y = cx + math.cos(angle) * radius, cy + math.sin(angle) * radius * 0.3
            drop.blit(image, self.x(x), self.y(y))

    def happenings(self) -> list[Happening]:
        """The fountain plays, and a few people walk the paths."""
        cx, cy = self.FOUNTAIN
        return [
            Happening(
                0.0, self.duration, "fountain", design_box(cx - 110, cy - 90, cx + 110, cy + 40)
            ),
            Happening(0.0, self.duration, "people", design_box(0, 120, 640, 360)),
        ]


class Landfill(Scene):
    """TPA Sukoharjo: a dump truck arrives, tips its load onto the heap and leaves."""

    name = "landfill"
    summary = "TPA Sukoharjo: a dump truck arrives, tips its load and leaves; egrets circle"
    TIP_X = 400.0
    ROAD_Y = 332.0

    def backdrop(self) -> Image:
        """Hills, the rubbish heap, the dirt road to its foot."""
        image = self.sky(150)
        for x, r in ((60.0, 120.0), (300.0, 160.0), (560.0, 130.0)):
            self.ellipse(image, x, 160, r, 40, (80, 115, 70))
        self.rect(image, 0, 150, 640, 360, (125, 110, 85))
        self.texture(image, (0, 150, 640, 360), [(110, 95, 70), (140, 125, 100)], 0.15)
        heap = [(150, 310), (250, 190), (330, 150), (560, 142), (660, 200), (660, 300)]
        self.polygon(image, heap, (105, 98, 88))
        rubbish = [(230, 230, 230), (40, 80, 160), (180, 40, 40), (60, 130, 70), (30, 30, 30)]
        self.texture(image, (200, 150, 640, 300), rubbish, 0.06)
        self.polygon(image, [(0, 318), (460, 312), (470, 348), (0, 360)], (150, 130, 100))
        self.texture(image, (0, 312, 470, 360), [(130, 112, 85), (165, 148, 118)], 0.15)
        return image

    def _times(self) -> tuple[float, float, float, float]:
        d = self.duration
        return 0.12 * d, 0.3 * d, 0.55 * d, 0.72 * d

    def populate(self) -> None:
        """The truck (in every pose), egrets over the heap, and two scavengers on it."""
        color = (220, 150, 30)
        self.trucks = [props.truck(self.s * 1.3, color, raised=k / 8) for k in range(9)]
        self.truck_leaving = self.trucks[0].flipped()
        egret = Sprite(round(6 * self.s), round(3 * self.s)).rect(
            0, 0, 6 * self.s, 3 * self.s, (245, 245, 240)
        )
        for _ in range(7):
            path = orbit(
                float(self.rng.uniform(330, 520)),
                float(self.rng.uniform(70, 120)),
                float(self.rng.uniform(40, 110)),
                float(self.rng.uniform(10, 25)),
                float(self.rng.uniform(0.04, 0.09)),
                float(self.rng.uniform(0, 2 * math.pi)),
            )
            self.movers.append(Mover(egret, path))
        for points in ([(380, 190), (470, 182), (430, 205)], [(540, 170), (600, 195)]):
            self.person_walking(walk(points, 4.0, 0), 0.7)

    def _truck_at(self, t: float) -> tuple[float, int, bool] | None:
        """Where the truck stands, how far its bed is up (0 to 8), and whether it faces right."""
        arrive, dump, leave, gone = self._times()
        if t < arrive or t >= gone:
            return None
        if t < dump:
            u = (t - arrive) / (dump - arrive)
            return -60 + (self.TIP_X + 60) * u * (2 - u), 0, True
        if t < leave:
            ramp = min(3.0, (leave - dump) / 3)
            up = min((t - dump) / ramp, (leave - t) / ramp, 1.0)
            return self.TIP_X, round(8 * up), True
        u = (t - leave) / (gone - leave)
        return self.TIP_X - (self.TIP_X + 80) * u * u, 0, False

    def animate(self, image: Image, t: float, rng: np.random.Generator) -> None:
        """The new pile growing behind the truck, the falling load, the truck itself."""
        _, dump, leave, _ = self._times()
        pile_x = self.TIP_X - 48
        grown = _smooth((t - dump) / max(leave - dump, 1e-6))
        if grown > 0:
            self.ellipse(image, pile_x, self.ROAD_Y - 2, 22 * grown, 12 * grown, (95, 85, 70))
        truck = self._truck_at(t)
        if truck is None:
            return
        x, raised, facing_right = truck
        if raised >= 5:
            for _ in range(16):
                px = pile_x + float(rng.uniform(-10, 10))
                py = self.ROAD_Y - float(rng.uniform(6, 30))
                self.rect(image, px, py, px + 2, py + 2, (90, 80, 65))
        sprite = self.trucks[raised] if facing_right else self.truck_leaving
        sprite.blit(image, self.x(x) - sprite.width // 2, self.y(self.ROAD_Y) - sprite.height)

    def happenings(self) -> list[Happening]:
        """Arriving along the road, dumping at the heap's foot, leaving."""
        arrive, dump, leave, gone = self._times()
        road = design_box(0, self.ROAD_Y - 50, self.TIP_X + 50, self.ROAD_Y + 4)
        tip = design_box(self.TIP_X - 80, self.ROAD_Y - 90, self.TIP_X + 50, self.ROAD_Y + 4)
        return [
            Happening(arrive, dump, "truck_arriving", road),
            Happening(dump, leave, "truck_dumping", tip),
            Happening(leave, gone, "truck_leaving", road),
        ]


class StatueRoundabout(Scene):
    """Bundaran Patung Kuda: cars and motorbikes circling the horse statue."""

    name = "statue_roundabout"
    summary = "Bundaran Patung Kuda: cars and motorbikes circling the horse statue"
    CENTRE = (320.0, 228.0)

    def backdrop(self) -> Image:
        """Shophouses, the roads coming in, the ring and its grass island."""
        image = self.sky(110)
        self.shophouses(image, 112, -10, 650)
        self.rect(image, 0, 112, 640, 360, (150, 145, 135))
        asphalt = (70, 72, 76)
        self.rect(image, 280, 112, 360, 360, asphalt)
        self.rect(image, 0, 205, 640, 252, asphalt)
        cx, cy = self.CENTRE
        self.ellipse(image, cx, cy, 250, 96, asphalt)
        self.texture(image, (0, 112, 640, 360), [(62, 64, 68), (84, 86, 90)], 0.05)
        self.ellipse(image, cx, cy, 130, 46, (235, 235, 230))
        self.ellipse(image, cx, cy, 124, 42, (90, 145, 65))
        self.ellipse(image, cx, cy, 100, 32, (200, 60, 80))
        self.ellipse(image, cx, cy, 94, 29, (90, 145, 65))
        for x in (120.0, 520.0):
            self.lamp_post(image, x, 130, 200)
        return image

    def populate(self) -> None:
        """The statue (so that it hides what passes behind it) and the circling traffic."""
        self.movers.append(Mover(self._statue(), still(*self.CENTRE), turns=False))
        cx, cy = self.CENTRE
        for i in range(16):
            inner = i % 2 == 0
            rx, ry = (165.0, 62.0) if inner else (205.0, 80.0)
            turns = float(self.rng.uniform(0.05, 0.07))
            phase = 2 * math.pi * i / 16 + float(self.rng.uniform(-0.1, 0.1))
            sprite = (
                props.car(self.s * 0.95, props.pick(self.rng, props.CAR_COLORS))
                if i % 3
                else props.motorbike(self.s, self.rng)
            )
            self.movers.append(Mover(sprite, orbit(cx, cy + 6, rx, ry, turns, phase)))

    def _statue(self) -> Sprite:
        s = self.s
        sprite = Sprite(round(70 * s), round(110 * s))
        bronze = (70, 55, 40)
        sprite.rect(12 * s, 70 * s, 58 * s, 110 * s, (205, 200, 190))
        sprite.rect(8 * s, 64 * s, 62 * s, 72 * s, (185, 180, 170))
        sprite.ellipse(35 * s, 40 * s, 20 * s, 9 * s, bronze)
        for x in (20, 27, 43, 50):
            sprite.rect(x * s, 44 * s, (x + 4) * s, 64 * s, bronze)
        sprite.polygon(
            [(48 * s, 36 * s), (56 * s, 12 * s), (66 * s, 16 * s), (56 * s, 42 * s)], bronze
        )
        sprite.polygon(
            [(16 * s, 36 * s), (8 * s, 58 * s), (13 * s, 58 * s), (20 * s, 40 * s)], bronze
        )
        sprite.rect(31 * s, 14 * s, 39 * s, 34 * s, bronze)
        sprite.ellipse(35 * s, 10 * s, 4 * s, 5 * s, bronze)
        return sprite

    def happenings(self) -> list[Happening]:
        """Traffic on the ring the whole time."""
        cx, cy = self.CENTRE
        return [
            Happening(
                0.0, self.duration, "traffic", design_box(cx - 250, cy - 96, cx + 250, cy + 96)
            )
        ]


class Market(Scene):
    """Pasar Puri Baru in the morning: rows of stalls, a crowded aisle, motorbikes."""

    name = "market"
    summary = "Pasar Puri Baru in the morning: stalls, a crowded aisle, motorbikes"
    AISLE = (0.0, 180.0, 640.0, 300.0)

    def backdrop(self) -> Image:
        """The market hall, two rows of stalls under their awnings, the paved aisle."""
        image = self.sky(90)
        warm = vertical_gradient(self.width, self.y(90), (235, 200, 150), (250, 230, 200))
        image[: warm.shape[0]] = warm
        self.rect(image, 0, 50, 640, 120, (215, 210, 195))
        self.polygon(image, [(-10, 58), (650, 58), (600, 30), (40, 30)], (150, 70, 50))
        for x in range(20, 640, 50):
            self.rect(image, x, 75, x + 30, 100, (80, 85, 90))
        self.rect(image, 0, 120, 640, 360, (160, 150, 135))
        self.texture(image, (0, 120, 640, 360), [(145, 135, 120), (175, 165, 150)], 0.08)
        self._stalls(image, base=178, height=46, width=70)
        self._stalls(image, base=345, height=70, width=100)
        return image

    def _stalls(self, image: Image, *, base: float, height: float, width: float) -> None:
        awnings = ((40, 90, 170), (230, 120, 30), (50, 140, 70), (200, 40, 40), (60, 160, 190))
        goods = [(220, 60, 40), (240, 200, 40), (80, 150, 50), (240, 240, 230), (150, 90, 40)]
        x = -10.0
        while x < 640:
            color = awnings[int(self.rng.integers(len(awnings)))]
            top = base - height
            self.rect(image, x + 4, top + 0.35 * height, x + 7, base, (90, 80, 70))
            self.rect(image, x + width - 7, top + 0.35 * height, x + width - 4, base, (90, 80, 70))
            self.polygon(
                image,
                [
                    (x, top + 0.35 * height),
                    (x + width, top + 0.35 * height),
                    (x + width - 8, top),
                    (x + 8, top),
                ],
                color,
            )
            self.rect(
                image,
                x + 2,
                base - 0.4 * height,
                x + width - 2,
                base - 0.3 * height,
                (140, 100, 60),
            )
            self.texture(
                image, (x + 4, base - 0.5 * height, x + width - 4, base - 0.4 * height), goods, 0.5
            )
            x += width + 4

    def populate(self) -> None:
        """Shoppers walking the aisle or standing at stalls, motorbikes pushing through."""
        x0, y0, x1, y1 = self.AISLE
        for i in range(40):
            y = float(self.rng.uniform(y0 + 10, y1 - 6))
            scale = 0.75 + 0.5 * (y - y0) / (y1 - y0)
            if i % 4 == 0:
                x = float(self.rng.uniform(x0, x1))
                self.person_walking(walk([(x, y), (x + 1.5, y)], 0.3, 0), scale)
                continue
            points = [
                (float(self.rng.uniform(x0 - 20, x1 + 20)), y + float(self.rng.uniform(-8, 8)))
                for _ in range(3)
            ]
            self.person_walking(
                walk(points, float(self.rng.uniform(8, 16)), float(self.rng.uniform(0, 900))), scale
            )
        for _ in range(max(2, round(6 * self.duration / 60))):
            direction = 1 if self.rng.random() < 0.5 else -1
            ends = (-40.0, 680.0) if direction > 0 else (680.0, -40.0)
            start = float(self.rng.uniform(0, self.duration))
            bike = props.motorbike(self.s * 1.05, self.rng)
            self.movers.append(Mover(bike, lane(*ends, 250, 30, start, self.duration)))

    def happenings(self) -> list[Happening]:
        """Shoppers in the aisle the whole time."""
        return [Happening(0.0, self.duration, "crowd", design_box(*self.AISLE))]


SCENES: dict[str, type[Scene]] = {
    scene.name: scene
    for scene in (
        RoadNightStop,
        GoesDark,
        Frozen,
        BusySquare,
        QuietPark,
        Landfill,
        StatueRoundabout,
        Market,
    )
}
"""Every scene by the name cameras give in `options.scene`."""


def make_scene(
    name: str,
    *,
    width: int = 640,
    height: int = 360,
    fps: int = 15,
    duration: float = 60.0,
    seed: int = 0,
) -> Scene:
    """The scene called `name`; KeyError if there is none."""
    return SCENES[name](width=width, height=height, fps=fps, duration=duration, seed=seed)
