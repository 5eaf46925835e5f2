"""The delivery worker: sends due outbox jobs through Apprise, retries failures, paces chats.

Each job holds one Apprise URL, so Apprise's result for the call is that one service's result.
A failed job is retried alone, with capped exponential backoff and jitter, until it is older
than `give_up_after`. Every message ends with a `ref: <idempotency key>` line, the same on every
retry, so that a receiver can drop the repeats that at-least-once delivery brings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import apprise

from hub.incidents.outbox import AttemptResult, ClaimedJob, JobState, Outbox, channel_secrets
from hub.logs import redactor
from hub.store.models import utcnow

log = logging.getLogger(__name__)
log.addFilter(redactor)

REFERENCE_PREFIX = "ref: "
_MAX_ERROR = 1000
_MIN_SLEEP = 0.01
_MAX_IDLE_BUCKETS = 256


def with_reference(body: str, idempotency_key: str) -> str:
    """The message body with its job's idempotency key as the last line."""
    return f"{body}\n\n{REFERENCE_PREFIX}{idempotency_key}"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `per_second` messages a second on one rate key, after a burst of `burst`."""

    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs per_second > 0 and burst >= 1")


DEFAULT_RATE_LIMIT = RateLimit(per_second=1.0)
"""Telegram's advice for one chat: about one message a second."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between the attempts of one job: 5 s, 15 s, 45 s, ... up to 10 min, +-20 %."""

    first: float = 5.0
    factor: float = 3.0
    cap: float = 600.0
    jitter: float = 0.2

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after the `failures`-th failed attempt."""
        base = min(self.cap, self.first * self.factor ** max(0, failures - 1))
        # Jitter, so that jobs that failed together do not all come back together.
        return min(self.cap, base * rng.uniform(1 - self.jitter, 1 + self.jitter))


class _Bucket:
    """A token bucket for one rate key; a token is spent when a send ends, one send at a time.

    Spending at the end means the next message starts a full interval after the previous one
    was handed over, so the receiver sees them at least that far apart.
    """

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens", "busy")

    def __init__(self, limit: RateLimit, now: float) -> None:
        self._rate = limit.per_second
        self._burst = float(limit.burst)
        self._tokens = float(limit.burst)
        self._stamp = now
        self.busy = False

    def wait(self, now: float) -> float:
        """Seconds until a send may start on this key; 0 when it may start now."""
        if self.busy:
            return 1.0 / self._rate
        self._refill(now)
        return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self._rate

    def take(self) -> None:
        """A send starts."""
        self.busy = True

    def spend(self, now: float) -> None:
        """The send ended: one token is gone."""
        self._refill(now)
        self._tokens -= 1.0
        self.busy = False

    def idle(self, now: float) -> bool:
        """Full and unused: forgetting it changes nothing."""
        self._refill(now)
        return not self.busy and self._tokens >= self._burst

    def _refill(self, now: float) -> None:
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now


class DeliveryWorker:
    """Claims due jobs from the outbox and sends them, one task per job, until stopped."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        clock: Callable[[], datetime] = utcnow,
        rate_limits: Mapping[str, RateLimit] | None = None,
        default_rate_limit: RateLimit = DEFAULT_RATE_LIMIT,
        backoff: Backoff | None = None,
        give_up_after: timedelta = timedelta(hours=24),
        send_timeout: float = 60.0,
        concurrency: int = 8,
        poll_interval: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        if timedelta(seconds=send_timeout) >= outbox.lease:
            raise ValueError("the outbox lease must outlast send_timeout, or a slow send repeats")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._outbox = outbox
        self._clock = clock
        # Keyed by a whole rate key (`tgram:-1001234`) or by its prefix before ':' (`tgram`).
        self._rate_limits = dict(rate_limits or {})
        self._default_rate_limit = default_rate_limit
        self._backoff = backoff or Backoff()
        self._give_up_after = give_up_after
        self._send_timeout = send_timeout
        self._concurrency = concurrency
        self._poll_interval = poll_interval
        self._rng = rng or random.Random()
        self._buckets: dict[str, _Bucket] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        """Start claiming and sending in the background."""
        if self._loop_task is not None:
            return
        self._stopping = False
        self._unsubscribe = self._outbox.on_change(self._wake.set)
        self._loop_task = asyncio.create_task(self._run(), name="delivery-worker")

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; wait up to `grace` seconds (default: the send timeout) for sends.

        Sends still running then are cancelled and their jobs handed back to the outbox, to be
        sent again: a receiver may see such a message twice, with the same reference.
        """
        task, self._loop_task = self._loop_task, None
        self._stopping = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if task is not None:
            task.cancel()
            # wait(), not `await task`: a cancellation of stop() itself must not be swallowed.
            await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                log.error("the delivery worker had stopped: %r", task.exception())
        if self._sending:
            wait = self._send_timeout + 1.0 if grace is None else grace
            _, late = await asyncio.wait(set(self._sending), timeout=wait)
            for straggler in late:
                straggler.cancel()
            if late:
                await asyncio.wait(late)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                if await self._claim_and_dispatch():
                    continue  # a full batch: there may be more due right now
                delay = await self._sleep_time()
            except Exception:
                log.exception("delivery worker: the outbox failed; trying again")
                delay = self._poll_interval
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
            # arrives just as the event is set, and stop() would wait for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _claim_and_dispatch(self) -> bool:
        free = self._concurrency - len(self._sending)
        if free <= 0:
            return False
        now = time.monotonic()
        waiting = [key for key, bucket in self._buckets.items() if bucket.wait(now) > 0]
        jobs = await self._outbox.due(self._clock(), free, skip_rate_keys=waiting)
        for job in jobs:
            await self._dispatch(job)
        self._forget_idle_buckets()
        return len(jobs) == free

    async def _sleep_time(self) -> float:
        now = self._clock()
        upcoming = await self._outbox.next_due_at(now)
        seconds = self._poll_interval
        if upcoming is not None:
            seconds = min(seconds, (upcoming - now).total_seconds())
        # A rate key with room again may have jobs waiting; a busy one wakes us when it ends.
        monotonic = time.monotonic()
        for bucket in self._buckets.values():
            wait = bucket.wait(monotonic)
            if wait > 0 and not bucket.busy:
                seconds = min(seconds, wait)
        return max(_MIN_SLEEP, seconds)

    async def _dispatch(self, job: ClaimedJob) -> None:
        bucket = self._bucket(job.rate_key) if job.rate_key else None
        if bucket is not None:
            if bucket.wait(time.monotonic()) > 0:
                # Claimed before its key ran out of room (keys are skipped, not locked): not an
                # attempt, back to the outbox as it was, first in its key's line.
                await self._outbox.release(job.id)
                return
            bucket.take()
        task = asyncio.create_task(self._deliver(job, bucket), name=f"deliver-{job.id}")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver(self, job: ClaimedJob, bucket: _Bucket | None) -> None:
        try:
            result = await self._attempt(job)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self._outbox.release(job.id)
            raise
        finally:
            if bucket is not None:
                bucket.spend(time.monotonic())
        try:
            state = await self._outbox.finish(job.id, result)
        except Exception:
            # Its lease runs out and it is sent again: a repeat, never a loss.
            log.exception("could not record the result of %s; it will be sent again", _name(job))
            return
        finally:
            self._wake.set()
        self._report(job, result, state)

    async def _attempt(self, job: ClaimedJob) -> AttemptResult:
        # Before Apprise sees the URL: from here on no log line can carry its secrets.
        redactor.add(channel_secrets(job.channel_url))
        notifier = apprise.Apprise()
        if not notifier.add(job.channel_url):
            return self._failed(job, "not a valid Apprise URL", permanent=True)
        attach = await self._attachment(job)
        try:
            outcome = await notifier.async_notify(
                body=with_reference(job.body, job.idempotency_key),
                title=job.title,
                body_format=apprise.NotifyFormat.TEXT,
                attach=attach,
                timeout=self._send_timeout,
            )
        except Exception as error:  # Apprise reports failures as results; this is a bug
            return self._failed(job, f"{type(error).__name__}: {error}")
        with outcome:
            if outcome:
                return AttemptResult(delivered=True, at=self._clock())
            return self._failed(job, _failure_text(outcome, self._send_timeout))

    async def _attachment(self, job: ClaimedJob) -> apprise.AppriseAttachment | None:
        if job.attachment is None:
            return None
        if not await asyncio.to_thread(os.path.isfile, job.attachment):
            # An alert without its picture beats no alert.
            log.warning("%s: attachment %s is gone; sending without it", _name(job), job.attachment)
            return None
        return apprise.AppriseAttachment(job.attachment)

    def _failed(self, job: ClaimedJob, error: str, *, permanent: bool = False) -> AttemptResult:
        now = self._clock()
        error = redactor.redact(error)[:_MAX_ERROR]
        if permanent or now - job.due_since >= self._give_up_after:
            return AttemptResult(delivered=False, at=now, error=error)
        retry_at = now + timedelta(seconds=self._backoff.delay(job.attempts, self._rng))
        return AttemptResult(delivered=False, at=now, error=error, retry_at=retry_at)

    def _report(self, job: ClaimedJob, result: AttemptResult, state: JobState) -> None:
        name = _name(job)
        if state == JobState.DELIVERED:
            log.info("delivered %s (attempt %d)", name, job.attempts)
        elif state == JobState.PENDING:
            log.warning(
                "could not deliver %s (attempt %d): %s; next try at %s",
                name,
                job.attempts,
                result.error,
                result.retry_at.isoformat() if result.retry_at else "?",
            )
        elif state == JobState.FAILED:
            log.error(
                "gave up delivering %s after %d attempts: %s", name, job.attempts, result.error
            )
        elif state == JobState.SUPERSEDED:
            log.info("%s is superseded: another channel of its failover group got through", name)

    def _bucket(self, key: str) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            limit = (
                self._rate_limits.get(key)
                or self._rate_limits.get(key.partition(":")[0])
                or self._default_rate_limit
            )
            bucket = self._buckets[key] = _Bucket(limit, time.monotonic())
        return bucket

    def _forget_idle_buckets(self) -> None:
        if len(self._buckets) <= _MAX_IDLE_BUCKETS:
            return
        now = time.monotonic()
        for key in [key for key, bucket in self._buckets.items() if bucket.idle(now)]:
            del self._buckets[key]


def _name(job: ClaimedJob) -> str:
    """How a job appears in logs: its incident, responder, masked channel and reference."""
    return (
        f"notification {job.idempotency_key} of incident {job.incident_id}"
        f" to {job.responder} via {job.channel}"
    )


def _failure_text(outcome: apprise.AppriseResult, timeout: float) -> str:
    if outcome.status == apprise.AppriseResultStatus.TIMEOUT:
        return f"TIMEOUT: no answer within {timeout:g} s"
    seen: list[str] = []
    for entry in outcome.logs():
        if entry.level in ("WARNING", "ERROR", "CRITICAL") and entry.message not in seen:
            seen.append(entry.message)
    return f"{outcome.status.name}: {' | '.join(seen) or 'the service refused the message'}"
