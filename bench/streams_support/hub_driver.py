"""The measured process of bench_streams.py: one Pantau hub watching N cameras of K RTSP URLs.

Started by bench/bench_streams.py (`make bench` does not run it on its own):

    python bench/streams_support/hub_driver.py --url URL [--url URL2 ...] --cameras N
        --data-dir DIR

It builds a `hub.config.Config` with N cameras (vendor rtsp; camera i on the (i mod K)th URL,
round-robin) and its data in DIR, starts `hub.runtime.Hub` with the stream engine in its
default tiers (T0 always, T2 a keyframe every 10 s, T3 only while leased), prints one JSON
line `{"ready": ...}`, then answers commands read from stdin with one JSON line each:

    stats   the cameras' health, T3 decoders (in all, and by URL) and leases, what the
            readers received, events
    quit    stop the hub and exit; the end of input, SIGTERM and SIGINT do the same

With PANTAU_BENCH_SOURCE=DIR it imports hub and plugins from DIR: the benchmark's snapshot of
the working tree, so that every phase runs the same code. Nothing here is measured by itself:
the benchmark reads this process's CPU and memory from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCE_ENV = "PANTAU_BENCH_SOURCE"
"""A copy of hub/ and plugins/ to run instead of the working tree, which others may be editing."""
sys.path.insert(0, os.environ.get(SOURCE_ENV) or str(ROOT))

import hub as hub_package  # noqa: E402
from hub import runtime  # noqa: E402
from hub.config import Config  # noqa: E402
from hub.events import Event  # noqa: E402
from hub.logs import configure_logging  # noqa: E402
from hub.runtime import Hub  # noqa: E402

OWNER = "bench"


def bench_config(
    urls: list[str],
    cameras: int,
    data_dir: Path,
    *,
    activity: bool = True,
    streams: dict[str, Any] | None = None,
) -> Config:
    """A hub with `cameras` generic RTSP cameras, spread round-robin over `urls`, and everything
    else at its defaults.

    For diagnosis only (these are not the default tiers): without `activity` no camera ever
    starts an activity episode, so nothing leases T3; `streams` overrides `hub.streams` settings.
    """
    options = {} if activity else {"activity": {"start_ratio": 1e9}}
    return Config.model_validate(
        {
            "hub": {"name": "Pantau bench", "data_dir": str(data_dir), "streams": streams or {}},
            "owners": [{"id": OWNER, "name": "Benchmark", "kind": "opd"}],
            "cameras": [
                {
                    "id": f"cam-{index:03d}",
                    "name": f"Bench camera {index}",
                    "owner": OWNER,
                    "vendor": "rtsp",
                    "url": urls[index % len(urls)],
                    "options": options,
                }
                for index in range(cameras)
            ],
        }
    )


TAMPER_KEPT = 200
"""`tamper` events kept in full (a scene that makes false alarms is diagnosed from them)."""


class EventTally:
    """Counts the hub's events by type and keeps each camera's latest `stream.stats`, and the
    first `TAMPER_KEPT` tamper events with what they say."""

    def __init__(self) -> None:
        self.by_type: Counter[str] = Counter()
        self.latest_stats: dict[str, dict[str, Any]] = {}
        self.tampers: list[dict[str, Any]] = []

    async def __call__(self, event: Event) -> None:
        self.by_type[event.type] += 1
        if event.type == "tamper":  # which check fired, and whether it started or ended
            self.by_type[f"tamper:{event.data.get('kind')}:{event.data.get('state')}"] += 1
            if len(self.tampers) < TAMPER_KEPT:
                self.tampers.append(
                    {"monotonic": time.monotonic(), "camera": event.camera_id, **event.data}
                )
        if event.type == "stream.stats" and event.camera_id is not None:
            self.latest_stats[event.camera_id] = dict(event.data)


class LoopLag:
    """How late the event loop wakes a sleeper: a loaded loop stamps packets late and in bursts."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.lags: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.lags.append(loop.time() - due)

    def take(self) -> dict[str, float | None]:
        """The lags since the last call: mean, 95th percentile and largest, in milliseconds."""
        lags, self.lags = sorted(self.lags), []
        if not lags:
            return {"mean_ms": None, "p95_ms": None, "max_ms": None}
        return {
            "mean_ms": round(1000 * sum(lags) / len(lags), 2),
            "p95_ms": round(1000 * lags[int(0.95 * (len(lags) - 1))], 2),
            "max_ms": round(1000 * lags[-1], 2),
        }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def stats(hub: Hub, tally: EventTally, lag: LoopLag) -> dict[str, Any]:
    """What the benchmark asks of the hub between its /proc readings."""
    engine = hub.streams
    workers = list(engine.workers.values()) if engine is not None else []
    health = Counter(worker.health.value for worker in workers)
    sources = [worker.source for worker in workers if worker.source is not None]
    latest = list(tally.latest_stats.values())
    # Which URL (bench mount) each camera reads: T3 by mount shows when each mount is busy.
    urls = {camera.id: str(camera.url) for camera in hub.config.cameras}
    t3_cameras = (
        {camera for camera, worker in engine.workers.items() if worker.decoding}
        if engine is not None
        else set()
    )
    return {
        "monotonic": time.monotonic(),
        "cameras": len(workers),
        "health": dict(health),
        "t3_running": len(t3_cameras),
        "t3_running_by_url": dict(
            Counter(url for camera, url in urls.items() if camera in t3_cameras)
        ),
        # What holds each running T3: "activity", "motion", "activity+motion", "" (ending)
        "t3_held_by": dict(
            Counter("+".join(sorted(engine.leases.reasons(camera))) for camera in t3_cameras)
            if engine is not None
            else {}
        ),
        "leased": len(engine.leases.cameras()) if engine is not None else 0,
        "connected": len(sources),
        "units": sum(int(getattr(source, "units", 0)) for source in sources),
        "bytes": sum(int(getattr(source, "bytes_received", 0)) for source in sources),
        "lost_packets": sum(int(getattr(source, "lost_packets", 0)) for source in sources),
        "events": dict(tally.by_type),
        "tampers": tally.tampers,
        "stats_fps_mean": _mean([float(s["fps"]) for s in latest if s.get("fps") is not None]),
        "stats_kbps_mean": _mean(
            [float(s["bitrate_kbps"]) for s in latest if s.get("bitrate_kbps") is not None]
        ),
        "stats_timestamp_problems": sum(int(s.get("timestamp_problems") or 0) for s in latest),
        "loop_lag_since_last_stats": lag.take(),
    }


def answer(document: dict[str, Any]) -> None:
    print(json.dumps(document), flush=True)


async def serve(config: Config) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    hub = Hub(config)
    tally = EventTally()
    await hub.start()
    subscription = hub.bus.subscribe("*", tally, name="bench:tally")
    lag = LoopLag()
    lag_task = loop.create_task(lag.run(), name="bench:loop-lag")
    try:
        answer(
            {
                "ready": True,
                "cameras": len(config.cameras),
                "started": time.monotonic(),
                "hub_package": str(Path(hub_package.__file__ or "").parent),
                "event_loop": f"{type(loop).__module__}.{type(loop).__name__}",
            }
        )
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        stopping = asyncio.ensure_future(stop.wait())
        while not stop.is_set():
            reading = asyncio.ensure_future(reader.readline())
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                reading.cancel()
                break
            command = reading.result().decode().strip()
            if command == "stats":
                answer(stats(hub, tally, lag))
            elif command in ("quit", ""):  # "" is the end of input: the benchmark went away
                break
            else:
                answer({"error": f"unknown command {command!r}"})
        stopping.cancel()
    finally:
        lag_task.cancel()
        await subscription.cancel()
        await hub.stop()
    with contextlib.suppress(BrokenPipeError):
        answer({"stopped": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--url",
        action="append",
        required=True,
        help="an RTSP URL; repeat it for K URLs, which the cameras take round-robin",
    )
    parser.add_argument("--cameras", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--no-activity", action="store_true", help="never lease T3 (diagnosis)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a hub.streams setting, such as pre_roll=0 (diagnosis)",
    )
    args = parser.parse_args()
    configure_logging(args.log_level)
    streams = {key: json.loads(value) for key, _, value in (s.partition("=") for s in args.set)}
    config = bench_config(
        list(args.url), args.cameras, args.data_dir, activity=not args.no_activity, streams=streams
    )
    # As `pantau run` runs the hub (on uvloop where installed), where the hub says how.
    run = getattr(runtime, "run_main", asyncio.run)
    run(serve(config))


if __name__ == "__main__":
    main()
