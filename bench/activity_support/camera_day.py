"""Camera-like H.264 streams composed from the real test footage, for the activity meter.

The footage (tests/fixtures/media/car-detection.mp4, 30 s, 768x432, 12.5 fps, CC BY 4.0 Intel
IoT DevKit) is a parking lot seen from above: stretches of empty, noisy asphalt and three cars
driving through, each darkening the picture as the auto exposure reacts to the white roof. Its
keyframes sit at fixed 60-frame steps that do not match the cars, so it is split by pixels: a
"still" span is at least 2 s in which no pixel changes much from one frame to the next and the
exposure holds; the frames between still spans are a car span.

A fixed camera does not cut every 5 s, so a "camera day" is composed as one would see it: the
empty lot played forward and backward (ping-pong: no jump where it turns) for a quiet stretch,
then a car span, then the lot again, and so on. A quiet stretch starts where the car before it
left the original footage and ends where the next car enters it, so every junction is seamless;
where footage has no neighbour (after the last car) a 1 s cross-fade joins it. It is encoded as a
camera encodes: libx264, the same size and rate, a keyframe every 2 s at fixed intervals with
scene-cut detection off, no B-frames, low latency (tune=zerolatency: no look-ahead), and either a
VBV-capped bitrate (CBR-like) or constant quality (CRF). Night is the lot as an IR camera shows
it: grey, darker and noisier. A bitrate change restarts the encoder at the new rate, with a new
keyframe, as cameras do when reconfigured.

Ground truth comes from the decoded stream: the T3 `MotionDetector` (zone "all") on every
picture at T3's rate (one per 0.2 s or more, so every third frame at 12.5 fps).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av.video.frame import PictureType

from hub.streams.motion import MotionDetector, MotionSettings
from hub.streams.pictures import grey_small
from hub.streams.units import VIDEO_CLOCK, AccessUnit

SOURCE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "media" / "car-detection.mp4"
FPS = Fraction(25, 2)
GOP_FRAMES = 25
"""A keyframe every 2 s at 12.5 fps."""
PRESET = "superfast"
"""x264's speed preset: CABAC, one reference, a simple motion search, like a camera's encoder."""
MOTION_INTERVAL = 0.2
"""T3 analyses at most 5 pictures a second (EngineSettings.motion_fps)."""
GROUND_TRUTH = MotionSettings(frames_off=1)
"""The detector's defaults, except that motion ends at the first still picture: seconds after
the car has gone do not count as motion."""

Picture = npt.NDArray[np.uint8]
"""One frame as yuv420p planes stacked in one (height * 3 / 2, width) array."""


@dataclass(frozen=True, slots=True)
class Span:
    """Frames start..stop-1 of the source footage."""

    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True, slots=True)
class Footage:
    """The source footage decoded, and where it is still and where cars pass."""

    pictures: tuple[Picture, ...]
    width: int
    height: int
    keyframes: tuple[int, ...]
    still: tuple[Span, ...]
    cars: tuple[Span, ...]
    margin: int
    """Frames a car span begins before its car's first pixels change."""


@functools.cache
def load_footage(path: Path = SOURCE, margin: int = 12) -> Footage:
    """Decode the footage and split it into still and car spans."""
    pictures: list[Picture] = []
    greys: list[npt.NDArray[np.int16]] = []
    keyframes: list[int] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for index, frame in enumerate(container.decode(stream)):
            if frame.key_frame:
                keyframes.append(index)
            pictures.append(np.asarray(frame.to_ndarray(format="yuv420p"), dtype=np.uint8))
            greys.append(grey_small(frame, frame.width // 4).astype(np.int16))
        width, height = stream.width, stream.height
    still, cars = split_still(greys, margin=margin)
    return Footage(tuple(pictures), width, height, tuple(keyframes), still, cars, margin)


def split_still(
    greys: Sequence[npt.NDArray[np.int16]], min_frames: int = 25, margin: int = 12
) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """Still spans and the car spans between them.

    Still: for at least `min_frames`, no pixel of the quarter-size picture changes by more than
    20 grey levels from one frame to the next and the mean holds within 0.3. A car's first
    sliver at the edge of the picture hides below that, and the footage's first frames still
    settle, so `margin` frames at each end of a still span go to its neighbours.
    """
    busy = [False]
    for previous, grey in zip(greys, greys[1:], strict=False):
        moving = float(np.count_nonzero(np.abs(grey - previous) > 20)) / grey.size
        drift = abs(float(grey.mean()) - float(previous.mean()))
        busy.append(moving > 0.0005 or drift > 0.3)
    still: list[Span] = []
    start: int | None = None
    for index, flag in enumerate([*busy, True]):  # the end closes the last run
        if not flag and start is None:
            start = index
        elif flag and start is not None:
            first, stop = start + margin, index - margin
            if stop - first >= min_frames:
                still.append(Span(first, stop))
            start = None
    # a car passes between two still spans, or after the last one; before the first is the
    # footage settling
    ends = [span.start for span in still[1:]] + [len(greys)]
    cars = [Span(span.stop, end) for span, end in zip(still, ends, strict=True)]
    return tuple(still), tuple(car for car in cars if car.length > 0)


Shot = tuple[int, int, float]
"""An output frame: source frame a, source frame b, and the weight of b (cross-fades)."""


@dataclass(frozen=True, slots=True)
class Part:
    """A stretch of the composed stream, in output frames start..stop-1."""

    kind: str
    """"quiet" or "car"."""
    start: int
    stop: int
    enters: int | None = None
    """For a car: the frame where its first pixels change."""

    def seconds(self) -> tuple[float, float]:
        return self.start / float(FPS), self.stop / float(FPS)

    def enters_at(self) -> float:
        """When the car's first pixels change (s)."""
        assert self.enters is not None
        return self.enters / float(FPS)


@dataclass(slots=True)
class Day:
    """A composed camera stream: which source frames it shows, and what happens when."""

    name: str
    shots: list[Shot] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    night_from: int | None = None
    """Output frame from which the camera is in IR night mode."""

    @property
    def seconds(self) -> float:
        return len(self.shots) / float(FPS)

    def quiet_middle(self, index: int) -> int:
        """The output frame in the middle of the `index`-th quiet stretch."""
        part = [part for part in self.parts if part.kind == "quiet"][index]
        return (part.start + part.stop) // 2

    def add(self, kind: str, shots: Sequence[Shot], lead: int | None = None) -> None:
        start = len(self.shots)
        self.shots.extend(shots)
        self.parts.append(
            Part(kind, start, len(self.shots), None if lead is None else start + lead)
        )


def ping_pong(span: Span, frames: int, end_at_last: bool) -> list[int]:
    """Source frames that play `span` forward and backward from its first frame for about
    `frames` frames; with `end_at_last`, an odd number of passes so it ends on its last frame."""
    cycle = 2 * (span.length - 1)
    if end_at_last:
        turns = max(0, round((frames - span.length) / cycle))
        frames = span.length + turns * cycle
    out = []
    for step in range(frames):
        phase = step % cycle
        out.append(span.start + (phase if phase < span.length else cycle - phase))
    return out


def fade(a: int, b: Sequence[int]) -> list[Shot]:
    """Shots that cross-fade from source frame `a` (held) into the frames `b`."""
    n = len(b)
    return [(a, frame, (k + 1) / (n + 1)) for k, frame in enumerate(b)]


def camera_day(
    footage: Footage,
    quiet: float,
    *,
    tail: float | None = None,
    name: str = "",
    cars: Sequence[int] | None = None,
) -> Day:
    """Quiet for `quiet` seconds, a car, quiet again, ...: every car span in turn, then quiet
    for `tail` seconds (default `quiet`)."""
    chosen = [footage.cars[k] for k in (range(len(footage.cars)) if cars is None else cars)]
    day = Day(name or f"quiet {quiet:g} s")
    previous: Span | None = None
    for car in [*chosen, None]:
        lot = _lot_between(footage, previous, car)
        seconds = quiet if car is not None or tail is None else tail
        played = ping_pong(lot, round(seconds * FPS), end_at_last=car is not None)
        shots: list[Shot] = [(frame, frame, 0.0) for frame in played]
        if previous is not None and previous.stop != lot.start:  # no seamless neighbour
            shots[: int(FPS)] = fade(previous.stop - 1, played[: int(FPS)])
        if car is not None and lot.stop != car.start:
            shots[-int(FPS) :] = [(b, a, 1 - w) for a, b, w in fade(car.start, played[-int(FPS) :])]
        day.add("quiet", shots)
        if car is not None:
            shots = [(frame, frame, 0.0) for frame in range(car.start, car.stop)]
            day.add("car", shots, lead=footage.margin)
        previous = car
    return day


def _lot_between(footage: Footage, before: Span | None, after: Span | None) -> Span:
    """The still span that continues `before` or leads into `after`, else the longest."""
    for span in footage.still:
        if before is not None and span.start == before.stop:
            return span
    for span in footage.still:
        if after is not None and span.stop == after.start:
            return span
    return max(footage.still, key=lambda span: span.length)


NIGHT_GAIN = 0.45
NIGHT_NOISE = 1.2
"""IR night: luma scaled toward black by the gain, sensor noise of this many grey levels
(standard deviation, new in every frame), no colour."""


def pictures(
    day: Day, footage: Footage, seed: int = 7, *, step: int = 1, grain: float = 0.0
) -> Iterator[Picture]:
    """The day's frames as yuv420p arrays; with `step`, every step-th pixel of every step-th
    row (a camera's sub-stream, footage.width // step wide).

    `grain` adds sensor noise of that many grey levels (standard deviation, new in every frame)
    to the day's luma. The quiet stretches show the few seconds of empty lot again and again,
    so without it the same picture comes back, which a live sensor never sends: keyframes that
    show it differ only by the encoder's rounding, as a frozen camera's do.
    """
    rng = np.random.default_rng(seed)
    luma = footage.height  # rows of the luma plane
    for index, (a, b, weight) in enumerate(day.shots):
        picture = footage.pictures[a]
        if weight > 0.0:
            blend = picture.astype(np.float32) * (1.0 - weight)
            blend += footage.pictures[b].astype(np.float32) * weight
            picture = np.rint(blend).astype(np.uint8)
        at_night = day.night_from is not None and index >= day.night_from
        noise = NIGHT_NOISE if at_night else grain
        if noise > 0.0:
            y = picture[:luma].astype(np.float32)
            if at_night:
                y -= 16.0
                y *= NIGHT_GAIN
                y += 16.0
            y += rng.standard_normal(y.shape, dtype=np.float32) * noise
            noisy = np.full_like(picture, 128) if at_night else picture.copy()  # night: no colour
            noisy[:luma] = np.clip(np.rint(y), 0, 255).astype(np.uint8)
            picture = noisy
        yield picture if step == 1 else subsample(picture, footage.width, footage.height, step)


def subsample(picture: Picture, width: int, height: int, step: int) -> Picture:
    """Every step-th pixel of every step-th row of a yuv420p picture, planes restacked."""
    luma = picture[:height, :width][::step, ::step]
    rows, columns = luma.shape
    if rows % 4 or columns % 2:
        raise ValueError(f"{width}x{height} does not subsample by {step} into whole planes")
    chroma = [
        picture[height + k * height // 4 : height + (k + 1) * height // 4]
        .reshape(height // 2, width // 2)[::step, ::step]
        .reshape(rows // 4, columns)
        for k in range(2)
    ]
    return np.ascontiguousarray(np.vstack([luma, *chroma]))


@dataclass(frozen=True, slots=True)
class RateControl:
    """How the camera spends bits: a VBV-capped bitrate, or constant quality."""

    name: str
    kbps: int | None = None
    crf: int | None = None
    buffer_s: float = 1.0
    """The VBV buffer, in seconds at `kbps`: the smaller, the flatter the frame sizes."""
    preset: str = PRESET
    encoder: str = "libx264"
    """"libx264", or "libx265" for an H.265 camera (the same settings, in x265's words)."""

    def halved(self) -> RateControl:
        """About half the bits: half the bitrate, or 6 more CRF (quantizer steps double)."""
        if self.kbps is not None:
            return replace(self, name=f"{self.name} -> {self.kbps // 2}k", kbps=self.kbps // 2)
        assert self.crf is not None
        return replace(self, name=f"{self.name} -> crf {self.crf + 6}", crf=self.crf + 6)


CBR = RateControl("cbr 1M", kbps=1000)
"""Bitrate 1 Mbit/s, capped by a 1 s VBV buffer (no filler data)."""
FLAT_CBR = RateControl("cbr 1M flat", kbps=1000, buffer_s=0.6, preset="ultrafast")
"""Bitrate 1 Mbit/s as the streams benchmark's camera encodes (x264 ultrafast, no adaptive
quantization, a 0.6 s VBV buffer): frame sizes stay flat when a car passes, and the encoder
raises the QP instead."""
CRF = RateControl("crf 23", crf=23)


def _encoder(width: int, height: int, rate: RateControl) -> av.VideoCodecContext:
    codec = av.CodecContext.create(rate.encoder, "w")
    assert isinstance(codec, av.VideoCodecContext)
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = 1 / FPS
    codec.framerate = FPS
    gop = f"keyint={GOP_FRAMES}:min-keyint={GOP_FRAMES}:scenecut=0:bframes=0"
    options = {"preset": rate.preset, "tune": "zerolatency"}
    if rate.encoder == "libx265":
        # one thread, deterministic (x265's pools and frame threads), and no log on stderr
        params = f"{gop}:pools=1:frame-threads=1:log-level=error"
        if rate.kbps is not None:
            params += f":vbv-maxrate={rate.kbps}:vbv-bufsize={round(rate.kbps * rate.buffer_s)}"
        options["x265-params"] = params
    else:
        options["threads"] = "1"  # deterministic, and as fast on a busy machine
        options["x264-params"] = gop
        if rate.kbps is not None:
            options.update(maxrate=f"{rate.kbps}k", bufsize=f"{round(rate.kbps * rate.buffer_s)}k")
    if rate.kbps is not None:
        codec.bit_rate = rate.kbps * 1000
    else:
        options["crf"] = str(rate.crf)
    codec.options = options
    return codec


def encode(
    frames: Iterator[Picture],
    width: int,
    height: int,
    rate: RateControl,
    *,
    switch_at: int | None = None,
) -> list[AccessUnit]:
    """Encode like a camera; from frame `switch_at` on, at half the rate (a new encoder)."""
    units: list[AccessUnit] = []
    codec = _encoder(width, height, rate)

    def take(packets: Sequence[av.Packet[Any]]) -> None:
        for packet in packets:
            assert packet.pts is not None
            at = packet.pts / FPS
            pts = round(at * VIDEO_CLOCK)
            units.append(AccessUnit(bytes(packet), pts, packet.is_keyframe, float(at)))

    for index, picture in enumerate(frames):
        if index == switch_at:
            take(codec.encode(None))
            codec = _encoder(width, height, rate.halved())
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = index
        frame.pict_type = PictureType.NONE
        take(codec.encode(frame))
    take(codec.encode(None))
    return units


def motion_pictures(units: Sequence[AccessUnit]) -> list[float]:
    """Times of the pictures in which the T3 motion detector (zone "all") sees motion.

    Every frame is decoded; one picture per `MOTION_INTERVAL` goes to the detector, as in T3.
    """
    decoder = av.CodecContext.create("h264", "r")
    assert isinstance(decoder, av.VideoCodecContext)
    decoder.thread_type = "AUTO"
    detector: MotionDetector | None = None
    last = -math.inf
    moving: list[float] = []

    def look(frames: list[av.VideoFrame]) -> None:
        nonlocal detector, last
        for frame in frames:
            assert frame.pts is not None
            at = frame.pts / VIDEO_CLOCK
            if at - last < MOTION_INTERVAL - 1e-6:
                continue
            last = at
            grey = grey_small(frame)
            if detector is None:
                detector = MotionDetector(grey.shape[1], grey.shape[0], settings=GROUND_TRUTH)
            detector.update(grey, at)
            if detector.active():
                moving.append(at)

    for unit in units:
        packet = av.Packet(unit.data)
        packet.pts = unit.pts
        look(decoder.decode(packet))
    look(decoder.decode(None))
    return moving
