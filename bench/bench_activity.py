"""Benchmark: activity from compressed data against pixel motion, on camera-like real footage.

Run: python bench/bench_activity.py [--jobs N] [--lease S] [--cache FILE]

The streams are composed from tests/fixtures/media/car-detection.mp4 as a fixed camera would send
them (bench/activity_support/camera_day.py): an empty parking lot played forward and backward for
Q seconds, then a car passing, quiet again, and so on for the footage's three cars, then a last
quiet stretch of min(Q, 30) s; re-encoded with libx264 like a camera (768x432, 12.5 fps, a
keyframe every 2 s at fixed intervals, no scene-cut keyframes, no B-frames, no look-ahead), once
with a bitrate capped at 1 Mbit/s (VBV) and once at constant quality (CRF 23). Q = 30 s is a busy
scene (a car every half minute); Q = 60 s and 120 s are the realistic quiet cameras the target
is judged on, and for those also a flat CBR (x264 ultrafast, 0.6 s VBV, as the streams
benchmark's camera): its frame sizes hardly move when a car passes, its QP does (the meter weighs
sizes by the QP of the slice headers, hub/streams/slices.py). Three more streams check what must
not look like activity: the bitrate halved in the middle of a quiet stretch (a new encoder and
keyframe, as when an operator changes it), and the camera switching to IR night (grey, darker,
noisier) in the middle of a quiet stretch, with the cars after it at night. And the day with
sensor noise in every picture (1 and 2 grey levels, camera_day.pictures' grain), on the capped and
the flat CBR: the composed day otherwise shows the clip's few seconds of empty lot again and
again, with no more noise than its compression left, and a live sensor is noisier.

Ground truth: every frame is decoded, and the T3 MotionDetector (zone "all", default settings
except that motion ends at the first still picture) looks at one picture per 0.2 s, as T3 does.
A second with a picture in motion is a motion second. The first 5 s (calibration) are not judged.

The ActivityMeter (default settings) reads the encoded access units (sizes, keyframe flags,
arrival = pts time). The worker's lease is simulated: T3 decodes from the first keyframe after
activity.start until activity.end + activity_lease (EngineSettings default unless --lease).
- recall from ring: share of motion seconds in which T3 decoded a picture the detector saw
  moving, with T3 starting at the last keyframe before activity.start, from the worker's packet
  ring: what the worker does since this benchmark showed the need (the verdict).
- recall (next keyframe): the same if T3 waited for the next keyframe, as it first did.
- decoded: share of frames decoded by T3.
- false: episodes with no motion picture within 2 s of them; a switch episode (bitrate, night)
  is reported on its own.
- T3 dismissing itself after S s without a motion picture, and pixel motion holding T3 for M s
  after its last motion picture (from the ring): recall and decoded for several S and M,
  printed and kept under `dismiss_what_if` (the worker does it with EngineSettings.t3_dismiss,
  4 s, and motion_lease, 2 s; the rows above simulate the activity's lease alone).
Target (pooled over the realistic streams): recall >= 95 % with decoded <= 20 %.
Results go to bench/results/activity.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pickle
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activity_support.camera_day import (  # noqa: E402
    CBR,
    CRF,
    FLAT_CBR,
    FPS,
    RateControl,
    camera_day,
    encode,
    load_footage,
    motion_pictures,
    pictures,
)
from activity_support.scoring import Episode, Score, episodes, score  # noqa: E402

from hub.streams.activity import ActivityMeter, ActivitySettings  # noqa: E402
from hub.streams.units import AccessUnit  # noqa: E402
from hub.streams.worker import EngineSettings  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "activity.json"
RECALL_TARGET = 0.95
DECODED_TARGET = 0.20
JUDGED_FROM = 5.0
TAIL = 30.0
LEASES = (0.0, 5.0, 10.0, 15.0, 20.0)
DISMISS = (None, 2.0, 4.0, 6.0)
"""Seconds without motion after which a simulated T3 dismisses itself (EngineSettings.t3_dismiss
is the worker's); None: never."""
MOTION_TAILS = (0.0, 1.0, 2.0, 5.0)
"""Seconds pixel motion keeps T3 decoding after its last motion picture (EngineSettings.
motion_lease is the worker's); 0: motion holds nothing, the rows before the what-if."""


@dataclass(frozen=True, slots=True)
class Spec:
    """One composed stream."""

    quiet: float
    rate: RateControl
    change: str = ""
    """"", "bitrate" (halved mid-stream) or "night" (IR switch mid-stream)."""
    grain: float = 0.0
    """Sensor noise in every picture of the day, in grey levels (camera_day.pictures)."""

    @property
    def name(self) -> str:
        what = {"": "", "bitrate": ", bitrate halved", "night": ", night"}[self.change]
        noise = f", noise {self.grain:g}" if self.grain else ""
        return f"{self.rate.name}, quiet {self.quiet:g} s{what}{noise}"

    @property
    def realistic(self) -> bool:
        return not self.change and not self.grain and self.quiet >= 60


SPECS = [
    *(Spec(quiet, rate) for quiet in (120.0, 60.0, 30.0) for rate in (CBR, CRF)),
    *(Spec(quiet, FLAT_CBR) for quiet in (120.0, 60.0)),
    Spec(60.0, CBR, "bitrate"),
    Spec(60.0, CBR, "night"),
    Spec(60.0, CRF, "night"),
    *(Spec(60.0, rate, grain=grain) for grain in (1.0, 2.0) for rate in (CBR, FLAT_CBR)),
]


@dataclass(slots=True)
class Built:
    """A stream encoded and judged by pixels."""

    spec: Spec
    units: list[AccessUnit]
    motion: list[float]
    cars: list[tuple[float, float]]
    switch: float | None
    seconds: float


def build(spec: Spec) -> Built:
    started = time.perf_counter()
    footage = load_footage()
    day = camera_day(footage, spec.quiet, tail=min(spec.quiet, TAIL))
    switch_at = day.quiet_middle(1) if spec.change else None
    if spec.change == "night":
        day.night_from = switch_at
    units = encode(
        pictures(day, footage, grain=spec.grain),
        footage.width,
        footage.height,
        spec.rate,
        switch_at=switch_at if spec.change == "bitrate" else None,
    )
    motion = motion_pictures(units)
    cars = [part.seconds() for part in day.parts if part.kind == "car"]
    switch = None if switch_at is None else switch_at / float(FPS)
    return Built(spec, units, motion, cars, switch, time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class Row:
    """One stream's result."""

    stream: str
    realistic: bool
    seconds: float
    kbit_s: int
    motion_seconds: int
    recall: float
    recall_from_ring: float
    decoded: float
    episodes: int
    false_episodes: int
    switch_episode_s: float | None
    starts_after_motion_s: list[float | None]


def judge(built: Built, settings: ActivitySettings, lease: float) -> tuple[Row, Score, Score]:
    """Replay the stream through the meter and the lease; its row and both scores."""
    found = episodes(built.units, settings)
    switch_episode: Episode | None = None
    if built.switch is not None:
        at = built.switch
        switch_episode = next((e for e in found if at - 1 <= e.start <= at + 5), None)
    plain = score(built.units, built.motion, found, lease, judged_from=JUDGED_FROM)
    ring = score(built.units, built.motion, found, lease, judged_from=JUDGED_FROM, from_ring=True)
    false = 0
    for episode in found:
        if episode is switch_episode:
            continue
        end = episode.end if episode.end is not None else built.units[-1].arrival
        if not any(episode.start - 2 <= t <= end + 2 for t in built.motion):
            false += 1
    starts: list[float | None] = []  # activity.start after each car's first motion picture
    for begin, stop in built.cars:
        moving = [t for t in built.motion if begin <= t <= stop + 2]
        near = [e.start for e in found if moving and moving[0] - 3 <= e.start <= stop + 5]
        starts.append(round(near[0] - moving[0], 2) if near else None)
    seconds = built.units[-1].arrival if built.units else 0.0
    switch_seconds = None
    if switch_episode is not None and switch_episode.end is not None:
        switch_seconds = round(switch_episode.end - switch_episode.start, 1)
    row = Row(
        stream=built.spec.name,
        realistic=built.spec.realistic,
        seconds=round(seconds, 1),
        kbit_s=round(sum(u.size for u in built.units) * 8 / max(seconds, 1e-9) / 1000),
        motion_seconds=plain.motion_seconds,
        recall=round(plain.recall, 4),
        recall_from_ring=round(ring.recall, 4),
        decoded=round(plain.decoded_share, 4),
        episodes=len(found),
        false_episodes=false,
        switch_episode_s=switch_seconds,
        starts_after_motion_s=starts,
    )
    return row, plain, ring


def pooled(scores: list[Score]) -> tuple[float, float]:
    caught = sum(s.caught for s in scores)
    motion = sum(s.motion_seconds for s in scores)
    decoded = sum(s.decoded for s in scores)
    frames = sum(s.frames for s in scores)
    return caught / max(motion, 1), decoded / max(frames, 1)


def build_all(jobs: int, cache: Path | None) -> list[Built]:
    """Every stream, built in `jobs` processes, or read from `cache` if it holds them."""
    if cache is not None and cache.exists():
        with cache.open("rb") as file:
            held: list[Built] = pickle.load(file)  # noqa: S301 (our own file)
        if [b.spec for b in held] == SPECS:
            return held
    load_footage()  # once, before the workers fork
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs) as pool:
        streams = pool.map(build, SPECS, chunksize=1)
    if cache is not None:
        with cache.open("wb") as file:
            pickle.dump(streams, file)
    return streams


def main(jobs: int, lease: float, cache: Path | None) -> None:
    settings = ActivitySettings()
    started = time.perf_counter()
    streams = build_all(jobs, cache)
    build_seconds = time.perf_counter() - started

    print(f"activity meter on {len(streams)} camera-like streams from car-detection.mp4")
    print(
        "ground truth: T3 MotionDetector (zone all, frames_off=1) on every decoded picture at 5 fps"
    )
    print(f"lease {lease:g} s after activity.end; T3 starts at the next keyframe (2 s GOP)")
    header = (
        f"{'stream':<34} {'kbit/s':>6} {'s':>5} {'motion s':>8} {'recall':>7} {'ring':>6} "
        f"{'decoded':>7} {'eps':>4} {'false':>5}  activity.start - motion (s)"
    )
    print(header)
    rows: list[Row] = []
    realistic: list[tuple[Score, Score]] = []
    for built in streams:
        row, plain, ring = judge(built, settings, lease)
        rows.append(row)
        if built.spec.realistic:
            realistic.append((plain, ring))
        note = "" if row.switch_episode_s is None else f"  switch episode {row.switch_episode_s} s"
        mark = "*" if row.realistic else " "
        print(
            f"{mark}{row.stream:<33} {row.kbit_s:>6.0f} {row.seconds:>5.0f} "
            f"{row.motion_seconds:>8} {row.recall:>7.0%} {row.recall_from_ring:>6.0%} "
            f"{row.decoded:>7.1%} {row.episodes:>4} {row.false_episodes:>5}  "
            f"{', '.join('-' if s is None else f'{s:+.1f}' for s in row.starts_after_motion_s)}"
            f"{note}"
        )
    print("* realistic (quiet >= 60 s, no switch, no noise added): the target is judged on these")

    recall, decoded = pooled([p for p, _ in realistic])
    ring_recall, ring_decoded = pooled([r for _, r in realistic])
    verdict = "PASS" if recall >= RECALL_TARGET and decoded <= DECODED_TARGET else "MISS"
    ring_verdict = (
        "PASS" if ring_recall >= RECALL_TARGET and ring_decoded <= DECODED_TARGET else "MISS"
    )
    print(
        f"target recall >= {RECALL_TARGET:.0%} with decoded <= {DECODED_TARGET:.0%}, T3 starting "
        f"from the ring as the worker does: recall {ring_recall:.1%}, "
        f"decoded {ring_decoded:.1%}: {ring_verdict}"
    )
    print(
        f"  (were T3 to wait for the next keyframe: recall {recall:.1%}, "
        f"decoded {decoded:.1%}: {verdict})"
    )

    print("lease trade-off on the realistic streams (recall / from ring / decoded):")
    by_lease: dict[str, dict[str, float]] = {}
    for other in LEASES:
        judged = [judge(b, settings, other) for b in streams if b.spec.realistic]
        r, d = pooled([p for _, p, _ in judged])
        rr, _ = pooled([q for _, _, q in judged])
        by_lease[f"{other:g}"] = {"recall": r, "recall_from_ring": rr, "decoded": d}
        print(f"  lease {other:>4g} s: {r:6.1%} {rr:6.1%} {d:6.1%}")
    print(
        "what if T3 dismissed itself after S s without a motion picture, and motion held it M s"
        f" after its last motion picture (from the ring, lease {lease:g} s; recall / decoded):"
    )
    print("  " + " " * 10 + "".join(f"{f'M = {tail:g} s':>17}" for tail in MOTION_TAILS))
    by_dismiss: dict[str, dict[str, dict[str, float]]] = {}
    realistic_episodes = [
        (built, episodes(built.units, settings)) for built in streams if built.spec.realistic
    ]
    for after in DISMISS:
        cells = []
        row_name = "never" if after is None else f"{after:g}"
        for tail in MOTION_TAILS:
            scores = [
                score(
                    built.units,
                    built.motion,
                    found,
                    lease,
                    judged_from=JUDGED_FROM,
                    from_ring=True,
                    dismiss=after,
                    motion_tail=tail,
                )  # fmt: skip
                for built, found in realistic_episodes
            ]
            r, d = pooled(scores)
            by_dismiss.setdefault(row_name, {})[f"{tail:g}"] = {
                "recall_from_ring": r,
                "decoded_from_ring": d,
            }
            cells.append(f"{r:7.1%} / {d:5.1%}")
        label = "S = never" if after is None else f"S = {after:g} s"
        print(f"  {label:<10}" + "".join(f"{cell:>17}" for cell in cells))
    units = [unit for built in streams for unit in built.units]
    meter = ActivityMeter(settings)
    clock = time.perf_counter()
    for unit in units:
        meter.on_unit(unit)
    per_frame = (time.perf_counter() - clock) / max(len(units), 1)
    print(f"meter cost: {per_frame * 1e6:.1f} us per frame ({len(units)} frames)")
    total = time.perf_counter() - started
    print(f"built and judged in {total:.0f} s ({build_seconds:.0f} s building)")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "benchmark": "activity",
        "footage": "tests/fixtures/media/car-detection.mp4 (CC BY 4.0 Intel IoT DevKit)",
        "ground_truth": "MotionDetector zone all, frames_off=1, decoded pictures at 5 fps",
        "settings": asdict(settings),
        "lease_s": lease,
        "streams": [asdict(row) for row in rows],
        "realistic": {
            "recall": round(recall, 4),
            "decoded": round(decoded, 4),
            "recall_from_ring": round(ring_recall, 4),
            "decoded_from_ring": round(ring_decoded, 4),
            "verdict": verdict,
            "verdict_from_ring": ring_verdict,
        },
        "targets": {"recall": RECALL_TARGET, "decoded": DECODED_TARGET},
        "by_lease": by_lease,
        "dismiss_what_if": by_dismiss,
        "dismiss_what_if_keys": "S (dismiss after, s) -> M (motion tail, s)",
        "meter_us_per_frame": round(per_frame * 1e6, 2),
        "seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--lease", type=float, default=EngineSettings().activity_lease)
    parser.add_argument(
        "--cache", type=Path, help="keep the encoded streams in this file and reuse them (tuning)"
    )
    arguments = parser.parse_args()
    main(arguments.jobs, arguments.lease, arguments.cache)
