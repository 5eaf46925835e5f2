"""End to end against a local device that requires digest auth: CGI, snapshots, PTZ, events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket

import pytest

from hub.vendorkit import PayloadLog
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
from plugins.dahua import session as session_module
from plugins.dahua.events import normalize
from plugins.dahua.eventstream import DahuaEvent
from plugins.dahua.session import DahuaSession
from tests.plugins.dahua.conftest import Connect
from tests.plugins.dahua.fakecam import (
    HEARTBEAT,
    PASSWORD,
    Drop,
    FakeDahua,
    Hang,
    fixture,
    part,
    record,
)

WRONG_PASSWORD = "S3cret-wrong!pw"  # noqa: S105


async def collect(session: DahuaSession, count: int, within: float = 5.0) -> list[CameraEvent]:
    events: list[CameraEvent] = []
    async with asyncio.timeout(within), contextlib.aclosing(session.events()) as stream:
        async for event in stream:
            events.append(event)
            if len(events) == count:
                break
    return events


def dahua_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "plugins.dahua"]


# -- device information, streams, snapshots ----------------------------------------------------


async def test_device_info_reads_the_recorded_magicbox_answers(connect: Connect) -> None:
    session = connect()
    assert isinstance(session, DeviceSession)
    info = await session.device_info()
    assert info.manufacturer == "Dahua"
    assert info.model == "IPC-HDW5831R-ZE"
    assert info.firmware == "2.800.0000016.0.R"
    assert info.serial == "4X7C5A1ZAG21L3F"
    assert info.hardware_id == "1.00"
    assert info.device_type == "camera"
    # No MaxRemoteInputChannels on a fixed camera (400 Error): one channel, named.
    assert info.channels == (ChannelInfo(index=1, name="Gerbang Utara"),)
    assert info.extra == {
        "build": "2020-06-05",
        "processor": "S3LM",
        "update_serial": "IPC-HDW5830R-Z",
        "hardware_version": "1.00",
        "name": "FrontDoorCam",
    }


async def test_an_nvr_lists_every_channel_it_has(camera: FakeDahua, connect: Connect) -> None:
    camera.answers[("magicBox.cgi", "getDeviceType")] = (200, "type=DHI-NVR4104HS-P-4KS2\r\n")
    camera.answers[("configManager.cgi", "getConfig", "ChannelTitle")] = (
        200,
        "table.ChannelTitle[1].Name=Pasar Puri\r\n\r\nChannelTitle[0].Name=Pintu Utara\n",
    )
    camera.answers[("magicBox.cgi", "getProductDefinition", "MaxRemoteInputChannels")] = (
        200,
        "table.MaxRemoteInputChannels=4\r\n",
    )
    info = await connect().device_info()
    assert info.device_type == "nvr"
    assert [(c.index, c.name) for c in info.channels] == [
        (1, "Pintu Utara"),
        (2, "Pasar Puri"),
        (3, None),
        (4, None),
    ]
    streams = await connect().streams()
    assert [(s.channel, s.role) for s in streams][:4] == [
        (1, "main"),
        (1, "sub"),
        (2, "main"),
        (2, "sub"),
    ]
    assert len(streams) == 8


async def test_streams_are_the_rtsp_urls_of_the_cameras_channel(connect: Connect) -> None:
    session = connect(options={"channel": 3, "rtsp_port": 8554})
    streams = await session.streams()
    base = "rtsp://127.0.0.1:8554/cam/realmonitor?channel=3"
    assert [(s.role, s.url, s.channel) for s in streams] == [
        ("main", base + "&subtype=0", 3),
        ("sub", base + "&subtype=1", 3),
    ]
    assert all(
        s.snapshot_url and s.snapshot_url.endswith("snapshot.cgi?channel=3") for s in streams
    )
    assert all(PASSWORD not in (s.url or "") for s in streams)


async def test_a_snapshot_is_the_devices_jpeg(camera: FakeDahua, connect: Connect) -> None:
    picture = await connect().snapshot(channel=2)
    assert picture == camera.snapshot
    assert picture.startswith(b"\xff\xd8") and picture.endswith(b"\xff\xd9")
    assert ("snapshot.cgi", {"channel": "2"}) in camera.requests


async def test_a_snapshot_that_is_no_jpeg_is_a_bad_payload(
    camera: FakeDahua, connect: Connect
) -> None:
    camera.snapshot = b"<html>busy</html>"
    with pytest.raises(BadPayload, match="'Gerbang Utara'.*not a JPEG"):
        await connect().snapshot()


# -- failures ----------------------------------------------------------------------------------


async def test_a_refused_login_is_authentication_failed_and_never_shows_the_password(
    connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session = connect(password=WRONG_PASSWORD)
    with pytest.raises(AuthenticationFailed) as refused:
        await session.device_info()
    message = str(refused.value)
    assert "'Gerbang Utara'" in message and "'admin'" in message
    with pytest.raises(AuthenticationFailed):
        await session.snapshot()
    # The event stream keeps trying, and says why, without the password either.
    task = asyncio.create_task(collect(session, 1))
    await asyncio.sleep(0.4)
    await session.close()
    assert await asyncio.wait_for(task, 2.0) == []
    logged = " ".join(dahua_log(caplog))
    assert "refused user 'admin'" in logged
    everything = " ".join(r.getMessage() for r in caplog.records) + message + repr(refused.value)
    assert WRONG_PASSWORD not in everything and PASSWORD not in everything


async def test_no_answer_is_device_unreachable(connect: Connect) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(DeviceUnreachable, match="'Gerbang Utara'") as unreachable:
        await connect(port=closed_port).device_info()
    assert PASSWORD not in str(unreachable.value)


async def test_a_closed_session_refuses_more_work(connect: Connect) -> None:
    session = connect()
    await session.close()
    await session.close()
    with pytest.raises(DeviceUnreachable, match="closed"):
        await session.snapshot()
    assert [event async for event in session.events()] == []


# -- PTZ ---------------------------------------------------------------------------------------


def ptz_calls(camera: FakeDahua) -> list[dict[str, str]]:
    return [query for cgi, query in camera.requests if cgi == "ptz.cgi"]


def command(
    action: str, code: str, arg1: int = 0, arg2: int = 0, channel: int = 1
) -> dict[str, str]:
    return {
        "action": action,
        "channel": str(channel),
        "code": code,
        "arg1": str(arg1),
        "arg2": str(arg2),
        "arg3": "0",
    }


async def test_ptz_moves_become_dahua_commands(camera: FakeDahua, connect: Connect) -> None:
    camera.answers[("ptz.cgi", "start")] = (200, "OK\r\n")
    camera.answers[("ptz.cgi", "stop")] = (200, "OK\r\n")
    session = connect(options={"channel": 2})
    await session.ptz(PtzMove("continuous", pan=-0.5))
    await session.ptz(PtzMove("continuous", pan=0.9, tilt=0.9, zoom=0.25, speed=1.0))
    await session.ptz(PtzMove("stop"))
    await session.ptz(PtzMove("goto_preset", preset="3"))
    await session.ptz(PtzMove("set_preset", preset="7", channel=4))
    assert ptz_calls(camera) == [
        command("start", "Left", 0, 4, channel=2),
        command("stop", "Left", channel=2),  # a new direction ends the old one
        command("start", "RightUp", 8, 8, channel=2),
        command("start", "ZoomTele", 0, 8, channel=2),
        command("stop", "RightUp", channel=2),
        command("stop", "ZoomTele", channel=2),
        command("start", "GotoPreset", 0, 3, channel=2),
        command("start", "SetPreset", 0, 7, channel=4),
    ]


async def test_a_timed_move_is_stopped_by_the_session(camera: FakeDahua, connect: Connect) -> None:
    camera.answers[("ptz.cgi", "start")] = (200, "OK\r\n")
    camera.answers[("ptz.cgi", "stop")] = (200, "OK\r\n")
    await connect().ptz(PtzMove("continuous", tilt=-1.0, timeout=0.1))
    await asyncio.sleep(0.4)
    assert ptz_calls(camera) == [command("start", "Down", 0, 8), command("stop", "Down")]


async def test_ptz_the_device_cannot_do_is_unsupported(camera: FakeDahua, connect: Connect) -> None:
    session = connect()
    with pytest.raises(Unsupported, match="'Gerbang Utara'"):
        await session.ptz(PtzMove("continuous", pan=1.0))  # a fixed camera: 400 Error
    camera.answers[("ptz.cgi", "start")] = (200, "Error\r\nNo PTZ\r\n")
    with pytest.raises(Unsupported):
        await session.ptz(PtzMove("goto_preset", preset="1"))
    with pytest.raises(Unsupported, match="numbers"):
        await session.ptz(PtzMove("goto_preset", preset="Gate"))
    for kind in ("relative", "absolute", "home"):
        with pytest.raises(Unsupported, match=kind):
            await session.ptz(PtzMove(kind))
    with pytest.raises(Unsupported):
        await session.presets()


async def test_presets_are_listed_in_order(camera: FakeDahua, connect: Connect) -> None:
    # Not recorded: the documented getPresets answer shape.
    camera.answers[("ptz.cgi", "getPresets")] = (
        200,
        "presets[0].Index=1\r\npresets[0].Name=Alun-alun\r\npresets[0].Type=0\r\n"
        "presets[1].Index=4\r\npresets[1].Name=\r\n\r\n",
    )
    presets = await connect().presets(channel=1)
    assert presets == [PtzPreset("1", "Alun-alun"), PtzPreset("4", None)]


# -- events ------------------------------------------------------------------------------------


async def test_events_survive_bad_input_and_a_dropped_connection(
    camera: FakeDahua, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    line = json.loads(fixture("eventManager-attach/rroller.CrossLineDetection.start.parsed.json"))
    region = json.loads(
        fixture("eventManager-attach/scrypted.CrossRegionDetection.human.data.json")
    )
    door = json.loads(fixture("vto-rpc/VTO.eventList.examples.json"))[1]
    camera.scripts = [
        [
            HEARTBEAT,
            part(record("VideoMotion", "Start", 0)),
            b"\r\n\x00\xffnot a part at all\r\n",  # garbage between parts
            part(record(line["Code"], line["action"], line["index"], line["data"], indent=2)),
            0.02,
            # Broken framing: a header without a colon, and no blank line before the body.
            b"--myboundary\r\nContent-Type text/plain\r\n"
            b"Code=VideoBlind;action=Start;index=1\r\n\r\n",
            part(record("SceneChange", "Start", 0) + ';data={"Name": "x",'),  # bad data JSON
            # A part cut short: its data never closes before the next part begins.
            b"--myboundary\r\nContent-Length: 300\r\n\r\n"
            b'Code=VideoLoss;action=Start;index=0;data={\r\n  "UTC": 17\r\n',
            part(record(door["Code"], door["Action"], door["Index"], door["Data"]), length=False),
            part(record("CrossRegionDetection", "Start", 3, region, indent=4)),
            HEARTBEAT,
            # The connection drops in the middle of a part.
            b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n\r\nCode=VideoMo",
            0.02,
            Drop(),
        ],
        [
            HEARTBEAT,
            part(record("VideoMotion", "Stop", 0)),
            part(record("SmartMotionHuman", "Start", 1)),
            Hang(),
        ],
    ]
    session = connect()
    events = await collect(session, 7)
    assert [(e.kind, e.state, e.channel, e.object, e.detail, e.region) for e in events] == [
        ("motion", "start", 1, None, None, None),
        ("line_crossing", "start", 1, None, None, "Rule1"),  # ObjectType Unknown
        ("tamper", "start", 2, None, "covered", None),
        ("raw", "pulse", 1, None, None, None),
        ("intrusion", "start", 4, "person", "region", "Rule1"),
        # after the reconnection
        ("motion", "end", 1, None, None, None),
        ("motion", "start", 2, "person", None, None),
    ]
    assert events[1].raw["data"]["DetectLine"] == [[18, 4098], [8155, 5549]]
    assert events[3].raw_topic == "DoorStatus"
    assert events[4].raw["data"] == region
    assert camera.attaches == 2
    assert session.payloads.malformed_count >= 4  # garbage, header, bad JSON, cut part, drop
    logged = dahua_log(caplog)
    assert any("unknown event topic 'DoorStatus'" in m for m in logged)
    assert any("reconnecting" in m for m in logged)
    warnings = [m for m in logged if "malformed" in m]
    assert warnings and all("'Gerbang Utara'" in m for m in warnings)
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


async def test_a_silent_stream_is_dead_and_reconnected(
    camera: FakeDahua, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    camera.scripts = [[HEARTBEAT, Hang()], [part(record("VideoLoss", "Start", 0)), Hang()]]
    events = await collect(connect(read_timeout=0.3), 1)
    assert [(e.kind, e.state) for e in events] == [("video_loss", "start")]
    assert camera.attaches == 2
    assert any("silent for 0.3 s" in m for m in dahua_log(caplog))


async def test_the_attach_request_asks_for_all_codes_and_heartbeats(
    camera: FakeDahua, connect: Connect
) -> None:
    camera.scripts = [[part(record("VideoMotion", "Start", 0)), Hang()]]
    await collect(connect(options={"heartbeat": 7}), 1)
    assert (
        "eventManager.cgi",
        {"action": "attach", "codes": "[All]", "heartbeat": "7"},
    ) in camera.requests


async def test_close_ends_a_waiting_event_stream(camera: FakeDahua, connect: Connect) -> None:
    session = connect()
    task = asyncio.create_task(collect(session, 1, within=30.0))
    await asyncio.wait_for(camera.attached.wait(), 2.0)
    await asyncio.sleep(0.05)
    await session.close()
    assert await asyncio.wait_for(task, 2.0) == []


async def test_errors_are_vendor_errors(connect: Connect) -> None:
    with pytest.raises(VendorError):
        await connect(password=WRONG_PASSWORD).presets()


async def test_a_bug_in_parsing_does_not_end_the_stream(
    camera: FakeDahua, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = normalize
    calls: list[str] = []

    def first_call_fails(event: DahuaEvent, payloads: PayloadLog) -> CameraEvent | None:
        calls.append(event.code)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return real(event, payloads)

    monkeypatch.setattr(session_module, "normalize", first_call_fails)
    camera.scripts = [
        [
            part(record("VideoBlind", "Start", 0)),
            0.05,
            part(record("VideoMotion", "Start", 0)),
            Hang(),
        ]
    ]
    session = connect()
    events = await collect(session, 1)
    assert [(e.kind, e.state) for e in events] == [("motion", "start")]
    assert calls == ["VideoBlind", "VideoMotion"]
    assert session.payloads.malformed_count == 1
    assert camera.attaches == 1
