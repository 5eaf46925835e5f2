"""Webhook ingest over real HTTP and the real store: what an owner's system sends becomes events."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.access import Accounts, Role
from hub.events import Event, LineCrossing, MotionEnd, MotionStart, PlateRead, Tamper
from hub.incidents.rules import event_source
from hub.ingest import MAX_BODY, MAX_DATA, MAX_EVENTS, IngestReceipts
from hub.registry import CameraInput
from hub.runtime import Hub
from hub.store import Database
from hub.web import build_app
from hub.web.auth import TOKEN_FILE
from hub.web.ingest import ingest_key
from tests.incidents.receivers import WebhookReceiver
from tests.test_running import free_port
from tests.web.conftest import PASSWORD, USERS, Site, city

WIB = timezone(timedelta(hours=7))
PATH = "/api/ingest/events"


class Arrivals:
    """The ingested events the bus delivers."""

    def __init__(self, hub: Hub) -> None:
        self.events: list[Event] = []
        self.subscription = hub.bus.subscribe(
            "*", self.events.append, name="test:ingested", filter=_ingested
        )

    async def settle(self, hub: Hub) -> list[Event]:
        await hub.bus.wait_idle()
        return self.events


def _ingested(event: Event) -> bool:
    return event.data.get("origin") == "ingest"


async def post(
    http: aiohttp.ClientSession, url: str, body: Any, **headers: str
) -> tuple[int, dict[str, Any], str | None]:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    async with http.post(url, data=data, headers=headers) as answer:
        return answer.status, await answer.json(), answer.headers.get("Retry-After")


async def owner_client(site: Site, *scopes: str) -> tuple[aiohttp.ClientSession, str]:
    token = await site.token(Role.OWNER, *(scopes or ("ingest",)))
    return await site.client(Authorization=f"Bearer {token}"), token


def motion(event_id: str, camera: str | None = "mall-lobi", **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "type": "motion.start", "camera": camera, **fields}


async def test_an_owners_events_arrive_on_the_bus_as_the_vendors_device_events(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    arrivals = Arrivals(site.hub)
    http, token = await owner_client(site)
    seen_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    events = [
        motion("bms-1", time=seen_at.astimezone(WIB).isoformat(), data={"region": "parkir"}),
        {"id": "bms-2", "type": "motion.end", "camera": "mall-lobi", "data": {"zone": "parkir"}},
        {
            "id": "bms-3",
            "type": "line_crossing",
            "camera": "mall-lobi",
            "data": {"object": "person", "region": "pintu-utara", "state": "pulse"},
        },
        {"id": "bms-4", "type": "plate", "camera": "mall-lobi", "data": {"detail": "B 1234 XYZ"}},
        {"id": "bms-5", "type": "tamper", "camera": "mall-lobi", "data": {"detail": "covered"}},
    ]
    status, answer, _ = await post(http, site.url(PATH), {"events": events})
    assert status == 200, answer
    assert answer["accepted"] == 5 and answer["duplicate"] == answer["rejected"] == 0
    assert [r["status"] for r in answer["results"]] == ["accepted"] * 5
    assert [r["id"] for r in answer["results"]] == [f"bms-{n}" for n in range(1, 6)]

    arrived = await arrivals.settle(site.hub)
    assert [type(e) for e in arrived] == [MotionStart, MotionEnd, LineCrossing, PlateRead, Tamper]
    owner = await site.accounts.users.get(USERS[Role.OWNER])
    assert owner is not None
    for event in arrived:
        assert event.camera_id == "mall-lobi"
        assert event.data["source"] == "device" and event.data["origin"] == "ingest"
        assert event_source(event) == "device"  # a rule's `sources: [device]` takes it
        assert event.context.user_id == owner.id
    start, end, crossing, plate, tamper = arrived
    assert start.time == seen_at and start.data["zone"] == "parkir"
    assert start.data["state"] == "start" and start.data["ingest_id"] == "bms-1"
    assert end.data["state"] == "end" and abs(end.time - datetime.now(UTC)) < timedelta(seconds=10)
    assert crossing.data["object"] == "person" and crossing.data["region"] == "pintu-utara"
    assert plate.data["detail"] == "B 1234 XYZ" and plate.data["state"] == "pulse"
    assert tamper.data["kind"] == "covered"
    assert len({e.context.id for e in arrived}) == 5
    assert token not in caplog.text and "mall-it" in caplog.text

    # a single event object is a request of one
    status, answer, _ = await post(http, site.url(PATH), motion("bms-6"))
    assert status == 200 and answer["results"] == [
        {"index": 0, "id": "bms-6", "status": "accepted"}
    ]


async def test_only_the_owners_own_cameras_and_the_admin_token_may_send_for_any(
    site: Site,
) -> None:
    arrivals = Arrivals(site.hub)
    http, _ = await owner_client(site)
    batch = [motion("a-1"), motion("a-2", "tpa-gerbang"), motion("a-3", "nowhere")]
    status, answer, _ = await post(http, site.url(PATH), {"events": batch})
    assert status == 200
    assert [r["status"] for r in answer["results"]] == ["accepted", "rejected", "rejected"]
    # another owner's camera reads like no camera at all
    assert answer["results"][1]["reason"] == "camera: no camera 'tpa-gerbang' of sunrise"
    assert answer["results"][2]["reason"] == "camera: no camera 'nowhere' of sunrise"

    # a camera the hub does not watch (the one it cannot reach) takes events all the same
    unreached = "rtsp://192.168.1.20/parkir"
    parking = CameraInput(id="mall-parkir", name="Parkir", owner="sunrise", url=unreached)
    await site.hub.registry.add_camera(parking.model_copy(update={"enabled": False}))
    status, answer, _ = await post(http, site.url(PATH), motion("a-4", "mall-parkir"))
    assert status == 200 and answer["accepted"] == 1

    admin = await site.client(Authorization=f"Bearer {site.admin_token}")
    status, answer, _ = await post(admin, site.url(PATH), motion("a-2", "tpa-gerbang"))
    assert status == 200 and answer["accepted"] == 1
    arrived = await arrivals.settle(site.hub)
    assert [(e.camera_id, e.data["ingest_id"]) for e in arrived] == [
        ("mall-lobi", "a-1"),
        ("mall-parkir", "a-4"),
        ("tpa-gerbang", "a-2"),
    ]
    assert arrived[2].context.user_id is None  # the admin token is no user


@pytest.mark.parametrize(
    "event_type",
    ["incident.triggered", "camera.offline", "access.login", "hub.started", "stream.stats"],
)
async def test_the_hubs_own_event_types_are_refused(site: Site, event_type: str) -> None:
    arrivals = Arrivals(site.hub)
    http, _ = await owner_client(site)
    sent = {"id": "x-1", "type": event_type, "camera": "mall-lobi"}
    status, answer, _ = await post(http, site.url(PATH), {"events": [sent]})
    assert status == 200 and answer["rejected"] == 1
    reason = answer["results"][0]["reason"]
    area = event_type.split(".")[0]
    assert reason.startswith(f"type: '{event_type}' is one of the hub's own events ({area}.*)")
    assert "motion.start" in reason
    assert await arrivals.settle(site.hub) == []


async def test_unknown_types_and_bad_fields_are_rejected_each_with_its_reason(site: Site) -> None:
    arrivals = Arrivals(site.hub)
    http, _ = await owner_client(site)
    now = datetime.now(UTC)
    cases: list[tuple[object, str]] = [
        (motion("r-1", type="usage.exceeded"), "type: 'usage.exceeded' is one of the hub's own"),
        (motion("r-2", type="acme.door_forced"), "type: 'acme.door_forced' is not a device event"),
        (motion("r-3", type="device.event"), "type: 'device.event' is not a device event"),
        ({"type": "motion.start", "camera": "mall-lobi"}, "id: Field required"),
        (motion(""), "id: String should have at least 1 character"),
        (motion("x" * 129), "id: String should have at most 128 characters"),
        (motion("r\n7"), "id: must be printable characters only"),
        (motion("r-8", camera=None), "camera: Input should be a valid string"),
        (motion("r-9", time="2026-11-26T08:30:00"), "time: needs its zone"),
        (motion("r-10", time="kemarin"), "time: must be an ISO 8601 time with its zone"),
        (motion("r-11", time=1764140000), "time: must be an ISO 8601 time"),
        (motion("r-12", time=(now + timedelta(minutes=10)).isoformat()), "time: more than 5 min"),
        (motion("r-13", time=(now - timedelta(days=8)).isoformat()), "time: older than 7 days"),
        (motion("r-14", data=["a"]), "data: Input should be a valid dictionary"),
        (motion("r-15", data={"note": "x" * MAX_DATA}), f"data: is {MAX_DATA + 11} bytes"),
        (motion("r-16", data={"object": "cat"}), "data: object must be one of person, vehicle"),
        (motion("r-17", data={"state": "maybe"}), "data: state must be one of start, end, pulse"),
        (motion("r-18", data={"zone": 3}), "data: zone must be text of 1 to 200 characters"),
        (motion("r-19", colour="red"), "colour: Extra inputs are not permitted"),
        (motion("r-20", data={"state": "end"}), "data.state end contradicts type motion.start"),
        ("motion", "an event is a JSON object"),
    ]
    sent = [case for case, _ in cases]
    status, answer, _ = await post(http, site.url(PATH), {"events": [*sent, motion("ok")]})
    assert status == 200, answer
    assert answer["rejected"] == len(cases) and answer["accepted"] == 1
    for (_, why), result in zip(cases, answer["results"], strict=False):
        assert result["status"] == "rejected"
        assert result["reason"].startswith(why), (why, result)
    assert answer["results"][0]["id"] == "r-1" and answer["results"][-2]["id"] is None
    arrived = await arrivals.settle(site.hub)
    assert [e.data["ingest_id"] for e in arrived] == ["ok"]


async def test_the_same_id_is_published_once_also_after_a_restart(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    async with served(tmp_path, receiver) as (hub, base):
        accounts = Accounts(hub.db)
        await accounts.users.add("mall-it", Role.OWNER, PASSWORD, owner="sunrise")
        _, token = await accounts.tokens.create("mall-it", ["ingest"])
        arrivals = Arrivals(hub)
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            url = base + PATH
            _, first, _ = await post(http, url, motion("evt-1"))
            _, again, _ = await post(http, url, {"events": [motion("evt-1"), motion("evt-2")]})
            _, twice, _ = await post(http, url, {"events": [motion("evt-3"), motion("evt-3")]})
        assert [r["status"] for r in first["results"]] == ["accepted"]
        assert [r["status"] for r in again["results"]] == ["duplicate", "accepted"]
        assert [r["status"] for r in twice["results"]] == ["accepted", "duplicate"]
        assert [e.data["ingest_id"] for e in await arrivals.settle(hub)] == [
            "evt-1",
            "evt-2",
            "evt-3",
        ]

    async with served(tmp_path, receiver) as (hub, base):
        arrivals = Arrivals(hub)
        admin_token = (tmp_path / "var" / TOKEN_FILE).read_text(encoding="ascii").strip()
        async with aiohttp.ClientSession() as http:
            owner = {"Authorization": f"Bearer {token}"}
            admin = {"Authorization": f"Bearer {admin_token}"}
            _, after, _ = await post(http, base + PATH, {"events": [motion("evt-1")]}, **owner)
            # ids are per owner: the same id for another owner's camera is another event
            _, other, _ = await post(http, base + PATH, motion("evt-1", "tpa-gerbang"), **admin)
        assert [r["status"] for r in after["results"]] == ["duplicate"]
        assert [r["status"] for r in other["results"]] == ["accepted"]
        arrived = await arrivals.settle(hub)
        assert [(e.camera_id, e.data["ingest_id"]) for e in arrived] == [("tpa-gerbang", "evt-1")]


async def test_ids_are_forgotten_after_the_retention(site: Site) -> None:
    ingest = site.app[ingest_key]
    old = datetime.now(UTC) - timedelta(days=8)
    assert await ingest.receipts.take([("sunrise", "old"), ("sunrise", "new")], old) == {
        ("sunrise", "old"),
        ("sunrise", "new"),
    }
    assert await ingest.receipts.prune(datetime.now(UTC) - timedelta(days=7)) == 2
    http, _ = await owner_client(site)
    status, answer, _ = await post(http, site.url(PATH), motion("old"))
    assert status == 200 and answer["accepted"] == 1


async def test_the_receipts_take_each_id_once_give_back_and_prune_on_every_backend(
    db: Database,
) -> None:
    receipts = IngestReceipts(db)
    now = datetime.now(UTC)
    pairs = [("sunrise", "e-1"), ("sunrise", "e-2"), ("dlh", "e-1")]
    assert await receipts.take(pairs, now - timedelta(days=8)) == set(pairs)
    assert await receipts.take([("sunrise", "e-1"), ("sunrise", "e-3")], now) == {
        ("sunrise", "e-3")
    }
    await receipts.give_back([("sunrise", "e-3"), ("dlh", "e-1")])
    assert await receipts.take([("sunrise", "e-3"), ("dlh", "e-1")], now) == {
        ("sunrise", "e-3"),
        ("dlh", "e-1"),
    }
    assert await receipts.prune(now - timedelta(days=7)) == 2  # sunrise's e-1 and e-2
    assert await receipts.take(pairs, now) == {("sunrise", "e-1"), ("sunrise", "e-2")}


async def test_over_the_rate_429_with_retry_after_and_nothing_taken(site: Site) -> None:
    arrivals = Arrivals(site.hub)
    http, _ = await owner_client(site)
    burst = [motion(f"b-{n}") for n in range(MAX_EVENTS)]
    status, answer, _ = await post(http, site.url(PATH), {"events": burst})
    assert status == 200 and answer["accepted"] == MAX_EVENTS
    more = {"events": [motion(f"m-{n}") for n in range(5)]}
    status, refused, retry_after = await post(http, site.url(PATH), more)
    assert status == 429 and retry_after == "1"
    assert refused["error"].startswith("too many events: 100 at once, then 10 a second")
    assert "nothing of this request was taken" in refused["error"]
    # another sender has its own bucket
    other = await site.client(Authorization=f"Bearer {site.admin_token}")
    status, answer, _ = await post(other, site.url(PATH), motion("admin-1"))
    assert status == 200 and answer["accepted"] == 1
    await asyncio.sleep(float(retry_after))
    status, answer, _ = await post(http, site.url(PATH), more)
    assert status == 200 and answer["accepted"] == 5  # not duplicates: the 429 took nothing
    assert len(await arrivals.settle(site.hub)) == MAX_EVENTS + 1 + 5


async def test_a_credential_with_the_ingest_scope_is_needed(site: Site) -> None:
    readers, _ = await owner_client(site, "cameras:read")
    status, answer, _ = await post(readers, site.url(PATH), motion("s-1"))
    assert status == 403 and answer["error"].startswith("this needs ingest")
    operator = await site.signed_in(Role.OPERATOR)
    status, _, _ = await post(operator, site.url(PATH), motion("s-2"))
    assert status == 403
    stranger = await site.client()
    status, answer, _ = await post(stranger, site.url(PATH), motion("s-3"))
    assert status == 401
    owner = await site.signed_in(Role.OWNER)  # the owner's user, signed in, may send too
    status, answer, _ = await post(owner, site.url(PATH), motion("s-4"))
    assert status == 200 and answer["accepted"] == 1


async def test_bodies_of_the_wrong_shape_or_size_are_refused_whole(site: Site) -> None:
    arrivals = Arrivals(site.hub)
    http, _ = await owner_client(site)
    cases: list[tuple[Any, str]] = [
        ("{", "the body is not JSON"),
        (b"\xff\xfe", "the body is not JSON"),
        ('{"events": [NaN]}', "the body is not JSON"),
        ("[" * 100_000 + "]" * 100_000, "the body is not JSON"),
        ([motion("w-1")], "the body is not a JSON object"),
        ({"events": {"id": "w-2"}}, '"events" must be a list and the only field'),
        ({"events": [motion("w-3")], "source": "bms"}, '"events" must be a list and the only'),
        ({"events": []}, '"events" is empty'),
        ({"events": [motion(f"w-{n}") for n in range(MAX_EVENTS + 1)]}, "101 events: at most 100"),
    ]
    for body, why in cases:
        status, answer, _ = await post(http, site.url(PATH), body)
        assert status == 400, (body, answer)
        assert answer["error"].startswith(why), (why, answer)
    too_large = {"events": [motion("w-4", data={"note": "x" * (MAX_BODY + 1)})]}
    status, answer, _ = await post(http, site.url(PATH), too_large)
    assert status == 413 and answer["error"].startswith("the body is larger than 256 KiB")

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for _ in range(MAX_BODY // 1024 + 1):
            yield b" " * 1024

    async with http.post(site.url(PATH), data=chunked()) as streamed:
        assert streamed.status == 413
    assert await arrivals.settle(site.hub) == []


async def test_an_ingested_motion_raises_an_incident_like_any_motion(
    site: Site, receiver: WebhookReceiver
) -> None:
    seen: asyncio.Queue[Event] = asyncio.Queue()
    site.hub.bus.subscribe("incident.triggered", seen.put, name="test:incidents")
    http, _ = await owner_client(site)
    status, answer, _ = await post(
        http, site.url(PATH), motion("lobi-1", data={"zone": "lobby", "object": "person"})
    )
    assert status == 200 and answer["accepted"] == 1
    async with asyncio.timeout(10):
        opened = await seen.get()
    assert opened.camera_id == "mall-lobi" and opened.data["title"] == "Gerak di lobby"
    await receiver.wait_for(1)
    (hit,) = receiver.hits
    assert hit.path == "/satpol" and hit.title.endswith("Gerak di lobby")


@asynccontextmanager
async def served(tmp_path: Path, receiver: WebhookReceiver) -> AsyncIterator[tuple[Hub, str]]:
    """The test city's hub on a real port, on the data folder under `tmp_path`, stopped after."""
    port = free_port()
    hub = Hub(city(tmp_path, receiver, port))
    runner = web.AppRunner(build_app(hub), shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield hub, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
