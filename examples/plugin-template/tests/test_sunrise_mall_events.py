"""The NVR's event lines in Pantau's vocabulary; broken lines are logged and skipped."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pantau_sunrise_mall.camera import SunriseMallNvr
from pantau_sunrise_mall.events import MAX_LINE, JsonLines, normalize, read_event

from hub.decode import decode_payload
from hub.vendorkit import PayloadLog, event_problems

log = logging.getLogger("tests.sunrise_mall")
WIB = timezone(timedelta(hours=7))


def payloads() -> PayloadLog:
    return PayloadLog(log, "Lobby Utara")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            {"type": "motion", "channel": 3, "active": True},
            ("motion", "start", 3, None, None, None),
        ),
        (
            {"type": "line_cross", "channel": 1, "rule": "Pintu Masuk", "target": "human"},
            ("line_crossing", "pulse", 1, "person", None, "Pintu Masuk"),
        ),
        (
            {
                "type": "intrusion",
                "channel": 2,
                "zone": "Parkir B",
                "target": "car",
                "active": True,
            },
            ("intrusion", "start", 2, "vehicle", "field", "Parkir B"),
        ),
        (
            {"type": "tamper", "channel": 4, "active": False},
            ("tamper", "end", 4, None, "covered", None),
        ),
        (
            {"type": "video_loss", "channel": 7, "active": True},
            ("video_loss", "start", 7, None, None, None),
        ),
        (
            {"type": "alarm_input", "input": 2, "active": True},
            ("io_input", "start", None, None, "2", None),
        ),
        (
            {"type": "face_match", "channel": 0, "score": 0.93},
            ("raw", "pulse", None, None, None, None),
        ),
    ],
)
def test_each_type_becomes_its_kind(record: dict[str, Any], expected: tuple[Any, ...]) -> None:
    event = normalize(record, payloads())
    assert event is not None and event_problems(event) == []
    assert (event.kind, event.state, event.channel, event.object, event.detail, event.region) == (
        expected
    )
    assert event.raw_topic == record["type"] and event.raw == record


def test_the_nvrs_time_is_kept_and_a_bad_one_dropped() -> None:
    event = normalize({"type": "motion", "time": "2026-03-02T10:15:02+07:00"}, payloads())
    assert event is not None and event.time == datetime(2026, 3, 2, 10, 15, 2, tzinfo=WIB)
    assert event.time.astimezone(UTC).hour == 3
    late = normalize({"type": "motion", "time": "kemarin"}, payloads())
    assert late is not None and late.time is None


def test_heartbeats_are_no_events_and_unknown_types_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    log_ = payloads()
    assert normalize({"type": "heartbeat"}, log_) is None
    for _ in range(2):
        assert read_event(b'{"type": "face_match"}', log_) is not None
    assert caplog.text.count("unknown event topic 'face_match'") == 1


@pytest.mark.parametrize("line", [b"{not json", b"[1, 2]", b'{"seq": 4}', b"\xff\xfe"])
def test_a_line_that_is_no_event_is_skipped(line: bytes) -> None:
    log_ = payloads()
    assert read_event(line, log_) is None and log_.malformed_count == 1


def test_lines_are_whole_whatever_the_chunks() -> None:
    lines = JsonLines(payloads())
    assert lines.feed(b'{"a": 1}\r\n{"b"') == [b'{"a": 1}']
    assert lines.feed(b": 2}\n\n") == [b'{"b": 2}']
    assert lines.feed(b'{"c": 3}') == [] and lines.finish() == [b'{"c": 3}']


def test_an_overlong_line_is_skipped_and_the_next_one_read() -> None:
    log_ = payloads()
    lines = JsonLines(log_, limit=100)
    assert lines.feed(b'{"x": "' + b"a" * 150) == []
    assert lines.feed(b"a" * 150) == [] and log_.malformed_count == 1
    assert lines.feed(b'"}\n{"type": "motion"}\n') == [b'{"type": "motion"}']
    assert MAX_LINE >= 64 * 1024


def test_a_captured_feed_decodes_as_a_session_reads_it() -> None:
    capture = (
        b'{"type": "heartbeat"}\n{"seq": 9, "type": "motion", "channel": 1, "active": true}\n'
        b'{"oops\n{"seq": 10, "type": "motion", "channel": 1, "active": false}'
    )
    decoded = decode_payload(SunriseMallNvr(), capture, "feed.jsonl")
    assert [(e.kind, e.state) for e in decoded.events] == [("motion", "start"), ("motion", "end")]
    assert [(n.kind, n.what) for n in decoded.notes] == [
        ("ignored", "heartbeat"),
        ("malformed", "event line"),
    ]
