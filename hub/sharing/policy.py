"""The sharing policy of a hub with a store: agreements kept in memory, asked per picture.

`decide` is called for every snapshot, alert picture, clip and live-view check, so it reads the
agreements from memory (reloaded whenever one changes). It asks the store for the camera's owner
(one read by primary key, for the owner's kind and so its default), and, only for a
`live_incident` agreement's live view or clip, one indexed question: is an incident open at the
site?
A timer announces each agreement's end (`sharing.changed`, `expired`) when it passes, so that
whoever keeps a live view open asks again and cuts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from hub.bus import Bus, Subscription
from hub.events import Event, SharingChanged
from hub.incidents.model import IncidentState
from hub.registry import CameraRecord, Registry
from hub.sharing import Decision, Level, Use
from hub.sharing.agreements import (
    LIVE_MINUTES,
    AgreementDraft,
    AgreementStore,
    SharingAgreement,
)
from hub.store import Database
from hub.store.models import IncidentRow, utcnow

log = logging.getLogger(__name__)

ALLOWS: dict[Level, frozenset[Use]] = {
    Level.REGISTRY: frozenset(),
    Level.SNAPSHOTS: frozenset({Use.SNAPSHOT, Use.ALERT_PICTURE}),
    Level.LIVE_INCIDENT: frozenset({Use.SNAPSHOT, Use.ALERT_PICTURE}),
    Level.LIVE: frozenset(Use),
}
"""What each level allows at any time; `live_incident` adds live view and clips during incidents."""
DURING_INCIDENTS = frozenset({Use.LIVE, Use.CLIP})

LEVEL_WORDS = {
    Level.REGISTRY: "only where the camera is and whether it works (registry)",
    Level.SNAPSHOTS: "snapshots only",
    Level.LIVE_INCIDENT: "snapshots, and live view and clips while an incident at its site is open",
    Level.LIVE: "snapshots, live view and clips",
}
USE_WORDS = {
    Use.SNAPSHOT: "a snapshot",
    Use.ALERT_PICTURE: "a picture in an alert",
    Use.CLIP: "a clip",
    Use.LIVE: "a live view",
}
RECHECK = 3600.0
"""Seconds the expiry timer sleeps at most, so that a changed wall clock is noticed."""


@dataclass(frozen=True, slots=True)
class Effective:
    """What a camera shares at a moment, and what says so."""

    level: Level
    agreement: SharingAgreement | None
    """None: no agreement is in force, the owner kind's default decides."""
    source: str
    """The agreement or the default, in words: the subject of `says()`."""

    def says(self) -> str:
        """What is shared and by what, as a sentence an operator can read."""
        return f"{self.source} shares {LEVEL_WORDS[self.level]}"


class AgreementPolicy:
    """Decides per camera and use from the agreements in force, or the owner kind's default."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        registry: Registry,
        *,
        default_opd: Level = Level.LIVE,
        default_private: Level = Level.REGISTRY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._bus = bus
        self._registry = registry
        self.store = AgreementStore(db)
        self.defaults = {"opd": default_opd, "private": default_private}
        self._clock = clock
        self._by_id: dict[str, SharingAgreement] = {}
        self._by_key: dict[tuple[str, str | None], list[SharingAgreement]] = {}
        self._lock = asyncio.Lock()
        self._own_events: set[str] = set()
        self._subscription: Subscription | None = None
        self._timer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._announced_to = clock()

    # -- running

    async def start(self) -> None:
        """Load the agreements, follow other nodes' changes, and watch for agreements ending."""
        await self.reload()
        self._announced_to = self._clock()
        self._subscription = self._bus.subscribe("sharing.changed", self._on_change, name="sharing")
        self._timer = asyncio.get_running_loop().create_task(self._watch(), name="sharing:ends")

    async def stop(self) -> None:
        """Stop the timer and the subscription."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        if self._subscription is not None:
            await self._subscription.cancel()
            self._subscription = None

    async def reload(self) -> None:
        """Read every agreement from the store into memory."""
        self._index(await self.store.all())

    def _index(self, agreements: Iterable[SharingAgreement]) -> None:
        by_id = {agreement.id: agreement for agreement in agreements}
        by_key: dict[tuple[str, str | None], list[SharingAgreement]] = {}
        for agreement in sorted(by_id.values(), key=lambda a: a.created_at, reverse=True):
            by_key.setdefault((agreement.owner, agreement.camera), []).append(agreement)
        self._by_id, self._by_key = by_id, by_key
        self._wake.set()

    async def _on_change(self, event: Event) -> None:
        if event.context.id in self._own_events:
            self._own_events.discard(event.context.id)
            return
        await self.reload()  # another node (or the console) changed an agreement

    # -- reading

    def now(self) -> datetime:
        """The policy's clock: the time decisions are made at."""
        return self._clock()

    def get(self, agreement_id: str) -> SharingAgreement | None:
        """One agreement, in force or not."""
        return self._by_id.get(agreement_id)

    def agreements(
        self, *, owner: str | None = None, camera: str | None = None
    ) -> list[SharingAgreement]:
        """Agreements in force and past, newest first; `camera` also finds the owner-wide ones."""
        found = [
            agreement
            for agreement in self._by_id.values()
            if (owner is None or agreement.owner == owner)
            and (camera is None or agreement.camera in (camera, None))
        ]
        return sorted(found, key=lambda a: (a.created_at, a.id), reverse=True)

    def _in_force(self, owner: str, camera: str | None, at: datetime) -> SharingAgreement | None:
        for agreement in self._by_key.get((owner, camera), ()):
            if agreement.in_force(at):
                return agreement
        return None

    def effective(
        self, camera_id: str, owner: str, owner_kind: str | None, at: datetime | None = None
    ) -> Effective:
        """What `camera_id` shares at `at`: its agreement, else its owner's, else the default."""
        at = at or self._clock()
        agreement = self._in_force(owner, camera_id, at) or self._in_force(owner, None, at)
        if agreement is not None:
            scope = "the camera's" if agreement.camera is not None else f"{owner}'s"
            return Effective(
                agreement.level,
                agreement,
                f"{scope} sharing agreement {agreement.id} (for {agreement.purpose.value})",
            )
        kind = owner_kind if owner_kind in self.defaults else "private"
        words = "a city agency (OPD)" if kind == "opd" else "a private owner"
        return Effective(
            self.defaults[kind],
            None,
            f"{owner} is {words} with no sharing agreement in force, which by default "
            f"(hub.sharing.default_{kind})",
        )

    async def levels(self, cameras: Sequence[CameraRecord]) -> dict[str, Level]:
        """Each camera's level now, by id (for the camera list and the map)."""
        kinds = {owner.id: owner.kind for owner in await self._registry.list_owners()}
        now = self._clock()
        return {
            camera.id: self.effective(camera.id, camera.owner, kinds.get(camera.owner), now).level
            for camera in cameras
        }

    async def decide(
        self,
        camera: CameraRecord,
        use: Use,
        *,
        owner: str | None = None,
        at: datetime | None = None,
    ) -> Decision:
        """Whether `use` of `camera` is allowed at `at` (now when None)."""
        if owner is not None and owner == camera.owner:
            return Decision(True, f"camera {camera.id!r} is {owner}'s own", Level.LIVE)
        at = at or self._clock()
        found = await self._registry.get_owner(camera.owner)
        # An owner the registry no longer knows counts as private: share less, not more.
        current = self.effective(camera.id, camera.owner, found.kind if found else None, at)
        agreement = current.agreement
        agreement_id = agreement.id if agreement is not None else None
        lapse = agreement.lapses_at() if agreement is not None else None
        what = f"{USE_WORDS[use]} of camera {camera.id!r}"
        shares = current.says()
        if use in ALLOWS[current.level]:
            return Decision(
                True, f"{what} is allowed: {shares}", current.level, agreement_id, lapse
            )
        if current.level is Level.LIVE_INCIDENT and use in DURING_INCIDENTS:
            minutes = agreement.live_minutes if agreement is not None else LIVE_MINUTES
            opened = await self._incident_opened(camera, at, timedelta(minutes=minutes))
            if opened is not None:
                limit = opened + timedelta(minutes=minutes)
                until = min(limit, lapse) if lapse is not None else limit
                return Decision(
                    True,
                    f"{what} is allowed: {shares}, for {minutes} minutes after an incident "
                    f"opens, and one opened at {opened.isoformat(timespec='seconds')}",
                    current.level,
                    agreement_id,
                    until,
                )
            where = "its site" if camera.site else "the camera"
            return Decision(
                False,
                f"{what} is not allowed now: {shares}, for {minutes} minutes after an incident "
                f"opens, and no incident at {where} opened in the last {minutes} minutes is open",
                current.level,
                agreement_id,
            )
        return Decision(False, f"{what} is not allowed: {shares}", current.level, agreement_id)

    async def _incident_opened(
        self, camera: CameraRecord, at: datetime, window: timedelta
    ) -> datetime | None:
        """When the newest incident still open at the camera's site opened, within `window`."""
        place = (
            IncidentRow.site_id == camera.site
            if camera.site is not None
            else IncidentRow.camera_id == camera.id
        )
        query = (
            select(IncidentRow.created_at)
            .where(
                IncidentRow.state != IncidentState.RESOLVED.value,
                IncidentRow.created_at > at - window,
                IncidentRow.created_at <= at,
                place,
            )
            .order_by(IncidentRow.created_at.desc())
            .limit(1)
        )
        async with self._db.session() as session:
            opened: datetime | None = await session.scalar(query)
            return opened

    # -- changing

    async def make(
        self, draft: AgreementDraft, recorded_by: str
    ) -> tuple[SharingAgreement, list[SharingAgreement]]:
        """Store a new agreement superseding the one in force; in effect for the next decision."""
        async with self._lock:
            made, superseded = await self.store.make(draft, recorded_by, self._clock())
            self._index([*self._by_id.values(), *superseded, made])
        await self._announce(made, "changed" if superseded else "made")
        return made, superseded

    async def revoke(self, agreement_id: str, by: str, reason: str) -> SharingAgreement | None:
        """Revoke at once; None when there is no such agreement."""
        async with self._lock:
            revoked = await self.store.revoke(agreement_id, by, reason, self._clock())
            if revoked is None:
                return None
            self._index([*self._by_id.values(), revoked])
        await self._announce(revoked, "revoked")
        return revoked

    async def _announce(self, agreement: SharingAgreement, change: str) -> None:
        event = SharingChanged.create(
            camera_id=agreement.camera,
            data={
                "owner_id": agreement.owner,
                "agreement_id": agreement.id,
                "change": change,
                "level": agreement.level.value,
            },
        )
        self._own_events.add(event.context.id)
        try:
            await self._bus.publish(event)
        except RuntimeError:  # the bus closed: the hub is stopping
            self._own_events.discard(event.context.id)

    # -- the timer

    def _next_boundary(self, after: datetime) -> datetime | None:
        moments = [
            moment
            for agreement in self._by_id.values()
            for moment in (agreement.starts_at, agreement.lapses_at())
            if moment is not None and moment > after
        ]
        return min(moments, default=None)

    async def _watch(self) -> None:
        while True:
            self._wake.clear()
            now = self._clock()
            due = self._next_boundary(self._announced_to)
            wait = RECHECK if due is None else min(RECHECK, (due - now).total_seconds())
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
            try:
                await self._announce_boundaries(self._clock())
            except Exception:  # a failed announcement must not end the timer for good
                log.exception("could not announce the sharing agreements that ended")

    async def _announce_boundaries(self, now: datetime) -> None:
        since, self._announced_to = self._announced_to, now
        for agreement in list(self._by_id.values()):
            ends, revoked = agreement.ends_at, agreement.revoked_at
            if ends is not None and since < ends <= now and (revoked is None or revoked >= ends):
                log.info("sharing agreement %s of %s ended", agreement.id, agreement.owner)
                await self._announce(agreement, "expired")
            elif (
                agreement.created_at < agreement.starts_at
                and since < agreement.starts_at <= now
                and agreement.in_force(agreement.starts_at)
            ):
                # an agreement made ahead of its start (a renewal) takes over now
                log.info("sharing agreement %s of %s is in force", agreement.id, agreement.owner)
                await self._announce(agreement, "changed")
