"""A session to the NVR over real HTTP: information, streams, snapshots, the event feed, errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

import pytest
from pantau_sunrise_mall.session import SunriseSession
from sunrise_nvr import JPEG, PASSWORD, USERNAME, Drop, FakeNvr, Hang

from hub.vendorkit import event_problems, listen_to, session_problems
from hub.vendors import (
    AuthenticationFailed,
    BadPayload,
    DeviceUnreachable,
    PtzMove,
    Unsupported,
)

Connect = Callable[..., SunriseSession]
MOTION = {"seq": 1, "type": "motion", "channel": 2, "active": True}


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


@pytest.fixture(autouse=True)
def no_password_in_logs(caplog: pytest.LogCaptureFixture) -> object:
    yield
    assert PASSWORD not in caplog.text


async def test_device_info_names_the_nvr_and_its_channels(connect: Connect) -> None:
    info = await connect().device_info()
    assert (info.manufacturer, info.model, info.firmware) == (
        "Sunrise Vision",
        "SV-NVR1604",
        "2.4.1",
    )
    assert info.serial == "SVN04-2201-0042" and info.device_type == "nvr"
    assert [(c.index, c.name, c.online) for c in info.channels] == [
        (1, "Lobby Utara", True),
        (2, "Parkir B1", True),
        (3, "Pintu Timur", False),
    ]
    assert info.extra == {"uptime_s": 86400}


async def test_streams_of_every_channel_or_of_the_cameras_own(connect: Connect) -> None:
    profiles = await connect().streams()
    assert [p.token for p in profiles] == [
        f"ch{n}-{role}" for n in (1, 2, 3) for role in ("main", "sub")
    ]
    own = await connect(channel=2).streams()
    assert [(p.token, p.role, p.url) for p in own] == [
        ("ch2-main", "main", "rtsp://127.0.0.1:554/live/ch2/main"),
        ("ch2-sub", "sub", "rtsp://127.0.0.1:554/live/ch2/sub"),
    ]
    sub = own[1]
    assert (sub.codec, sub.width, sub.height, sub.fps) == ("H.264", 640, 360, 12.5)
    assert sub.snapshot_url is not None and sub.snapshot_url.endswith("/channels/2/snapshot")
    assert all(USERNAME not in (p.url or "") for p in profiles)


async def test_a_snapshot_is_the_nvrs_jpeg(connect: Connect, nvr: FakeNvr) -> None:
    session = connect(channel=3)
    assert await session.snapshot() == JPEG
    assert await session.snapshot(1) == JPEG
    assert nvr.paths[-2:] == ["/api/v1/channels/3/snapshot", "/api/v1/channels/1/snapshot"]
    with pytest.raises(Unsupported, match="snapshot of channel 9"):
        await session.snapshot(9)


async def test_a_wrong_password_is_refused_by_name(connect: Connect) -> None:
    with pytest.raises(AuthenticationFailed) as refused:
        await connect(password="salah").device_info()
    assert str(refused.value) == (
        "camera 'Lobby Utara': the NVR refused user 'satpam' (the system information)"
    )


async def test_an_nvr_that_does_not_answer_is_unreachable(connect: Connect) -> None:
    with pytest.raises(DeviceUnreachable, match="'Lobby Utara': the channel list failed"):
        await connect(port=1).streams()


async def test_an_answer_that_is_not_understood_is_a_bad_payload(
    connect: Connect, nvr: FakeNvr
) -> None:
    nvr.channels = cast(Any, "kosong")
    with pytest.raises(BadPayload, match="'Lobby Utara': the channel list has no 'channels' list"):
        await connect().streams()


async def test_there_is_no_ptz(connect: Connect) -> None:
    session = connect()
    with pytest.raises(Unsupported, match="no PTZ"):
        await session.ptz(PtzMove("continuous", pan=0.5))
    with pytest.raises(Unsupported, match="no PTZ presets"):
        await session.presets()


async def test_the_feed_gives_normalized_events_whatever_the_chunks(
    connect: Connect, nvr: FakeNvr, caplog: pytest.LogCaptureFixture
) -> None:
    line_cross = b'{"seq": 2, "type": "line_cross", "channel": 1, "rule": "Pintu Masuk", '
    nvr.feeds = [
        [
            MOTION,
            {"type": "heartbeat"},
            line_cross,
            0.05,
            b'"target": "human"}\n{"broken\n',
            {"seq": 3, "type": "motion", "channel": 2, "active": False},
            Hang(),
        ]
    ]
    events, error = await listen_to(connect(), 0.5)
    assert error is None and nvr.heartbeats_asked == ["10"]
    assert [(e.kind, e.state, e.channel, e.object, e.region) for e in events] == [
        ("motion", "start", 2, None, None),
        ("line_crossing", "pulse", 1, "person", "Pintu Masuk"),
        ("motion", "end", 2, None, None),
    ]
    assert all(event_problems(e) == [] for e in events)
    assert "camera 'Lobby Utara': skipped a malformed event line" in caplog.text


async def test_a_dropped_feed_is_reopened(connect: Connect, nvr: FakeNvr) -> None:
    nvr.feeds = [[MOTION, Drop()], [{**MOTION, "active": False}, Hang()]]
    events, error = await listen_to(connect(), 0.5)
    assert error is None and nvr.feeds_opened == 2
    assert [e.state for e in events] == ["start", "end"]


async def test_a_silent_feed_is_reopened(connect: Connect, nvr: FakeNvr) -> None:
    nvr.feeds = [[Hang()], [MOTION, Hang()]]
    session = connect(heartbeat=1)
    session._read_timeout = 0.2  # three heartbeats of a second would make a slow test
    events, error = await listen_to(session, 0.6)
    assert error is None and nvr.feeds_opened >= 2 and len(events) == 1


async def test_a_refused_login_ends_the_events(connect: Connect, nvr: FakeNvr) -> None:
    events, error = await listen_to(connect(password="salah"), 1.0)
    assert events == [] and isinstance(error, AuthenticationFailed)
    assert nvr.feeds_opened == 0


async def test_an_nvr_without_a_feed_has_no_events(connect: Connect, nvr: FakeNvr) -> None:
    nvr.has_feed = False
    events, error = await listen_to(connect(), 1.0)
    assert isinstance(error, Unsupported) and "the event feed" in str(error)


async def test_close_ends_the_events(connect: Connect, nvr: FakeNvr) -> None:
    nvr.feeds = [[MOTION, Hang()]]
    session = connect()
    stream = session.events()
    assert (await anext(stream)).kind == "motion"
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    await session.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 1.0)


async def test_the_session_passes_the_hubs_session_check(connect: Connect, nvr: FakeNvr) -> None:
    nvr.feeds = [[MOTION, Hang()]]
    assert await session_problems(connect(channel=1), PASSWORD, 0.5, events_expected=1) == []
