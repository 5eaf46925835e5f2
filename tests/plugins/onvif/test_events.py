"""PullPoint events end to end: arrive, renew early, resubscribe (rate limited), end stale ones."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from hub.vendors import AuthenticationFailed, CameraEvent
from plugins.onvif.session import OnvifSession
from tests.plugins.onvif.conftest import CAMERA, FAST, CameraMaker, SessionMaker
from tests.plugins.onvif.fakecam import FIXTURES, PASSWORD, Answer, fault

MOTION = "tns1:RuleEngine/CellMotionDetector/Motion"


async def until(check: Callable[[], object], within: float = 5.0) -> None:
    """Wait until `check()` is true."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def collecting(session: OnvifSession) -> AsyncIterator[list[CameraEvent]]:
    """The session's events, gathered in a list by a background task."""
    events: list[CameraEvent] = []

    async def consume() -> None:
        async for event in session.events():
            events.append(event)

    task = asyncio.create_task(consume())
    try:
        yield events
    finally:
        await session.close()
        await asyncio.wait_for(task, 5.0)  # the iterator ends when the session closes


def notification(topic: str, data: str, operation: str = "Changed", source: str = "") -> str:
    return (
        '<wsnt:NotificationMessage xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"'
        ' xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:tt="http://www.onvif.org/ver10/schema">'
        f'<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">{topic}'
        f'</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2025-04-18T20:34:05Z"'
        f' PropertyOperation="{operation}"><tt:Source>{source}</tt:Source>'
        f"<tt:Data>{data}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    )


def pull_answer(template: str, *notifications: str) -> str:
    """A recorded PullMessagesResponse (no messages) with these notifications put in."""
    at = template.index("</tev:PullMessagesResponse>")
    return template[:at] + "".join(notifications) + template[at:]


async def test_events_arrive(make_camera: CameraMaker, open_session: SessionMaker) -> None:
    camera = await make_camera("agsh-hd-predator")
    camera.pulls.append(camera.messages(blocks=True))
    session = open_session(camera)
    async with collecting(session) as events:
        await until(lambda: len(events) == 2)
    create = camera.seen("CreatePullPointSubscription")[0]
    assert create.text("InitialTerminationTime") == "PT3S"  # relative: camera clocks lie
    first = events[0]
    assert (first.kind, first.state, first.raw_topic) == ("motion", "start", MOTION)
    assert first.region == "000" and first.channel is None and first.time is not None
    assert first.raw["data"] == {"IsMotion": "true"}
    assert camera.seen("PullMessages")[0].path == "/onvif/pullpoint/1"
    assert camera.seen("Unsubscribe"), "closing the session ends the subscription"


async def test_hikvision_initialized_state_and_unknown_topics(
    make_camera: CameraMaker, open_session: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    camera = await make_camera("agsh-hd-predator")
    camera.subscription_template = "hikvision/CreatePullPointSubscriptionResponse.xml"
    recorded = (FIXTURES / "hikvision" / "PullMessagesResponse.initialized-topics.xml").read_text()
    camera.pulls += [recorded, recorded]
    caplog.set_level(logging.INFO, logger="plugins.onvif")
    async with collecting(open_session(camera)) as events:
        await until(lambda: len(events) == 6)
        await until(lambda: len(camera.seen("PullMessages")) >= 3)
    assert camera.seen("PullMessages")[0].path.startswith("/onvif/Events/PullSubManager_")
    # every condition is Initialized false: no start; the Monitoring topics come raw
    assert {event.kind for event in events} == {"raw"}
    assert {event.raw_topic for event in events} == {
        "tns1:Monitoring/OperatingTime/LastReset",
        "tns1:Monitoring/OperatingTime/LastReboot",
        "tns1:Monitoring/OperatingTime/LastClockSynchronization",
    }
    unknown = [r.getMessage() for r in caplog.records if "unknown event topic" in r.getMessage()]
    assert len(unknown) == 3 and all(CAMERA in line for line in unknown)


async def test_renewal_comes_early(make_camera: CameraMaker, open_session: SessionMaker) -> None:
    camera = await make_camera("agsh-hd-predator")
    async with collecting(open_session(camera)):
        await until(lambda: camera.seen("Renew"), within=4.0)
    created, renewed = camera.seen("CreatePullPointSubscription")[0], camera.seen("Renew")[0]
    assert 1.5 <= renewed.at - created.at < 2.8  # 2/3 of the 3 s granted
    assert renewed.text("TerminationTime") == "PT3S"
    assert len(camera.seen("CreatePullPointSubscription")) == 1


async def test_failed_renewal_leads_to_a_new_subscription(
    make_camera: CameraMaker, open_session: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    camera = await make_camera("agsh-hd-predator")
    camera.renew_fails = True
    caplog.set_level(logging.WARNING, logger="plugins.onvif")
    async with collecting(open_session(camera)):
        await until(
            lambda: any(s.path == "/onvif/pullpoint/2" for s in camera.seen("PullMessages")),
            within=5.0,
        )
    lost = [r.getMessage() for r in caplog.records if "subscription lost" in r.getMessage()]
    assert lost and CAMERA in lost[0] and "renewal failed" in lost[0]
    assert len(camera.seen("CreatePullPointSubscription")) == 2


async def test_resubscription_is_rate_limited(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("agsh-hd-predator")
    camera.renew_fails = True
    camera.grant = 1.0  # renewal due after 0.67 s, and it fails: the subscription is lost
    timing = replace(FAST, termination=1.0, resubscribe_every=1.2)
    async with collecting(open_session(camera, timing=timing)):
        await until(lambda: len(camera.seen("CreatePullPointSubscription")) == 3, within=6.0)
    times = [seen.at for seen in camera.seen("CreatePullPointSubscription")]
    assert all(later - earlier >= 1.15 for earlier, later in zip(times, times[1:], strict=False))


async def test_a_refused_login_ends_the_events_at_once(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("agsh-hd-predator", password="changed-on-the-camera")
    events = open_session(camera, password=PASSWORD).events()
    with pytest.raises(AuthenticationFailed):
        await anext(events)
    logins = [seen for seen in camera.requests if seen.operation != "GetSystemDateAndTime"]
    assert len(logins) == 1  # the hub tries again minutes later: knocking locks accounts


async def test_failing_subscriptions_are_tried_again_rate_limited(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("agsh-hd-predator")
    camera.handlers["CreatePullPointSubscription"] = lambda seen: Answer(
        fault("Receiver", "ter:Action", "too many subscriptions"), 500
    )
    timing = replace(FAST, resubscribe_every=1.0)
    async with collecting(open_session(camera, timing=timing)):
        await asyncio.sleep(2.5)
    tries = [seen.at for seen in camera.seen("CreatePullPointSubscription")]
    assert 2 <= len(tries) <= 3
    assert all(later - earlier >= 0.95 for earlier, later in zip(tries, tries[1:], strict=False))


async def test_a_lost_subscription_ends_what_it_started(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("agsh-hd-predator")
    empty = camera.messages(blocks=False)
    start = notification(
        MOTION,
        '<tt:SimpleItem Name="IsMotion" Value="true"/>',
        source='<tt:SimpleItem Name="Rule" Value="MyMotionDetectorRule"/>',
    )
    camera.pulls.append(pull_answer(empty, start))
    async with collecting(open_session(camera)) as events:
        await until(lambda: len(events) == 1)
        camera.pullpoints["/onvif/pullpoint/1"].alive = False  # the camera rebooted
        await until(lambda: len(events) == 2)
        await until(lambda: len(camera.seen("CreatePullPointSubscription")) == 2)
    started, ended = events
    assert (started.state, ended.state) == ("start", "end")
    assert ended.raw["stale"] is True and ended.time is None
    assert (ended.kind, ended.raw_topic, ended.region) == ("motion", MOTION, "MyMotionDetectorRule")


async def test_malformed_notifications_are_skipped(
    make_camera: CameraMaker, open_session: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    camera = await make_camera("agsh-hd-predator")
    empty = camera.messages(blocks=False)
    good = notification("tns1:VideoSource/SignalLoss", '<tt:SimpleItem Name="State" Value="true"/>')
    no_topic = notification("", '<tt:SimpleItem Name="State" Value="true"/>')
    not_boolean = notification(MOTION, '<tt:SimpleItem Name="IsMotion" Value="maybe"/>')
    camera.pulls += [pull_answer(empty, no_topic, good, not_boolean), "this is not XML <"]
    camera.pulls.append(pull_answer(empty, good.replace('"true"', '"false"')))
    caplog.set_level(logging.WARNING, logger="plugins.onvif")
    async with collecting(open_session(camera)) as events:
        await until(lambda: len(events) == 2)
    assert [(e.kind, e.state) for e in events] == [("video_loss", "start"), ("video_loss", "end")]
    skipped = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert skipped and all(CAMERA in line for line in skipped)
    assert any("without a topic" in line for line in skipped)
    assert any("PullMessages answer" in line for line in skipped)
    assert len(camera.seen("CreatePullPointSubscription")) == 1


async def test_events_end_when_the_session_closes(
    make_camera: CameraMaker, open_session: SessionMaker, tmp_path: Path
) -> None:
    camera = await make_camera("agsh-hd-predator")
    session = open_session(camera)
    iterator = session.events()
    pending = asyncio.ensure_future(anext(iterator))
    await until(lambda: camera.seen("PullMessages"))
    with pytest.raises(RuntimeError, match="one reader"):
        await anext(session.events())
    await session.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, 2.0)
    await session.close()
