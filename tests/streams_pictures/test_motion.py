"""T3: motion per zone on small grey pictures, synthetic for exact frames, real for the road."""

from __future__ import annotations

import numpy as np
import pytest

from hub.streams.motion import (
    ALL,
    MotionChange,
    MotionDetector,
    MotionSettings,
    Polygon,
    Zone,
    parse_masks,
    parse_polygon,
    parse_zone,
    parse_zones,
    rasterize,
)
from hub.streams.pictures import Grey

from .media import grey_frames
from .scenes import HEIGHT, WIDTH, Floats, scene, shot

RATE = 5.0
"""Pictures per second, as T3 samples them."""

LEFT: Polygon = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
RIGHT: Polygon = ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0))

Timeline = list[tuple[int, str, bool]]


def run(detector: MotionDetector, frames: list[Grey]) -> tuple[Timeline, list[MotionChange]]:
    """Feed pictures at `RATE`; (picture index, zone, started) per change, and the changes."""
    timeline: Timeline = []
    changes: list[MotionChange] = []
    for index, grey in enumerate(frames):
        for change in detector.update(grey, index / RATE):
            timeline.append((index, change.zone, change.started))
            changes.append(change)
    return timeline, changes


def walker(
    count: int,
    enters: int,
    leaves: int,
    rng: np.random.Generator,
    base: Floats | None = None,
    noise: float = 1.5,
) -> list[Grey]:
    """A static scene, and a 30 x 30 px bright thing walking right on it from `enters`."""
    background = scene(1) if base is None else base
    frames = []
    for index in range(count):
        picture = background.copy()
        if enters <= index < leaves:
            x = 40 + (index - enters) * 6
            picture[80:110, x : x + 30] = 250.0
        frames.append(shot(picture, rng, noise))
    return frames


# --- synthetic: exact frames ----------------------------------------------------------------


def test_motion_starts_after_two_frames_and_ends_after_ten_quiet_ones() -> None:
    rng = np.random.default_rng(1)
    frames = walker(60, enters=20, leaves=35, rng=rng)
    detector = MotionDetector(WIDTH, HEIGHT)
    timeline, changes = run(detector, frames)
    assert timeline == [(21, ALL, True), (44, ALL, False)]  # on at #20 and #21; off #35..#44
    start, end = changes
    # the thing is at x 46..76 of 320, y 80..110 of 180 at #21
    assert start.box == pytest.approx((46 / 320, 80 / 180, 76 / 320, 110 / 180), abs=0.02)
    assert start.score == pytest.approx(900 / (320 * 180), rel=0.3)
    assert start.at == pytest.approx(21 / RATE)
    # the end covers the whole walk: x 40 at #20 to 124 + 30 at #34
    assert end.box == pytest.approx((40 / 320, 80 / 180, 154 / 320, 110 / 180), abs=0.03)
    assert end.score >= start.score and end.at == pytest.approx(44 / RATE)
    assert detector.active() == []


def test_each_zone_sees_only_its_own_motion() -> None:
    rng = np.random.default_rng(2)
    frames = walker(60, enters=20, leaves=35, rng=rng)  # stays in the left half
    detector = MotionDetector(WIDTH, HEIGHT, [Zone("left", LEFT), Zone("right", RIGHT)])
    timeline, _ = run(detector, frames)
    assert timeline == [(21, "left", True), (44, "left", False)]
    assert detector.zones == ["left", "right"]


def test_a_mask_hides_motion_under_it() -> None:
    rng = np.random.default_rng(3)
    frames = walker(60, enters=20, leaves=35, rng=rng)
    detector = MotionDetector(WIDTH, HEIGHT, masks=[LEFT])
    assert run(detector, frames)[0] == []


def test_nothing_is_reported_while_calibrating() -> None:
    rng = np.random.default_rng(4)
    frames = walker(30, enters=0, leaves=8, rng=rng)  # gone before calibration ends (#10)
    detector = MotionDetector(WIDTH, HEIGHT)
    assert run(detector, frames)[0] == []


def test_a_static_noisy_night_gives_no_motion() -> None:
    rng = np.random.default_rng(5)
    night = scene(1, low=5.0, high=40.0)
    frames = [shot(night, rng, noise=6.0) for _ in range(100)]
    assert run(MotionDetector(WIDTH, HEIGHT), frames)[0] == []


def test_noise_rising_at_once_is_not_motion() -> None:
    rng = np.random.default_rng(13)
    base = scene(1, low=100.0, high=140.0)  # grey asphalt, little contrast to hide grain in
    # dusk: the camera raises its gain and the grain with it, in one step
    frames = [shot(base, rng) for _ in range(30)] + [shot(base, rng, noise=16) for _ in range(40)]
    assert run(MotionDetector(WIDTH, HEIGHT), frames)[0] == []


def test_motion_is_still_found_at_night() -> None:
    rng = np.random.default_rng(6)
    night = scene(1, low=5.0, high=40.0)
    frames = walker(60, enters=30, leaves=45, rng=rng, base=night, noise=6.0)
    timeline, _ = run(MotionDetector(WIDTH, HEIGHT), frames)
    assert timeline == [(31, ALL, True), (54, ALL, False)]


def test_an_auto_exposure_jump_is_not_motion() -> None:
    rng = np.random.default_rng(7)
    base = scene(1)
    frames = [shot(base, rng) for _ in range(20)] + [shot(base + 30, rng) for _ in range(40)]
    detector = MotionDetector(WIDTH, HEIGHT)
    assert run(detector, frames)[0] == []
    assert detector.relearned == 0  # the normalization took it, not a reset of the background


def test_motion_is_found_right_after_an_exposure_jump() -> None:
    rng = np.random.default_rng(8)
    base = scene(1)
    frames = [shot(base, rng) for _ in range(20)]
    frames += walker(40, enters=10, leaves=20, rng=rng, base=base * 0.8 + 30)
    timeline, _ = run(MotionDetector(WIDTH, HEIGHT), frames)
    assert timeline == [(31, ALL, True), (49, ALL, False)]


def test_a_slow_lighting_ramp_is_not_motion() -> None:
    rng = np.random.default_rng(9)
    base = scene(1)
    frames = [shot(base * gain, rng) for gain in np.linspace(0.4, 1.1, 300)]
    assert run(MotionDetector(WIDTH, HEIGHT), frames)[0] == []


def test_a_whole_new_picture_relearns_instead_of_firing() -> None:
    rng = np.random.default_rng(10)
    frames = [shot(scene(1), rng) for _ in range(20)] + [shot(scene(2), rng) for _ in range(30)]
    detector = MotionDetector(WIDTH, HEIGHT)
    assert run(detector, frames)[0] == []
    assert detector.relearned == 1


def test_a_thing_that_stops_fades_into_the_background() -> None:
    rng = np.random.default_rng(11)
    base = scene(1)
    parked = base.copy()
    parked[80:110, 40:70] = 250.0
    frames = [shot(base, rng) for _ in range(20)] + [shot(parked, rng) for _ in range(400)]
    timeline, _ = run(MotionDetector(WIDTH, HEIGHT), frames)
    assert timeline[0] == (21, ALL, True)
    assert timeline[1][1:] == (ALL, False)
    # it fades by a bounded step per picture: not at once, and well within a minute
    assert 20 + 5 * RATE < timeline[1][0] < 20 + 60 * RATE
    assert len(timeline) == 2


def test_the_wrong_size_or_a_too_small_zone_is_refused() -> None:
    detector = MotionDetector(WIDTH, HEIGHT)
    with pytest.raises(ValueError, match="expected a 320x180 picture"):
        detector.update(np.zeros((HEIGHT, WIDTH + 2), dtype=np.uint8), 0.0)
    speck = Zone("speck", ((0.5, 0.5), (0.501, 0.5), (0.501, 0.501)))
    with pytest.raises(ValueError, match="zone 'speck' covers no pixel"):
        MotionDetector(WIDTH, HEIGHT, [speck])
    with pytest.raises(ValueError, match="too small"):
        MotionDetector(4, 4)


def test_update_cost_is_small_at_320_px() -> None:
    rng = np.random.default_rng(12)
    frames = walker(40, enters=15, leaves=30, rng=rng)
    detector = MotionDetector(WIDTH, HEIGHT, [Zone("left", LEFT), Zone("right", RIGHT)])
    run(detector, frames)  # this is a smoke check; bench/bench_motion.py measures it
    assert detector.settings == MotionSettings()


# --- real footage: cars on the road ---------------------------------------------------------

ROAD = Zone("road", ((0.15, 0.0), (0.6, 0.0), (0.6, 1.0), (0.15, 1.0)))
"""Where the cars drive in car-detection.mp4."""
VERGE = Zone("verge", ((0.85, 0.15), (0.98, 0.15), (0.98, 0.85), (0.85, 0.85)))
"""Asphalt to the right that no car crosses, under the camera's auto exposure all the same."""


def episodes(changes: list[MotionChange], zone: str) -> list[tuple[float, float]]:
    starts = [c.at for c in changes if c.zone == zone and c.started]
    ends = [c.at for c in changes if c.zone == zone and not c.started]
    return list(zip(starts, ends, strict=True))


def test_cars_on_the_road_are_motion_and_the_verge_stays_quiet() -> None:
    frames = list(grey_frames())
    detector = MotionDetector(WIDTH, HEIGHT, [ROAD, VERGE])
    _, changes = run(detector, frames)
    # three cars (or pairs of cars) cross the road: ~4.6-9 s, ~14.4-19 s, ~25-28 s
    road = episodes(changes, "road")
    assert len(road) == 3
    expected = [(4.4, 5.0), (14.2, 14.8), (25.0, 25.6)]
    for (start, end), (early, late) in zip(road, expected, strict=True):
        assert early <= start <= late
        assert end - start > 2.0
    assert episodes(changes, "verge") == []
    assert all(change.box[2] <= 0.6 + 1e-9 for change in changes)


def test_masking_the_road_removes_its_motion() -> None:
    frames = list(grey_frames())
    road_and_lane_marks = ((0.0, 0.0), (0.82, 0.0), (0.82, 1.0), (0.0, 1.0))
    detector = MotionDetector(WIDTH, HEIGHT, masks=[road_and_lane_marks])
    assert run(detector, frames)[0] == []
    unmasked = MotionDetector(WIDTH, HEIGHT)
    assert len(run(unmasked, frames)[0]) >= 2


# --- zones and masks from config ------------------------------------------------------------


def test_zone_parses_from_config() -> None:
    zone = parse_zone({"name": "gate", "polygon": [[0.1, 0.2], [0.5, 0.2], [0.5, 0.9]]})
    assert zone == Zone("gate", ((0.1, 0.2), (0.5, 0.2), (0.5, 0.9)))
    assert parse_zones([]) == []
    assert parse_masks([[[0, 0], [1, 0], [1, 1]]]) == [((0.0, 0.0), (1.0, 0.0), (1.0, 1.0))]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("gate", "must be a mapping"),
        ({"polygon": [[0, 0], [1, 0], [1, 1]]}, "needs a non-empty name"),
        ({"name": "gate"}, "zone 'gate' has no polygon"),
        ({"name": "gate", "polygon": [[0, 0], [1, 0]]}, "needs at least 3 corners, has 2"),
        ({"name": "gate", "polygon": [[0, 0], [1, 0], [1.5, 1]]}, r"\(1.5, 1.0\) is outside"),
        ({"name": "gate", "polygon": [[0, 0], [1, 0], [1]]}, "corner 2 must be"),
        ({"name": "gate", "polygon": [[0, 0], [1, 0], ["a", 1]]}, "corner 2 must be"),
        ({"name": "gate", "polygon": [[0, 0], [1, 0], [True, 1]]}, "corner 2 must be"),
        ({"name": "gate", "polygon": "0,0 1,0 1,1"}, "must be a list"),
        ({"name": "gate", "polygon": [[0, 0], [1, 0], [1, 1]], "colour": 1}, "unknown keys"),
    ],
)
def test_a_bad_zone_says_what_is_wrong(config: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_zone(config)


def test_zone_names_must_be_unique_and_masks_a_list() -> None:
    zone = {"name": "gate", "polygon": [[0, 0], [1, 0], [1, 1]]}
    with pytest.raises(ValueError, match=r"unique: \['gate'\]"):
        parse_zones([zone, zone])
    with pytest.raises(ValueError, match="masks must be a list"):
        parse_masks({"polygon": []})
    with pytest.raises(ValueError, match="mask 0 needs at least 3 corners"):
        parse_masks([[[0, 0]]])
    with pytest.raises(ValueError, match="zone 'x' needs at least 3"):
        Zone("x", ((0.0, 0.0),))
    assert parse_polygon([(0, 0), (1, 0), (0, 1)]) == ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))


def test_rasterize_fills_pixel_centres_inside() -> None:
    square = rasterize(((0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)), 8, 8)
    expected = np.zeros((8, 8), dtype=bool)
    expected[2:6, 2:6] = True
    assert np.array_equal(square, expected)
    triangle = rasterize(((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)), 100, 100)
    assert triangle.sum() == pytest.approx(5000, rel=0.02)
    assert triangle[0, 0] and not triangle[99, 99]
    # a concave L: the notch stays empty
    ell = rasterize(((0, 0), (1, 0), (1, 0.5), (0.5, 0.5), (0.5, 1), (0, 1)), 10, 10)
    assert ell.sum() == 75 and not ell[9, 9] and ell[9, 0] and ell[0, 9]
