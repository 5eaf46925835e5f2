"""The attach stream parser on the framings real devices send, good and bad."""

from __future__ import annotations

import json
import logging

import pytest

from hub.vendorkit import PayloadLog
from plugins.dahua.eventstream import (
    MAX_LINE,
    DahuaEvent,
    EventStreamParser,
    Heartbeat,
    StreamItem,
    boundary_of,
    parse_record,
)
from tests.plugins.dahua.fakecam import HEARTBEAT, fixture, part, record

MOTION = DahuaEvent("VideoMotion", "Start", 0)


def payload_log() -> PayloadLog:
    return PayloadLog(logging.getLogger("plugins.dahua"), "Gerbang Utara", every=0.0)


def parse(
    stream: bytes, boundary: str | None = "myboundary", step: int = 0
) -> tuple[list[StreamItem], PayloadLog]:
    """Feed `stream` whole (step 0) or `step` bytes at a time, then end it."""
    payloads = payload_log()
    parser = EventStreamParser(payloads, boundary)
    items: list[StreamItem] = []
    size = step or len(stream) or 1
    for start in range(0, len(stream), size):
        items += parser.feed(stream[start : start + size])
    parser.finish()
    return items, payloads


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        ("multipart/x-mixed-replace; boundary=myboundary", "myboundary"),
        ('multipart/x-mixed-replace;boundary="--myboundary"', "--myboundary"),
        ("multipart/x-mixed-replace; charset=utf-8; Boundary=abc123", "abc123"),
        ("text/plain", None),
        (None, None),
    ],
)
def test_the_boundary_comes_from_the_content_type(
    content_type: str | None, boundary: str | None
) -> None:
    assert boundary_of(content_type) == boundary


@pytest.mark.parametrize("step", [0, 1, 3, 17])
def test_parts_with_and_without_length_heartbeats_and_multiline_data(step: int) -> None:
    line = json.loads(fixture("eventManager-attach/rroller.CrossLineDetection.start.parsed.json"))
    stream = (
        HEARTBEAT
        + part(record("VideoMotion", "Start", 0))
        + part(
            record(line["Code"], line["action"], line["index"], line["data"], indent=2),
            length=False,
        )
        + part(record("VideoMotion", "Stop", 0), length=False)
    )
    items, payloads = parse(stream, step=step)
    assert items == [
        Heartbeat(),
        MOTION,
        DahuaEvent("CrossLineDetection", "Start", 0, line["data"]),
        DahuaEvent("VideoMotion", "Stop", 0),
    ]
    assert payloads.malformed_count == 0


def test_an_event_is_given_as_soon_as_its_part_is_complete() -> None:
    parser = EventStreamParser(payload_log(), "myboundary")
    assert parser.feed(part(record("VideoMotion", "Start", 0))) == [MOTION]
    assert (
        parser.feed(
            b"--myboundary\r\nContent-Type: text/plain\r\n\r\n"
            b"Code=VideoBlind;action=Start;index=0;data={\r\n"
        )
        == []
    )
    assert parser.feed(b'"Name": "lens"\r\n') == []
    assert parser.feed(b"}\r\n") == [DahuaEvent("VideoBlind", "Start", 0, {"Name": "lens"})]


@pytest.mark.parametrize("boundary", ["--myboundary", None])
def test_a_boundary_declared_with_dashes_or_not_at_all_is_found(boundary: str | None) -> None:
    items, payloads = parse(HEARTBEAT + part(record("VideoMotion", "Start", 0)), boundary)
    assert items == [Heartbeat(), MOTION]
    assert payloads.malformed_count == 0


def test_bare_lines_without_multipart_framing_are_read() -> None:
    stream = (
        b"Code=VideoMotion;action=Start;index=0\r\nHeartbeat\r\n"
        b"Code=VideoMotion;action=Stop;index=0\n"
    )
    items, _ = parse(stream, None)
    assert items == [MOTION, Heartbeat(), DahuaEvent("VideoMotion", "Stop", 0)]


def test_lf_line_ends_several_records_in_one_part_and_a_short_content_length() -> None:
    stream = (
        b"--myboundary\nContent-Type: text/plain\nContent-Length:36\n\n"
        b"Code=VideoMotion;action=Start;index=0\nCode=VideoBlind;action=Start;index=1\n\n"
    )
    items, payloads = parse(stream)
    assert items == [MOTION, DahuaEvent("VideoBlind", "Start", 1)]
    assert payloads.malformed_count == 0


def test_data_braces_inside_strings_do_not_end_the_record() -> None:
    data = {"Name": "gate } {", "Object": {"ObjectType": "Human", "Note": 'say "}"'}}
    items, _ = parse(part(record("CrossLineDetection", "Pulse", 2, data, indent=1)), step=5)
    assert items == [DahuaEvent("CrossLineDetection", "Pulse", 2, data)]


def test_garbage_broken_framing_and_cut_parts_are_skipped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = (
        b"\x00\x01garbage before anything\r\n"
        + part(record("VideoMotion", "Start", 0))
        + b"junk between parts\r\n"
        + b"--myboundary\r\nContent-Type text/plain\r\nContent-Length: x\r\n\r\nHeartbeat\r\n"
        + part("Code=VideoBlind;action=Start;index=0;data={not json}")
        + part("action=Start;index=0")
        # cut without a newline: the next delimiter is swallowed by the broken line
        + b"--myboundary\r\nContent-Length: 99\r\n\r\n"
        + b'Code=SceneChange;action=Start;index=0;data={"a":'
        + part(record("VideoMotion", "Stop", 0))
        + part(record("VideoLoss", "Start", 0))
        + b"--myboundary\r\nContent-Length: 40\r\n\r\nCode=VideoLoss;action=Stop;index=0;data={"
    )
    for step in (0, 1, 7):
        caplog.clear()
        items, payloads = parse(stream, step=step)
        assert items == [
            MOTION,
            Heartbeat(),
            DahuaEvent("VideoMotion", "Stop", 0),
            DahuaEvent("VideoLoss", "Start", 0),
        ]
        assert payloads.malformed_count >= 7
        messages = [r.getMessage() for r in caplog.records]
        assert all("'Gerbang Utara'" in m for m in messages)
        assert any("ended in the middle of a part" in m for m in messages)
        assert any("not valid JSON" in m for m in messages)


def test_an_overlong_line_is_dropped_and_the_stream_goes_on() -> None:
    stream = (
        b"--myboundary\r\n\r\nCode=X;action=Start;index=0;data=" + b"1" * (MAX_LINE + 10) + b"\r\n"
    )
    stream += part(record("VideoMotion", "Start", 0))
    for step in (0, 4096):
        items, payloads = parse(stream, step=step)
        assert items == [MOTION]
        assert payloads.malformed_count >= 1


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("Code=VideoMotion;action=Start;index=0", MOTION),
        ("code = VideoMotion ; Action=Start;INDEX=0", MOTION),
        ("Code=VideoMotion;action=Start", DahuaEvent("VideoMotion", "Start", None)),
        ("Code=VideoMotion;action=Start;index=x", DahuaEvent("VideoMotion", "Start", None)),
        ("Code=BackKeyLight;action=Pulse;index=-1", DahuaEvent("BackKeyLight", "Pulse", -1)),
        (
            'Code=A;action=Pulse;index=0;data={"k": "a;data=b"}',
            DahuaEvent("A", "Pulse", 0, {"k": "a;data=b"}),
        ),
        ("Code=A;action=Pulse;index=0;data=", DahuaEvent("A", "Pulse", 0)),
        ("Heartbeat", Heartbeat()),
        ("Code=Heartbeat;action=Pulse;index=0", Heartbeat()),
    ],
)
def test_records(text: str, parsed: StreamItem) -> None:
    assert parse_record(text) == parsed
