"""A device's events through an ONVIF PullPoint subscription, kept alive until the session ends.

The subscription asks for a relative termination time (`PT60S`: camera clocks lie, so an
absolute one would be wrong), is renewed early (at 2/3 of the time the device granted, as its
own CurrentTime and TerminationTime say), and PullMessages is called in a loop, each call
waiting no longer than the next renewal. When a renewal or a pull fails the subscription is
taken as lost: every condition it had started is ended at once with `raw={"stale": True, ...}`
(no event is left dangling on a state nobody watches any more), and a new subscription is made.
New subscriptions are rate limited, at most one per `resubscribe_every` seconds (30), and
failing ones back off further. A refused login is not retried here: it ends the iterator with
`AuthenticationFailed` (or `ClockSkew`) and the hub tries again minutes later, so a wrong
password never locks the camera's account; a device without the events service ends it with
`Unsupported`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from hub.streams.reconnect import Backoff, ReconnectPolicy
from hub.vendors import (
    AuthenticationFailed,
    BadPayload,
    CameraEvent,
    ClockSkew,
    Unsupported,
    VendorError,
)
from plugins.onvif.client import ReplyCapture, normalize_url, plain
from plugins.onvif.const import EVENTS_NS, PULLPOINT_NS
from plugins.onvif.errors import Refused
from plugins.onvif.parsers import EventContext, read_events

if TYPE_CHECKING:
    from plugins.onvif.session import OnvifSession

T = TypeVar("T")
_BAD_ANSWERS_BEFORE_LOST = 3
_UNSUBSCRIBE_WAIT = 2.0


@dataclass(frozen=True, slots=True)
class EventTiming:
    """How the PullPoint subscription is kept; the defaults suit real cameras."""

    termination: float = 60.0
    """Seconds of subscription asked for, as a relative InitialTerminationTime."""
    renew_share: float = 2 / 3
    """Renew when this share of the granted time has passed."""
    pull_wait: float = 10.0
    """PullMessages' Timeout: how long the device may hold a pull with nothing to say."""
    message_limit: int = 100
    resubscribe_every: float = 30.0
    """At most one new subscription per this many seconds."""
    policy: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    """Further backoff when subscribing fails."""


class SubscriptionGate:
    """At most one new subscription per `every` seconds, on a monotonic clock."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.last: float | None = None

    def delay(self, now: float) -> float:
        """Seconds to wait before the next subscription may be made."""
        return 0.0 if self.last is None else max(0.0, self.last + self.every - now)

    def opened(self, now: float) -> None:
        """A subscription attempt is made now."""
        self.last = now


@dataclass(slots=True)
class Subscription:
    """One live PullPoint subscription."""

    pullpoint: Any
    manager: Any
    renew_at: float
    context: EventContext
    bad_answers: int = 0


class _Lost(Exception):
    """The subscription is gone (renewal or pull failed)."""


class _Closed(Exception):
    """The session was closed while waiting."""


def _granted(answer: Any, asked: float) -> float:
    """Seconds the device granted, by its own clock; `asked` when it does not say."""
    if isinstance(answer, dict):
        current, termination = answer.get("CurrentTime"), answer.get("TerminationTime")
        if isinstance(current, datetime) and isinstance(termination, datetime):
            with contextlib.suppress(TypeError):
                seconds = (termination - current).total_seconds()
                if seconds > 0:
                    return seconds
    return asked


def _relative(seconds: float) -> str:
    return f"PT{max(1, round(seconds))}S"


def _condition_key(event: CameraEvent) -> tuple[Any, ...]:
    raw = event.raw
    source = tuple(sorted(dict(raw.get("source") or {}).items()))
    key = tuple(sorted(dict(raw.get("key") or {}).items()))
    return (event.raw_topic, event.kind, event.channel, event.detail, source, key)


class PullPointEvents:
    """The event loop of one session: subscribe, pull, renew, resubscribe."""

    def __init__(self, session: OnvifSession, timing: EventTiming) -> None:
        self.session = session
        self.timing = timing
        self.gate = SubscriptionGate(timing.resubscribe_every)
        self.backoff = Backoff(timing.policy)
        self.capture = ReplyCapture()
        self.subscription: Subscription | None = None
        self.started: dict[tuple[Any, ...], CameraEvent] = {}
        self.running = False
        self._retry_at = 0.0

    async def run(self) -> AsyncIterator[CameraEvent]:
        """Events until the session closes; a lost subscription ends its conditions first."""
        if self.running:
            raise RuntimeError(f"camera {self.session.name!r}: events are read by one reader")
        self.running = True
        try:
            async with contextlib.aclosing(self._run()) as events:
                async for event in events:
                    yield event
        finally:
            self.running = False

    async def _run(self) -> AsyncGenerator[CameraEvent, None]:
        session = self.session
        while not session.closed:
            try:
                subscription = await self._subscribe_when_allowed()
                while True:
                    for event in await self._next_batch(subscription):
                        self._track(event)
                        yield event
            except _Closed:
                return
            except _Lost as lost:
                if session.closed:
                    return
                session.log.warning(
                    "camera %r: event subscription lost (%s); subscribing again", session.name, lost
                )
            for event in self._stale():
                yield event
            await self._drop()

    def _track(self, event: CameraEvent) -> None:
        if event.state == "start":
            self.started[_condition_key(event)] = event
        elif event.state == "end":
            self.started.pop(_condition_key(event), None)

    def _stale(self) -> list[CameraEvent]:
        """End events for every condition the lost subscription had started."""
        ended = [
            CameraEvent(
                kind=event.kind,
                state="end",
                raw_topic=event.raw_topic,
                raw={
                    "stale": True,
                    "source": dict(event.raw.get("source") or {}),
                    "key": dict(event.raw.get("key") or {}),
                },
                channel=event.channel,
                object=event.object,
                detail=event.detail,
                region=event.region,
            )
            for event in self.started.values()
        ]
        self.started.clear()
        return ended

    async def _until_closed(self, work: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
        """`work`'s result, or `_Closed` as soon as the session closes."""
        task = asyncio.ensure_future(work)
        closing = asyncio.ensure_future(self.session.closing.wait())
        try:
            await asyncio.wait({task, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            if not task.done():
                task.cancel()
                try:
                    await task
                except BaseException:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise
        if task.cancelled():
            raise _Closed
        return task.result()

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.session.closing.wait(), seconds)
        if self.session.closed:
            raise _Closed

    async def _subscribe_when_allowed(self) -> Subscription:
        """A new subscription, waiting for the rate limit and the backoff between tries.

        A refused login ends the events (`AuthenticationFailed`, `ClockSkew`): the hub tries
        again much later, as knocking locks accounts; so does a device without the events
        service (`Unsupported`). A fault or an unreachable device is tried again here.
        """
        while True:
            now = time.monotonic()
            await self._sleep(max(self.gate.delay(now), self._retry_at - now))
            self.gate.opened(time.monotonic())
            try:
                subscription = await self._until_closed(self._subscribe())
            except (AuthenticationFailed, ClockSkew):
                raise
            except Unsupported as exc:
                if not isinstance(exc, Refused):
                    raise
                self._failed(exc)
            except VendorError as exc:
                self._failed(exc)
            else:
                self.backoff.succeeded()
                self._retry_at = 0.0
                self.subscription = subscription
                return subscription

    def _failed(self, exc: VendorError) -> None:
        """Put the next subscription attempt off after a failed one, and say so."""
        delay = max(self.backoff.failed(time.monotonic()), self.timing.resubscribe_every)
        self._retry_at = time.monotonic() + delay
        self.session.log.warning(
            "camera %r: event subscription failed: %s; next try in %.0f s",
            self.session.name,
            exc,
            delay,
        )

    async def _subscribe(self) -> Subscription:
        session = self.session
        timing = self.timing
        events = await session.service("events")
        answer = plain(
            await session.call(
                events,
                "CreatePullPointSubscription",
                {"InitialTerminationTime": _relative(timing.termination)},
            )
        )
        address = None
        if isinstance(answer, dict):
            reference = (answer.get("SubscriptionReference") or {}).get("Address")
            address = reference.get("_value_1") if isinstance(reference, dict) else reference
        camera = await session.device()
        fallback = camera.xaddrs.get(EVENTS_NS)
        camera.xaddrs[PULLPOINT_NS] = normalize_url(str(address).strip()) if address else fallback
        pullpoint = await session.service("pullpoint", "PullPointSubscription")
        manager = await session.service("subscription", "PullPointSubscription")
        plugins = pullpoint.zeep_client.plugins
        if self.capture not in plugins:
            plugins.append(self.capture)
        try:
            context = EventContext(await session.channel_map())
        except VendorError:
            context = EventContext()
        granted = _granted(answer, timing.termination)
        session.log.debug("camera %r: subscribed to events for %.0f s", session.name, granted)
        return Subscription(
            pullpoint=pullpoint,
            manager=manager,
            renew_at=time.monotonic() + granted * timing.renew_share,
            context=context,
        )

    async def _renew(self, subscription: Subscription) -> None:
        session = self.session
        try:
            answer = await self._until_closed(
                session.call(
                    subscription.manager,
                    "Renew",
                    {"TerminationTime": _relative(self.timing.termination)},
                )
            )
        except VendorError as exc:
            raise _Lost(f"renewal failed: {exc}") from None
        granted = _granted(plain(answer), self.timing.termination)
        subscription.renew_at = time.monotonic() + granted * self.timing.renew_share

    async def _next_batch(self, subscription: Subscription) -> list[CameraEvent]:
        """One PullMessages (renewing first when due): the events it brought."""
        session = self.session
        if time.monotonic() >= subscription.renew_at:
            await self._renew(subscription)
        wait = min(self.timing.pull_wait, max(0.5, subscription.renew_at - time.monotonic()))
        params = {"Timeout": timedelta(seconds=wait), "MessageLimit": self.timing.message_limit}
        self.capture.envelope = None
        try:
            await self._until_closed(
                session.call(
                    subscription.pullpoint,
                    "PullMessages",
                    params,
                    wait=wait + session.access.timeout,
                )
            )
        except BadPayload as exc:
            if self.capture.envelope is None:
                subscription.bad_answers += 1
                session.payloads.malformed("PullMessages answer", "", exc)
                if subscription.bad_answers >= _BAD_ANSWERS_BEFORE_LOST:
                    raise _Lost("the device keeps sending unreadable answers") from None
                await self._sleep(min(1.0, wait))
                return []
            # zeep could not map the answer to its schema, but the XML is there to read.
        except VendorError as exc:
            raise _Lost(f"pull failed: {exc}") from None
        subscription.bad_answers = 0
        envelope, self.capture.envelope = self.capture.envelope, None
        if envelope is None:
            return []
        return read_events(envelope, subscription.context, session.payloads)

    async def _drop(self) -> None:
        """Forget the current subscription, telling the device when it still listens."""
        subscription, self.subscription = self.subscription, None
        if subscription is None:
            return
        with contextlib.suppress(VendorError):
            await self.session.call(subscription.manager, "Unsubscribe", wait=_UNSUBSCRIBE_WAIT)

    async def unsubscribe(self) -> None:
        """End the current subscription on the device (the session is closing)."""
        await self._drop()
