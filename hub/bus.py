"""The event bus: every part of Pantau publishes and subscribes to typed events here.

`Bus` is the interface; `LocalBus` is the in-process implementation used by a single node.
Each subscription owns a bounded queue and one consumer task, so a slow or failing subscriber
only ever hurts itself. See docs/events.md for patterns, the overflow policy and the stats.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeAlias

from hub.events import Event

__all__ = [
    "Bus",
    "EventFilter",
    "Handler",
    "LocalBus",
    "Overflow",
    "Subscription",
    "SubscriptionStats",
]

logger = logging.getLogger("hub.bus")

Handler: TypeAlias = Callable[[Event], Awaitable[None] | None]
"""A subscriber's callback: a plain function or a coroutine function taking the event."""

EventFilter: TypeAlias = Callable[[Event], bool]

WARN_INTERVAL = 10.0
"""Seconds between two overflow warnings of one subscription (the first drop always warns)."""

_MATCH_CACHE_LIMIT = 4096
_BATCH = 64


class Overflow(StrEnum):
    """What a full subscription queue does with one more event."""

    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"


@dataclass(frozen=True, slots=True)
class SubscriptionStats:
    """A snapshot of one subscription's counters."""

    name: str
    pattern: str
    maxsize: int
    queued: int
    delivered: int
    dropped: int
    failed: int
    overflow: Overflow
    last_error: str | None


class Bus(Protocol):
    """What publishers and subscribers rely on; a NATS JetStream bus implements it too."""

    async def start(self) -> None:
        """Start delivering to subscribers."""

    async def close(self) -> None:
        """Stop every subscription and wait for its consumer; calling it again does nothing."""

    async def publish(self, event: Event) -> None:
        """Hand `event` to every matching subscriber without waiting for any of them."""

    def subscribe(
        self,
        pattern: str,
        handler: Handler,
        *,
        name: str,
        filter: EventFilter | None = None,
        maxsize: int = 1000,
        overflow: Overflow = Overflow.DROP_OLDEST,
    ) -> Subscription:
        """Call `handler` for each event whose type matches `pattern` (and `filter`)."""
        ...

    def stats(self) -> list[SubscriptionStats]:
        """The counters of every subscription."""
        ...


def parse_pattern(pattern: str) -> tuple[str | None, str | None]:
    """Split a pattern into (exact type, prefix); `*` is the empty prefix."""
    if pattern == "*":
        return None, ""
    if pattern.endswith(".*"):
        prefix = pattern[:-2]
        if prefix and "*" not in prefix and not prefix.endswith("."):
            return None, prefix
    elif pattern and "*" not in pattern:
        return pattern, None
    raise ValueError(f"bad event pattern {pattern!r}: use 'a.b' exactly, 'a.*' or '*'")


def _log_extra(name: str, event: Event) -> dict[str, Any]:
    extra: dict[str, Any] = {"subscriber": name, "event_type": event.type}
    if event.camera_id is not None:
        extra["camera"] = event.camera_id
    return extra


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Subscription:
    """One subscriber: its bounded queue, its consumer task and its counters."""

    __slots__ = (
        "_clock",
        "_filter",
        "_handler",
        "_idle",
        "_last_warning",
        "_on_cancel",
        "_queue",
        "_stopped",
        "_task",
        "_unreported",
        "_wakeup",
        "delivered",
        "dropped",
        "failed",
        "last_error",
        "maxsize",
        "name",
        "overflow",
        "pattern",
    )

    def __init__(
        self,
        pattern: str,
        handler: Handler,
        *,
        name: str,
        filter: EventFilter | None = None,
        maxsize: int = 1000,
        overflow: Overflow = Overflow.DROP_OLDEST,
        on_cancel: Callable[[Subscription], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"subscription {name!r}: maxsize must be at least 1, not {maxsize}")
        self.name = name
        self.pattern = pattern
        self.maxsize = maxsize
        self.overflow = Overflow(overflow)
        self.delivered = 0
        self.dropped = 0
        self.failed = 0
        self.last_error: str | None = None
        self._handler = handler
        self._filter = filter
        self._on_cancel = on_cancel
        self._clock = clock
        self._queue: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._last_warning: float | None = None
        self._unreported = 0

    def __repr__(self) -> str:
        return f"<Subscription {self.name!r} {self.pattern!r} queued={len(self._queue)}>"

    @property
    def active(self) -> bool:
        """Whether the subscription still accepts events."""
        return not self._stopped

    def stats(self) -> SubscriptionStats:
        """A snapshot of this subscription's counters."""
        return SubscriptionStats(
            name=self.name,
            pattern=self.pattern,
            maxsize=self.maxsize,
            queued=len(self._queue),
            delivered=self.delivered,
            dropped=self.dropped,
            failed=self.failed,
            overflow=self.overflow,
            last_error=self.last_error,
        )

    async def cancel(self) -> None:
        """Unsubscribe and wait for the consumer to finish; from its own handler it stops after."""
        task = self._stop()
        if task is not None:
            await _wait_cancelled([task])

    def offer(self, event: Event) -> None:
        """Queue `event` if it passes the filter, applying the overflow policy when full."""
        if self._stopped:
            return
        if self._filter is not None:
            try:
                if not self._filter(event):
                    return
            except Exception as exc:
                self._fail(event, exc, "filter")
                return
        queue = self._queue
        if len(queue) >= self.maxsize:
            if self.overflow is Overflow.DROP_NEWEST:
                self._drop(event)
                return
            self._drop(queue.popleft())
        queue.append(event)
        self._idle.clear()
        self._wakeup.set()

    def start(self) -> None:
        """Start the consumer task in the running loop (once)."""
        if self._task is None and not self._stopped:
            self._task = asyncio.get_running_loop().create_task(
                self._consume(), name=f"bus-subscriber:{self.name}"
            )

    @property
    def running(self) -> bool:
        """Whether a consumer task is delivering this subscription's queue."""
        return self._task is not None and not self._task.done() and not self._stopped

    async def wait_idle(self) -> None:
        """Wait until the queue is empty and no handler runs."""
        await self._idle.wait()

    def _stop(self) -> asyncio.Task[None] | None:
        """Stop accepting events; cancel the consumer and return it unless it is the caller."""
        if not self._stopped:
            self._stopped = True
            if self._on_cancel is not None:
                self._on_cancel(self)
            if self._unreported:
                logger.warning(
                    "subscriber %s stopped after dropping %d more events (%d in all)",
                    self.name,
                    self._unreported,
                    self.dropped,
                    extra={"subscriber": self.name},
                )
                self._unreported = 0
        self._idle.set()
        task = self._task
        if task is None or task.done() or task is asyncio.current_task():
            # From inside its own handler: the consumer sees `_stopped` and returns.
            return None
        task.cancel()
        return task

    def _drop(self, event: Event) -> None:
        self.dropped += 1
        self._unreported += 1
        now = self._clock()
        if self._last_warning is not None and now - self._last_warning < WARN_INTERVAL:
            return
        self._last_warning = now
        logger.warning(
            "subscriber %s is too slow: queue of %d full (%s), dropped %d events (%d in all)",
            self.name,
            self.maxsize,
            self.overflow.value,
            self._unreported,
            self.dropped,
            extra=_log_extra(self.name, event),
        )
        self._unreported = 0

    def _fail(self, event: Event, exc: BaseException, where: str) -> None:
        self.failed += 1
        self.last_error = _describe(exc) if where == "handler" else f"{where}: {_describe(exc)}"
        logger.error(
            "subscriber %s: %s failed on %s",
            self.name,
            where,
            event.type,
            exc_info=exc,
            extra=_log_extra(self.name, event),
        )

    async def _consume(self) -> None:
        try:
            await self._deliver_queued()
        finally:
            # However the consumer ends, nobody may wait for it to become idle.
            self._idle.set()

    async def _deliver_queued(self) -> None:
        queue = self._queue
        handler = self._handler
        in_a_row = 0
        while not self._stopped:
            if not queue:
                in_a_row = 0
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            in_a_row += 1
            if in_a_row % _BATCH == 0:
                # Fast sync handlers never suspend: let the rest of the hub run now and then.
                await asyncio.sleep(0)
                if self._stopped or not queue:
                    continue
            event = queue.popleft()
            try:
                result = handler(event)
                if result is not None and inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                # The handler's own work was cancelled, not this consumer.
                self._fail(event, exc, "handler")
            except Exception as exc:
                self._fail(event, exc, "handler")
            else:
                self.delivered += 1


async def _wait_cancelled(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for cancelled consumers without swallowing a cancellation of the caller."""
    if not tasks:
        return
    await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "bus consumer %s ended with an error", task.get_name(), exc_info=task.exception()
            )


class LocalBus:
    """The in-process bus: fan-out to per-subscription bounded queues in one event loop."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._subscriptions: list[Subscription] = []
        self._exact: dict[str, list[Subscription]] = {}
        self._prefixed: list[tuple[str, str, Subscription]] = []
        self._matches: dict[str, tuple[Subscription, ...]] = {}
        self._started = False
        self._closed = False
        self._closing: asyncio.Future[None] | None = None

    @property
    def started(self) -> bool:
        """Whether start() ran and close() has not."""
        return self._started and not self._closed

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._closed

    async def start(self) -> None:
        """Start the consumer of every subscription made so far."""
        if self._closed:
            raise RuntimeError("the event bus is closed and cannot start again")
        self._started = True
        for subscription in self._subscriptions:
            subscription.start()

    async def close(self, drain_timeout: float = 0) -> None:
        """Stop every subscription and await its consumer, after draining up to `drain_timeout`."""
        if self._closing is not None:
            await asyncio.shield(self._closing)
            return
        self._closing = asyncio.get_running_loop().create_future()
        try:
            if drain_timeout > 0 and self._started:
                try:
                    async with asyncio.timeout(drain_timeout):
                        await self.wait_idle()
                except TimeoutError:
                    logger.warning("event bus: subscribers still busy after %.1f s", drain_timeout)
            self._closed = True
            # Subscriptions stay listed so their final counters remain visible in stats().
            tasks = [task for sub in self._subscriptions if (task := sub._stop()) is not None]
            await _wait_cancelled(tasks)
        finally:
            self._closed = True
            self._closing.set_result(None)

    async def publish(self, event: Event) -> None:
        """Queue `event` for every matching subscriber; never waits for one of them."""
        if self._closed:
            raise RuntimeError(f"cannot publish {event.type!r}: the event bus is closed")
        subscriptions = self._matches.get(event.type)
        if subscriptions is None:
            subscriptions = self._resolve(event.type)
        for subscription in subscriptions:
            subscription.offer(event)

    def subscribe(
        self,
        pattern: str,
        handler: Handler,
        *,
        name: str,
        filter: EventFilter | None = None,
        maxsize: int = 1000,
        overflow: Overflow = Overflow.DROP_OLDEST,
    ) -> Subscription:
        """Call `handler` for each event whose type matches `pattern` (and `filter`)."""
        if self._closed:
            raise RuntimeError(f"cannot subscribe {name!r}: the event bus is closed")
        exact, prefix = parse_pattern(pattern)
        subscription = Subscription(
            pattern,
            handler,
            name=name,
            filter=filter,
            maxsize=maxsize,
            overflow=overflow,
            on_cancel=self._remove,
            clock=self._clock,
        )
        if exact is not None:
            self._exact.setdefault(exact, []).append(subscription)
        else:
            assert prefix is not None
            self._prefixed.append((prefix, prefix + "." if prefix else "", subscription))
        self._subscriptions.append(subscription)
        self._matches.clear()
        if self._started:
            subscription.start()
        return subscription

    def stats(self) -> list[SubscriptionStats]:
        """The counters of every subscription, in the order they subscribed."""
        return [subscription.stats() for subscription in self._subscriptions]

    async def wait_idle(self) -> None:
        """Wait until every running subscription has an empty queue and no handler running."""
        if not self._started and any(sub._queue for sub in self._subscriptions):
            raise RuntimeError("the event bus is not started: queued events cannot drain")
        while True:
            # A handler may publish to a subscription already seen idle: loop until all are.
            busy = [sub for sub in self._subscriptions if sub.running and not sub._idle.is_set()]
            if not busy:
                return
            for subscription in busy:
                await subscription.wait_idle()

    def _resolve(self, event_type: str) -> tuple[Subscription, ...]:
        found = list(self._exact.get(event_type, ()))
        for prefix, prefix_dot, subscription in self._prefixed:
            if not prefix or event_type == prefix or event_type.startswith(prefix_dot):
                found.append(subscription)
        matches = tuple(found)
        if len(self._matches) >= _MATCH_CACHE_LIMIT:
            self._matches.clear()
        self._matches[event_type] = matches
        return matches

    def _remove(self, subscription: Subscription) -> None:
        if self._closed:
            return
        exact = self._exact.get(subscription.pattern)
        if exact is not None and subscription in exact:
            exact.remove(subscription)
            if not exact:
                del self._exact[subscription.pattern]
        self._prefixed = [entry for entry in self._prefixed if entry[2] is not subscription]
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        self._matches.clear()
