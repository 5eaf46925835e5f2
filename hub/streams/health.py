"""T0: a camera's health and statistics from packets alone, with hysteresis against flapping."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from hub.streams.units import VIDEO_CLOCK, AccessUnit


class Health(StrEnum):
    """What the command center's map shows for a camera."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """Thresholds, per camera; the defaults suit a typical 15-25 fps camera on a flaky link."""

    offline_after: float = 8.0
    """Seconds without a picture before a camera is offline: a 3 s stall is not an outage."""
    low_fps_ratio: float = 0.5
    """Degraded when fps falls below this share of the camera's nominal rate."""
    keyframe_timeout: float = 20.0
    """Degraded when no keyframe came for this long (a frozen or broken encoder)."""
    bitrate_collapse_ratio: float = 0.1
    """Degraded when bitrate falls below this share of its long-run level."""
    window: float = 10.0
    """Seconds over which fps, bitrate and timestamp problems are judged."""
    recover_after: float = 10.0
    """Seconds a degraded camera must look well before it is online again."""

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> HealthSettings:
        """Settings from a camera's `options.health` mapping; unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown health settings: {', '.join(sorted(unknown))}")
        values = {k: float(v) for k, v in options.items()}
        if values.get("offline_after", 1.0) <= 0:
            raise ValueError("offline_after must be more than 0 seconds")
        return cls(**values)

    def for_rate(self, fps: float | None) -> HealthSettings:
        """These settings stretched for a slow source, such as a JPEG snapshot polled slowly.

        A camera is then offline only after about three missed pictures, and fps and keyframes
        are judged over several pictures, never over less than one.
        """
        if not fps or fps <= 0:
            return self
        frame = 1.0 / fps
        return replace(
            self,
            offline_after=max(self.offline_after, 3.5 * frame),
            keyframe_timeout=max(self.keyframe_timeout, 3.5 * frame),
            window=max(self.window, 4.0 * frame),
            recover_after=max(self.recover_after, 3.0 * frame),
        )


@dataclass(frozen=True, slots=True)
class HealthChange:
    """A change of a camera's health, with the reason in words."""

    state: Health
    previous: Health
    reason: str
    at: float


class StreamMonitor:
    """Watches one camera's access units; `tick` judges them; changes come back as `HealthChange`.

    `on_unit` is on the hot path (every frame of every camera): it only counts.
    """

    __slots__ = (
        "_backwards",
        "_bytes",
        "_degraded_since_ok",
        "_last_key_at",
        "_last_pts",
        "_last_unit_at",
        "_long_bitrate",
        "_units",
        "_window_started",
        "gop_frames",
        "key_interval",
        "nominal_fps",
        "settings",
        "state",
        "stats",
        "_frames_since_key",
        "_first_in_window",
        "_fresh_stats",
        "_keys",
    )

    def __init__(
        self, settings: HealthSettings | None = None, nominal_fps: float | None = None
    ) -> None:
        self.settings = settings or HealthSettings()
        self.nominal_fps = nominal_fps
        self.state = Health.UNKNOWN
        self.stats: dict[str, Any] = {}
        self.gop_frames: int | None = None
        self.key_interval: float | None = None
        self._last_unit_at: float | None = None
        self._last_key_at: float | None = None
        self._last_pts: int | None = None
        self._window_started: float | None = None
        self._units = 0
        self._bytes = 0
        self._keys = 0
        self._backwards = 0
        self._frames_since_key = 0
        self._long_bitrate: float | None = None
        self._degraded_since_ok: float | None = None
        self._fresh_stats = False
        self._first_in_window = 0.0

    def on_unit(self, unit: AccessUnit) -> None:
        """Count one access unit."""
        at = unit.arrival
        if self._window_started is None:
            self._window_started = at
        if self._units == 0:
            self._first_in_window = at
        self._last_unit_at = at
        self._units += 1
        self._bytes += len(unit.data)
        last_pts = self._last_pts
        if last_pts is not None and unit.pts <= last_pts:
            self._backwards += 1
        self._last_pts = unit.pts
        if unit.keyframe:
            self._keys += 1
            if self._last_key_at is not None:
                self.key_interval = at - self._last_key_at
                self.gop_frames = self._frames_since_key + 1
            self._last_key_at = at
            self._frames_since_key = 0
        else:
            self._frames_since_key += 1

    def connected(self, at: float) -> None:
        """The source opened: judge from now, not from before the outage."""
        self._window_started = at
        self._units = self._bytes = self._keys = self._backwards = 0
        self._last_key_at = None
        self._last_pts = None

    def tick(self, now: float) -> HealthChange | None:
        """Judge the camera at `now`; returns a change when its health changed."""
        s = self.settings
        last = self._last_unit_at
        if last is None:
            return None  # never had a picture: the worker reports why through `stream_gone`
        if now - last >= s.offline_after:
            if self.state is Health.OFFLINE:
                return None
            return self._change(Health.OFFLINE, f"no picture for {now - last:.0f} s", now)
        if self.state in (Health.UNKNOWN, Health.OFFLINE):
            return self._change(Health.ONLINE, "picture flowing", now)
        started = self._window_started if self._window_started is not None else now
        elapsed = now - started
        if elapsed < s.window:
            return None
        problems = self._close_window(now, elapsed)
        if problems:
            self._degraded_since_ok = None
            if self.state is not Health.DEGRADED:
                return self._change(Health.DEGRADED, "; ".join(problems), now)
            return None
        if self.state is Health.DEGRADED:
            if self._degraded_since_ok is None:
                self._degraded_since_ok = now
            if now - self._degraded_since_ok >= s.recover_after:
                self._degraded_since_ok = None
                return self._change(Health.ONLINE, "recovered", now)
        return None

    def take_stats(self) -> dict[str, Any] | None:
        """The statistics of the last closed window, once; None until a new window closes."""
        stats, self._fresh_stats = (self.stats if self._fresh_stats else None), False
        return stats

    def stream_gone(self, now: float, reason: str) -> HealthChange | None:
        """The source failed or ended: offline now if it never flowed or stalled past the grace."""
        last = self._last_unit_at
        if last is not None and now - last < self.settings.offline_after:
            return None
        if self.state is Health.OFFLINE:
            return None
        return self._change(Health.OFFLINE, reason, now)

    def _close_window(self, now: float, elapsed: float) -> list[str]:
        s = self.settings
        # Frames over the span they arrived in: a stall at the end is the offline check's business.
        span = (self._last_unit_at or now) - self._first_in_window
        fps = (self._units - 1) / span if self._units > 1 and span > 0 else 0.0
        if self.nominal_fps is None and fps > 0:
            self.nominal_fps = round(fps, 1)  # the source did not say: learn it
        bitrate = self._bytes * 8 / elapsed
        problems = []
        if self.nominal_fps and fps < self.nominal_fps * s.low_fps_ratio:
            problems.append(f"{fps:.1f} fps, expected about {self.nominal_fps:g}")
        last_key = self._last_key_at
        key_age = now - (last_key if last_key is not None else (self._window_started or now))
        if key_age >= s.keyframe_timeout:
            problems.append(f"no keyframe for {key_age:.0f} s")
        if self._backwards:
            problems.append(f"timestamps went backwards {self._backwards} times")
        long_run = self._long_bitrate
        if long_run is not None and bitrate < long_run * s.bitrate_collapse_ratio:
            problems.append(
                f"bitrate fell to {bitrate / 1000:.0f} kbit/s from {long_run / 1000:.0f}"
            )
        else:  # a collapsed window must not drag the long-run level down with it
            self._long_bitrate = bitrate if long_run is None else long_run * 0.9 + bitrate * 0.1
        self.stats = {
            "fps": round(fps, 2),
            "bitrate_kbps": round(bitrate / 1000, 1),
            "gop_frames": self.gop_frames,
            "keyframe_interval_s": round(self.key_interval, 2) if self.key_interval else None,
            "keyframes": self._keys,
            "timestamp_problems": self._backwards,
            "window_s": round(elapsed, 2),
        }
        self._fresh_stats = True
        self._window_started = now
        self._units = self._bytes = self._keys = self._backwards = 0
        return problems

    def _change(self, state: Health, reason: str, at: float) -> HealthChange:
        change = HealthChange(state, self.state, reason, at)
        self.state = state
        return change


def pts_seconds(pts: int) -> float:
    """A 90 kHz timestamp in seconds."""
    return pts / VIDEO_CLOCK
