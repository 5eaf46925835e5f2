"""Tests of the event bus: matching, isolation, overflow, stats and shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError

from hub.bus import Bus, LocalBus, Overflow, Subscription, SubscriptionStats, parse_pattern
from hub.events import CameraOffline, CameraOnline, Context, Event


def ev(kind: str, n: int = 0, camera: str | None = None) -> Event:
    return Event(type=kind, camera_id=camera, data={"n": n})


def numbers(events: list[Event]) -> list[int]:
    return [e.data["n"] for e in events]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def bus() -> AsyncIterator[LocalBus]:
    local = LocalBus()
    await local.start()
    try:
        yield local
    finally:
        await local.close()


async def settle(bus: LocalBus) -> None:
    async with asyncio.timeout(2):
        await bus.wait_idle()


def by_name(bus: LocalBus, name: str) -> SubscriptionStats:
    return next(s for s in bus.stats() if s.name == name)


def test_local_bus_is_a_bus() -> None:
    local: Bus = LocalBus()
    assert isinstance(local, LocalBus)


# --- matching ---------------------------------------------------------------------------------


async def test_exact_pattern(bus: LocalBus) -> None:
    got: list[Event] = []
    bus.subscribe("camera.online", got.append, name="exact")
    for kind in ("camera.online", "camera.offline", "camera.online.extra", "camera", "hub.started"):
        await bus.publish(ev(kind))
    await settle(bus)
    assert [e.type for e in got] == ["camera.online"]


async def test_prefix_pattern(bus: LocalBus) -> None:
    got: list[Event] = []
    bus.subscribe("camera.*", got.append, name="prefix")
    kinds = ["camera.online", "camera", "camera.x.y", "cameras.online", "hub.started", "camera."]
    for kind in kinds:
        await bus.publish(ev(kind))
    await settle(bus)
    assert [e.type for e in got] == ["camera.online", "camera", "camera.x.y", "camera."]


async def test_star_pattern_gets_everything(bus: LocalBus) -> None:
    got: list[Event] = []
    bus.subscribe("*", got.append, name="all")
    kinds = ["camera.online", "hub.started", "tamper", "incident.opened"]
    for kind in kinds:
        await bus.publish(ev(kind))
    await settle(bus)
    assert [e.type for e in got] == kinds


async def test_filter(bus: LocalBus) -> None:
    got: list[Event] = []
    bus.subscribe("camera.*", got.append, name="c1", filter=lambda e: e.camera_id == "c1")
    await bus.publish(ev("camera.online", 1, camera="c1"))
    await bus.publish(ev("camera.online", 2, camera="c2"))
    await bus.publish(ev("camera.offline", 3, camera="c1"))
    await bus.publish(ev("motion.start", 4, camera="c1"))
    await settle(bus)
    assert numbers(got) == [1, 3]


@pytest.mark.parametrize("pattern", ["", "camera.*.online", "*.online", ".*", "camera..*", "ca*"])
def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="bad event pattern"):
        parse_pattern(pattern)
    with pytest.raises(ValueError, match="bad event pattern"):
        LocalBus().subscribe(pattern, lambda e: None, name="bad")


def test_maxsize_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        LocalBus().subscribe("*", lambda e: None, name="tiny", maxsize=0)


async def test_exact_and_prefix_subscribers_both_get_an_event(bus: LocalBus) -> None:
    exact: list[Event] = []
    prefix: list[Event] = []
    bus.subscribe("camera.online", exact.append, name="exact")
    bus.subscribe("camera.*", prefix.append, name="prefix")
    await bus.publish(ev("camera.online", 1))
    await settle(bus)
    assert numbers(exact) == numbers(prefix) == [1]


# --- the events themselves --------------------------------------------------------------------


def test_events_are_immutable() -> None:
    event = CameraOnline.create(camera_id="c1")
    with pytest.raises(ValidationError):
        event.camera_id = "c2"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        event.context.parent_id = "x"  # type: ignore[misc]
    assert event.camera_id == "c1"


def test_context_child_traces_cause_to_effect() -> None:
    cause = CameraOffline.create(camera_id="c1", context=Context(user_id="operator-7"))
    effect = cause.caused(CameraOnline)
    assert isinstance(effect, CameraOnline)
    assert effect.type == "camera.online"
    assert effect.camera_id == "c1"
    assert effect.context.parent_id == cause.context.id
    assert effect.context.id != cause.context.id
    assert effect.context.user_id == "operator-7"
    grandchild = effect.caused(Event, type="incident.opened")
    assert grandchild.context.parent_id == effect.context.id


@pytest.mark.parametrize(
    "event",
    [
        CameraOnline.create(camera_id="c1", data={"fps": 25.0, "codec": "h264"}),
        Event(type="plugin.custom", data={"nested": {"a": [1, 2]}}),
        CameraOffline.create(camera_id="c9", context=Context().child(user_id="u1")),
    ],
)
def test_wire_round_trip(event: Event) -> None:
    back = Event.parse_wire(event.model_dump(mode="json"))
    assert back == event
    assert type(back) is type(event)


# --- isolation and overflow -------------------------------------------------------------------


async def test_failing_subscriber_does_not_affect_another(
    bus: LocalBus, caplog: pytest.LogCaptureFixture
) -> None:
    good: list[Event] = []

    def bad(event: Event) -> None:
        if event.data["n"] % 2:
            raise ValueError(f"odd {event.data['n']}")

    bus.subscribe("camera.*", bad, name="bad")
    bus.subscribe("camera.*", good.append, name="good")
    with caplog.at_level(logging.ERROR, logger="hub.bus"):
        for n in range(10):
            await bus.publish(ev("camera.online", n, camera="c7"))
        await settle(bus)
    assert numbers(good) == list(range(10))
    stats = by_name(bus, "bad")
    assert (stats.delivered, stats.failed) == (5, 5)
    assert stats.last_error == "ValueError: odd 9"
    assert by_name(bus, "good").failed == 0
    records = [r for r in caplog.records if r.name == "hub.bus"]
    assert len(records) == 5
    assert records[0].__dict__["subscriber"] == "bad"
    assert records[0].__dict__["event_type"] == "camera.online"
    assert records[0].__dict__["camera"] == "c7"
    assert records[0].exc_info is not None


async def test_failing_async_subscriber_keeps_consuming(bus: LocalBus) -> None:
    seen: list[int] = []

    async def flaky(event: Event) -> None:
        await asyncio.sleep(0)
        seen.append(event.data["n"])
        if event.data["n"] == 1:
            raise RuntimeError("boom")

    bus.subscribe("*", flaky, name="flaky")
    for n in range(4):
        await bus.publish(ev("x", n))
    await settle(bus)
    assert seen == [0, 1, 2, 3]
    assert by_name(bus, "flaky").failed == 1


async def test_failing_filter_counts_for_its_subscriber_only(bus: LocalBus) -> None:
    good: list[Event] = []
    bad: list[Event] = []

    def broken(event: Event) -> bool:
        return bool(1 // event.data["n"])

    bus.subscribe("*", bad.append, name="bad-filter", filter=broken)
    bus.subscribe("*", good.append, name="good")
    for n in (0, 1, 0):
        await bus.publish(ev("x", n))
    await settle(bus)
    assert numbers(good) == [0, 1, 0]
    assert numbers(bad) == [1]
    stats = by_name(bus, "bad-filter")
    assert (stats.delivered, stats.failed) == (1, 2)
    assert stats.last_error == "filter: ZeroDivisionError: integer division or modulo by zero"


async def test_handler_cancelling_its_own_work_is_a_failure_not_a_stop(bus: LocalBus) -> None:
    seen: list[int] = []

    async def handler(event: Event) -> None:
        seen.append(event.data["n"])
        if event.data["n"] == 0:
            raise asyncio.CancelledError

    bus.subscribe("*", handler, name="self-cancel")
    await bus.publish(ev("x", 0))
    await bus.publish(ev("x", 1))
    await settle(bus)
    assert seen == [0, 1]
    assert by_name(bus, "self-cancel").failed == 1


@pytest.mark.parametrize(
    ("overflow", "kept"),
    [(Overflow.DROP_OLDEST, [0, 7, 8, 9]), (Overflow.DROP_NEWEST, [0, 1, 2, 3])],
)
async def test_hanging_subscriber_only_stalls_itself(
    bus: LocalBus, overflow: Overflow, kept: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    gate = asyncio.Event()
    slow: list[Event] = []
    fast: list[Event] = []

    async def hanging(event: Event) -> None:
        await gate.wait()
        slow.append(event)

    bus.subscribe("camera.*", hanging, name="browser", maxsize=3, overflow=overflow)
    bus.subscribe("camera.*", fast.append, name="fast")
    await bus.publish(ev("camera.online", 0))
    await asyncio.sleep(0)  # the slow consumer takes event 0 and hangs on it
    with caplog.at_level(logging.WARNING, logger="hub.bus"):
        async with asyncio.timeout(1):  # publish never waits for the hanging handler
            for n in range(1, 10):
                await bus.publish(ev("camera.online", n))
        await asyncio.sleep(0.01)
    assert numbers(fast) == list(range(10))

    stats = by_name(bus, "browser")
    assert (stats.queued, stats.dropped, stats.delivered, stats.overflow) == (3, 6, 0, overflow)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # the first drop warns, the next five are only counted
    assert "browser" in warnings[0].getMessage()

    gate.set()
    await settle(bus)
    assert numbers(slow) == kept
    stats = by_name(bus, "browser")
    assert (stats.queued, stats.dropped, stats.delivered) == (0, 6, 4)


async def test_overflow_warnings_are_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    local = LocalBus(clock=clock)  # not started: events wait in the queue
    local.subscribe("*", lambda e: None, name="slow", maxsize=1)
    with caplog.at_level(logging.WARNING, logger="hub.bus"):
        await local.publish(ev("x", 0))
        for n in range(1, 6):  # five drops at the same instant: one warning
            await local.publish(ev("x", n))
        clock.now += 5
        await local.publish(ev("x", 6))  # still within 10 s: counted only
        clock.now += 5
        await local.publish(ev("x", 7))  # 10 s after the first warning: warns with the count
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "dropped 1 events (1 in all)" in messages[0]
    assert "dropped 6 events (7 in all)" in messages[1]
    assert local.stats()[0].dropped == 7
    await local.close()


# --- stats, sync handlers, subscribe and cancel -----------------------------------------------


async def test_stats_are_visible(bus: LocalBus) -> None:
    bus.subscribe("camera.online", lambda e: None, name="a", maxsize=5)
    sub = bus.subscribe("*", lambda e: None, name="b", overflow=Overflow.DROP_NEWEST)
    await bus.publish(ev("camera.online"))
    await bus.publish(ev("hub.started"))
    await settle(bus)
    assert bus.stats() == [
        SubscriptionStats("a", "camera.online", 5, 0, 1, 0, 0, Overflow.DROP_OLDEST, None),
        SubscriptionStats("b", "*", 1000, 0, 2, 0, 0, Overflow.DROP_NEWEST, None),
    ]
    assert sub.stats() == bus.stats()[1]
    assert (sub.name, sub.pattern) == ("b", "*")


async def test_sync_and_async_handlers_keep_order(bus: LocalBus) -> None:
    sync_got: list[int] = []
    async_got: list[int] = []

    def sync_handler(event: Event) -> None:
        sync_got.append(event.data["n"])

    async def async_handler(event: Event) -> None:
        await asyncio.sleep(0)
        async_got.append(event.data["n"])

    bus.subscribe("*", sync_handler, name="sync")
    bus.subscribe("*", async_handler, name="async")
    for n in range(300):
        await bus.publish(ev("x", n))
    await settle(bus)
    assert sync_got == async_got == list(range(300))


async def test_unsubscribe(bus: LocalBus) -> None:
    got: list[Event] = []
    sub = bus.subscribe("camera.*", got.append, name="gone")
    await bus.publish(ev("camera.online", 1))
    await settle(bus)
    await sub.cancel()
    await sub.cancel()  # twice is fine
    assert not sub.active
    await bus.publish(ev("camera.online", 2))
    await settle(bus)
    assert numbers(got) == [1]
    assert [s.name for s in bus.stats()] == []


async def test_unsubscribe_awaits_a_busy_consumer(bus: LocalBus) -> None:
    cancelled = asyncio.Event()

    async def hanging(event: Event) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    sub = bus.subscribe("*", hanging, name="hanging")
    await bus.publish(ev("x"))
    await asyncio.sleep(0)
    await sub.cancel()
    assert cancelled.is_set()
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_subscribe_from_inside_a_handler(bus: LocalBus) -> None:
    late: list[Event] = []
    subs: list[Subscription] = []

    def first(event: Event) -> None:
        if not subs:
            subs.append(bus.subscribe("camera.*", late.append, name="late"))

    bus.subscribe("hub.started", first, name="first")
    await bus.publish(ev("hub.started"))
    await settle(bus)
    await bus.publish(ev("camera.online", 5))
    await settle(bus)
    assert numbers(late) == [5]


async def test_cancel_from_inside_own_handler(bus: LocalBus) -> None:
    got: list[int] = []
    subs: list[Subscription] = []

    async def once(event: Event) -> None:
        got.append(event.data["n"])
        await subs[0].cancel()

    subs.append(bus.subscribe("*", once, name="once"))
    await bus.publish(ev("x", 1))
    await bus.publish(ev("x", 2))
    await settle(bus)
    await bus.publish(ev("x", 3))
    await settle(bus)
    assert got == [1]
    assert bus.stats() == []
    await asyncio.sleep(0)
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("bus-subscriber")]


async def test_events_published_before_start_are_delivered_at_start() -> None:
    local = LocalBus()
    got: list[Event] = []
    local.subscribe("*", got.append, name="early")
    await local.publish(ev("x", 1))
    with pytest.raises(RuntimeError, match="not started"):
        await local.wait_idle()
    await local.start()
    await settle(local)
    assert numbers(got) == [1]
    await local.close()


# --- shutdown ---------------------------------------------------------------------------------


async def test_close_awaits_every_consumer() -> None:
    local = LocalBus()
    await local.start()
    gate = asyncio.Event()

    async def hanging(event: Event) -> None:
        await gate.wait()

    local.subscribe("*", hanging, name="hanging")
    local.subscribe("*", lambda e: None, name="idle")
    await local.publish(ev("x"))
    await asyncio.sleep(0)
    await local.close()
    await local.close()  # idempotent
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert [s.name for s in local.stats()] == ["hanging", "idle"]  # final counters stay visible
    with pytest.raises(RuntimeError, match="closed"):
        await local.publish(ev("x"))
    with pytest.raises(RuntimeError, match="closed"):
        local.subscribe("*", lambda e: None, name="late")
    with pytest.raises(RuntimeError, match="closed"):
        await local.start()


async def test_concurrent_closes_both_wait() -> None:
    local = LocalBus()
    await local.start()
    local.subscribe("*", lambda e: None, name="a")
    await asyncio.gather(local.close(), local.close())
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_close_can_drain_first() -> None:
    local = LocalBus()
    await local.start()
    got: list[int] = []

    async def slowish(event: Event) -> None:
        await asyncio.sleep(0.001)
        got.append(event.data["n"])

    local.subscribe("*", slowish, name="slowish")
    for n in range(20):
        await local.publish(ev("x", n))
    await local.close(drain_timeout=2)
    assert got == list(range(20))
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_close_drain_gives_up_after_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    local = LocalBus()
    await local.start()

    async def hanging(event: Event) -> None:
        await asyncio.Event().wait()

    local.subscribe("*", hanging, name="hanging")
    await local.publish(ev("x"))
    with caplog.at_level(logging.WARNING, logger="hub.bus"):
        await local.close(drain_timeout=0.05)
    assert "still busy" in caplog.text
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_close_from_inside_a_handler() -> None:
    local = LocalBus()
    await local.start()
    done = asyncio.Event()

    async def closer(event: Event) -> None:
        await local.close()
        done.set()

    local.subscribe("*", closer, name="closer")
    local.subscribe("*", lambda e: None, name="other")
    await local.publish(ev("x"))
    async with asyncio.timeout(1):
        await done.wait()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == {asyncio.current_task()}
