"""Activity from compressed data: motion makes predicted frames bigger, so their sizes are a signal.

The meter compares a fast average of non-key frame sizes with the camera's quiet level: a level
that falls quickly (so it finds the quiet scene after a busy one) and rises slowly (so a passing
car does not become the new normal, yet a day/night switch or a bitrate change is absorbed within
a few minutes). Keyframes are skipped: their size says nothing about motion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hub.streams.units import AccessUnit


@dataclass(frozen=True, slots=True)
class ActivitySettings:
    """Thresholds of the activity meter; defaults were tuned on real footage (see bench/)."""

    start_ratio: float = 1.5
    """Activity starts when recent frames are this many times bigger than the quiet level."""
    end_ratio: float = 1.2
    """...and ends when they fall below this many times."""
    start_after: float = 0.3
    """Seconds above `start_ratio` before activity starts."""
    end_after: float = 3.0
    """Seconds below `end_ratio` before activity ends."""
    fast_tau: float = 0.5
    """Time constant (s) of the recent frame size."""
    quiet_fall_tau: float = 2.0
    """Time constant (s) with which the quiet level follows a quieter scene."""
    quiet_rise_tau: float = 120.0
    """Time constant (s) with which the quiet level follows a busier scene."""
    warmup: float = 5.0
    """Seconds after (re)connecting during which the meter only learns."""
    floor_bytes: float = 150.0
    """Frames smaller than this are noise whatever their ratio (a still scene's skip frames)."""


@dataclass(frozen=True, slots=True)
class ActivityChange:
    """Activity started or ended on a camera."""

    started: bool
    score: float
    at: float


class ActivityMeter:
    """One camera's activity from the sizes of its non-key frames; cheap enough for every frame."""

    __slots__ = ("_above_since", "_below_since", "_fast", "_last_at", "_quiet", "_started_at",
                 "active", "score", "settings")  # fmt: skip

    def __init__(self, settings: ActivitySettings | None = None) -> None:
        self.settings = settings or ActivitySettings()
        self.active = False
        self.score = 0.0
        self._fast: float | None = None
        self._quiet: float | None = None
        self._last_at: float | None = None
        self._started_at: float | None = None
        self._above_since: float | None = None
        self._below_since: float | None = None

    def reset(self, at: float) -> ActivityChange | None:
        """Forget the short-term picture after a reconnect; ends activity if it was on."""
        self._fast = None
        self._last_at = None
        self._started_at = at
        self._above_since = self._below_since = None
        if self.active:
            self.active = False
            return ActivityChange(False, 0.0, at)
        return None

    def on_unit(self, unit: AccessUnit) -> ActivityChange | None:
        """Take one access unit; returns a change when activity starts or ends."""
        if unit.keyframe:
            return None
        at = unit.arrival
        size = float(len(unit.data))
        s = self.settings
        if self._started_at is None:
            self._started_at = at
        last = self._last_at
        self._last_at = at
        fast = self._fast
        if fast is None or last is None:
            self._fast = size
            if self._quiet is None:
                self._quiet = size
            return None
        dt = max(at - last, 1e-3)
        fast += (size - fast) * (1.0 - math.exp(-dt / s.fast_tau))
        self._fast = fast
        quiet = self._quiet if self._quiet is not None else fast
        tau = s.quiet_fall_tau if fast < quiet else s.quiet_rise_tau
        quiet += (fast - quiet) * (1.0 - math.exp(-dt / tau))
        self._quiet = quiet
        self.score = fast / max(quiet, s.floor_bytes)
        if at - self._started_at < s.warmup:
            return None
        return self._judge(at)

    def _judge(self, at: float) -> ActivityChange | None:
        s = self.settings
        if not self.active:
            if self.score >= s.start_ratio:
                if self._above_since is None:
                    self._above_since = at
                if at - self._above_since >= s.start_after:
                    self.active = True
                    self._below_since = None
                    return ActivityChange(True, round(self.score, 2), at)
            else:
                self._above_since = None
            return None
        if self.score < s.end_ratio:
            if self._below_since is None:
                self._below_since = at
            if at - self._below_since >= s.end_after:
                self.active = False
                self._above_since = None
                return ActivityChange(False, round(self.score, 2), at)
        else:
            self._below_since = None
        return None
