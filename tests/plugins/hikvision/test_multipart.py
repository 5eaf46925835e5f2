"""The alertStream parser: recorded streams, broken framing, and fuzzing of bytes and chunking."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.vendorkit import PayloadLog
from hub.vendors import BadPayload, CameraEvent
from plugins.hikvision.alerts import AlertTranslator, read_alert
from plugins.hikvision.multipart import AlertPart, AlertStreamParser, boundary_of
from tests.plugins.hikvision.device import jpeg
from tests.plugins.hikvision.wire import (
    alert,
    anpr_alert,
    fixture,
    json_alert,
    part,
    recorded_stream,
    stream,
)

CAMERA = "Simpang Lima"
log = logging.getLogger("plugins.hikvision")


def parser(boundary: str | None = "boundary") -> AlertStreamParser:
    return AlertStreamParser(boundary, PayloadLog(log, CAMERA, every=0.0))


def feed(
    data: bytes, cuts: list[int] | None = None, boundary: str | None = "boundary"
) -> list[AlertPart]:
    """All parts of `data`, fed in chunks cut at `cuts` (whole when None), then closed."""
    reader = parser(boundary)
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts or [])})
    parts: list[AlertPart] = []
    for start, end in zip(points, points[1:], strict=False):
        parts += reader.feed(data[start:end])
    reader.close()
    return parts


def bodies(parts: list[AlertPart]) -> list[bytes]:
    return [p.body for p in parts]


# -- recorded streams ---------------------------------------------------------------------


def test_the_recorded_stream_comes_out_alert_by_alert() -> None:
    alerts = list(recorded_stream())
    assert len(alerts) == 770
    data = stream(alerts)
    parts = feed(data)
    assert bodies(parts) == alerts
    assert parts[0].content_type == "application/xml"
    assert parts[0].headers["content-length"] == str(len(alerts[0]))
    # Cut the way a socket might: 1 byte, then odd sizes, then a large read.
    assert bodies(feed(data, [1, 2, 3, 500, 1333, 1334, 40_000, 40_001])) == alerts


def test_every_recorded_alert_fixture_frames_and_unframes() -> None:
    names = [
        "HikSink.cam.VMD.active",
        "HikSink.cam.VMD.inactive",
        "HikSink.cam.linedetection.active.regions",
        "HikSink.cam.linedetection.inactive",
        "HikSink.cam.videoloss.inactive",
        "HikSink.nvr.VMD.active",
        "HikSink.nvr.fielddetection.active",
        "HikSink.nvr.linedetection.active",
        "HikSink.nvr.videoloss.active",
        "EventNotificationAlert.linedetection.vehicle.httpHost-push",
    ]
    alerts = [alert(name) for name in names]
    assert bodies(feed(stream(alerts))) == alerts


def test_a_recorded_httphost_push_with_a_length_counting_its_line_end() -> None:
    # As recorded (LF), the XML part's Content-Length (1251) fits CRLF line ends: on the wire
    # it counts the XML and its final CRLF. The image part announces 100 bytes of a 36-byte
    # placeholder, so it is cut off by the end of the body.
    recorded = fixture("httpHost-push.multipart-form.linedetection+image.txt")
    wire = recorded.replace(b"\n", b"\r\n")
    parts = feed(wire)
    assert len(parts) == 1
    assert parts[0].headers["content-disposition"] == 'form-data; name="linedetection"'
    assert parts[0].body.startswith(b"<EventNotificationAlert")
    assert parts[0].body.endswith(b"</EventNotificationAlert>\r\n")
    # As stored, with LF only, both lengths are wrong: nothing usable, and nothing raised.
    assert feed(recorded) == []


# -- framing variants ---------------------------------------------------------------------


def test_lf_line_ends_and_parts_without_content_length() -> None:
    one, two = alert("HikSink.cam.VMD.active"), alert("HikSink.nvr.VMD.active")
    data = part(one, length=False, newline=b"\n") + part(two, length=False) + part(one)
    assert bodies(feed(data)) == [one, two, one]


def test_a_part_without_headers_starts_at_its_body() -> None:
    body = alert("HikSink.nvr.fielddetection.active")
    data = b"--boundary\r\n" + body + b"\r\n" + part(body)
    parts = feed(data)
    assert bodies(parts) == [body, body]
    assert parts[0].headers == {}


def test_the_boundary_is_learned_when_the_header_has_none() -> None:
    body = alert("HikSink.cam.VMD.active")
    data = b"\r\n" + part(body).replace(b"--boundary", b"--MIME_boundary_7d") * 3
    assert bodies(feed(data, boundary=None)) == [body] * 3
    assert bodies(feed(data, list(range(0, len(data), 7)), boundary=None)) == [body] * 3


def test_a_quoted_boundary_and_other_parameters() -> None:
    assert boundary_of('multipart/mixed; boundary="boundary"') == "boundary"
    assert boundary_of("multipart/mixed;charset=utf-8; BOUNDARY=abc ") == "abc"
    assert boundary_of("multipart/mixed") is None
    assert boundary_of(None) is None


def test_image_and_json_parts_come_out_whole() -> None:
    picture = jpeg() + b"\r\n--boundar\r\n"  # binary, with line ends and a near miss
    data = (
        part(anpr_alert("K 1234 AB"))
        + part(picture, content_type="image/jpeg")
        + part(json_alert("VMD", "active"), content_type="application/json")
    )
    parts = feed(data)
    assert [p.content_type for p in parts] == ["application/xml", "image/jpeg", "application/json"]
    assert parts[1].body == picture


# -- broken framing -------------------------------------------------------------------------


def test_garbage_between_parts_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    body = alert("HikSink.cam.VMD.active")
    data = b"HTTP/1.1 junk\r\n" + part(body) + b"\x00\x01 noise \xff\r\n" + part(body)
    with caplog.at_level(logging.WARNING, "plugins.hikvision"):
        assert bodies(feed(data)) == [body, body]
    messages = [r.getMessage() for r in caplog.records]
    assert any("'Simpang Lima'" in m and "outside any part" in m for m in messages)


def test_a_content_length_past_the_next_boundary_skips_that_part(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good, bad = alert("HikSink.cam.VMD.active"), alert("HikSink.cam.VMD.inactive")
    too_long = part(bad).replace(
        f"Content-Length: {len(bad)}".encode(), f"Content-Length: {len(bad) + 400}".encode()
    )
    with caplog.at_level(logging.WARNING, "plugins.hikvision"):
        assert bodies(feed(part(good) + too_long + part(good) + part(good))) == [good] * 3
    assert any("runs past the boundary" in r.getMessage() for r in caplog.records)


def test_a_short_content_length_gives_a_short_body_and_the_stream_goes_on() -> None:
    body = alert("HikSink.cam.VMD.active")
    short = part(body).replace(
        f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(body) - 40}".encode()
    )
    parts = feed(short + part(body))
    assert bodies(parts) == [body[:-40], body]


def test_broken_headers_and_oversized_parts_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    body = alert("HikSink.cam.VMD.active")
    no_colon = b"--boundary\r\nContent-Type application/xml\r\n\r\n" + body + b"\r\n"
    huge = b"--boundary\r\nContent-Length: 99999999999\r\n\r\n" + body + b"\r\n"
    unreadable = part(body).replace(f"Content-Length: {len(body)}".encode(), b"Content-Length: x")
    with caplog.at_level(logging.WARNING, "plugins.hikvision"):
        parts = feed(no_colon + part(body) + huge + unreadable + part(body))
    assert bodies(parts) == [body, body, body]  # the unreadable length falls back to the boundary
    text = caplog.text
    assert "not a part header" in text and "larger than allowed" in text


def test_a_part_cut_off_by_the_end_of_the_stream_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = alert("HikSink.cam.VMD.active")
    with caplog.at_level(logging.WARNING, "plugins.hikvision"):
        assert bodies(feed(part(body) + part(body)[:-200])) == [body]
    assert "the stream ended inside a part" in caplog.text
    assert "'Simpang Lima'" in caplog.text


def test_a_part_larger_than_allowed_without_a_length_is_skipped() -> None:
    reader = AlertStreamParser("boundary", PayloadLog(log, CAMERA), max_part=1000)
    body = alert("HikSink.cam.VMD.active")
    big = b"--boundary\r\nContent-Type: image/jpeg\r\n\r\n" + b"x" * 5000 + b"\r\n"
    assert bodies(reader.feed(big + part(body))) == [body]


# -- fuzzing ------------------------------------------------------------------------------

FRAGMENTS = [
    b"--boundary",
    b"--boundary\r\n",
    b"--boundary--",
    b"\r\n",
    b"\n",
    b"\r",
    b"-",
    b"Content-Type: application/xml\r\n",
    b"Content-Length: 12\r\n",
    b"Content-Length: 0\r\n",
    b"Content-Length: -3\r\n",
    b"<EventNotificationAlert><eventType>VMD</eventType></EventNotificationAlert>",
    b"{}",
    b"\xff\xd8\xff",
    b"\x00",
    b" ",
]
noise = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=24)), max_size=40).map(
    b"".join
)
cuts = st.lists(st.integers(min_value=0, max_value=100_000), max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=600), noise), cut=cuts, learn=st.booleans())
def test_any_bytes_in_any_chunks_never_raise_and_frame_the_same(
    data: bytes, cut: list[int], learn: bool
) -> None:
    boundary = None if learn else "boundary"
    whole = feed(data, boundary=boundary)
    assert feed(data, cut, boundary=boundary) == whole
    assert feed(data, list(range(len(data))), boundary=boundary) == whole


RECORDED = [
    alert("HikSink.cam.VMD.active"),
    alert("HikSink.cam.linedetection.active.regions"),
    alert("HikSink.nvr.fielddetection.active"),
    alert("EventNotificationAlert.linedetection.vehicle.httpHost-push"),
    anpr_alert("B 1234 XYZ"),
    json_alert("VMD", "active", 4),
    jpeg(),
]


@st.composite
def valid_streams(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """A stream of well-framed parts in the framings devices use, and the bodies it holds."""
    chosen = draw(st.lists(st.sampled_from(RECORDED), min_size=1, max_size=8))
    data, expected = b"", []
    for body in chosen:
        newline = draw(st.sampled_from([b"\r\n", b"\n"]))
        framing = draw(st.sampled_from(["length", "length+eol", "no-length", "no-headers"]))
        padding = draw(st.sampled_from([b"", b"\r\n", b"\r\n\r\n", b"  \r\n"]))
        if framing in ("no-length", "no-headers"):
            # Without a length, the body runs to the next delimiter, less one line end.
            head = b"--boundary" + newline
            if framing == "no-length" or body[:1] not in (b"<", b"{"):
                head = part(b"", length=False, newline=newline)[: -len(newline)]
            data += head + body + newline + padding
            tail = body + newline + padding
            expected.append(tail[:-2] if tail.endswith(b"\r\n") else tail[:-1])
            continue
        if framing == "length+eol":  # a length that counts the line end, as some firmware
            body += newline
            data += part(body, newline=newline)[: -len(newline)]
        else:
            data += part(body, newline=newline)
        expected.append(body)
        data += padding
    return data + b"--boundary\r\n\r\n", expected  # the next part's start ends the last


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=valid_streams(), cut=cuts, learn=st.booleans())
def test_valid_streams_give_the_same_parts_however_chunked(
    sample: tuple[bytes, list[bytes]], cut: list[int], learn: bool
) -> None:
    data, expected = sample
    boundary = None if learn else "boundary"
    assert bodies(feed(data, cut, boundary=boundary)) == expected


def events_of(data: bytes, cut: list[int]) -> list[CameraEvent]:
    """The events a stream gives when its alerts arrive at one moment."""
    book = AlertTranslator(PayloadLog(log, CAMERA), event_timeout=5.0)
    events: list[CameraEvent] = []
    for found in feed(data, cut):
        try:
            alert_ = read_alert(found)
        except BadPayload:
            continue
        if alert_ is not None:
            events += book.translate(alert_, 0.0)
    return events


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.integers(0, 700), cut=cuts)
def test_the_recorded_stream_gives_the_same_events_however_chunked(
    start: int, cut: list[int]
) -> None:
    data = stream(list(recorded_stream()[start : start + 70]))
    assert events_of(data, cut) == events_of(data, [])
