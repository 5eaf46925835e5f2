"""Mask lifts in the store: two people, bounded, expiring, recorded; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.audit import Action, Actor, ActorKind, AuditLog
from hub.bus import LocalBus
from hub.events import Event
from hub.masks import BadLift, LiftNotFound, LiftRefused, LiftState, MaskLifts, SamePerson
from hub.registry import CameraRecord, CameraSource
from hub.store import Database

WINDOW = [[0.65, 0.0], [1.0, 0.0], [1.0, 0.35], [0.65, 0.35]]
SARI = Actor("u-sari", ActorKind.USER, "sari")
ANA = Actor("u-ana", ActorKind.USER, "ana")
ADMIN_TOKEN = Actor("admin", ActorKind.ADMIN_TOKEN, "admin")


def camera(camera_id: str, *, masks: bool = True) -> CameraRecord:
    now = datetime.now(UTC)
    return CameraRecord(
        id=camera_id,
        name=camera_id,
        owner="sunrise",
        site=None,
        vendor="rtsp",
        url="rtsp://127.0.0.1:9/x",
        host=None,
        port=None,
        username=None,
        has_password=False,
        lat=None,
        lon=None,
        tags=(),
        enabled=True,
        options={"privacy_masks": [WINDOW]} if masks else {},
        source=CameraSource.CONFIG,
        created_at=now,
        updated_at=now,
    )


class Streams:
    """What the service tells the stream engine, written down."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def lift_masks(self, camera_id: str, until: float) -> None:
        self.calls.append(("lift", camera_id))

    def restore_masks(self, camera_id: str) -> None:
        self.calls.append(("restore", camera_id))


@pytest.fixture
async def bus() -> AsyncIterator[LocalBus]:
    bus = LocalBus()
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close()


async def service(db: Database, bus: LocalBus, streams: Streams, **options: Any) -> MaskLifts:
    lifts = MaskLifts(db, bus, AuditLog(db), lambda: streams, **options)  # type: ignore[arg-type, return-value]
    await lifts.start()
    return lifts


async def test_two_people_a_bounded_time_and_the_end_on_its_own(
    db: Database, bus: LocalBus
) -> None:
    streams = Streams()
    seen: list[Event] = []
    bus.subscribe("mask.*", seen.append, name="test:masks")
    lifts = await service(db, bus, streams)
    try:
        for seconds, reason in ((0, "x"), (3601, "x"), (60, "  ")):
            with pytest.raises(BadLift):
                await lifts.request(
                    camera("lobi"), reason=reason, seconds=seconds, actor=SARI, person="u-sari"
                )
        with pytest.raises(LiftRefused, match="has no privacy masks"):
            await lifts.request(
                camera("bare", masks=False), reason="x", seconds=60, actor=SARI, person="u-sari"
            )
        lift = await lifts.request(
            camera("lobi"), reason="anak hilang", seconds=1, actor=SARI, person="u-sari"
        )
        assert lift.state(lifts.now()) is LiftState.PENDING and not lifts.lifted("lobi")
        with pytest.raises(LiftRefused, match="already has a pending mask lift"):
            await lifts.request(
                camera("lobi"), reason="lagi", seconds=60, actor=ANA, person="u-ana"
            )
        with pytest.raises(SamePerson, match="a second person must approve"):
            await lifts.approve(lift.id, actor=SARI, person="u-sari")
        # the admin token is nobody in particular: it could be the one who asked
        with pytest.raises(LiftRefused, match="needs a named person") as refused:
            await lifts.approve(lift.id, actor=ADMIN_TOKEN, person="admin-token")
        assert refused.value.status == 403
        with pytest.raises(LiftRefused, match="needs a named person"):
            await lifts.request(
                camera("gerbang"), reason="x", seconds=60, actor=ADMIN_TOKEN, person="admin-token"
            )
        with pytest.raises(LiftNotFound):
            await lifts.approve("0" * 32, actor=ANA, person="u-ana")
        approved = await lifts.approve(lift.id, actor=ANA, person="u-ana")
        assert approved.ends_at is not None and approved.decided_by == "ana"
        assert lifts.lifted("lobi") and streams.calls == [("lift", "lobi")]
        with pytest.raises(LiftRefused, match="is active, not pending"):
            await lifts.approve(lift.id, actor=ANA, person="u-other")
        async with asyncio.timeout(5):
            while lifts.lifted("lobi"):  # noqa: ASYNC110 - the clock decides, polled
                await asyncio.sleep(0.02)
        assert lifts.now() >= approved.ends_at  # not a moment early
        async with asyncio.timeout(5):
            while ("restore", "lobi") not in streams.calls:  # noqa: ASYNC110 - polled
                await asyncio.sleep(0.02)
        (stored,) = await lifts.find(states=[LiftState.EXPIRED])
        assert stored.id == lift.id and stored.ended_at is not None
    finally:
        await lifts.stop()
    records = list(reversed(await AuditLog(db).records(action=Action.MASK_LIFT)))
    assert [(r.details["change"], r.actor_name, r.camera_id, r.owner_id) for r in records] == [
        ("requested", "sari", "lobi", "sunrise"),
        ("approved", "ana", "lobi", "sunrise"),
        ("expired", "hub", "lobi", "sunrise"),
    ]
    assert {r.purpose for r in records} == {"anak hilang"}
    assert records[1].details["until"] == approved.ends_at.isoformat()
    await asyncio.sleep(0.05)  # the bus hands the events over
    assert [e.type for e in seen] == ["mask.lift_requested", "mask.lifted", "mask.restored"]


async def test_a_stop_while_a_lift_ends_keeps_its_audit_record(db: Database, bus: LocalBus) -> None:
    class StopAtRestore(Streams):
        """Asks the service to stop the moment it puts the masks back, mid-ending."""

        stopping: asyncio.Task[None] | None = None

        def restore_masks(self, camera_id: str) -> None:
            super().restore_masks(camera_id)
            self.stopping = asyncio.get_running_loop().create_task(lifts.stop())

    streams = StopAtRestore()
    lifts = await service(db, bus, streams)
    lift = await lifts.request(camera("lobi"), reason="r", seconds=1, actor=SARI, person="u-sari")
    await lifts.approve(lift.id, actor=ANA, person="u-ana")
    async with asyncio.timeout(5):
        while streams.stopping is None:  # noqa: ASYNC110 - the service's clock decides, polled
            await asyncio.sleep(0.02)
        await streams.stopping
    records = await AuditLog(db).records(action=Action.MASK_LIFT)
    assert [r.details["change"] for r in reversed(records)] == ["requested", "approved", "expired"]
    (ended,) = await lifts.find(states=[LiftState.EXPIRED])
    assert ended.id == lift.id


async def test_unanswered_requests_lapse_refused_ones_stay_refused_and_restarts_keep_lifts(
    db: Database, bus: LocalBus
) -> None:
    streams = Streams()
    lifts = await service(db, bus, streams, answer_within=timedelta(seconds=2))
    try:
        lapsing = await lifts.request(
            camera("a"), reason="r", seconds=60, actor=SARI, person="u-sari"
        )
        refused = await lifts.request(
            camera("b"), reason="r", seconds=60, actor=SARI, person="u-sari"
        )
        denied = await lifts.deny(refused.id, actor=ANA, person="u-ana")
        assert denied.state(lifts.now()) is LiftState.DENIED
        with pytest.raises(LiftRefused, match="is denied"):
            await lifts.approve(refused.id, actor=ANA, person="u-ana")
        kept = await lifts.request(
            camera("c"), reason="r", seconds=600, actor=SARI, person="u-sari"
        )
        await lifts.approve(kept.id, actor=ANA, person="u-ana")
        # Wait the unanswered request out (2 s leaves a loaded machine time for the above).
        await asyncio.sleep((lapsing.answer_by - lifts.now()).total_seconds() + 0.2)
        with pytest.raises(LiftRefused, match="is expired"):
            await lifts.approve(lapsing.id, actor=ANA, person="u-ana")
        states = {lift.id: lift.state(lifts.now()) for lift in await lifts.find()}
        assert states == {
            lapsing.id: LiftState.EXPIRED,
            refused.id: LiftState.DENIED,
            kept.id: LiftState.ACTIVE,
        }
    finally:
        await lifts.stop()
    again = Streams()
    restarted = await service(db, bus, again)
    try:
        assert restarted.lifted("c") and again.calls == [("lift", "c")]
        assert not restarted.lifted("a")
    finally:
        await restarted.stop()
    changes = {
        (r.camera_id, r.details["change"])
        for r in await AuditLog(db).records(action=Action.MASK_LIFT)
    }
    assert ("a", "lapsed") in changes and ("b", "denied") in changes
