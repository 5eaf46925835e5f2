"""Alerts read from recorded parts and normalized: kinds, states, repeats, timeouts, channels."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.vendorkit import PayloadLog
from hub.vendors import BadPayload, CameraEvent
from plugins.hikvision.alerts import Alert, AlertTranslator, read_alert
from plugins.hikvision.multipart import AlertPart
from tests.plugins.hikvision.device import jpeg
from tests.plugins.hikvision.wire import (
    alert,
    anpr_alert,
    io_alert,
    json_alert,
    pir_alert,
    recorded_stream,
    variant,
)

XML = {"content-type": 'application/xml; charset="UTF-8"'}
log = logging.getLogger("plugins.hikvision")


def read(body: bytes, headers: dict[str, str] | None = None) -> Alert:
    found = read_alert(AlertPart(XML if headers is None else headers, body))
    assert found is not None
    return found


def translator(timeout: float = 5.0) -> AlertTranslator:
    return AlertTranslator(PayloadLog(log, "Simpang Lima"), timeout)


def events_of(bodies: list[bytes], timeout: float = 5.0) -> list[CameraEvent]:
    """The events of alerts arriving all at once (no condition times out)."""
    translate = translator(timeout).translate
    return [event for body in bodies for event in translate(read(body), 0.0)]


# -- reading --------------------------------------------------------------------------------


def test_a_recorded_camera_alert_is_read() -> None:
    found = read(alert("HikSink.cam.VMD.active"))
    assert (found.event_type, found.state, found.channel) == ("VMD", "active", 1)
    assert found.time == datetime(2021, 7, 2, 14, 27, 55, tzinfo=timezone(timedelta(hours=8)))
    assert found.fields["eventDescription"] == "Motion alarm"
    assert found.fields["Extensions"]["serialNumber"] == "DS-2CD2185FWD-I20180101AAWR111111111"
    assert found.object is None and found.region is None


def test_recorded_nvr_alerts_name_their_dynamic_channel() -> None:
    channels = {
        name: read(alert(f"HikSink.nvr.{name}")).channel
        for name in (
            "VMD.active",
            "fielddetection.active",
            "linedetection.active",
            "videoloss.active",
        )
    }
    assert channels == {
        "VMD.active": 15,
        "fielddetection.active": 7,
        "linedetection.active": 5,
        "videoloss.active": 16,
    }


def test_detection_regions_and_targets() -> None:
    line = read(alert("HikSink.cam.linedetection.active.regions"))
    assert (line.region, line.object) == ("1", None)
    pushed = read(alert("EventNotificationAlert.linedetection.vehicle.httpHost-push"))
    assert (pushed.region, pushed.object, pushed.channel) == ("1", "vehicle", 1)


def test_json_alerts_are_read_like_xml() -> None:
    found = read(json_alert("VMD", "active", 3), {"content-type": "application/json"})
    assert (found.event_type, found.state, found.channel) == ("VMD", "active", 3)
    wrapped = b'{"EventNotificationAlert": ' + json_alert("IO", "inactive", inputIOPortID=4) + b"}"
    found = read(wrapped, {})
    assert (found.event_type, found.state, found.input_id) == ("IO", "inactive", "4")


@pytest.mark.parametrize(
    ("body", "headers", "problem"),
    [
        (b"<EventNotificationAlert><eventType>VMD</eventType>", XML, "not well-formed"),
        (
            b"<EventNotificationAlert><eventState>active</eventState></EventNotificationAlert>",
            XML,
            "without eventType",
        ),
        (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', XML, "DTD"),
        (b"[1, 2]", {"content-type": "application/json"}, "not an object"),
        (b"{broken", {"content-type": "application/json"}, "not JSON"),
        (b"hello there", {"content-type": "text/plain"}, "neither XML nor JSON"),
        (b"<x>" * 100 + b"</x>" * 100, XML, "deeper"),
    ],
)
def test_unreadable_alerts_are_bad_payloads(
    body: bytes, headers: dict[str, str], problem: str
) -> None:
    with pytest.raises(BadPayload, match=problem):
        read_alert(AlertPart(headers, body))


def test_images_and_empty_parts_hold_no_alert() -> None:
    assert read_alert(AlertPart({"content-type": "image/jpeg"}, jpeg())) is None
    assert read_alert(AlertPart({}, jpeg())) is None
    assert read_alert(AlertPart(XML, b"\r\n")) is None


# -- normalizing ------------------------------------------------------------------------------

CAM = "HikSink.cam.VMD.active"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (alert(CAM), ("motion", "start", None, None)),
        (pir_alert("active"), ("motion", "start", "pir", None)),
        (alert("HikSink.cam.linedetection.active.regions"), ("line_crossing", "pulse", None, None)),
        (alert("HikSink.nvr.fielddetection.active"), ("intrusion", "start", "field", None)),
        (variant(alert(CAM), "shelteralarm"), ("tamper", "start", "covered", None)),
        (
            variant(
                alert(CAM),
                "regionEntrance",
                extra="<DetectionRegionList><DetectionRegionEntry><regionID>3</regionID>"
                "<targetType>human</targetType></DetectionRegionEntry></DetectionRegionList>",
            ),
            ("intrusion", "pulse", "region", "person"),
        ),
        (variant(alert(CAM), "regionExiting"), ("intrusion", "pulse", "region", None)),
        (alert("HikSink.nvr.videoloss.active"), ("video_loss", "start", None, None)),
        (io_alert("active", port=2), ("io_input", "start", "2", None)),
        (anpr_alert("K 1234 AB"), ("plate", "pulse", "K 1234 AB", "vehicle")),
        (
            variant(alert(CAM), "fielddetection", extra="<targetType>vehicle</targetType>"),
            ("intrusion", "start", "field", "vehicle"),
        ),
    ],
)
def test_each_event_type_maps_to_the_vocabulary(
    body: bytes, expected: tuple[str, str, str | None, str | None]
) -> None:
    (event,) = events_of([body])
    assert (event.kind, event.state, event.detail, event.object) == expected
    source = read(body)
    assert event.raw_topic == source.event_type
    assert {k: v for k, v in event.raw.items() if k != "plate"} == source.fields


def test_anpr_is_a_plate_read_and_every_read_counts() -> None:
    first, second = events_of([anpr_alert("K 1234 AB"), anpr_alert("K 1234 AB")])
    assert first.raw["plate"] == "K 1234 AB"
    assert first.raw["ANPR"]["licensePlate"] == "K 1234 AB"
    assert second.state == "pulse"


def test_the_recorded_stream_gives_one_start_and_one_end_per_condition() -> None:
    events = events_of(list(recorded_stream()))
    counts = Counter((e.kind, e.state) for e in events)
    assert counts == {
        ("motion", "start"): 30,
        ("motion", "end"): 30,
        ("line_crossing", "pulse"): 20,
    }
    motion = [e.state for e in events if e.kind == "motion"]
    assert motion == ["start", "end"] * 30
    # The first cycles as recorded: alerts 14..33 and 46..61.
    assert [(e.kind, e.state) for e in events[:6]] == [
        ("motion", "start"),
        ("line_crossing", "pulse"),
        ("motion", "end"),
        ("line_crossing", "pulse"),
        ("motion", "start"),
        ("motion", "end"),
    ]
    assert events[0].time == datetime(2021, 7, 2, 14, 27, 55, tzinfo=timezone(timedelta(hours=8)))
    assert events[2].raw["activePostCount"] == "20"  # the end is the inactive alert itself


def test_repeats_are_one_condition_and_silence_ends_it() -> None:
    book = translator(timeout=5.0)
    active = read(alert(CAM))
    assert [e.state for e in book.translate(active, 0.0)] == ["start"]
    assert book.translate(active, 1.0) == []
    assert book.translate(active, 2.0) == []
    assert book.next_deadline() == 7.0
    assert book.expire(6.9) == []
    (end,) = book.expire(7.0)
    assert (end.kind, end.state, end.channel) == ("motion", "end", 1)
    assert book.open_conditions == 0
    assert [e.state for e in book.translate(active, 8.0)] == ["start"]  # a new condition


def test_line_crossing_pulses_once_per_condition_and_ends_quietly() -> None:
    book = translator(timeout=5.0)
    line = read(alert("HikSink.cam.linedetection.active.regions"))
    assert [e.state for e in book.translate(line, 0.0)] == ["pulse"]
    assert book.translate(line, 1.0) == []
    assert book.expire(10.0) == []
    assert [e.state for e in book.translate(line, 11.0)] == ["pulse"]
    assert book.translate(read(alert("HikSink.cam.linedetection.inactive")), 11.5) == []


def test_conditions_are_kept_per_channel_and_per_input() -> None:
    nvr = alert("HikSink.nvr.VMD.active")
    other = nvr.replace(b"<dynChannelID>15</dynChannelID>", b"<dynChannelID>3</dynChannelID>")
    events = events_of([nvr, other, nvr, io_alert("active", 1), io_alert("active", 2)])
    assert [(e.kind, e.channel, e.detail) for e in events] == [
        ("motion", 15, None),
        ("motion", 3, None),
        ("io_input", 1, "1"),
        ("io_input", 1, "2"),
    ]
    ends = events_of([io_alert("active", 1), io_alert("inactive", 2), io_alert("inactive", 1)])
    assert [(e.state, e.detail) for e in ends] == [("start", "1"), ("end", "1")]


def test_heartbeats_and_ends_of_unseen_conditions_emit_nothing() -> None:
    heartbeat = variant(alert("HikSink.cam.videoloss.inactive"), "videoloss", "inactive")
    no_channel = heartbeat.replace(b"<channelID>1</channelID>\r\n", b"")
    assert read(no_channel).channel is None
    assert events_of([no_channel, heartbeat, alert("HikSink.cam.VMD.inactive")]) == []
    lost = events_of(
        [
            alert("HikSink.nvr.videoloss.active"),
            variant(alert("HikSink.nvr.videoloss.active"), "videoloss", "inactive"),
        ]
    )
    assert [(e.kind, e.state, e.channel) for e in lost] == [
        ("video_loss", "start", 16),
        ("video_loss", "end", 16),
    ]


def test_an_unknown_event_type_is_logged_once_and_delivered_raw(
    caplog: pytest.LogCaptureFixture,
) -> None:
    face = variant(alert(CAM), "faceSnap", "active")
    moment = variant(alert(CAM), "doorbellRinging", state=None)
    with caplog.at_level(logging.INFO, "plugins.hikvision"):
        events = events_of([face, face, variant(face, "faceSnap", "inactive"), moment])
    assert [(e.kind, e.state, e.raw_topic) for e in events] == [
        ("raw", "start", "faceSnap"),
        ("raw", "end", "faceSnap"),
        ("raw", "pulse", "doorbellRinging"),
    ]
    unknown = [r.getMessage() for r in caplog.records if "unknown event topic" in r.getMessage()]
    assert len(unknown) == 2
    assert "'Simpang Lima'" in unknown[0] and "'faceSnap'" in unknown[0]


# -- fuzzing ----------------------------------------------------------------------------------

CONTENT_TYPES = st.sampled_from(
    ["application/xml", "application/json", "image/jpeg", "text/plain", "", "multipart/x"]
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [alert(CAM), json_alert("VMD", "active"), anpr_alert("X"), io_alert("inactive")]
    ).flatmap(lambda body: st.integers(0, len(body)).map(lambda cut: body[:cut])),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=12,
    ).map(lambda value: json.dumps(value).encode()),
)


@settings(max_examples=300, deadline=None)
@given(content_type=CONTENT_TYPES, body=BODIES)
def test_any_part_is_an_alert_nothing_or_a_bad_payload(content_type: str, body: bytes) -> None:
    try:
        found = read_alert(AlertPart({"content-type": content_type}, body))
    except BadPayload:
        return
    if found is not None:
        book = translator()
        book.translate(found, 0.0)
        book.expire(100.0)
