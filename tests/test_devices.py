"""Device events through a running hub: one session per device, events on the right camera."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.config import Config
from hub.devices import bus_event
from hub.events import DEVICE_EVENTS, Event
from hub.runtime import Hub
from hub.vendors import EVENT_KINDS, CameraEvent
from tests.plugins.hikvision.device import PASSWORD, USERNAME, FakeDevice, nvr_answers, serve
from tests.plugins.hikvision.wire import alert, stream


def test_each_kind_becomes_its_bus_event_with_the_raw_data_kept() -> None:
    when = datetime(2026, 11, 24, 1, 2, 3, tzinfo=UTC)
    cases = [
        (CameraEvent("motion", "start", "VMD", region="gate"), "motion.start"),
        (CameraEvent("motion", "end", "VMD"), "motion.end"),
        (CameraEvent("motion", "pulse", "VMD"), "motion.start"),
        (CameraEvent("line_crossing", "pulse", "linedetection", object="vehicle"), "line_crossing"),
        (CameraEvent("intrusion", "start", "fielddetection", detail="field"), "intrusion"),
        (CameraEvent("tamper", "start", "shelteralarm", detail="covered"), "tamper"),
        (CameraEvent("video_loss", "start", "videoloss", channel=3), "video_loss"),
        (CameraEvent("io_input", "end", "IO", detail="2"), "io_input"),
        (CameraEvent("plate", "pulse", "ANPR", object="vehicle", detail="S 1234 AB"), "plate"),
        (
            CameraEvent("raw", "pulse", "Custom", raw={"plate": "S 1234 AB"}, time=when),
            "device.event",
        ),
    ]
    for camera_event, expected in cases:
        event = bus_event("cam-1", "hikvision", camera_event)
        assert event.type == expected and event.camera_id == "cam-1"
        assert event.data["source"] == "device" and event.data["vendor"] == "hikvision"
        assert event.data["state"] == camera_event.state
        assert event.data["raw_topic"] == camera_event.raw_topic
    tamper = bus_event("cam-1", "hikvision", cases[5][0])
    assert tamper.data["kind"] == "covered"  # as the hub's own picture checks name it
    assert bus_event("c", "v", cases[0][0]).data["zone"] == "gate"
    raw = bus_event("c", "v", cases[-1][0])
    assert raw.data["raw"] == {"plate": "S 1234 AB"}
    assert raw.data["device_time"] == "2026-11-24T01:02:03+00:00"
    assert {camera_event.kind for camera_event, _ in cases} == set(EVENT_KINDS)
    published = {expected for _, expected in cases} - {"device.event"}
    assert published == set(DEVICE_EVENTS)  # what devices publish, other systems may send in


def nvr_city(tmp_path: Path, port: int, channels: dict[str, int], **options: Any) -> Config:
    return Config.model_validate(
        {
            "hub": {"data_dir": str(tmp_path / "var"), "streams": {"enabled": False}},
            "owners": [{"id": "dishub", "name": "Dinas Perhubungan", "kind": "opd"}],
            "cameras": [
                {
                    "id": camera_id,
                    "name": f"NVR channel {channel}",
                    "owner": "dishub",
                    "vendor": "hikvision",
                    "host": "127.0.0.1",
                    "port": port,
                    "username": USERNAME,
                    "password": PASSWORD,
                    "options": {"channel": channel, **options},
                }
                for camera_id, channel in channels.items()
            ],
        }
    )


@pytest.fixture
async def nvr() -> AsyncIterator[FakeDevice]:
    device = nvr_answers(FakeDevice())
    device.scripts = [
        [
            stream(
                [
                    alert("HikSink.nvr.VMD.active"),  # channel 15
                    alert("HikSink.nvr.fielddetection.active"),  # channel 7
                    alert("HikSink.nvr.linedetection.active"),  # channel 5
                    alert("HikSink.nvr.videoloss.active"),  # channel 16
                ]
            ),
            "hang",
        ]
    ]
    async with serve(device) as served:
        yield served


async def collect(hub: Hub, count: int, within: float = 10.0) -> list[Event]:
    seen: list[Event] = []
    done = asyncio.Event()

    async def keep(event: Event) -> None:
        if event.data.get("source") == "device":
            seen.append(event)
            if len(seen) >= count:
                done.set()

    subscription = hub.bus.subscribe("*", keep, name="test:device-events")
    try:
        async with asyncio.timeout(within):
            await done.wait()
    finally:
        await subscription.cancel()
    return seen


async def test_an_nvr_s_channels_share_one_session_and_events_land_on_their_camera(
    tmp_path: Path, nvr: FakeDevice, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    city = nvr_city(tmp_path, nvr.port, {"simpang-15": 15, "terminal-7": 7, "alun-5": 5})
    hub = Hub(city)
    await hub.start()
    try:
        events = await collect(hub, 3)
        assert hub.devices is not None and len(hub.devices.devices) == 1
        assert nvr.stream_connections == 1  # one alertStream for three cameras
        landed = sorted((e.camera_id, e.type) for e in events)
        assert landed == [
            ("alun-5", "line_crossing"),
            ("simpang-15", "motion.start"),
            ("terminal-7", "intrusion"),
        ]
        await asyncio.sleep(0.2)
        # channel 16 (video loss) has no camera: said once, where to set it
        unrouted = [r.getMessage() for r in caplog.records if "go to no camera" in r.getMessage()]
        assert len(unrouted) == 1 and "options.channel to 16" in unrouted[0]
    finally:
        await hub.stop()
    assert PASSWORD not in caplog.text


async def test_a_camera_can_opt_out_of_device_events(tmp_path: Path, nvr: FakeDevice) -> None:
    hub = Hub(nvr_city(tmp_path, nvr.port, {"simpang-15": 15}, events=False))
    await hub.start()
    try:
        await asyncio.sleep(0.3)
        assert hub.devices is not None and hub.devices.devices == {}
        assert nvr.stream_connections == 0
    finally:
        await hub.stop()


async def test_refused_credentials_are_retried_slowly_never_hammered(
    tmp_path: Path, nvr: FakeDevice, caplog: pytest.LogCaptureFixture
) -> None:
    nvr.password = "changed-by-the-owner"
    hub = Hub(nvr_city(tmp_path, nvr.port, {"simpang-15": 15}))
    await hub.start()
    try:
        assert hub.devices is not None
        await asyncio.sleep(1.0)
        # the device session gives up on a 401; the hub waits `retry_after` (300 s) to try again
        assert 1 <= nvr.unauthorized <= 3
        assert "credentials refused" in caplog.text
    finally:
        await hub.stop()
    assert PASSWORD not in caplog.text


async def test_new_credentials_restart_the_device_session_at_once(
    tmp_path: Path, nvr: FakeDevice
) -> None:
    from pydantic import SecretStr

    from hub.registry import CameraInput

    city = nvr_city(tmp_path, nvr.port, {})
    hub = Hub(city)
    await hub.start()
    try:
        await hub.registry.add_camera(
            CameraInput(
                id="simpang-15",
                name="Simpang channel 15",
                owner="dishub",
                vendor="hikvision",
                host="127.0.0.1",
                port=nvr.port,
                username=USERNAME,
                password=SecretStr("an-old-password"),
                options={"channel": 15},
            )
        )
        for _ in range(100):  # the device refuses the old password within 5 s
            if nvr.unauthorized:
                break
            await asyncio.sleep(0.05)
        assert nvr.unauthorized >= 1
        # refused: the hub would wait minutes; the owner fixes the password, and it goes now
        await hub.registry.update_camera("simpang-15", password=SecretStr(PASSWORD))
        events = await collect(hub, 1)
        assert [(e.camera_id, e.type) for e in events] == [("simpang-15", "motion.start")]
    finally:
        await hub.stop()
