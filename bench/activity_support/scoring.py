"""Replay a stream through the activity meter and the worker's decode lease, and score it."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from hub.streams.activity import ActivityMeter, ActivitySettings
from hub.streams.units import AccessUnit

CALIBRATION_S = 2.0
"""Seconds T3's motion detector takes to calibrate (10 pictures at 5 a second)."""


@dataclass(frozen=True, slots=True)
class Episode:
    """Activity from `start` to `end` (None: still on when the stream ended)."""

    start: float
    end: float | None


@dataclass(frozen=True, slots=True)
class Score:
    """How the meter and its lease did on one stream."""

    seconds: float
    motion_seconds: int
    caught: int
    frames: int
    decoded: int
    episodes: int
    false_episodes: int
    delays: tuple[float, ...]
    """Per motion run: seconds from its first motion picture to the first decoded one."""

    @property
    def recall(self) -> float:
        return self.caught / self.motion_seconds if self.motion_seconds else 1.0

    @property
    def decoded_share(self) -> float:
        return self.decoded / self.frames if self.frames else 0.0


def episodes(units: Sequence[AccessUnit], settings: ActivitySettings) -> list[Episode]:
    """The activity episodes the meter reports on the stream."""
    meter = ActivityMeter(settings)
    found: list[Episode] = []
    start: float | None = None
    for unit in units:
        change = meter.on_unit(unit)
        if change is None:
            continue
        if change.started:
            start = change.at
        elif start is not None:
            found.append(Episode(start, change.at))
            start = None
    if start is not None:
        found.append(Episode(start, None))
    return found


def decoded_frames(
    units: Sequence[AccessUnit],
    found: Sequence[Episode],
    lease: float,
    *,
    from_ring: bool = False,
    motion: Sequence[float] = (),
    dismiss: float | None = None,
    motion_tail: float = 0.0,
) -> list[bool]:
    """Which frames T3 decodes: from an activity start until its end plus `lease`, beginning at
    the next keyframe (or, `from_ring`, at the last keyframe before the start, as a decoder fed
    from the packet ring could).

    With `dismiss` (a what-if, not what the worker does): T3 also stops once it has seen no
    motion picture (of `motion`, sorted) for `dismiss` seconds after calibrating
    (CALIBRATION_S from its first picture), until the next episode starts it again.

    With `motion_tail` (the worker's EngineSettings.motion_lease): pixel motion T3 sees once it
    has calibrated holds the decoding for `motion_tail` s after its last motion picture, past a
    dismissal and past the activity's end (the detector's motion.end comes a picture or so after
    that last picture, so this is slightly shorter than the worker's tail)."""
    wanted: list[list[float]] = []
    for episode in found:
        end = math.inf if episode.end is None else episode.end + lease
        if wanted and episode.start <= wanted[-1][1]:
            wanted[-1][1] = max(wanted[-1][1], end)
        else:
            wanted.append([episode.start, end])
    flags = [False] * len(units)
    keys = [index for index, unit in enumerate(units) if unit.keyframe]
    for start, end in wanted:
        if from_ring:
            first = max((k for k in keys if units[k].arrival <= start), default=None)
        else:
            first = min((k for k in keys if units[k].arrival > start), default=None)
        if first is None:
            continue
        began = units[first].arrival
        calibrated = began + CALIBRATION_S
        for index in range(first, len(units)):
            at = units[index].arrival
            if not (motion_tail > 0 and _seen(motion, max(at - motion_tail, calibrated), at)):
                if at >= end:
                    break
                if (
                    dismiss is not None
                    and at >= calibrated + dismiss
                    and not _seen(motion, max(at - dismiss, calibrated), at)
                ):
                    break  # no motion picture in the last `dismiss` seconds: dismissed
            flags[index] = True
    return flags


def _seen(motion: Sequence[float], since: float, until: float) -> bool:
    """Whether a motion picture (of `motion`, sorted) came in [since, until]."""
    return since <= until and bisect.bisect_left(motion, since) < bisect.bisect_right(motion, until)


def score(
    units: Sequence[AccessUnit],
    motion: Sequence[float],
    found: Sequence[Episode],
    lease: float,
    *,
    judged_from: float = 0.0,
    from_ring: bool = False,
    dismiss: float | None = None,
    motion_tail: float = 0.0,
) -> Score:
    """Score episodes against the times of pictures in which the pixel detector saw motion.

    A motion second is caught if T3 was decoding at one of its motion pictures. Frames and
    seconds before `judged_from` (the warm-up) are not judged.
    """
    flags = decoded_frames(
        units,
        found,
        lease,
        from_ring=from_ring,
        motion=sorted(motion),
        dismiss=dismiss,
        motion_tail=motion_tail,
    )
    arrivals = [unit.arrival for unit in units]

    def on_at(t: float) -> bool:  # the frame shown at time t was decoded
        return flags[max(0, bisect.bisect_right(arrivals, t + 1e-6) - 1)]

    judged = [t for t in motion if t >= judged_from]
    seconds = sorted({int(t) for t in judged})
    caught = {int(t) for t in judged if on_at(t)}
    delays: list[float] = []
    run_start: float | None = None
    for index, t in enumerate(judged):
        if run_start is None or t - judged[index - 1] > 2.0:  # a new run of motion
            run_start = t
            later = [a for a, on in zip(arrivals, flags, strict=True) if on and a >= t]
            delays.append(later[0] - t if later else math.inf)
    kept = [(a, on) for a, on in zip(arrivals, flags, strict=True) if a >= judged_from]
    false = 0
    for episode in found:
        end = arrivals[-1] if episode.end is None else episode.end
        if not any(episode.start - 1.0 <= t <= end + 1.0 for t in motion):
            false += 1
    return Score(
        seconds=arrivals[-1] - judged_from if arrivals else 0.0,
        motion_seconds=len(seconds),
        caught=len(caught),
        frames=len(kept),
        decoded=sum(on for _, on in kept),
        episodes=len(found),
        false_episodes=false,
        delays=tuple(delays),
    )
