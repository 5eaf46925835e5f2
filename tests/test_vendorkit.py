"""The kit for vendor plugin authors: payload logging, and the session check run on real plugins."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.vendorkit import PayloadLog, event_problems, json_ready, sample, session_problems
from hub.vendors import CameraAccess, CameraEvent, DeviceInfo, StreamProfile, VendorError
from plugins.dahua.session import DahuaSession
from plugins.hikvision.camera import HikvisionVendor
from tests.plugins.dahua import fakecam
from tests.plugins.hikvision import device as hikdevice
from tests.plugins.hikvision.wire import alert, stream

log = logging.getLogger("tests.vendorkit")


def test_a_malformed_payload_is_logged_with_the_camera_then_rate_limited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    payloads = PayloadLog(log, "Gerbang Timur", every=60)
    for _ in range(5):
        payloads.malformed("alert", b"<EventNotificationAlert><broken", ValueError("bad XML"))
    payloads.malformed("heartbeat", "x" * 1000, "no boundary")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and payloads.malformed_count == 6
    assert "'Gerbang Timur'" in lines[0] and "bad XML" in lines[0] and "<broken" in lines[0]
    assert "(1000 chars)" in lines[1] and len(lines[1]) < 500


def test_an_unknown_topic_is_logged_once_with_a_sample(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    payloads = PayloadLog(log, "Pasar Legi")
    assert payloads.unknown_topic("tns1:Custom/Thing", {"value": 1})
    assert not payloads.unknown_topic("tns1:Custom/Thing", {"value": 2})
    assert caplog.text.count("tns1:Custom/Thing") == 1 and "'value': 1" in caplog.text


def test_samples_are_printable_and_raw_data_json_ready() -> None:
    assert sample(b"\x00\xffok\r\n") == "\\x00\\ufffdok\\r\\n"
    assert json_ready({"a": (1, b"x", {2}), 3: None}) == {"a": [1, "x", [2]], "3": None}


def test_event_problems_name_what_the_hub_would_refuse() -> None:
    assert event_problems(CameraEvent("motion", "start", "VMD", channel=2)) == []
    bad: Any = CameraEvent("smoke", "on", "", raw={"b": b"x"}, channel=0, object="cat")  # type: ignore[arg-type]
    problems = " | ".join(event_problems(bad))
    for expected in ("kind 'smoke'", "state 'on'", "raw_topic", "object 'cat'", "channel 0"):
        assert expected in problems
    assert "JSON-ready" in problems
    assert event_problems({"kind": "motion"}) == ["events() yielded a dict, not a CameraEvent"]


async def test_the_hikvision_plugin_passes_the_session_check() -> None:
    device = hikdevice.camera_answers(hikdevice.FakeDevice())
    device.scripts = [[stream([alert("HikSink.cam.VMD.active")]), "hang"]]
    async with hikdevice.serve(device):
        access = CameraAccess(
            "Gerbang Timur",
            host="127.0.0.1",
            port=device.port,
            username=hikdevice.USERNAME,
            password=hikdevice.PASSWORD,
        )
        session = HikvisionVendor().connect(access)
        assert await session_problems(session, hikdevice.PASSWORD, 1.0, events_expected=1) == []


async def test_the_dahua_plugin_passes_the_session_check() -> None:
    camera = fakecam.FakeDahua(answers=fakecam.ipc_answers(), snapshot=fakecam.make_jpeg())
    camera.scripts = [[fakecam.part(fakecam.record("VideoMotion", "Start", 0)), fakecam.Hang()]]
    async for served in fakecam.serve(camera):
        access = CameraAccess(
            "Gerbang Utara",
            host="127.0.0.1",
            port=served.port,
            username=fakecam.USERNAME,
            password=fakecam.PASSWORD,
        )
        session = DahuaSession(access)
        assert await session_problems(session, fakecam.PASSWORD, 1.0, events_expected=1) == []


class CarelessSession:
    """What the check must catch: wrong types, foreign exceptions, leaked passwords."""

    closed = 0

    async def device_info(self) -> Any:
        return {"model": "X"}

    async def streams(self) -> list[StreamProfile]:
        return [StreamProfile("1", "rtsp://admin:hunter2@10.0.0.5/live", role="main")]

    async def snapshot(self, channel: int | None = None) -> bytes:
        raise VendorError("login as admin:hunter2 refused")

    async def events(self) -> AsyncIterator[CameraEvent]:
        yield CameraEvent("motion", "start", "md")
        raise RuntimeError("socket went away")

    async def close(self) -> None:
        self.closed += 1


async def test_the_session_check_catches_a_careless_plugin() -> None:
    session = CarelessSession()
    problems = " | ".join(await session_problems(session, "hunter2", 0.5, events_expected=3))
    assert "not a DeviceInfo" in problems
    assert "url holds credentials" in problems
    assert "snapshot: the error message holds the password" in problems
    assert "events raised RuntimeError, not a VendorError" in problems
    assert "events: 1 in 0.5 s, expected at least 3" in problems
    assert session.closed == 2
    assert DeviceInfo() is not None
