"""Two-person mask lifts: one person asks to see a camera without its masks, another approves.

An operator asks, for a stated reason and a bounded time; an admin who is not the same
person approves or refuses. The lift takes effect at approval and ends by itself `seconds`
later; a request nobody answers lapses after `answer_within`. While a lift is in force the
stream engine sends the camera's snapshots and live pictures unmasked (`StreamEngine.lift_masks`)
and the clip exporter asks `lifted(camera_id)`. Every step is an audit record (`mask.lift`)
and an event (`mask.lift_requested`, `mask.lifted`, `mask.restored`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from hub.access.roles import PrincipalKind
from hub.audit import HUB, Action, Actor
from hub.events import Context, Event, MaskLifted, MaskLiftRequested, MaskRestored
from hub.store.database import unbroken
from hub.store.models import MaskLiftRow, utcnow
from hub.streams.privacy import privacy_mask

if TYPE_CHECKING:
    from hub.audit import AuditLog
    from hub.bus import Bus
    from hub.registry import CameraRecord
    from hub.store import Database
    from hub.streams.engine import StreamEngine

log = logging.getLogger(__name__)

MAX_MINUTES = 60
"""The longest a lift may last."""
ANSWER_WITHIN = timedelta(minutes=15)
"""How long a request waits for a second person before it lapses."""
MAX_REASON = 1000
"""Characters of a reason kept (the audit record's purpose column holds as many)."""
STOP_GRACE = 10.0
"""Seconds `stop` waits for a lift being ended to be ended in full."""


class LiftState(StrEnum):
    """Where a lift stands."""

    PENDING = "pending"
    """Asked, waiting for a second person."""
    ACTIVE = "active"
    """Approved: the camera is shown without its masks until `ends_at`."""
    EXPIRED = "expired"
    """Ran out (approved and over), or lapsed (nobody answered in time)."""
    DENIED = "denied"
    """Refused by the second person."""


@dataclass(frozen=True, slots=True)
class MaskLift:
    """One lift, as stored."""

    id: str
    camera_id: str
    owner_id: str
    reason: str
    seconds: int
    requested_by: str
    requester: str
    """Who asked, as the two-person rule compares people (never shown)."""
    requested_at: datetime
    answer_by: datetime
    decision: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    ends_at: datetime | None = None
    ended_at: datetime | None = None

    def state(self, now: datetime) -> LiftState:
        """The lift's state at `now`."""
        if self.decision == "denied":
            return LiftState.DENIED
        if self.decision == "approved":
            ended = self.ended_at is not None or (self.ends_at is not None and now >= self.ends_at)
            return LiftState.EXPIRED if ended else LiftState.ACTIVE
        if self.ended_at is not None or now >= self.answer_by:
            return LiftState.EXPIRED
        return LiftState.PENDING

    def deadline(self) -> datetime | None:
        """When the lift changes by itself next: a pending request lapses, an active one ends."""
        if self.ended_at is not None or self.decision == "denied":
            return None
        return self.ends_at if self.decision == "approved" else self.answer_by

    def as_dict(self, now: datetime) -> dict[str, Any]:
        """The lift as the API shows it."""
        return {
            "id": self.id,
            "camera": self.camera_id,
            "owner": self.owner_id,
            "state": self.state(now).value,
            "reason": self.reason,
            "minutes": round(self.seconds / 60, 2),
            "requested_by": self.requested_by,
            "requested_at": self.requested_at.isoformat(),
            "answer_by": self.answer_by.isoformat(),
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
        }


class LiftRefused(Exception):
    """A lift could not be asked for, approved or refused; `status` is the HTTP answer's."""

    status = 409


class LiftNotFound(LiftRefused):
    """No lift has that id."""

    status = 404


class SamePerson(LiftRefused):
    """The one who asked tried to approve."""

    status = 403


UNNAMED = PrincipalKind.ADMIN_TOKEN.value
"""How `person` names the hub's admin token: anyone at the console, so nobody in particular."""


class Unnamed(LiftRefused):
    """The admin token tried to ask or approve: the two-person rule needs named people."""

    status = 403


def _named(person: str, what: str) -> None:
    if person == UNNAMED:
        raise Unnamed(
            f"{what} a mask lift needs a named person: the admin token is whoever sits at the"
            " hub's console, so sign in (or use a user's token) instead"
        )


class BadLift(LiftRefused):
    """The request itself is wrong (no reason, a duration out of bounds)."""

    status = 400


def _lift(row: MaskLiftRow) -> MaskLift:
    return MaskLift(
        id=row.id,
        camera_id=row.camera_id,
        owner_id=row.owner_id,
        reason=row.reason,
        seconds=row.seconds,
        requested_by=row.requested_by,
        requester=row.requester,
        requested_at=row.requested_at,
        answer_by=row.answer_by,
        decision=row.decision,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        ends_at=row.ends_at,
        ended_at=row.ended_at,
    )


class MaskLifts:
    """The hub's mask lifts: asked, decided, in force, ended; `lifted` answers at once."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        audit: AuditLog,
        streams: Callable[[], StreamEngine | None],
        *,
        answer_within: timedelta = ANSWER_WITHIN,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._bus = bus
        self._audit = audit
        self._streams = streams
        self.answer_within = answer_within
        self._clock = clock
        self._open: dict[str, MaskLift] = {}
        """Lifts not ended yet (pending or approved), by id."""
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- lifecycle

    async def start(self) -> None:
        """Take up the lifts a previous run left open, and end each at its time."""
        async with self._db.session() as session:
            rows = await session.scalars(select(MaskLiftRow).where(MaskLiftRow.ended_at.is_(None)))
            for row in rows:
                lift = _lift(row)
                if lift.decision != "denied":
                    self._open[lift.id] = lift
        for lift in self._open.values():
            if lift.decision == "approved" and lift.ends_at is not None:
                self._apply(lift)
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._expire(), name="masks:expiry")

    async def stop(self) -> None:
        """Stop ending lifts (they end at their time after a restart, or at once if it passed).

        A lift being ended is ended in full first, its audit record too: cut between its row
        and its record, the record would be lost for good, as a restart sees the lift ended.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._changed.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_GRACE)
        except TimeoutError:  # the store hangs: give up on it, the masks are back anyway
            log.warning("mask lifts: ending a lift took over %.0f s at stop", STOP_GRACE)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the question the exporters ask

    def lifted(self, camera_id: str) -> bool:
        """Whether an approved lift of the camera is in force now: send its pictures unmasked."""
        now = self._clock()
        return any(
            lift.camera_id == camera_id and lift.state(now) is LiftState.ACTIVE
            for lift in self._open.values()
        )

    # -- asking and deciding

    @unbroken
    async def request(
        self,
        camera: CameraRecord,
        *,
        reason: str,
        seconds: int,
        actor: Actor,
        person: str,
        source: str | None = None,
    ) -> MaskLift:
        """Ask to lift the camera's masks for `seconds` once approved; pending until then.

        `person` is who asks, as `approve` compares people: a user's id, or the admin token.
        """
        _named(person, "asking for")
        reason = " ".join(reason.split())[:MAX_REASON]
        if not reason:
            raise BadLift("state the reason for seeing the camera without its privacy masks")
        if not 0 < seconds <= MAX_MINUTES * 60:
            raise BadLift(f"a lift lasts 1 to {MAX_MINUTES} minutes")
        try:
            masked = privacy_mask(camera.options) is not None
        except ValueError as exc:  # such a camera shows nothing at all: a lift would not help
            raise LiftRefused(
                f"camera {camera.id!r} has malformed privacy masks ({exc}): fix them first"
            ) from None
        if not masked:
            raise LiftRefused(
                f"camera {camera.id!r} has no privacy masks: there is nothing to lift"
            )
        now = self._clock()
        for lift in self._open.values():
            state = lift.state(now)
            if lift.camera_id == camera.id and state in (LiftState.PENDING, LiftState.ACTIVE):
                raise LiftRefused(
                    f"camera {camera.id!r} already has a {state.value} mask lift ({lift.id}):"
                    " wait for it to end, or have it refused"
                )
        lift = MaskLift(
            id=uuid.uuid4().hex,
            camera_id=camera.id,
            owner_id=camera.owner,
            reason=reason,
            seconds=seconds,
            requested_by=actor.name or actor.id,
            requester=person,
            requested_at=now,
            answer_by=now + self.answer_within,
        )
        async with self._db.session() as session, session.begin():
            session.add(
                MaskLiftRow(
                    id=lift.id,
                    camera_id=lift.camera_id,
                    owner_id=lift.owner_id,
                    reason=lift.reason,
                    seconds=lift.seconds,
                    requested_by=lift.requested_by,
                    requester=lift.requester,
                    requested_at=lift.requested_at,
                    answer_by=lift.answer_by,
                )
            )
        await self._record(lift, "requested", actor, source, minutes=round(seconds / 60, 2))
        self._open[lift.id] = lift
        self._changed.set()
        await self._publish(
            MaskLiftRequested,
            lift,
            actor,
            reason=lift.reason,
            minutes=round(seconds / 60, 2),
            by=lift.requested_by,
        )
        log.info(
            "mask lift %s of camera %s asked by %s for %d s",
            lift.id,
            camera.id,
            lift.requested_by,
            seconds,
            extra={"camera": camera.id},
        )
        return lift

    async def approve(
        self, lift_id: str, *, actor: Actor, person: str, source: str | None = None
    ) -> MaskLift:
        """Approve a pending lift: the camera is shown unmasked from now for its `seconds`."""
        lift = await self._pending(lift_id)
        _named(person, "approving")
        if person == lift.requester:
            raise SamePerson(
                "a second person must approve: you asked for this lift yourself, so another"
                " admin has to approve it"
            )
        now = self._clock()
        ends_at = now + timedelta(seconds=lift.seconds)
        lift = await self._decide(
            lift, decision="approved", by=actor.name or actor.id, at=now, ends_at=ends_at
        )
        await self._record(
            lift,
            "approved",
            actor,
            source,
            until=ends_at.isoformat(),
            requested_by=lift.requested_by,
        )
        self._open[lift.id] = lift
        self._changed.set()
        self._apply(lift)
        await self._publish(
            MaskLifted,
            lift,
            actor,
            until=ends_at.isoformat(),
            requested_by=lift.requested_by,
            approved_by=lift.decided_by,
        )
        log.warning(
            "privacy masks of camera %s lifted until %s (asked by %s, approved by %s)",
            lift.camera_id,
            ends_at.isoformat(timespec="seconds"),
            lift.requested_by,
            lift.decided_by,
            extra={"camera": lift.camera_id},
        )
        return lift

    async def deny(
        self, lift_id: str, *, actor: Actor, person: str, source: str | None = None
    ) -> MaskLift:
        """Refuse a pending lift (the one who asked may withdraw it this way too)."""
        lift = await self._pending(lift_id)
        now = self._clock()
        lift = await self._decide(lift, decision="denied", by=actor.name or actor.id, at=now)
        withdrawn = person == lift.requester
        await self._record(lift, "denied", actor, source, withdrawn=withdrawn)
        self._open.pop(lift.id, None)
        self._changed.set()
        return lift

    async def get(self, lift_id: str) -> MaskLift | None:
        """One lift, or None."""
        async with self._db.session() as session:
            row = await session.get(MaskLiftRow, lift_id)
            return _lift(row) if row is not None else None

    async def find(
        self,
        *,
        states: Sequence[LiftState] = (),
        camera_id: str | None = None,
        limit: int = 100,
    ) -> list[MaskLift]:
        """Lifts, newest first; only those in `states` when given."""
        query = select(MaskLiftRow).order_by(MaskLiftRow.requested_at.desc())
        if camera_id is not None:
            query = query.where(MaskLiftRow.camera_id == camera_id)
        if not states:
            query = query.limit(limit)
        async with self._db.session() as session:
            found = [_lift(row) for row in await session.scalars(query)]
        now = self._clock()
        if states:
            found = [lift for lift in found if lift.state(now) in states][:limit]
        return found

    def now(self) -> datetime:
        """The service's time (the tests' clock in tests)."""
        return self._clock()

    # -- inside

    async def _pending(self, lift_id: str) -> MaskLift:
        lift = await self.get(lift_id)
        if lift is None:
            raise LiftNotFound(f"no mask lift {lift_id!r}")
        state = lift.state(self._clock())
        if state is not LiftState.PENDING:
            raise LiftRefused(
                f"mask lift {lift_id} is {state.value}, not pending: only a pending request"
                " can be approved or refused (ask again if it is still needed)"
            )
        return lift

    @unbroken
    async def _decide(
        self,
        lift: MaskLift,
        *,
        decision: str,
        by: str,
        at: datetime,
        ends_at: datetime | None = None,
    ) -> MaskLift:
        ended_at = at if decision == "denied" else None
        async with self._db.session() as session, session.begin():
            # Only a row nobody decided yet: of two admins approving at once, one wins.
            result = await session.execute(
                update(MaskLiftRow)
                .where(
                    MaskLiftRow.id == lift.id,
                    MaskLiftRow.decision.is_(None),
                    MaskLiftRow.ended_at.is_(None),
                )
                .values(
                    decision=decision,
                    decided_by=by,
                    decided_at=at,
                    ends_at=ends_at,
                    ended_at=ended_at,
                )
            )
        if getattr(result, "rowcount", 1) != 1:
            raise LiftRefused(f"mask lift {lift.id} was decided by someone else meanwhile")
        return replace(
            lift,
            decision=decision,
            decided_by=by,
            decided_at=at,
            ends_at=ends_at,
            ended_at=ended_at,
        )

    def _apply(self, lift: MaskLift) -> None:
        streams = self._streams()
        if streams is not None and lift.ends_at is not None:
            streams.lift_masks(lift.camera_id, lift.ends_at.timestamp())

    async def _expire(self) -> None:
        """End each open lift at its deadline: lapse unanswered requests, restore masks."""
        while not self._stopping:
            self._changed.clear()
            now = self._clock()
            due = [lift for lift in self._open.values() if (lift.deadline() or now) <= now]
            for lift in due:
                try:
                    await self._end(lift, now)
                except Exception:  # the store hiccuped: the masks are back anyway; retry later
                    log.exception("could not end mask lift %s", lift.id)
            deadlines = [d for lift in self._open.values() if (d := lift.deadline()) is not None]
            wait = max(0.05, (min(deadlines) - now).total_seconds()) if deadlines else 3600.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(wait, 3600.0))

    @unbroken
    async def _end(self, lift: MaskLift, now: datetime) -> None:
        if lift.decision == "approved":
            streams = self._streams()
            if streams is not None:
                streams.restore_masks(lift.camera_id)  # first: pictures are masked at once
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(MaskLiftRow).where(MaskLiftRow.id == lift.id).values(ended_at=now)
            )
        self._open.pop(lift.id, None)
        if lift.decision == "approved":
            await self._record(lift, "expired", HUB, None, until=_iso(lift.ends_at))
            await self._publish(MaskRestored, lift, HUB, why="expired")
            log.info(
                "privacy masks of camera %s are back: the lift ran out",
                lift.camera_id,
                extra={"camera": lift.camera_id},
            )
        else:
            await self._record(lift, "lapsed", HUB, None)

    async def _record(
        self, lift: MaskLift, change: str, actor: Actor, source: str | None, **details: Any
    ) -> None:
        await self._audit.append(
            Action.MASK_LIFT,
            actor,
            camera_id=lift.camera_id,
            owner_id=lift.owner_id,
            source=source,
            purpose=lift.reason,
            details={"lift": lift.id, "change": change, **details},
        )

    async def _publish(self, kind: type[Event], lift: MaskLift, actor: Actor, **data: Any) -> None:
        user_id = actor.id if actor.kind.value == "user" else None
        event = kind.create(
            camera_id=lift.camera_id,
            context=Context(user_id=user_id),
            data={"lift_id": lift.id, "owner_id": lift.owner_id, **data},
        )
        with contextlib.suppress(RuntimeError):  # the bus closed: the hub is stopping
            await self._bus.publish(event)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
