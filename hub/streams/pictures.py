"""Tier T2: decode keyframes only, keep each camera's latest JPEG, and judge the picture's health.

A keyframe every few seconds costs about a hundredth of decoding every frame, and it is enough to
serve snapshots and to notice a picture that froze, went black, was covered or now looks at
another scene. The checks are pure arithmetic over small grey pictures: no I/O, no clocks.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

import av
import numpy as np
import numpy.typing as npt
from av.video.codeccontext import VideoCodecContext
from av.video.reformatter import VideoReformatter

from hub.streams.units import AccessUnit, StreamInfo

if TYPE_CHECKING:
    from hub.streams.privacy import PrivacyMask

log = logging.getLogger(__name__)

Grey = npt.NDArray[np.uint8]
"""A luma picture, rows by columns."""

_Floats = npt.NDArray[np.float32]

_Key = TypeVar("_Key")
_Kept = TypeVar("_Kept")

_LOG_EVERY = 100
"""After the first failure, one warning per this many, so a broken camera cannot flood the log."""


class KeyframeDecoder:
    """Decodes one camera's keyframes, each on its own; garbage gives None and a count, not raises.

    Every keyframe is fed with the stream's parameter sets in front and the decoder is drained
    and reset after it, so no keyframe waits for a next one that T2 will not send. With
    `all_frames` (T3) it decodes every unit in order instead, keeping references between them,
    and after a failure waits for the next keyframe rather than show a smeared picture.
    """

    __slots__ = (
        "_context",
        "_extradata",
        "_need_key",
        "all_frames",
        "camera_id",
        "codec",
        "decoded",
        "errors",
    )

    def __init__(self, info: StreamInfo, camera_id: str = "", *, all_frames: bool = False) -> None:
        self.camera_id = camera_id
        self.codec = info.codec
        self.all_frames = all_frames
        self._extradata = info.extradata
        self.decoded = 0
        self.errors = 0
        self._need_key = True
        self._context = self._open()

    def _open(self) -> VideoCodecContext:
        context = av.CodecContext.create(self.codec, "r")
        if not isinstance(context, VideoCodecContext):
            raise ValueError(f"camera {self.camera_id}: {self.codec!r} is not a video codec")
        context.skip_frame = "DEFAULT" if self.all_frames else "NONKEY"
        # One thread: FFmpeg's automatic count starts threads in every new context (T2 opens one
        # per keyframe), which cost more than the decode of a 720p keyframe saves by them
        # (measured: 5.4 ms against 3.7 ms). The decode threads already run cameras side by side.
        context.thread_count = 1
        if self.all_frames:
            # T3 looks at a small grey picture: deblocking it buys nothing and costs a quarter
            # of the decode (measured on the real footage: 0.33 s -> 0.25 s for 377 frames).
            context.options = {"skip_loop_filter": "all"}
        return context

    def decode(self, unit: AccessUnit) -> av.VideoFrame | None:
        """The unit's picture, or None: a delta unit in keyframe mode, or bytes that do not decode.

        In `all_frames` mode None is also what a decoder that reorders (B-frames) gives before
        its first picture; that is not counted as a failure.
        """
        if not unit.keyframe and (not self.all_frames or self._need_key):
            return None
        data = self._extradata + unit.data if unit.keyframe else unit.data
        try:
            frames = self._context.decode(av.Packet(data))
            if not self.all_frames:
                frames += self._context.decode(None)  # drain: a lone keyframe has no successor
                self._context.flush_buffers()  # and leave the draining state for the next one
        except Exception as exc:  # a camera's bytes are untrusted: no failure reaches the worker
            self._failed(f"{type(exc).__name__}: {exc}")
            self._context = self._open()
            self._need_key = True
            return None
        if unit.keyframe:
            self._need_key = False
        if not frames:
            if not self.all_frames:
                self._failed("no picture")
            return None
        self.decoded += 1
        return frames[-1]

    def _failed(self, why: str) -> None:
        self.errors += 1
        if self.errors % _LOG_EVERY == 1:
            log.warning(
                "camera %s: picture did not decode (%s), %d failures so far",
                self.camera_id,
                why,
                self.errors,
            )


def _even(value: int) -> int:
    return max(2, value - value % 2)


def _fit(width: int, height: int, max_width: int) -> tuple[int, int]:
    """Size that keeps the aspect ratio, at most `max_width` wide, even on both sides (4:2:0)."""
    if width <= max_width:
        return _even(width), _even(height)
    return _even(max_width), _even(round(height * max_width / width))


def _mjpeg_qscale(quality: int) -> int:
    """FFmpeg's MJPEG quantizer for a libjpeg-style quality (1..100).

    libjpeg scales its tables by 5000/q % below 50 and by (200 - 2q) % above; FFmpeg multiplies
    its own tables by qscale/8, so the same scaling is qscale = 8 * percent / 100.
    """
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 1..100, not {quality}")
    percent = 5000 / quality if quality < 50 else 200 - 2 * quality
    return min(31, max(1, round(8 * percent / 100)))


class _PerThread(Generic[_Key, _Kept]):
    """FFmpeg objects kept for reuse, one per thread and key, made by `make` on first use.

    Opening an MJPEG encoder costs more than encoding a 640-wide picture (measured: 44 % of
    T2), and a scaler made for each new picture (what `VideoFrame.reformat` does, since every
    decoded frame is new) costs more than the scaling. Each object is used by one thread at a
    time; they live in a plain dict rather than in `threading.local`, because freeing a codec
    while a thread's state is torn down deadlocks on PyAV's log callback.
    """

    def __init__(self, make: Callable[[_Key], _Kept], keep: int = 32) -> None:
        self.keep = keep
        self._make = make
        self._lock = threading.Lock()
        self._by_key: dict[tuple[int, _Key], _Kept] = {}

    def get(self, key: _Key) -> _Kept:
        """The calling thread's object for `key`."""
        mine = (threading.get_ident(), key)
        with self._lock:
            kept = self._by_key.get(mine)
            if kept is not None:
                return kept
        kept = self._make(key)
        with self._lock:
            while len(self._by_key) >= self.keep:  # many sizes or threads: keep the newest
                self._by_key.pop(next(iter(self._by_key)))
            self._by_key[mine] = kept
        return kept

    def clear(self) -> None:
        """Free everything kept (at exit: while the interpreter still has PyAV to free them)."""
        with self._lock:
            self._by_key.clear()


def _open_encoder(key: tuple[int, int, int]) -> VideoCodecContext:
    width, height, qscale = key
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width = width
    encoder.height = height
    encoder.pix_fmt = "yuvj420p"
    encoder.qmin = encoder.qmax = qscale
    encoder.thread_count = 1  # the decode threads already run cameras side by side
    encoder.open()
    return encoder


_encoders: _PerThread[tuple[int, int, int], VideoCodecContext] = _PerThread(_open_encoder)
_scalers: _PerThread[tuple[int, int, str], VideoReformatter] = _PerThread(
    lambda _size: VideoReformatter()
)


@atexit.register
def _free_kept() -> None:
    _encoders.clear()
    _scalers.clear()


def _scale(frame: av.VideoFrame, width: int, height: int, format: str) -> av.VideoFrame:
    """`frame` at this size and pixel format (area averaging), through this thread's scaler.

    One thread, not FFmpeg's automatic count: starting threads for one small picture costs
    more than they save, and the decode threads already run cameras side by side. The frame
    itself comes back when nothing changes.
    """
    return _scalers.get((width, height, format)).reformat(
        frame, width=width, height=height, format=format, interpolation="AREA", threads=1
    )


def _encode_jpeg(picture: av.VideoFrame, qscale: int) -> bytes:
    """A yuvj420p picture as one JPEG, through this thread's encoder for its size."""
    encoder = _encoders.get((picture.width, picture.height, qscale))
    picture.pts = None
    packets = encoder.encode(picture)  # MJPEG is intra only: one picture in, one packet out
    if len(packets) != 1:
        raise RuntimeError(f"the JPEG encoder gave {len(packets)} packets for one picture")
    return bytes(packets[0])


def to_jpeg(frame: av.VideoFrame, max_width: int = 640, quality: int = 80) -> bytes:
    """The picture as a baseline JPEG, scaled down to `max_width` if wider."""
    return snapshot_pictures(frame, max_width, quality, grey_width=None)[0]


def snapshot_pictures(
    frame: av.VideoFrame,
    max_width: int = 640,
    quality: int = 80,
    grey_width: int | None = 320,
    privacy: PrivacyMask | None = None,
) -> tuple[bytes, Grey | None]:
    """The JPEG of `to_jpeg` and, when `grey_width` is given, the `grey_small` picture.

    The grey picture is scaled from the JPEG's picture rather than from the full frame: a
    quarter of the pixels of a 720p frame to read, and the same area average. `privacy` is
    burned into the JPEG's picture only: the grey one, for the picture checks, sees it all.
    """
    if max_width < 16:
        raise ValueError(f"max_width must be at least 16, not {max_width}")
    qscale = _mjpeg_qscale(quality)
    width, height = _fit(frame.width, frame.height, max_width)
    picture = _scale(frame, width, height, "yuvj420p")
    grey = None
    if grey_width is not None:
        source = picture if grey_width <= width else frame
        grey = _grey(source, min(grey_width, frame.width), frame.width, frame.height)
    if privacy is not None:
        if picture is frame:  # nothing to scale or convert: burn into a copy, not the caller's
            picture = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuvj420p")
        privacy.burn(picture)
    return _encode_jpeg(picture, qscale), grey


def grey_small(frame: av.VideoFrame, width: int = 320) -> Grey:
    """The luma plane scaled down (area averaging, which also smooths sensor noise) to `width`."""
    width = min(width, frame.width)
    return _grey(frame, width, frame.width, frame.height)


def _grey(source: av.VideoFrame, width: int, full_width: int, full_height: int) -> Grey:
    height = max(1, round(full_height * width / full_width))
    small = _scale(source, width, height, "gray")
    return np.ascontiguousarray(small.to_ndarray(), dtype=np.uint8)


def jpeg_size(jpeg: bytes) -> tuple[int, int]:
    """Width and height from a JPEG's frame header; ValueError if the bytes are not a JPEG."""
    if not jpeg.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG: no start-of-image marker")
    at = 2
    while at + 4 <= len(jpeg):
        if jpeg[at] != 0xFF:
            raise ValueError(f"not a JPEG: no marker at byte {at}")
        marker = jpeg[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
            continue
        length = int.from_bytes(jpeg[at + 2 : at + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            if at + 9 > len(jpeg):
                break
            height = int.from_bytes(jpeg[at + 5 : at + 7], "big")
            width = int.from_bytes(jpeg[at + 7 : at + 9], "big")
            return width, height
        if marker == 0xDA:  # entropy-coded data begins and no frame header came before it
            break
        at += 2 + length
    raise ValueError("not a JPEG: no frame header")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A camera's latest picture as served to operators and alerts."""

    jpeg: bytes
    at: float
    """When the picture was taken (the keyframe's wall-clock arrival), epoch seconds."""
    width: int
    height: int


class KeyframeCache:
    """Each camera's latest snapshot, shared by the stream workers and the web: O(1), locked."""

    __slots__ = ("_latest", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, Snapshot] = {}

    def put(
        self,
        camera_id: str,
        jpeg: bytes,
        at: float,
        width: int | None = None,
        height: int | None = None,
    ) -> bool:
        """Keep `jpeg` unless a newer picture is held; sizes are read from the JPEG if not given."""
        if width is None or height is None:
            width, height = jpeg_size(jpeg)
        snapshot = Snapshot(jpeg=jpeg, at=at, width=width, height=height)
        with self._lock:
            held = self._latest.get(camera_id)
            if (
                held is not None and held.at > at
            ):  # a late vendor snapshot must not hide a newer key
                return False
            self._latest[camera_id] = snapshot
        return True

    def get(self, camera_id: str) -> Snapshot | None:
        """The camera's latest snapshot, if any was taken."""
        with self._lock:
            return self._latest.get(camera_id)

    def discard(self, camera_id: str) -> None:
        """Forget the camera (removed, or its owner withdrew snapshot sharing)."""
        with self._lock:
            self._latest.pop(camera_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._latest)


ProblemKind = Literal["frozen", "black", "covered", "moved"]


@dataclass(frozen=True, slots=True)
class PictureProblem:
    """A picture problem that began (`started`) or ended, with the measures that decided it."""

    kind: ProblemKind
    started: bool
    detail: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PictureThresholds:
    """When a keyframe counts as frozen, black, covered or moved, and for how long before we say so.

    Grey levels are 0..255 on the small picture (`grey_small`, 320 px wide by default).
    """

    frozen_difference: float = 0.3
    """Mean absolute difference to the previous keyframe at or below which nothing changed."""
    frozen_keyframes: int = 3
    """Identical keyframes in a row, the first included."""
    frozen_seconds: float = 10.0
    """...spanning at least this long."""
    blank_spread: float = 3.0
    """Standard deviation below which there is no picture: black, grey or white, dark or not."""
    blank_keyframes: int = 2
    covered_ratio: float = 0.35
    """Detail below this share of the learned reference: something sits in front of the lens."""
    covered_keyframes: int = 2
    moved_similarity: float = 0.5
    """Correlation with the learned reference below which the camera sees another scene."""
    moved_keyframes: int = 3
    moved_steady: float = 0.8
    """`moved` needs `moved_keyframes` in a row below `moved_similarity`, each at least this
    similar to the keyframe before it: a camera that was moved shows one steady new view, while
    traffic that fills the picture (a bus, a truck) differs from keyframe to keyframe."""
    moved_relearn_seconds: float = 900.0
    """After this long on the new scene, `moved` ends and the reference is learned afresh from
    the new scene's keyframes, as at first."""
    clear_keyframes: int = 2
    """Good keyframes in a row (past a margin over the threshold) that end a problem."""
    margin: float = 1.5
    """Hysteresis: a problem ends only when its measure passes the threshold by this factor."""
    learn_keyframes: int = 3
    """Keyframes of one scene that build the first reference (each at least `moved_similarity`
    similar to one of them); covered and moved wait for it. Keyframes unlike the rest (a bus
    filling the picture) are left out, so a busy road is not learned from its traffic."""
    learn_limit: int = 12
    """Keyframes after which the reference is made of the largest group that agrees, however
    small (a scene that never looks the same twice is judged too, two minutes in)."""
    reference_rate: float = 0.05
    """How fast the reference follows a healthy scene (dusk, a parked car), per keyframe."""


def mean_difference(a: Grey, b: Grey) -> float:
    """Mean absolute grey difference of two pictures of the same size."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _shrink(grey: Grey | _Floats, factor: int) -> _Floats:
    """Block means over `factor` x `factor` squares (the remainder at the edges is dropped)."""
    rows, columns = grey.shape[0] // factor, grey.shape[1] // factor
    if factor == 1:
        return grey.astype(np.float32)
    # Sums of strided slices, columns then rows: a tenth of the time of a mean over a reshaped
    # view's two inner axes (measured on 320x180: 45 against 600 us at factor 2), and exact
    # for grey levels, which float32 adds without rounding.
    cropped = grey[: rows * factor, : columns * factor]
    across: _Floats = cropped[:, 0::factor].astype(np.float32)
    for offset in range(1, factor):
        across += cropped[:, offset::factor]
    result: _Floats = across[0::factor].copy()
    for offset in range(1, factor):
        result += across[offset::factor]
    result *= np.float32(1 / (factor * factor))
    return result


def detail(grey: Grey) -> float:
    """Mean absolute gradient at half size: edges and texture, with sensor noise averaged away."""
    half = _shrink(grey, 2) if min(grey.shape) >= 8 else grey.astype(np.float32)
    across = np.abs(np.diff(half, axis=1)).mean() if half.shape[1] > 1 else 0.0
    down = np.abs(np.diff(half, axis=0)).mean() if half.shape[0] > 1 else 0.0
    return float(across + down)


def layout(grey: Grey) -> _Floats:
    """A thumbnail about 64 px wide: the scene's layout, without noise and small moving things."""
    return _shrink(grey, max(1, grey.shape[1] // 64))


def similarity(a: _Floats, b: _Floats) -> float:
    """Normalized correlation of two layouts: 1 same scene whatever the lighting, ~0 unrelated."""
    a = a - a.mean()
    b = b - b.mean()
    spread = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if spread < 1e-6:
        return 1.0 if float(np.abs(a - b).max()) < 1e-3 else 0.0
    return float((a * b).sum() / spread)


class _Persistence:
    """A condition that must hold `on` times in a row to start, and clear `off` times to end."""

    __slots__ = ("active", "clears", "hits", "off", "on", "since")

    def __init__(self, on: int, off: int) -> None:
        self.on = on
        self.off = off
        self.active = False
        self.hits = 0
        self.clears = 0
        self.since = 0.0

    def feed(self, hit: bool, clear: bool, at: float) -> bool | None:
        """True when the problem starts, False when it ends, None when nothing changes."""
        self.hits = self.hits + 1 if hit else 0
        self.clears = self.clears + 1 if clear else 0
        if not self.active and self.hits >= self.on:
            self.active = True
            self.since = at
            return True
        if self.active and self.clears >= self.off:
            self.active = False
            return False
        return None

    def reset(self) -> bool:
        """Forget the counts; True if an active problem ended by it."""
        was = self.active
        self.active = False
        self.hits = self.clears = 0
        return was


class PictureChecks:
    """One camera's picture health, judged from its successive keyframes (small grey pictures).

    `black` wins over the others: a blank picture is trivially static and detail-less, so while a
    keyframe is blank, frozen, covered and moved do not start from it. The reference that covered
    and moved compare against is learned from the first keyframes and then follows healthy
    keyframes slowly, so dusk, dawn and weather do not count as a change of scene.
    """

    def __init__(self, camera_id: str = "", thresholds: PictureThresholds | None = None) -> None:
        self.camera_id = camera_id
        self.thresholds = t = thresholds or PictureThresholds()
        self._frozen = _Persistence(1, t.clear_keyframes)  # its own count: keyframes and seconds
        self._black = _Persistence(t.blank_keyframes, t.clear_keyframes)
        self._covered = _Persistence(t.covered_keyframes, t.clear_keyframes)
        self._moved = _Persistence(t.moved_keyframes, t.clear_keyframes)
        self._previous: Grey | None = None
        self._still_run = 0
        self._still_since = 0.0
        self._frozen_from = 0.0
        self._layout: _Floats | None = None
        self._first: list[tuple[_Floats, float]] = []
        """The keyframes learned so far (layout, detail), until the reference is made of them."""
        self._detail = 0.0
        self._learned = False
        self._last_layout: _Floats | None = None
        """The last judged keyframe's layout: `moved` needs a steady new view."""

    @property
    def active(self) -> set[ProblemKind]:
        """Problems going on now."""
        checks: tuple[tuple[ProblemKind, _Persistence], ...] = (
            ("frozen", self._frozen),
            ("black", self._black),
            ("covered", self._covered),
            ("moved", self._moved),
        )
        return {kind for kind, check in checks if check.active}

    @property
    def learned(self) -> bool:
        """Whether the reference scene is known, so covered and moved can be judged."""
        return self._learned

    def update(self, grey: Grey, at: float) -> list[PictureProblem]:
        """Judge one keyframe taken at `at` (seconds); the problems that started or ended."""
        t = self.thresholds
        problems: list[PictureProblem] = []
        if self._previous is not None and self._previous.shape != grey.shape:
            problems += self.relearn()  # a new resolution: the old reference means nothing
            self._previous = None

        spread = float(grey.std())
        blank = spread < t.blank_spread
        changed = self._black.feed(blank, spread >= t.blank_spread * t.margin, at)
        if changed is not None:
            problems.append(
                PictureProblem("black", changed, {"mean": float(grey.mean()), "spread": spread})
            )

        problems += self._check_frozen(grey, at, blank)
        here = layout(grey)
        sharpness = detail(grey)
        if not self.learned:
            if not blank:
                self._learn(here, sharpness)
            self._previous = grey
            self._last_layout = here
            return problems

        ratio = sharpness / max(self._detail, 1e-6)
        covered = not blank and ratio < t.covered_ratio
        changed = self._covered.feed(covered, ratio >= t.covered_ratio * t.margin, at)
        if changed is not None:
            problems.append(
                PictureProblem("covered", changed, {"detail": sharpness, "ratio": ratio})
            )

        assert self._layout is not None  # learned
        score = similarity(here, self._layout)
        steady = self._last_layout is None or similarity(here, self._last_layout) >= t.moved_steady
        unlike = not blank and not covered and score < t.moved_similarity
        moved = unlike and steady
        recovered = score >= 1 - (1 - t.moved_similarity) / t.margin
        changed = self._moved.feed(moved, recovered, at)
        if changed is not None:
            problems.append(PictureProblem("moved", changed, {"similarity": score}))
        elif self._moved.active and at - self._moved.since >= t.moved_relearn_seconds:
            self._moved.reset()  # the camera was re-aimed on purpose: the new view is the scene,
            self._learned, self._first = False, []  # learned from this keyframe and the next
            self._learn(here, sharpness)  # as at first, so a car passing now is not part of it
            problems.append(PictureProblem("moved", False, {"similarity": score, "relearned": 1.0}))

        # Only a keyframe like the scene is followed: one unlike it, steady or not (traffic, or
        # a re-aimed camera's view with traffic in it), would pull the reference towards it.
        healthy = not (blank or covered or unlike or self._covered.active or self._moved.active)
        if healthy:
            self._follow(here, sharpness)
        self._previous = grey
        self._last_layout = here
        return problems

    def relearn(self) -> list[PictureProblem]:
        """Take the current view as the scene (the camera was re-aimed); ends covered and moved."""
        ended: list[PictureProblem] = []
        if self._covered.reset():
            ended.append(PictureProblem("covered", False, {"relearned": 1.0}))
        if self._moved.reset():
            ended.append(PictureProblem("moved", False, {"relearned": 1.0}))
        self._layout = self._last_layout = None
        self._first = []
        self._detail = 0.0
        self._learned = False
        return ended

    def _check_frozen(self, grey: Grey, at: float, blank: bool) -> list[PictureProblem]:
        t = self.thresholds
        previous = self._previous
        difference = mean_difference(grey, previous) if previous is not None else 255.0
        still = difference <= t.frozen_difference
        if still:
            self._still_run += 1
        else:
            self._still_run, self._still_since = 1, at
        frozen = (
            still
            and not blank
            and self._still_run >= t.frozen_keyframes
            and at - self._still_since >= t.frozen_seconds
        )
        first_still = self._still_since
        changed = self._frozen.feed(frozen, not still, at)
        if changed is None:
            return []
        if changed:
            self._frozen_from = first_still
        # at the start, how long it has been still; at the end, how long it was frozen in all
        seconds = at - self._frozen_from
        return [PictureProblem("frozen", changed, {"difference": difference, "seconds": seconds})]

    def _learn(self, here: _Floats, sharpness: float) -> None:
        """Learn the reference from the first keyframes that agree: their median block by block.

        A keyframe agrees with another when they are at least `moved_similarity` alike (the same
        scene). The reference is made once `learn_keyframes` agree with one of them, so a car
        passing in one of them is not part of the scene (in a mean, its third of a passing car
        made the empty lot look like another scene), nor are keyframes that traffic fills (on a
        busy road, two of three such keyframes made the road itself look moved ever after).
        """
        t = self.thresholds
        first = self._first
        first.append((here, sharpness))
        if len(first) < t.learn_keyframes:
            return
        agree = [
            [
                j
                for j, (other, _) in enumerate(first)
                if similarity(mine, other) >= t.moved_similarity
            ]
            for mine, _ in first
        ]
        group = max(agree, key=len)  # the first, of groups as large: the earliest scene
        if len(group) < t.learn_keyframes and len(first) < t.learn_limit:
            return
        if len(group) < 2:  # nothing ever agreed: the scene is all of them
            group = list(range(len(first)))
        self._layout = np.median(np.stack([first[j][0] for j in group]), axis=0)
        self._detail = float(np.median([first[j][1] for j in group]))
        self._first = []
        self._learned = True

    def _follow(self, here: _Floats, sharpness: float) -> None:
        assert self._layout is not None
        rate = self.thresholds.reference_rate
        self._layout = self._layout + rate * (here - self._layout)
        self._detail += rate * (sharpness - self._detail)
