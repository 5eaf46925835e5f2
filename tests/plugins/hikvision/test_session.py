"""A session against a local ISAPI device: digest auth, device info, streams, snapshots, alerts,
reconnection, PTZ, and errors that never show the password."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import pytest

from hub.vendors import (
    AuthenticationFailed,
    BadPayload,
    CameraEvent,
    ChannelInfo,
    DeviceSession,
    DeviceUnreachable,
    PtzMove,
    PtzPreset,
    Unsupported,
    VendorError,
)
from plugins.hikvision.session import HikvisionSession
from tests.plugins.hikvision.conftest import Connect
from tests.plugins.hikvision.device import (
    PASSWORD,
    FakeDevice,
    Step,
    camera_answers,
    jpeg,
    serve,
)
from tests.plugins.hikvision.wire import (
    alert,
    anpr_alert,
    io_alert,
    json_alert,
    part,
    recorded_stream,
    stream,
    variant,
)

pytestmark = pytest.mark.timeout(30)


async def take(
    events: AsyncIterator[CameraEvent], count: int, within: float = 5.0
) -> list[CameraEvent]:
    """The next `count` events, or fail after `within` seconds."""
    taken: list[CameraEvent] = []
    async with asyncio.timeout(within):
        async for event in events:
            taken.append(event)
            if len(taken) == count:
                break
    return taken


def no_password(caplog: pytest.LogCaptureFixture, *texts: str) -> None:
    for text in (caplog.text, *texts):
        assert PASSWORD not in text


# -- device ---------------------------------------------------------------------------------


async def test_device_info_channels_and_streams_of_a_camera(
    camera: FakeDevice, connect: Connect
) -> None:
    session = connect(camera)
    assert isinstance(session, DeviceSession)
    info = await session.device_info()
    assert (info.manufacturer, info.model, info.device_type) == (
        "Hikvision",
        "DS-2DE4A425IW-DE",
        "IPDome",
    )
    assert info.firmware == "V5.5.71 build 180725"
    assert info.serial == "DS-2DE4A425IW-DE20180101AAWRC52000000W"
    assert info.hardware_id == "0x0"
    assert info.channels == (ChannelInfo(1, "Gerbang Timur", None),)
    assert info.extra["deviceName"] == "PTZ"

    main, sub = await session.streams()  # stream 103 is disabled on the device
    assert (main.token, main.role, main.channel) == ("101", "main", 1)
    assert main.url == "rtsp://127.0.0.1:554/Streaming/Channels/101"
    assert (main.codec, main.width, main.height, main.fps, main.bitrate_kbps) == (
        "h264",
        2560,
        1440,
        25.0,
        4096,
    )
    assert (
        main.snapshot_url == f"http://127.0.0.1:{camera.port}/ISAPI/Streaming/channels/101/picture"
    )
    assert (sub.token, sub.role, sub.codec, sub.fps, sub.bitrate_kbps) == (
        "102",
        "sub",
        "h265",
        12.5,
        512,
    )
    assert main.ptz and sub.ptz
    assert all(PASSWORD not in (p.url or "") for p in (main, sub))
    assert camera.unauthorized >= 1  # digest: challenged, then answered


async def test_rtsp_port_and_channel_options_shape_the_urls(
    camera: FakeDevice, connect: Connect
) -> None:
    profiles = await connect(camera, rtsp_port=8554).streams()
    assert profiles[0].url == "rtsp://127.0.0.1:8554/Streaming/Channels/101"


async def test_an_nvr_lists_its_channels_and_offers_two_streams_each(
    nvr: FakeDevice, connect: Connect
) -> None:
    session = connect(nvr)
    info = await session.device_info()
    assert (info.model, info.device_type, len(info.channels)) == ("DS-7616NI-K2", "NVR", 16)
    assert info.channels[0] == ChannelInfo(1, "Pos 01", True)
    assert info.channels[15] == ChannelInfo(16, "Pos 16", False)
    profiles = await session.streams()  # the NVR refuses the stream list: made from channels
    assert len(profiles) == 32
    assert [(p.token, p.role) for p in profiles[:2]] == [("101", "main"), ("102", "sub")]
    assert profiles[-1].url == "rtsp://127.0.0.1:554/Streaming/Channels/1602"
    assert not any(p.ptz for p in profiles)


async def test_snapshot_returns_the_jpeg(camera: FakeDevice, connect: Connect) -> None:
    assert await connect(camera).snapshot() == jpeg()
    camera.answer("/ISAPI/Streaming/channels/201/picture", b"<html>no</html>", kind="text/html")
    with pytest.raises(BadPayload, match="did not answer a JPEG"):
        await connect(camera).snapshot(channel=2)
    with pytest.raises(Unsupported, match="notSupport"):
        await connect(camera).snapshot(channel=3)


async def test_basic_auth_when_asked(connect: Connect) -> None:
    async with serve(camera_answers(FakeDevice(auth="basic"))) as device:
        info = await connect(device, auth="basic").device_info()
        assert info.model == "DS-2DE4A425IW-DE"
        with pytest.raises(AuthenticationFailed):  # a basic-only device cannot take digest
            await connect(device).device_info()


# -- errors ------------------------------------------------------------------------------------


async def test_a_wrong_password_is_authentication_failed_without_the_password(
    camera: FakeDevice, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    camera.password = "something-else"
    session = connect(camera)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(AuthenticationFailed) as failed:
            await session.device_info()
        message = str(failed.value)
        assert "'Gerbang Timur'" in message and "'admin'" in message and "digest" in message
        with pytest.raises(AuthenticationFailed) as in_events:
            await take(session.events(), 1)
    no_password(caplog, message, str(in_events.value), repr(session))
    assert camera.stream_connections == 0


async def test_no_device_is_unreachable_without_the_password(
    connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    device = FakeDevice(port=port)  # never served: nothing listens there
    with caplog.at_level(logging.DEBUG), pytest.raises(DeviceUnreachable) as failed:
        await connect(device).device_info()
    assert "'Gerbang Timur'" in str(failed.value)
    no_password(caplog, str(failed.value))


async def test_a_password_in_an_error_is_masked(camera: FakeDevice, connect: Connect) -> None:
    # A device that echoes what it got (the password, say) in its error must not leak it.
    camera.answer(
        "/ISAPI/System/deviceInfo",
        f"<ResponseStatus><subStatusCode>bad {PASSWORD}</subStatusCode></ResponseStatus>",
        status=400,
    )
    with pytest.raises(VendorError) as failed:
        await connect(camera).device_info()
    assert PASSWORD not in str(failed.value) and "***" in str(failed.value)


# -- events ------------------------------------------------------------------------------------


async def test_recorded_alerts_stream_in_as_events(camera: FakeDevice, connect: Connect) -> None:
    camera.scripts = [[stream(list(recorded_stream()[:62])), "hang"]]
    events = await take(connect(camera).events(), 6)
    assert [(e.kind, e.state, e.channel) for e in events] == [
        ("motion", "start", None),  # a single-channel camera: no channel on its events
        ("line_crossing", "pulse", None),
        ("motion", "end", None),
        ("line_crossing", "pulse", None),
        ("motion", "start", None),
        ("motion", "end", None),
    ]
    assert events[1].region == "1" and events[1].raw_topic == "linedetection"


async def test_broken_framing_is_skipped_and_the_stream_reconnects(
    camera: FakeDevice, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    vmd_on, vmd_off = alert("HikSink.cam.VMD.active"), alert("HikSink.cam.VMD.inactive")
    heartbeat = alert("HikSink.cam.videoloss.inactive")
    bad_length = part(vmd_off).replace(b"Content-Length: ", b"Content-Length: 9")
    first: list[Step] = [
        part(heartbeat),
        b"\x00garbage between parts\r\n",
        part(vmd_on)[:100],  # a part split across writes
        0.02,
        part(vmd_on)[100:],
        part(jpeg(), content_type="image/jpeg"),
        part(b"<EventNotificationAlert><eventType>VMD</eventType"),  # bad XML
        bad_length,  # a Content-Length that runs past the next boundary
        part(vmd_on, length=False),  # repeat: no new start
        part(json_alert("fielddetection", "active"), content_type="application/json"),
        part(anpr_alert("B 1234 XYZ")),
        part(vmd_off)[:-150],  # the device drops the connection in the middle of a part
        "disconnect",
    ]
    second: list[Step] = [
        part(heartbeat),
        part(vmd_off),
        part(io_alert("active", 1)),
        part(io_alert("inactive", 1)),
        "hang",
    ]
    camera.scripts = [first, second]
    session = connect(camera, event_timeout=60)
    with caplog.at_level(logging.DEBUG, "plugins.hikvision"):
        events = await take(session.events(), 6)
    assert [(e.kind, e.state, e.detail) for e in events] == [
        ("motion", "start", None),
        ("intrusion", "start", "field"),
        ("plate", "pulse", "B 1234 XYZ"),  # ANPR
        ("motion", "end", None),  # after reconnecting
        ("io_input", "start", "1"),
        ("io_input", "end", "1"),
    ]
    assert events[2].object == "vehicle" and events[2].raw["plate"] == "B 1234 XYZ"
    assert camera.stream_connections == 2
    text = caplog.text
    assert "outside any part" in text
    assert "skipped a malformed alert:" in text and "not well-formed" in text
    assert "runs past the boundary" in text
    assert "the stream ended inside a part" in text
    assert "reconnecting in" in text
    assert "skipped a image/jpeg part" in text
    assert all(
        "Gerbang Timur" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
    )
    no_password(caplog)


async def test_an_nvr_s_alerts_land_on_their_channels(nvr: FakeDevice, connect: Connect) -> None:
    nvr.scripts = [
        [
            stream(
                [
                    alert("HikSink.nvr.VMD.active"),
                    alert("HikSink.nvr.fielddetection.active"),
                    alert("HikSink.nvr.linedetection.active"),
                    alert("HikSink.nvr.videoloss.active"),
                    json_alert("VMD", "active", 9),  # labelled XML, as some firmware does
                ]
            ),
            "hang",
        ]
    ]
    events = await take(connect(nvr).events(), 5)
    assert [(e.kind, e.channel) for e in events] == [
        ("motion", 15),
        ("intrusion", 7),
        ("line_crossing", 5),
        ("video_loss", 16),
        ("motion", 9),
    ]


async def test_a_condition_ends_when_its_repeats_stop(camera: FakeDevice, connect: Connect) -> None:
    active = part(alert("HikSink.cam.VMD.active"))
    camera.scripts = [[active, 0.1, active, "hang"]]
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = await take(connect(camera, event_timeout=0.5).events(), 2)
    assert [(e.kind, e.state) for e in events] == [("motion", "start"), ("motion", "end")]
    assert 0.5 <= loop.time() - started < 3


async def test_close_ends_the_events(camera: FakeDevice, connect: Connect) -> None:
    camera.scripts = [[part(alert("HikSink.cam.VMD.active")), "hang"]]
    session = connect(camera)
    seen: list[CameraEvent] = []
    first = asyncio.Event()

    async def consume() -> None:
        async for event in session.events():
            seen.append(event)
            first.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        await first.wait()
    await session.close()
    async with asyncio.timeout(5):
        await task  # ended, without an error
    await session.close()  # twice is fine
    assert [e.state for e in seen] == ["start"]
    assert [e async for e in session.events()] == []


async def test_a_device_without_an_alert_stream_is_unsupported(
    camera: FakeDevice, connect: Connect
) -> None:
    camera.answer("/ISAPI/Event/notification/alertStream", b"<ResponseStatus/>", status=404)
    with pytest.raises(Unsupported, match="alertStream answered 404"):
        await take(connect(camera).events(), 1)


async def test_an_unreachable_device_is_retried_until_it_answers(connect: Connect) -> None:
    device = camera_answers(FakeDevice())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        device.port = probe.getsockname()[1]
    device.scripts = [[part(alert("HikSink.cam.VMD.active")), "hang"]]
    events = connect(device).events()
    first = asyncio.ensure_future(take(events, 1))
    await asyncio.sleep(0.3)  # a few failed attempts: nothing listens yet
    assert not first.done()
    async with serve(device, device.port):
        (event,) = await first
    assert (event.kind, event.state) == ("motion", "start")


# -- PTZ -------------------------------------------------------------------------------------


async def test_ptz_moves_and_presets(camera: FakeDevice, connect: Connect) -> None:
    session = connect(camera)
    await session.ptz(PtzMove("continuous", pan=0.5, tilt=-1.0, zoom=0.0, speed=0.5))
    await session.ptz(PtzMove("stop"))
    await session.ptz(PtzMove("continuous", pan=1.0, timeout=1.5))
    await session.ptz(PtzMove("goto_preset", preset="2"))
    await session.ptz(PtzMove("set_preset", preset="4"))
    await session.ptz(PtzMove("home", channel=1))
    assert camera.puts == [
        (
            "/ISAPI/PTZCtrl/channels/1/continuous",
            "<PTZData><pan>25</pan><tilt>-50</tilt><zoom>0</zoom></PTZData>",
        ),
        (
            "/ISAPI/PTZCtrl/channels/1/continuous",
            "<PTZData><pan>0</pan><tilt>0</tilt><zoom>0</zoom></PTZData>",
        ),
        (
            "/ISAPI/PTZCtrl/channels/1/momentary",
            "<PTZData><pan>100</pan><tilt>0</tilt><zoom>0</zoom>"
            "<Momentary><duration>1500</duration></Momentary></PTZData>",
        ),
        ("/ISAPI/PTZCtrl/channels/1/presets/2/goto", ""),
        (
            "/ISAPI/PTZCtrl/channels/1/presets/4",
            "<PTZPreset><id>4</id><presetName>preset 4</presetName></PTZPreset>",
        ),
        ("/ISAPI/PTZCtrl/channels/1/homeposition/goto", ""),
    ]
    assert await session.presets() == [PtzPreset("1", "Gate"), PtzPreset("2", "Road")]


async def test_a_timed_move_without_momentary_is_stopped_by_the_session(
    camera: FakeDevice, connect: Connect
) -> None:
    camera.answer("/ISAPI/PTZCtrl/channels/1/momentary", b"<ResponseStatus/>", status=403)
    session = connect(camera)
    await session.ptz(PtzMove("continuous", tilt=0.2, timeout=0.1))
    async with asyncio.timeout(5):
        await camera.wait_for_puts(3)
    kinds = [path.rsplit("/", 1)[1] for path, _ in camera.puts]
    assert kinds == ["momentary", "continuous", "continuous"]  # refused, moved, stopped
    assert camera.puts[2][1] == "<PTZData><pan>0</pan><tilt>0</tilt><zoom>0</zoom></PTZData>"


async def test_ptz_where_there_is_none_is_unsupported(camera: FakeDevice, connect: Connect) -> None:
    for path in ("/ISAPI/PTZCtrl/channels/2/continuous", "/ISAPI/PTZCtrl/channels/2/presets"):
        camera.answer(
            path,
            b"<ResponseStatus><subStatusCode>notSupport</subStatusCode></ResponseStatus>",
            status=403,
        )
    session: HikvisionSession = connect(camera)
    with pytest.raises(Unsupported, match="answered 403 \\(notSupport\\)"):
        await session.ptz(PtzMove("continuous", pan=1, channel=2))
    with pytest.raises(Unsupported):
        await session.presets(channel=2)
    with pytest.raises(Unsupported, match="not implemented"):
        await session.ptz(PtzMove("relative", pan=0.1))
    with pytest.raises(Unsupported, match="presets are numbers"):
        await session.ptz(PtzMove("goto_preset", preset="Gate"))


async def test_alerts_with_unknown_types_and_io_from_the_stream(
    camera: FakeDevice, connect: Connect
) -> None:
    camera.scripts = [
        [
            stream(
                [
                    variant(alert("HikSink.cam.VMD.active"), "thermometry", "active"),
                    io_alert("active", 3),
                ]
            ),
            "hang",
        ]
    ]
    events = await take(connect(camera).events(), 2)
    assert [(e.kind, e.raw_topic, e.detail) for e in events] == [
        ("raw", "thermometry", None),
        ("io_input", "IO", "3"),
    ]
