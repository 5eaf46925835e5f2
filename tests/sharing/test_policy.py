"""The sharing policy against a real store (SQLite and PostgreSQL): what each level allows, when."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from hub.bus import LocalBus
from hub.events import Event
from hub.registry import CameraInput, CameraRecord, OwnerInput, Registry, SiteInput
from hub.sharing import Level, Purpose, Use
from hub.sharing.agreements import AgreementDraft, AgreementError
from hub.sharing.policy import AgreementPolicy
from hub.store import Database
from hub.store.models import IncidentRow, utcnow


@dataclass
class City:
    """A store with an agency, two businesses and their cameras, and a policy over them."""

    db: Database
    bus: LocalBus
    registry: Registry
    policy: AgreementPolicy

    async def camera(self, camera_id: str) -> CameraRecord:
        found = await self.registry.get_camera(camera_id)
        assert found is not None
        return found

    async def allowed(self, camera_id: str, at: datetime | None = None) -> set[Use]:
        camera = await self.camera(camera_id)
        return {use for use in Use if (await self.policy.decide(camera, use, at=at)).allowed}

    async def open_incident(self, opened: datetime, *, site: str | None, camera: str) -> str:
        incident_id = uuid.uuid4().hex
        async with self.db.session() as session, session.begin():
            session.add(
                IncidentRow(
                    id=incident_id,
                    dedup_key=incident_id,
                    rule_id="gerak",
                    owner_id="sunrise",
                    camera_id=camera,
                    site_id=site,
                    state="triggered",
                    severity="high",
                    title="Gerak",
                    summary="",
                    data={},
                    escalation={},
                    escalation_step=0,
                    count=1,
                    created_at=opened,
                    updated_at=opened,
                )
            )
        return incident_id


def draft(
    owner: str,
    level: Level,
    camera: str | None = None,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    live_minutes: int = 60,
) -> AgreementDraft:
    return AgreementDraft(
        owner=owner,
        camera=camera,
        level=level,
        purpose=Purpose.SECURITY,
        starts_at=starts_at or utcnow(),
        ends_at=ends_at,
        signed_by="Ibu Ratna, Building Manager",
        live_minutes=live_minutes,
    )


@pytest.fixture
async def city(db: Database) -> AsyncIterator[City]:
    registry = Registry(db, None)
    for owner_id, kind in (("dlh", "opd"), ("sunrise", "private"), ("toko", "private")):
        await registry.add_owner(OwnerInput(id=owner_id, name=owner_id.title(), kind=kind))
    await registry.add_site(
        SiteInput(id="mall", name="Sunrise Mall", owner="sunrise", lat=-7.47, lon=112.43)
    )
    cameras = [
        ("tpa-gerbang", "dlh", None),
        ("mall-lobi", "sunrise", "mall"),
        ("mall-parkir", "sunrise", "mall"),
        ("toko-kasir", "toko", None),
    ]
    for camera_id, owner, site in cameras:
        await registry.add_camera(
            CameraInput(
                id=camera_id, name=camera_id, owner=owner, site=site, url="rtsp://127.0.0.1:9/x"
            )
        )
    bus = LocalBus()
    await bus.start()
    policy = AgreementPolicy(db, bus, registry)
    await policy.start()
    try:
        yield City(db, bus, registry, policy)
    finally:
        await policy.stop()
        await bus.close()


SNAPSHOTS = {Use.SNAPSHOT, Use.ALERT_PICTURE}


async def test_defaults_follow_the_owner_kind_and_say_so(city: City) -> None:
    assert await city.allowed("tpa-gerbang") == set(Use)  # the city's own agency: live
    assert await city.allowed("mall-lobi") == set()  # a business shares nothing unsigned
    refused = await city.policy.decide(await city.camera("mall-lobi"), Use.SNAPSHOT)
    assert refused.level is Level.REGISTRY and refused.agreement_id is None
    assert "hub.sharing.default_private" in refused.reason and "mall-lobi" in refused.reason
    stricter = AgreementPolicy(
        city.db, city.bus, city.registry, default_opd=Level.SNAPSHOTS, default_private=Level.LIVE
    )
    await stricter.reload()
    gate = await stricter.decide(await city.camera("tpa-gerbang"), Use.LIVE)
    assert not gate.allowed and "hub.sharing.default_opd" in gate.reason
    assert (await stricter.decide(await city.camera("mall-lobi"), Use.LIVE)).allowed


async def test_an_owner_always_sees_its_own_cameras(city: City) -> None:
    lobby = await city.camera("mall-lobi")
    for use in Use:
        assert (await city.policy.decide(lobby, use, owner="sunrise")).allowed
        assert not (await city.policy.decide(lobby, use, owner="toko")).allowed


@pytest.mark.parametrize(
    ("level", "uses"),
    [
        (Level.REGISTRY, set()),
        (Level.SNAPSHOTS, SNAPSHOTS),
        (Level.LIVE_INCIDENT, SNAPSHOTS),  # live and clips only during an incident
        (Level.LIVE, set(Use)),
    ],
)
async def test_each_level_allows_its_uses(city: City, level: Level, uses: set[Use]) -> None:
    made, _ = await city.policy.make(draft("sunrise", level), "ana")
    assert await city.allowed("mall-lobi") == uses
    decision = await city.policy.decide(await city.camera("mall-parkir"), Use.SNAPSHOT)
    assert decision.agreement_id == made.id and decision.level is level


async def test_an_agreement_is_in_force_only_between_its_dates(city: City) -> None:
    now = utcnow()
    start, end = now + timedelta(days=1), now + timedelta(days=30)
    await city.policy.make(draft("sunrise", Level.LIVE, starts_at=start, ends_at=end), "ana")
    assert await city.allowed("mall-lobi", at=now) == set()
    assert await city.allowed("mall-lobi", at=start) == set(Use)
    inside = await city.policy.decide(await city.camera("mall-lobi"), Use.LIVE, at=start)
    assert inside.until == end
    assert await city.allowed("mall-lobi", at=end - timedelta(seconds=1)) == set(Use)
    assert await city.allowed("mall-lobi", at=end) == set()


async def test_a_camera_agreement_overrides_its_owners(city: City) -> None:
    await city.policy.make(draft("sunrise", Level.LIVE), "ana")
    mine, _ = await city.policy.make(draft("sunrise", Level.SNAPSHOTS, camera="mall-lobi"), "ana")
    assert await city.allowed("mall-lobi") == SNAPSHOTS
    assert await city.allowed("mall-parkir") == set(Use)
    decision = await city.policy.decide(await city.camera("mall-lobi"), Use.SNAPSHOT)
    assert decision.agreement_id == mine.id and "the camera's" in decision.reason


async def test_live_incident_allows_live_while_an_incident_at_the_site_is_young(
    city: City,
) -> None:
    made, _ = await city.policy.make(draft("sunrise", Level.LIVE_INCIDENT, live_minutes=30), "ana")
    lobby = await city.camera("mall-lobi")
    refused = await city.policy.decide(lobby, Use.LIVE)
    assert not refused.allowed and "no incident at its site" in refused.reason
    opened = utcnow() - timedelta(minutes=10)
    # an incident at another camera of the same site opens the whole site
    await city.open_incident(opened, site="mall", camera="mall-parkir")
    for use in (Use.LIVE, Use.CLIP):
        decision = await city.policy.decide(lobby, use)
        assert decision.allowed and decision.agreement_id == made.id
        assert decision.until == opened + timedelta(minutes=30)
    after = opened + timedelta(minutes=30, seconds=1)
    assert not (await city.policy.decide(lobby, Use.LIVE, at=after)).allowed
    # another owner's site is not opened by it
    await city.policy.make(draft("toko", Level.LIVE_INCIDENT), "ana")
    assert await city.allowed("toko-kasir") == SNAPSHOTS


async def test_live_incident_of_a_camera_without_a_site_needs_an_incident_at_it(
    city: City,
) -> None:
    await city.policy.make(draft("toko", Level.LIVE_INCIDENT), "ana")
    await city.open_incident(utcnow(), site=None, camera="tpa-gerbang")
    assert await city.allowed("toko-kasir") == SNAPSHOTS
    await city.open_incident(utcnow() - timedelta(minutes=1), site=None, camera="toko-kasir")
    assert await city.allowed("toko-kasir") == set(Use)
    async with city.db.session() as session, session.begin():
        resolve = update(IncidentRow).where(IncidentRow.camera_id == "toko-kasir")
        await session.execute(resolve.values(state="resolved"))
    assert await city.allowed("toko-kasir") == SNAPSHOTS  # resolved: live view ends with it


async def test_a_new_agreement_supersedes_the_one_in_force_and_keeps_it(city: City) -> None:
    first, none = await city.policy.make(draft("sunrise", Level.LIVE), "ana")
    assert none == []
    second, superseded = await city.policy.make(draft("sunrise", Level.SNAPSHOTS), "ana")
    assert [old.id for old in superseded] == [first.id]
    assert await city.allowed("mall-lobi") == SNAPSHOTS
    history = city.policy.agreements(owner="sunrise")
    assert [a.id for a in history] == [second.id, first.id]
    now = utcnow()
    assert [a.status(now) for a in history] == ["in_force", "superseded"]
    assert history[1].superseded_by == second.id and history[1].level is Level.LIVE
    # kept in the store, not only in memory
    again = AgreementPolicy(city.db, city.bus, city.registry)
    await again.reload()
    assert [a.status(now) for a in again.agreements(owner="sunrise")] == ["in_force", "superseded"]


async def test_a_renewal_made_ahead_takes_over_at_its_start(city: City) -> None:
    now = utcnow()
    await city.policy.make(draft("sunrise", Level.LIVE, ends_at=now + timedelta(days=10)), "ana")
    start = now + timedelta(days=5)
    await city.policy.make(draft("sunrise", Level.SNAPSHOTS, starts_at=start), "ana")
    assert await city.allowed("mall-lobi", at=now + timedelta(days=1)) == set(Use)
    before = await city.policy.decide(await city.camera("mall-lobi"), Use.LIVE)
    assert before.until == start  # the old one lapses when the renewal starts
    assert await city.allowed("mall-lobi", at=start) == SNAPSHOTS


async def test_a_revoked_agreement_stops_at_once_and_only_once(city: City) -> None:
    made, _ = await city.policy.make(draft("sunrise", Level.LIVE), "ana")
    assert await city.allowed("mall-lobi") == set(Use)
    revoked = await city.policy.revoke(made.id, "mall-it", "contract ended early")
    assert revoked is not None and revoked.revoke_reason == "contract ended early"
    assert await city.allowed("mall-lobi") == set()
    with pytest.raises(AgreementError, match="nothing to revoke"):
        await city.policy.revoke(made.id, "mall-it", "again")
    assert await city.policy.revoke("0" * 32, "ana", "none") is None


async def test_changes_are_published_and_an_end_is_announced_when_it_passes(city: City) -> None:
    seen: asyncio.Queue[Event] = asyncio.Queue()
    city.bus.subscribe("sharing.changed", seen.put, name="test:sharing")
    ends = utcnow() + timedelta(seconds=1.5)
    made, _ = await city.policy.make(
        draft("sunrise", Level.LIVE, camera="mall-lobi", ends_at=ends), "ana"
    )
    async with asyncio.timeout(10):
        first = await seen.get()
        assert (first.data["change"], first.data["agreement_id"]) == ("made", made.id)
        assert first.camera_id == "mall-lobi" and first.data["owner_id"] == "sunrise"
        expired = await seen.get()
    assert (expired.data["change"], expired.data["agreement_id"]) == ("expired", made.id)
    assert utcnow() >= ends
    assert await city.allowed("mall-lobi") == set()  # a live view asking again is refused
    await city.policy.make(draft("sunrise", Level.SNAPSHOTS), "ana")
    third, _ = await city.policy.make(draft("sunrise", Level.LIVE), "ana")
    await city.policy.revoke(third.id, "ana", "signed by mistake")
    changes: list[str] = []
    async with asyncio.timeout(5):
        while len(changes) < 3:
            changes.append((await seen.get()).data["change"])
    assert changes == ["made", "changed", "revoked"]
