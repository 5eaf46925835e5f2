"""Activity from compressed data: what enters a scene changes the size of predicted frames.

Bigger is not the only sign. On real footage a white car entering a bright, noisy parking lot
makes the camera's auto exposure darken the asphalt, and its predicted frames shrink to half
(see docs/streams.md). So the meter watches how far a fast average of log frame sizes departs
from the camera's usual level, in either direction, and starts activity when the departure
passes both a fixed ratio and a multiple of the camera's own jitter; it ends activity when the
last seconds' level is back near the usual one.

Three things move sizes without anything moving, and the meter takes each apart:
- GOP structure: after a keyframe the next predicted frames are small and grow through the GOP,
  most under a capped bitrate. Each position in the GOP learns its usual offset, and a frame is
  judged as if it sat at the GOP's usual level. Keyframes are skipped.
- a bitrate change or a day/night switch: a step to a new level that then holds. An episode
  that lasts `settle` seconds is taken for a new stream: it ends, and the meter learns the
  stream afresh (as after a reconnect), so the step is one episode, not a new normal that never
  comes. The price: a scene that stays busy longer than that becomes the usual one.
- slow drift (weather, dusk): the usual level follows the quiet scene within `baseline_tau`.

A camera at a constant bitrate (CBR) hides what happens from its sizes: its encoder raises the
quantizer instead of spending more bytes. So each frame's size is weighed by its quantizer, read
from the slice header (hub.streams.slices, H.264): the size it would have at a fixed QP. Under
constant quality the QP barely moves and sizes decide; under CBR the QP carries the change.

An episode asks for pixels (T3), which confirm or dismiss it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hub.streams.slices import SliceQp
from hub.streams.units import VIDEO_CLOCK, AccessUnit, StreamInfo

_MAX_GAP = 5.0
"""Seconds between two frames beyond which the stream's clock is taken to have jumped."""
_LOG_QP_STEP = math.log(2.0) / 6.0
"""A frame costs about half the bytes at 6 QP more: the quantizer's step doubles every 6."""
_USUAL_QP = 26
"""The QP sizes are weighed to (any would do: the meter compares a camera with itself)."""


@dataclass(frozen=True, slots=True)
class ActivitySettings:
    """Thresholds of the activity meter; defaults were tuned on real footage (see bench/)."""

    start_ratio: float = 1.2
    """Activity starts when recent frames are this many times bigger or smaller than usual..."""
    start_jitter: float = 6.0
    """...and beyond this many times the camera's usual jitter of recent sizes."""
    end_ratio: float = 1.08
    """Activity ends when the last seconds' frames are back within this ratio of usual."""
    start_after: float = 0.2
    """Seconds beyond the start threshold before activity starts."""
    end_after: float = 2.0
    """Seconds within `end_ratio` before activity ends."""
    fast_tau: float = 0.4
    """Time constant (s) of the recent frame size, which starts activity."""
    level_tau: float = 2.0
    """Time constant (s) of the last seconds' frame size, which ends it."""
    baseline_tau: float = 30.0
    """Time constant (s) with which the usual size follows the quiet scene."""
    settle: float = 20.0
    """An episode this long (s) is a new stream, not activity (a bitrate change, a day/night
    switch): it ends and the meter learns the stream afresh, as after a reconnect."""
    gop_tau: float = 60.0
    """Time constant (s) with which each GOP position learns its usual offset."""
    warmup: float = 10.0
    """Seconds after (re)connecting, or after a new stream, during which the meter only learns."""
    floor_bytes: float = 150.0
    """Sizes below this count as this: a still scene's skip frames are all alike."""
    max_phase: int = 256
    """GOP positions learned one by one; later frames share the last."""


@dataclass(frozen=True, slots=True)
class ActivityChange:
    """Activity started or ended on a camera."""

    started: bool
    score: float
    at: float


class ActivityMeter:
    """One camera's activity from its non-key frames' sizes and QPs; cheap enough for each."""

    __slots__ = (
        "_above_since", "_active_since", "_baseline", "_below_since", "_fast", "_jitter",
        "_last_arrival", "_last_at", "_learned", "_learning_since", "_level", "_log_end",
        "_log_floor", "_log_start", "_offsets", "_phase", "_qp", "_seen", "_shift", "_slices",
        "active", "score", "settings",
    )  # fmt: skip

    def __init__(self, settings: ActivitySettings | None = None) -> None:
        self.settings = s = settings or ActivitySettings()
        self.active = False
        self.score = 1.0
        """How many times bigger or smaller than usual recent frames are (>= 1)."""
        self._fast: float | None = None
        self._level = 0.0
        self._baseline: float | None = None
        self._jitter = 0.0
        self._last_at: float | None = None
        """Media time (s) of the last non-key frame: the stream's own clock, not arrival..."""
        self._last_arrival = 0.0
        self._shift = 0.0
        """...shifted so that it runs on across a jump of the stream's clock."""
        self._learning_since: float | None = None
        self._active_since = 0.0
        self._above_since: float | None = None
        self._below_since: float | None = None
        self._phase = 0
        self._offsets = [0.0] * (s.max_phase + 1)
        """Per GOP position: its usual log size relative to the last seconds' level."""
        self._learned: list[float | None] = [None] * (s.max_phase + 1)
        """Per GOP position: when its offset was last learned..."""
        self._seen = [0] * (s.max_phase + 1)
        """...and from how many frames."""
        self._log_start = math.log(s.start_ratio)
        self._log_end = math.log(s.end_ratio)
        self._log_floor = math.log(s.floor_bytes)
        self._slices = SliceQp()
        """Reads each frame's QP; it learns the parameter sets from the stream's keyframes."""
        self._qp = _USUAL_QP
        """The last predicted frame's QP: held for a frame whose QP cannot be read."""

    def reset(self, at: float, stream: StreamInfo | None = None) -> ActivityChange | None:
        """Forget the short-term picture after a reconnect; ends activity if it was on.

        `stream`: what the new connection carries (its codec and out-of-band parameter sets).
        """
        if stream is not None:
            self._slices = SliceQp(stream.codec, stream.extradata)
        self._fast = None
        self._last_at = None
        self._learning_since = None  # from the first frame of the new stream, on its clock
        self._above_since = self._below_since = None
        self._phase = 0
        if self.active:
            self.active = False
            return ActivityChange(False, 1.0, at)
        return None

    def on_unit(self, unit: AccessUnit) -> ActivityChange | None:
        """Take one access unit; returns a change when activity starts or ends."""
        qp = self._slices.qp(unit.data)  # on keyframes too: they bring the parameter sets
        if unit.keyframe:
            self._phase = 0
            return None
        if qp is not None:
            self._qp = qp
        s = self.settings
        at = self._media_time(unit)
        self._phase = phase = min(self._phase + 1, s.max_phase)
        # The size at the usual QP: under CBR the encoder shows a busier picture by its QP.
        size = max(
            math.log(len(unit.data) or 1) + (self._qp - _USUAL_QP) * _LOG_QP_STEP,
            self._log_floor,
        )
        value = size - self._offsets[phase]  # as if every frame sat at the GOP's usual level
        if self._learning_since is None:
            self._learning_since = at
        last, self._last_at = self._last_at, at
        fast = self._fast
        if fast is None or last is None:
            self._fast = self._level = value
            if self._baseline is None:
                self._baseline = value
            return None
        dt = max(at - last, 1e-3)
        fast += (value - fast) * (1.0 - math.exp(-dt / s.fast_tau))
        self._fast = fast
        level = self._level + (value - self._level) * (1.0 - math.exp(-dt / s.level_tau))
        self._level = level
        self._learn_offset(phase, size - level, at)
        baseline = self._baseline if self._baseline is not None else fast
        learning = at - self._learning_since
        if not self.active:
            # the usual level: an average of what was seen since learning began, then over
            # the last baseline_tau seconds of quiet scene
            follow = 1.0 - math.exp(-dt / min(s.baseline_tau, max(learning, dt)))
            baseline += (fast - baseline) * follow
            self._baseline = baseline
        jittering = learning - s.warmup / 2
        if jittering > 0:
            # the jitter likewise, from half the warmup on (once each GOP position has an
            # offset), and during activity too: it is how the stream's sizes wobble, and a
            # meter that learned it only while quiet stayed blind to the swing of an episode
            # it had fired at, and fired at it again each time it came back (a clip served in
            # a loop: an episode every 30 s on some joins of the stream, none on others)
            follow = 1.0 - math.exp(-dt / min(s.baseline_tau, max(jittering, dt)))
            self._jitter += (abs(fast - level) - self._jitter) * follow
        departure = abs(fast - baseline)
        self.score = math.exp(departure)
        if learning < s.warmup:
            return None
        if self.active and at - self._active_since >= s.settle:
            # a departure that lasts is a new stream (bitrate, day/night): learn it afresh
            self._learning_since = at
            self._baseline, self._jitter = level, 0.0
            self.active = False
            self._above_since = None
            return ActivityChange(False, round(self.score, 2), at)
        return self._judge(at, departure, abs(level - baseline))

    def _media_time(self, unit: AccessUnit) -> float:
        """When the frame was taken, in seconds on the stream's clock.

        Arrival times bunch: the RTSP reader takes a tenth of a second of stream at a time, and
        a busy loop or network delivers frames in bursts; the filters above need the spacing
        the camera gave them. Where the stream's clock jumps (a server restarting its RTP
        clock), the arrival gap bridges the jump and the media clock runs on from there.
        """
        at = unit.pts / VIDEO_CLOCK + self._shift
        last = self._last_at
        if last is not None and not 0.0 <= at - last <= _MAX_GAP:
            bridged = last + min(max(unit.arrival - self._last_arrival, 1e-3), _MAX_GAP)
            self._shift += bridged - at
            at = bridged
        self._last_arrival = unit.arrival
        return at

    def _learn_offset(self, phase: int, offset: float, at: float) -> None:
        """Follow how much bigger or smaller than the last seconds' frames this GOP position is."""
        seen = self._seen[phase] = self._seen[phase] + 1
        last, self._learned[phase] = self._learned[phase], at
        since = at - last if last is not None else 0.0
        # a mean of what was seen at first, then an average over the last gop_tau seconds
        rate = max(1.0 / seen, 1.0 - math.exp(-since / self.settings.gop_tau))
        self._offsets[phase] += (offset - self._offsets[phase]) * rate

    def _judge(self, at: float, departure: float, level_departure: float) -> ActivityChange | None:
        s = self.settings
        if not self.active:
            if departure >= max(self._log_start, s.start_jitter * self._jitter):
                if self._above_since is None:
                    self._above_since = at
                if at - self._above_since >= s.start_after:
                    self.active = True
                    self._active_since = at
                    self._below_since = None
                    return ActivityChange(True, round(self.score, 2), at)
            else:
                self._above_since = None
            return None
        if level_departure < self._log_end:
            if self._below_since is None:
                self._below_since = at
            if at - self._below_since >= s.end_after:
                self.active = False
                self._above_since = None
                return ActivityChange(False, round(self.score, 2), at)
        else:
            self._below_since = None
        return None
