"""Benchmark: LocalBus publish -> deliver throughput against a hand-written asyncio.Queue fan-out.

Run: python bench/bench_bus.py [--events 10000] [--repeats 5] [--subscribers 1,10,50]

Both sides deliver the same pre-built events to the same counting handler; the publisher yields
to the loop every 100 events in both. The baseline is the least a fan-out can cost in asyncio:
one unbounded asyncio.Queue and one consumer task per subscriber, no matching, no stats, no
overflow policy, no error barrier. The ratio is bus time / baseline time (lower is better).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.bus import LocalBus  # noqa: E402
from hub.events import CameraOnline, Event  # noqa: E402

YIELD_EVERY = 100
PATTERNS = ("camera.online", "camera.*", "*")  # subscribers cycle through exact, prefix, all


class Counter:
    """The handler on both sides: counts, and resolves `done` at the last event."""

    __slots__ = ("count", "done", "expected")

    def __init__(self, expected: int, done: asyncio.Future[None]) -> None:
        self.count = 0
        self.expected = expected
        self.done = done

    def __call__(self, event: Event) -> None:
        self.count += 1
        if self.count == self.expected:
            self.done.set_result(None)


def make_events(n: int) -> list[Event]:
    return [CameraOnline.create(camera_id=f"cam-{i % 200}", data={"n": i}) for i in range(n)]


async def run_bus(events: list[Event], subscribers: int) -> float:
    loop = asyncio.get_running_loop()
    bus = LocalBus()
    await bus.start()
    counters = []
    for i in range(subscribers):
        counter = Counter(len(events), loop.create_future())
        counters.append(counter)
        pattern = PATTERNS[i % len(PATTERNS)]
        bus.subscribe(pattern, counter, name=f"sub-{i}", maxsize=len(events))
    await asyncio.sleep(0)  # let the consumers reach their first wait
    start = time.perf_counter()
    for i, event in enumerate(events, 1):
        await bus.publish(event)
        if i % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*(c.done for c in counters))
    elapsed = time.perf_counter() - start
    assert all(s.dropped == 0 and s.failed == 0 for s in bus.stats())
    await bus.close()
    return elapsed


async def _queue_consumer(queue: asyncio.Queue[Event], handler: Counter) -> None:
    while True:
        handler(await queue.get())


async def run_baseline(events: list[Event], subscribers: int) -> float:
    loop = asyncio.get_running_loop()
    queues: list[asyncio.Queue[Event]] = [asyncio.Queue() for _ in range(subscribers)]
    counters = [Counter(len(events), loop.create_future()) for _ in range(subscribers)]
    tasks = [
        asyncio.create_task(_queue_consumer(q, c)) for q, c in zip(queues, counters, strict=True)
    ]
    await asyncio.sleep(0)
    start = time.perf_counter()
    for i, event in enumerate(events, 1):
        for queue in queues:
            queue.put_nowait(event)
        if i % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*(c.done for c in counters))
    elapsed = time.perf_counter() - start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return elapsed


async def main(n_events: int, repeats: int, subscriber_counts: list[int]) -> None:
    events = make_events(n_events)
    print(f"LocalBus vs asyncio.Queue fan-out: {n_events} events, {repeats} repetitions, medians")
    print(f"python {sys.version.split()[0]}, {sys.platform}")
    header = f"{'subs':>5} {'baseline ms':>12} {'bus ms':>9} {'ratio':>6}"
    header += f" {'bus deliveries/s':>17} {'bus us/delivery':>16}"
    print(header)
    for subscribers in subscriber_counts:
        bus_times: list[float] = []
        base_times: list[float] = []
        for _ in range(repeats):  # alternate the two so drift in the machine hits both alike
            gc.collect()
            base_times.append(await run_baseline(events, subscribers))
            gc.collect()
            bus_times.append(await run_bus(events, subscribers))
        base = statistics.median(base_times)
        bus = statistics.median(bus_times)
        deliveries = n_events * subscribers
        print(
            f"{subscribers:>5} {base * 1e3:>12.1f} {bus * 1e3:>9.1f} {bus / base:>6.2f}"
            f" {deliveries / bus:>17,.0f} {bus / deliveries * 1e6:>16.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--subscribers", default="1,10,50")
    args = parser.parse_args()
    counts = [int(part) for part in args.subscribers.split(",")]
    asyncio.run(main(args.events, args.repeats, counts))
