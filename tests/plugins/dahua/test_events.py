"""Dahua codes in Pantau's words."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.vendorkit import PayloadLog
from hub.vendors import CameraEvent
from plugins.dahua.events import normalize
from plugins.dahua.eventstream import DahuaEvent
from tests.plugins.dahua.fakecam import fixture

LINE = json.loads(fixture("eventManager-attach/rroller.CrossLineDetection.start.parsed.json"))
REGION = json.loads(fixture("eventManager-attach/scrypted.CrossRegionDetection.human.data.json"))


def payload_log() -> PayloadLog:
    return PayloadLog(logging.getLogger("plugins.dahua"), "Gerbang Utara", every=0.0)


def normalized(
    code: str, action: str = "Start", index: int | None = 0, data: Any = None
) -> CameraEvent:
    event = normalize(DahuaEvent(code, action, index, data), payload_log())
    assert event is not None
    return event


def with_object(data: dict[str, Any], kind: str) -> dict[str, Any]:
    return {**data, "Object": {**data["Object"], "ObjectType": kind}}


@pytest.mark.parametrize(
    ("code", "action", "data", "expected"),
    [
        ("VideoMotion", "Start", None, ("motion", "start", None, None, None)),
        ("VideoMotion", "Stop", None, ("motion", "end", None, None, None)),
        ("SmartMotionHuman", "Start", None, ("motion", "start", "person", None, None)),
        ("SmartMotionVehicle", "Stop", None, ("motion", "end", "vehicle", None, None)),
        (
            "CrossLineDetection",
            "Start",
            LINE["data"],
            ("line_crossing", "start", None, None, "Rule1"),
        ),
        (
            "CrossLineDetection",
            "Pulse",
            with_object(LINE["data"], "Human"),
            ("line_crossing", "pulse", "person", None, "Rule1"),
        ),
        (
            "CrossLineDetection",
            "Pulse",
            with_object(LINE["data"], "MotorVehicle"),
            ("line_crossing", "pulse", "vehicle", None, "Rule1"),
        ),
        (
            "CrossLineDetection",
            "Pulse",
            with_object(LINE["data"], "NonMotor"),
            ("line_crossing", "pulse", "vehicle", None, "Rule1"),
        ),
        (
            "CrossRegionDetection",
            "Start",
            REGION,
            ("intrusion", "start", "person", "region", "Rule1"),
        ),
        (
            "CrossRegionDetection",
            "Start",
            {**REGION, "Action": "Inside"},
            ("intrusion", "start", "person", "field", "Rule1"),
        ),
        (
            "CrossRegionDetection",
            "Stop",
            with_object({**REGION, "Action": "Appear"}, "Vehicle"),
            ("intrusion", "end", "vehicle", "field", "Rule1"),
        ),
        (
            "CrossRegionDetection",
            "Start",
            {"Objects": [{"ObjectType": "Human"}]},
            ("intrusion", "start", "person", "region", None),
        ),
        (
            "CrossRegionDetection",
            "Start",
            ["not", "an", "object"],
            ("intrusion", "start", None, "region", None),
        ),
        ("VideoBlind", "Start", None, ("tamper", "start", None, "covered", None)),
        ("SceneChange", "Pulse", None, ("tamper", "pulse", None, "scene_change", None)),
        ("VideoLoss", "Start", None, ("video_loss", "start", None, None, None)),
    ],
)
def test_codes_map_to_kinds(code: str, action: str, data: Any, expected: tuple[Any, ...]) -> None:
    event = normalized(code, action, 0, data)
    assert (event.kind, event.state, event.object, event.detail, event.region) == expected
    assert event.raw_topic == code
    assert event.raw == {"code": code, "action": action, "index": 0, "data": data}


def test_index_is_zero_based_so_the_channel_is_one_more() -> None:
    assert normalized("VideoMotion", index=0).channel == 1
    assert normalized("VideoMotion", index=15).channel == 16
    assert normalized("VideoMotion", index=None).channel is None
    assert normalized("VideoMotion", index=-1).channel is None


def test_an_alarm_input_is_named_by_its_index_and_has_no_video_channel() -> None:
    event = normalized("AlarmLocal", "Start", 2)
    assert (event.kind, event.state, event.detail, event.channel) == (
        "io_input",
        "start",
        "2",
        None,
    )


def test_the_devices_clock_is_kept() -> None:
    assert normalized("CrossRegionDetection", data=REGION).time == datetime.fromtimestamp(
        1711446999, UTC
    )
    assert normalized("VideoMotion", data={"UTC": "soon"}).time is None
    assert normalized("VideoMotion", data={"UTC": 1e300}).time is None


def test_an_unknown_code_is_delivered_raw_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    payloads = payload_log()
    door = {"LocaleTime": "2021-04-11 21:34:52", "Status": "Close", "UTC": 1618148092}
    for _ in range(3):
        event = normalize(DahuaEvent("DoorStatus", "Pulse", 0, door), payloads)
        assert event is not None
        assert (event.kind, event.state, event.raw_topic, event.channel) == (
            "raw",
            "pulse",
            "DoorStatus",
            1,
        )
        assert event.raw["data"] == door
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 1 and "'Gerbang Utara'" in logged[0] and "'DoorStatus'" in logged[0]


def test_an_unknown_action_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    payloads = payload_log()
    assert normalize(DahuaEvent("VideoMotion", "Blink", 0), payloads) is None
    assert payloads.malformed_count == 1
    assert "unknown action 'Blink'" in caplog.records[0].getMessage()


def test_a_state_report_is_no_event_and_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    # VideoMotionInfo;action=State arrives about once a second during motion (rroller/dahua#166)
    payloads = payload_log()
    caplog.set_level("INFO")
    assert normalize(DahuaEvent("VideoMotionInfo", "State", 0), payloads) is None
    assert payloads.malformed_count == 0 and not caplog.records
