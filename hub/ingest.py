"""Webhook ingest: events an owner's own system sends in, published as ordinary device events.

For sites the hub cannot reach (no VPN, no public address), the owner's system posts its
cameras' events to `POST /api/ingest/events` with a token of the `ingest` scope. Each event is
checked (a device event type, one of the sender's owner's cameras, a sane time and size), taken
once per owner and event id, across restarts, and published as the class a vendor plugin
publishes for the same thing, so rules and incidents treat both alike. See docs/access.md.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import delete, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.access import Principal, PrincipalKind
from hub.bus import Bus
from hub.events import (
    DEVICE_EVENTS,
    Context,
    Event,
)
from hub.registry import CameraRecord
from hub.store import Database, unbroken
from hub.store.models import ID_LENGTH, IngestedEventRow, utcnow

log = logging.getLogger(__name__)

MAX_EVENTS = 100
"""Events in one request; more are refused whole (400): send them in several requests."""
MAX_BODY = 256 * 1024
"""Bytes of one request's body, counted while it is read (413 past it)."""
MAX_DATA = 8 * 1024
"""Bytes of one event's `data`, as compact JSON."""
MAX_ID = 128
"""Characters of the sender's event id."""
MAX_AHEAD = timedelta(minutes=5)
"""How far ahead of the hub's clock an event's time may be (the sender's clock drifts a bit)."""
RETENTION = timedelta(days=7)
"""How long an event id is remembered; older events are refused, so a resend is always known."""
PRUNE_EVERY = 3600.0
"""Seconds between two prunings of forgotten event ids (done by the request that notices)."""
BURST = 100
"""Events one sender (token, user or the admin token) may send at once..."""
RATE = 10.0
"""...and per second after that: a token bucket."""

RESERVED = ("incident", "camera", "access", "audit", "hub", "stream", "usage", "plugin", "activity")
"""Areas of the hub's own events: nobody outside may raise an incident or take a camera down."""

STATES = ("start", "end", "pulse")
OBJECTS = ("person", "vehicle")
TEXT_FIELDS = ("zone", "region", "detail", "kind")
"""`data` fields rules read; when given they must be short text."""
HUB_FIELDS = ("source", "origin", "ingest_id")
"""`data` fields the hub sets on every ingested event, whatever the sender put there."""

Status = Literal["accepted", "duplicate", "rejected"]


class IngestRefused(Exception):
    """A request ingest takes nothing of; `status` is the HTTP answer, the message says why."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


class SentEvent(BaseModel):
    """One event as an owner's system sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=MAX_ID)
    type: str = Field(min_length=1, max_length=ID_LENGTH)
    camera: str = Field(min_length=1, max_length=ID_LENGTH)
    time: datetime | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise PydanticCustomError("printable", "must be printable characters only")
        return value

    @field_validator("type")
    @classmethod
    def _device_event(cls, value: str) -> str:
        if value in DEVICE_EVENTS:
            return value
        area = value.split(".", 1)[0]
        if area in RESERVED:
            raise PydanticCustomError(
                "reserved",
                "{type} is one of the hub's own events ({area}.*): an owner's system sends "
                "device events only: {known}",
                {"type": repr(value), "area": area, "known": ", ".join(DEVICE_EVENTS)},
            )
        raise PydanticCustomError(
            "unknown_type",
            "{type} is not a device event the hub's rules know: send one of {known}",
            {"type": repr(value), "known": ", ".join(DEVICE_EVENTS)},
        )

    @field_validator("time", mode="before")
    @classmethod
    def _iso_with_zone(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, str):
            raise PydanticCustomError("iso_time", "must be an ISO 8601 time with its zone")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "iso_time",
                "must be an ISO 8601 time with its zone, such as 2026-11-26T08:30:00+07:00",
            ) from None
        if parsed.tzinfo is None:
            raise PydanticCustomError(
                "iso_time", "needs its zone (Z, +07:00): a bare local time is ambiguous"
            )
        return parsed

    @field_validator("data")
    @classmethod
    def _qualifiers(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        if size > MAX_DATA:
            raise PydanticCustomError(
                "too_large",
                "is {size} bytes as JSON; at most {limit}",
                {"size": size, "limit": MAX_DATA},
            )
        for name, allowed in (("state", STATES), ("object", OBJECTS)):
            if name in value and value[name] not in allowed:
                raise PydanticCustomError(
                    "qualifier",
                    "{name} must be one of {allowed}",
                    {"name": name, "allowed": ", ".join(allowed)},
                )
        for name in TEXT_FIELDS:
            given = value.get(name)
            if given is not None and not (isinstance(given, str) and 0 < len(given) <= 200):
                raise PydanticCustomError(
                    "qualifier", "{name} must be text of 1 to 200 characters", {"name": name}
                )
        return value

    @model_validator(mode="after")
    def _state_fits_type(self) -> SentEvent:
        state = self.data.get("state")
        if (self.type, state) in (("motion.start", "end"), ("motion.end", "start")):
            raise PydanticCustomError(
                "state",
                "data.state {state} contradicts type {type}",
                {"state": state, "type": self.type},
            )
        return self


def explain(error: ValidationError) -> str:
    """A pydantic error as one line for the sender: `field: what is wrong`, joined by `; `."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(parts)


def bus_event(sent: SentEvent, at: datetime, user_id: str | None) -> Event:
    """The bus event for a sent event: the vendor plugins' class and data layout for it.

    `source` is `device` (the owner's system reports its cameras' own analytics, so a rule's
    `sources: [device]` takes it), `origin` is `ingest`, `ingest_id` the sender's id. A missing
    `state` comes from the type (motion) or is `pulse`; `zone` defaults to `region` and a
    tamper's `kind` to its `detail`, as `hub.devices.bus_event` does. The sender's user is
    `context.user_id`, for the audit log.
    """
    data = dict(sent.data)
    if sent.type == "motion.start":
        data.setdefault("state", "start")
    elif sent.type == "motion.end":
        data["state"] = "end"
    else:
        data.setdefault("state", "pulse")
    if sent.type.startswith("motion.") and data.get("region") is not None:
        data.setdefault("zone", data["region"])
    if sent.type == "tamper":
        data.setdefault("kind", data.get("detail") or "tamper")
    data.update(source="device", origin="ingest", ingest_id=sent.id)
    return DEVICE_EVENTS[sent.type].create(
        camera_id=sent.camera, time=at, context=Context(user_id=user_id), data=data
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one event of a request."""

    index: int
    id: str | None
    status: Status
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """As the answer lists it."""
        answer: dict[str, Any] = {"index": self.index, "id": self.id, "status": self.status}
        if self.reason is not None:
            answer["reason"] = self.reason
        return answer


@dataclass(slots=True)
class _Bucket:
    level: float
    at: float


class SendingRate:
    """A token bucket per sender: `burst` events at once, then `rate` a second."""

    def __init__(
        self,
        burst: int = BURST,
        rate: float = RATE,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < MAX_EVENTS:
            raise ValueError(f"the burst must allow one full request ({MAX_EVENTS} events)")
        if rate <= 0:
            raise ValueError("the rate must be more than 0 events a second")
        self.burst = burst
        self.rate = rate
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, sender: str, count: int) -> float:
        """Take `count` events from the sender's bucket: 0.0, or the seconds until they fit."""
        now = self._clock()
        bucket = self._buckets.setdefault(sender, _Bucket(float(self.burst), now))
        bucket.level = min(float(self.burst), bucket.level + (now - bucket.at) * self.rate)
        bucket.at = now
        if count <= bucket.level:
            bucket.level -= count
            return 0.0
        return (count - bucket.level) / self.rate

    def forget_idle(self) -> None:
        """Drop the buckets that are full again: they hold nothing a new one would not."""
        now = self._clock()
        for sender, bucket in list(self._buckets.items()):
            if bucket.level + (now - bucket.at) * self.rate >= self.burst:
                del self._buckets[sender]


class IngestReceipts:
    """The event ids each owner sent lately, in the store: an id is taken once."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @unbroken
    async def take(self, keys: Sequence[tuple[str, str]], at: datetime) -> set[tuple[str, str]]:
        """Record (owner, event id) pairs; answer those that were not recorded before."""
        if not keys:
            return set()
        insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        rows = [{"owner_id": owner, "event_id": id_, "received_at": at} for owner, id_ in keys]
        statement = (
            insert(IngestedEventRow)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["owner_id", "event_id"])
            .returning(IngestedEventRow.owner_id, IngestedEventRow.event_id)
        )
        async with self._db.session() as session:
            taken = {(row[0], row[1]) for row in await session.execute(statement)}
            await session.commit()
        return taken

    @unbroken
    async def give_back(self, keys: Sequence[tuple[str, str]]) -> None:
        """Forget pairs taken but not published, so that the sender's resend is taken."""
        if not keys:
            return
        pair = tuple_(IngestedEventRow.owner_id, IngestedEventRow.event_id)
        async with self._db.session() as session:
            await session.execute(delete(IngestedEventRow).where(pair.in_(list(keys))))
            await session.commit()

    @unbroken
    async def prune(self, before: datetime) -> int:
        """Forget ids received before `before`; how many."""
        async with self._db.session() as session:
            result = await session.execute(
                delete(IngestedEventRow)
                .where(IngestedEventRow.received_at < before)
                .returning(IngestedEventRow.event_id)
            )
            await session.commit()
            return len(result.all())


def sender_key(principal: Principal) -> str:
    """Whose bucket a request draws on: its token, its user's session, or the admin token."""
    if principal.kind is PrincipalKind.TOKEN:
        return f"token:{principal.token_id}"
    if principal.kind is PrincipalKind.ADMIN_TOKEN:
        return "admin-token"
    return f"user:{principal.user_id}"


def sender_name(principal: Principal) -> str:
    """The sender in a log line: a token's id (never the token), a user, or the admin token."""
    if principal.kind is PrincipalKind.TOKEN:
        return f"token {principal.token_id} of {principal.name}"
    if principal.kind is PrincipalKind.ADMIN_TOKEN:
        return "the admin token"
    return f"user {principal.name}"


@dataclass(frozen=True, slots=True)
class _Checked:
    index: int
    key: tuple[str, str]
    """The owner and the sender's event id."""
    event: Event


class WebhookIngest:
    """Checks, deduplicates and publishes the events owners' systems send in."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        camera: Callable[[str], Awaitable[CameraRecord | None]],
        *,
        rate: SendingRate | None = None,
        retention: timedelta = RETENTION,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.receipts = IngestReceipts(db)
        self.rate = rate or SendingRate()
        self.retention = retention
        self._bus = bus
        self._camera = camera
        self._now = now
        self._pruned_at = -math.inf

    async def receive(self, principal: Principal, sent: Sequence[object]) -> list[Outcome]:
        """Take a request's events: one outcome each, in order; IngestRefused if too fast."""
        wait = self.rate.take(sender_key(principal), len(sent))
        if wait > 0:
            seconds = math.ceil(wait)
            log.debug(
                "ingest from %s refused: too fast, %d s to wait", sender_name(principal), seconds
            )
            raise IngestRefused(
                429,
                f"too many events: {self.rate.burst} at once, then {self.rate.rate:g} a second; "
                f"nothing of this request was taken, send it again in {seconds} s",
                retry_after=seconds,
            )
        await self._prune_now_and_then()
        now = self._now()
        outcomes: dict[int, Outcome] = {}
        checked: dict[tuple[str, str], _Checked] = {}
        cameras: dict[str, CameraRecord | None] = {}
        for index, item in enumerate(sent):
            found = await self._check(index, item, principal, now, cameras)
            if isinstance(found, Outcome):
                outcomes[index] = found
            elif found.key in checked:
                outcomes[index] = Outcome(index, found.key[1], "duplicate")
            else:
                checked[found.key] = found
        taken = await self.receipts.take(list(checked), now)
        unsent: list[tuple[str, str]] = []
        for key, item in checked.items():
            if key not in taken:
                outcomes[item.index] = Outcome(item.index, key[1], "duplicate")
                continue
            if unsent:
                unsent.append(key)
                continue
            try:
                await self._bus.publish(item.event)
            except RuntimeError:  # the bus closed: the hub is stopping
                unsent.append(key)
                continue
            outcomes[item.index] = Outcome(item.index, key[1], "accepted")
        if unsent:
            await self.receipts.give_back(unsent)
            for key in unsent:
                index = checked[key].index
                outcomes[index] = Outcome(
                    index, key[1], "rejected", "the hub is stopping: send it again later"
                )
        answer = [outcomes[index] for index in range(len(sent))]
        self._log(principal, answer, checked)
        return answer

    async def _check(
        self,
        index: int,
        item: object,
        principal: Principal,
        now: datetime,
        cameras: dict[str, CameraRecord | None],
    ) -> _Checked | Outcome:
        if not isinstance(item, dict):
            return Outcome(index, None, "rejected", "an event is a JSON object")
        given_id = item.get("id")
        shown_id = given_id if isinstance(given_id, str) and len(given_id) <= MAX_ID else None
        try:
            sent = SentEvent.model_validate(item)
        except ValidationError as error:
            return Outcome(index, shown_id, "rejected", explain(error))
        if sent.camera not in cameras:
            cameras[sent.camera] = await self._camera(sent.camera)
        camera = cameras[sent.camera]
        owner = principal.owner
        if camera is None or (owner is not None and camera.owner != owner):
            # Another owner's camera reads like no camera: its id tells nothing either.
            whose = f" of {owner}" if owner is not None else ""
            return Outcome(index, sent.id, "rejected", f"camera: no camera {sent.camera!r}{whose}")
        # A disabled camera is one the hub does not watch, most often the very one it cannot
        # reach: its owner's system is then the only one that can tell what it sees.
        at = now if sent.time is None else sent.time
        if at > now + MAX_AHEAD:
            ahead = int(MAX_AHEAD.total_seconds() // 60)
            return Outcome(
                index,
                sent.id,
                "rejected",
                f"time: more than {ahead} minutes ahead of the hub's clock (check the sender's)",
            )
        if at < now - self.retention:
            days = self.retention.days
            return Outcome(
                index,
                sent.id,
                "rejected",
                f"time: older than {days} days: a resend could not be told from a new event",
            )
        return _Checked(index, (camera.owner, sent.id), bus_event(sent, at, principal.user_id))

    async def _prune_now_and_then(self) -> None:
        clock = time.monotonic()
        if clock - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = clock
        self.rate.forget_idle()
        forgotten = await self.receipts.prune(self._now() - self.retention)
        if forgotten:
            log.info("ingest: forgot %d event ids older than %s", forgotten, self.retention)

    @staticmethod
    def _log(
        principal: Principal, answer: list[Outcome], checked: dict[tuple[str, str], _Checked]
    ) -> None:
        counts = {status: 0 for status in ("accepted", "duplicate", "rejected")}
        for outcome in answer:
            counts[outcome.status] += 1
        cameras = sorted({str(item.event.camera_id) for item in checked.values()})
        refused = next((o for o in answer if o.status == "rejected"), None)
        # A sender that gets everything refused is an integration to fix: worth an info line.
        log.log(
            logging.INFO if refused is not None else logging.DEBUG,
            "ingest from %s: %d accepted, %d duplicate, %d rejected (cameras: %s)%s",
            sender_name(principal),
            counts["accepted"],
            counts["duplicate"],
            counts["rejected"],
            ", ".join(cameras) or "none",
            f"; the first rejected, #{refused.index}: {refused.reason}" if refused else "",
        )
