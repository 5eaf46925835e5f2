"""The activity meter: synthetic frame sizes for the exact cases, real footage for the rest.

The real streams are composed from tests/fixtures/media/car-detection.mp4 (CC BY 4.0 Intel IoT
DevKit) by bench/activity_support/camera_day.py, as bench/bench_activity.py does, but short:
an empty parking lot played forward and backward, cars passing, re-encoded like a camera.
"""

from __future__ import annotations

import json
import math
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from hub.streams.activity import ActivityChange, ActivityMeter, ActivitySettings
from hub.streams.units import VIDEO_CLOCK, AccessUnit, StreamInfo
from tests.streams_pictures.media import MEDIA

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from activity_support.camera_day import (  # noqa: E402
    CRF,
    FLAT_CBR,
    FPS,
    Day,
    RateControl,
    camera_day,
    encode,
    load_footage,
    pictures,
)

SETTINGS = ActivitySettings()
SUB_CBR = RateControl("cbr 256k", kbps=256)


def synthetic(
    size: Callable[[float], float],
    seconds: float,
    *,
    fps: float = 12.5,
    gop: float = 2.0,
    key_factor: float = 5.0,
    jitter: float = 0.1,
    ramp: bool = True,
    seed: int = 1,
) -> list[AccessUnit]:
    """Units of a camera whose predicted frames are `size(t)` bytes, with a keyframe of
    `key_factor` times that every `gop` seconds; with `ramp`, the predicted frames grow through
    the GOP as under a capped bitrate (the first after a keyframe a third of the rest); each
    frame off by a random factor of about `jitter`."""
    rng = random.Random(seed)
    per_gop = round(gop * fps)
    units = []
    for index in range(round(seconds * fps)):
        at = index / fps
        phase = index % per_gop
        if phase == 0:
            bytes_ = size(at) * key_factor
        else:
            shape = min(1.0, 0.3 + 0.7 * (phase - 1) / 4) if ramp else 1.0
            bytes_ = size(at) * shape * math.exp(rng.gauss(0.0, jitter))
        units.append(
            AccessUnit(bytes(max(1, round(bytes_))), round(at * VIDEO_CLOCK), phase == 0, at)
        )
    return units


def changes(
    units: Sequence[AccessUnit], settings: ActivitySettings = SETTINGS, codec: str = "h264"
) -> list[ActivityChange]:
    meter = ActivityMeter(settings)
    meter.reset(0.0, StreamInfo(codec))
    return [change for unit in units if (change := meter.on_unit(unit)) is not None]


def steady(level: float) -> Callable[[float], float]:
    return lambda at: level


def test_constant_sizes_give_no_activity() -> None:
    units = synthetic(steady(8000), 300, jitter=0.0, ramp=False)
    assert changes(units) == []


def test_gop_structure_alone_gives_no_activity() -> None:
    # keyframes five times the size every 2 s, predicted frames from a third to full size
    # through each GOP, every frame off by about 10 %: five minutes of nothing happening
    assert changes(synthetic(steady(9000), 300)) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_jittery_camera_stays_mostly_quiet_yet_a_big_step_starts_activity(seed: int) -> None:
    # grain, rain or a starved encoder: every frame off by about 30 %, as jittery as the real
    # footage at night under a capped bitrate; the start threshold follows the jitter (a fixed
    # one starts a dozen episodes here)
    assert len(changes(synthetic(steady(9000), 300, jitter=0.3, seed=seed))) <= 2
    found = changes(synthetic(lambda at: 9000 if at < 60 else 30_000, 70, jitter=0.3, seed=seed))
    assert found and found[0].started and 60.0 < found[0].at <= 61.0


@pytest.mark.parametrize("factor", [3.0, 1 / 3], ids=["bigger", "smaller"])
def test_a_step_gives_one_episode_that_ends(factor: float) -> None:
    def size(at: float) -> float:
        return 9000 * (factor if 60.0 <= at < 66.0 else 1.0)

    meter = ActivityMeter()
    found = []
    for unit in synthetic(size, 120):
        change = meter.on_unit(unit)
        if change is not None:
            found.append(change)
        if unit.arrival == pytest.approx(65.0):
            assert meter.score == pytest.approx(3.0, rel=0.1)  # how many times off usual
    assert [change.started for change in found] == [True, False]
    start, end = found
    assert 60.0 < start.at <= 61.0
    assert 66.0 < end.at <= 74.0  # the last seconds' size back to usual, then end_after


def test_a_bitrate_halving_is_at_most_one_short_episode_then_quiet() -> None:
    def size(at: float) -> float:
        return 10_000 if at < 60.0 else 5_000

    found = changes(synthetic(size, 400))
    assert len(found) <= 2
    if found:
        start, end = found
        assert start.started and not end.started
        assert 60.0 < start.at <= 62.0
        assert end.at - start.at <= SETTINGS.settle + 1.0


def test_warmup_only_learns_and_reset_ends_activity() -> None:
    meter = ActivityMeter()
    units = synthetic(lambda at: 9000 if at < 20 else 27_000, 30)
    seen = [change for unit in units if (change := meter.on_unit(unit)) is not None]
    assert [change.started for change in seen] == [True]
    assert seen[0].at > 20.0 and meter.active
    ended = meter.reset(31.0)
    assert ended is not None and not ended.started and not meter.active
    assert meter.reset(32.0) is None


# -- real footage -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    day: Day
    units: list[AccessUnit]
    switch: float | None = None


@pytest.fixture(scope="session")
def real_streams() -> Iterator[dict[str, Stream]]:
    """A short camera day with the footage's three cars (constant quality; and a longer one at
    a flat CBR, whose sizes hardly move when a car passes), and the quiet lot
    as a camera's 384x216 sub-stream whose bitrate halves (capped at 256 kbit/s, then 128) or
    that turns to IR night (constant quality) at 15 s, once the meter has learned it."""
    footage = load_footage()
    cars = camera_day(footage, 15.0, tail=8.0)
    flat = camera_day(footage, 60.0, tail=8.0)  # as the activity benchmark
    switch = round(15 * FPS)
    after = SETTINGS.settle + SETTINGS.warmup + 6.0  # the episode, relearning, then quiet
    lot = camera_day(footage, 16.0 + after, cars=[])
    night = camera_day(footage, 16.0 + after, cars=[])
    night.night_from = switch
    size = footage.width, footage.height
    sub = footage.width // 2, footage.height // 2
    with ThreadPoolExecutor(3) as pool:  # the encoder lets go of the GIL
        jobs = {
            "cars": pool.submit(encode, pictures(cars, footage), *size, CRF),
            "bitrate": pool.submit(
                encode, pictures(lot, footage, step=2), *sub, SUB_CBR, switch_at=switch
            ),
            "night": pool.submit(encode, pictures(night, footage, step=2), *sub, CRF),
            "flat": pool.submit(encode, pictures(flat, footage), *size, FLAT_CBR),
        }
        units = {name: job.result() for name, job in jobs.items()}
    at = switch / float(FPS)
    yield {
        "cars": Stream(cars, units["cars"]),
        "bitrate": Stream(lot, units["bitrate"], at),
        "night": Stream(night, units["night"], at),
        "flat": Stream(flat, units["flat"]),
    }


def episodes(units: Sequence[AccessUnit], codec: str = "h264") -> list[tuple[float, float]]:
    found = changes(units, codec=codec)
    assert [change.started for change in found] == [True, False] * (len(found) // 2), (
        "every episode ends"
    )
    return [(start.at, end.at) for start, end in zip(found[::2], found[1::2], strict=True)]


def test_real_cars_start_activity_within_2_s_and_the_lot_stays_quiet(
    real_streams: dict[str, Stream],
) -> None:
    stream = real_streams["cars"]
    found = episodes(stream.units)
    cars = [part for part in stream.day.parts if part.kind == "car"]
    assert len(found) == len(cars), f"one episode per car, got {found}"
    for (start, end), car in zip(found, cars, strict=True):
        begins, leaves = car.seconds()
        # the car part begins a second before the car's first pixels change
        assert begins <= start <= car.enters_at() + 2.0, (start, car.enters_at())
        assert end <= leaves + 10.0  # the exposure settles after the car has gone
    for part in stream.day.parts:
        if part.kind == "quiet":
            quiet_from, quiet_to = part.seconds()
            starts = [start for start, _ in found if quiet_from <= start < quiet_to]
            assert starts == [], f"activity in the empty lot at {starts}"


@pytest.fixture(scope="module")
def flat_h265(real_streams: dict[str, Stream]) -> Stream:
    """The flat CBR camera's day from an H.265 camera's sub-stream: 384x216 at 80 kbit/s, about
    the bits per pixel of a 1 Mbit/s 720p15 H.265 camera (x265 ultrafast, the same 0.6 s VBV).
    At far more bits per pixel (1 Mbit/s here at 768x432) x265 sits at QP 9 to 15 and still
    shows the cars by its QP, the first one 5 s late."""
    footage = load_footage()
    day = real_streams["flat"].day
    rate = replace(FLAT_CBR, name="cbr 80k flat, H.265", kbps=80, encoder="libx265")
    sub = footage.width // 2, footage.height // 2
    return Stream(day, encode(pictures(day, footage, step=2), *sub, rate))


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_a_flat_cbr_camera_shows_its_cars_by_its_qp(
    real_streams: dict[str, Stream], request: pytest.FixtureRequest, codec: str
) -> None:
    stream = real_streams["flat"] if codec == "h264" else request.getfixturevalue("flat_h265")
    cars = [part for part in stream.day.parts if part.kind == "car"]
    found = episodes(stream.units, codec)
    for car in cars:
        begins, _ = car.seconds()
        assert any(begins <= start <= car.enters_at() + 2.5 for start, _ in found), (car, found)
    for part in stream.day.parts:
        if part.kind == "quiet":
            quiet_from, quiet_to = part.seconds()
            assert not [start for start, _ in found if quiet_from + 2 <= start < quiet_to]
    # The same sizes without a QP to read (the bytes zeroed): the sizes alone miss cars.
    blind = [AccessUnit(bytes(u.size), u.pts, u.keyframe, u.arrival) for u in stream.units]
    seen = [change.at for change in changes(blind, codec=codec) if change.started]
    assert any(
        not any(car.seconds()[0] <= start <= car.enters_at() + 2.5 for start in seen)
        for car in cars
    ), seen


@pytest.mark.parametrize("change", ["bitrate", "night"])
def test_real_bitrate_halving_or_night_is_one_short_episode_then_quiet(
    real_streams: dict[str, Stream], change: str
) -> None:
    stream = real_streams[change]
    assert stream.switch is not None
    found = episodes(stream.units)
    assert len(found) <= 1, found
    for start, end in found:
        assert stream.switch <= start <= stream.switch + 2.0
        assert end - start <= SETTINGS.settle + 1.0
    assert stream.units[-1].arrival - stream.switch >= SETTINGS.settle + SETTINGS.warmup + 5.0


def bunched(units: list[AccessUnit], every: float, seed: int = 4) -> list[AccessUnit]:
    """The same units as a reader batching a tenth of a second, or a busy loop, delivers them:
    arrivals in bursts at the end of each `every`-second slot, a little late at random."""
    rng = random.Random(seed)
    out = []
    for unit in units:
        late = (math.floor(unit.arrival / every) + 1) * every + rng.uniform(0.0, 0.05)
        out.append(AccessUnit(unit.data, unit.pts, unit.keyframe, late))
    return out


@pytest.mark.parametrize("every", [0.1, 0.5])
def test_bunched_arrivals_change_nothing_the_stream_clock_decides(every: float) -> None:
    def size(at: float) -> float:
        return 9000 * (3.0 if 60.0 <= at < 66.0 else 1.0)

    even = synthetic(size, 120, jitter=0.2)
    expected = [(c.started, round(c.at, 3)) for c in changes(even)]
    assert expected and expected[0][0]
    assert [(c.started, round(c.at, 3)) for c in changes(bunched(even, every))] == expected


def test_a_jump_of_the_stream_clock_is_bridged_not_taken_for_a_gap() -> None:
    # a server restarting its RTP clock mid-stream: pts fall back to zero, frames keep coming
    units = synthetic(steady(9000), 200, jitter=0.1)
    jumped = [
        u
        if u.arrival < 100
        else AccessUnit(u.data, u.pts - 100 * VIDEO_CLOCK + 7, u.keyframe, u.arrival)
        for u in units
    ]
    meter = ActivityMeter()
    found = [c for u in jumped if (c := meter.on_unit(u)) is not None]
    assert found == []
    assert 199.0 < (meter._last_at or 0.0) < 200.5  # the media clock ran on across the jump


def loop_camera() -> list[AccessUnit]:
    """30 s of the streams benchmark's camera (tests/fixtures/media/loop-camera-sizes.json): units
    of the sizes the meter weighs its frames to, without slice headers to read a QP from."""
    document = json.loads((MEDIA / "loop-camera-sizes.json").read_text())
    fps = document["fps"]
    return [
        AccessUnit(bytes(abs(size)), round(index / fps * VIDEO_CLOCK), size < 0, index / fps)
        for index, size in enumerate(document["sizes"])
    ]


def looped(units: Sequence[AccessUnit], join: int, loops: int) -> list[AccessUnit]:
    """`units` served in a loop to a client that joined at unit `join` (a keyframe)."""
    step = units[1].arrival - units[0].arrival
    out = []
    for index in range(loops * len(units)):
        unit = units[(join + index) % len(units)]
        at = index * step
        out.append(AccessUnit(unit.data, round(at * VIDEO_CLOCK), unit.keyframe, at))
    return out


def test_a_clip_in_a_loop_is_judged_alike_from_every_join() -> None:
    """A 30 s clip in a loop is the same scene again and again: whatever the meter makes of it,
    it settles on the same verdict from every point a client joins it at (on this encode: quiet
    after the first loops). It once fired at one swing of the QP, every 30 s for ever, when it
    had joined at some keyframes (the swing came after its warmup, and the jitter was learned
    only while quiet, so it never learned that swing), and never when it had joined at others."""
    units = loop_camera()
    late: dict[float, list[int]] = {}
    for join in [index for index, unit in enumerate(units) if unit.keyframe]:
        found = changes(looped(units, join, loops=8))
        late[units[join].arrival] = [round(c.at) for c in found if c.started and c.at > 90]
    assert {join: starts for join, starts in late.items() if starts} == {}


@pytest.mark.parametrize("phase", [0.0, 12.0, 24.0])
def test_a_clear_step_that_recurs_starts_activity_every_time(phase: float) -> None:
    # a car every 30 s that doubles the sizes for 5 s: the jitter learned during activity does
    # not teach the meter to ignore it, from whichever point it joined
    def size(at: float) -> float:
        return 9000 * (2.0 if (at + phase) % 30.0 < 5.0 else 1.0)

    starts = [round(c.at) for c in changes(synthetic(size, 300, jitter=0.1)) if c.started]
    assert len([start for start in starts if start > 90]) == 7, starts
