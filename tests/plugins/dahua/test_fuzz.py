"""The attach stream parser under Hypothesis: any bytes, any chunking."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.vendorkit import PayloadLog
from plugins.dahua.events import normalize
from plugins.dahua.eventstream import DahuaEvent, EventStreamParser, Heartbeat, StreamItem

CODES = (
    "VideoMotion",
    "CrossLineDetection",
    "CrossRegionDetection",
    "AlarmLocal",
    "DoorStatus",
    "SmartMotionHuman",
)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
events = st.builds(
    DahuaEvent,
    code=st.sampled_from(CODES),
    action=st.sampled_from(("Start", "Stop", "Pulse")),
    index=st.integers(0, 63),
    data=st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=5),
)
items: st.SearchStrategy[StreamItem] = st.one_of(events, st.just(Heartbeat()))


@dataclass(frozen=True)
class Framing:
    """How one part is written; every choice is one some firmware makes."""

    length: bool
    newline: bytes
    indent: int | None


framings = st.builds(
    Framing, st.booleans(), st.sampled_from((b"\r\n", b"\n")), st.sampled_from((None, 1, 4))
)


def wire(item: StreamItem, framing: Framing) -> bytes:
    nl = framing.newline
    if isinstance(item, Heartbeat):
        text = "Heartbeat"
    else:
        text = f"Code={item.code};action={item.action};index={item.index}"
        if item.data is not None:
            text += ";data=" + json.dumps(item.data, indent=framing.indent)
    body = text.replace("\n", nl.decode()).encode() + nl
    head = b"--myboundary" + nl + b"Content-Type: text/plain" + nl
    if framing.length:
        head += b"Content-Length: " + str(len(body)).encode() + nl
    return head + nl + body + nl


def payload_log() -> PayloadLog:
    return PayloadLog(logging.getLogger("plugins.dahua.fuzz"), "Fuzz", every=3600.0)


def feed(
    chunks: list[bytes], boundary: str | None = "myboundary"
) -> tuple[list[StreamItem], PayloadLog]:
    payloads = payload_log()
    parser = EventStreamParser(payloads, boundary)
    out: list[StreamItem] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    parser.finish()
    return out, payloads


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(stream)) for cut in cuts})
    edges = [0, *points, len(stream)]
    return [stream[a:b] for a, b in zip(edges, edges[1:], strict=False)]


@FUZZ
@given(parts=st.lists(st.tuples(items, framings), max_size=8), data=st.data())
def test_a_valid_stream_gives_its_items_however_it_is_chunked(
    parts: list[tuple[StreamItem, Framing]], data: st.DataObject
) -> None:
    stream = b"".join(wire(item, framing) for item, framing in parts)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    expected = [item for item, _ in parts]
    whole, whole_log = feed([stream])
    chunked, chunked_log = feed(split(stream, cuts))
    assert whole == expected
    assert chunked == expected
    assert whole_log.malformed_count == chunked_log.malformed_count == 0
    # Without a declared boundary the first delimiter line names it.
    assert feed(split(stream, cuts), None)[0] == expected


@FUZZ
@given(noise=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 2000), max_size=20))
def test_any_bytes_never_raise(noise: bytes, cuts: list[int]) -> None:
    found, _ = feed(split(noise, cuts))
    for item in found:
        if isinstance(item, DahuaEvent):
            normalize(item, payload_log())


@FUZZ
@given(
    parts=st.lists(st.tuples(items, framings), min_size=1, max_size=6),
    damage=st.lists(st.tuples(st.integers(0, 4000), st.binary(max_size=40)), max_size=6),
    cut_at=st.integers(0, 4000),
    cuts=st.lists(st.integers(0, 4000), max_size=20),
)
def test_a_damaged_or_cut_stream_never_raises(
    parts: list[tuple[StreamItem, Framing]],
    damage: list[tuple[int, bytes]],
    cut_at: int,
    cuts: list[int],
) -> None:
    stream = bytearray(b"".join(wire(item, framing) for item, framing in parts))
    for where, junk in damage:
        stream[where:where] = junk
    found, _ = feed(split(bytes(stream[:cut_at]), cuts))
    for item in found:
        assert isinstance(item, DahuaEvent | Heartbeat)
        if isinstance(item, DahuaEvent):
            event = normalize(item, payload_log())
            assert event is None or json.loads(json.dumps(event.raw)) == event.raw


@FUZZ
@given(text=st.text(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=10))
def test_text_that_looks_like_records_never_raises(text: str, cuts: list[int]) -> None:
    stream = ("--myboundary\r\n\r\nCode=" + text.replace("\n", "\r\n")).encode(
        "utf-8", "surrogatepass"
    )
    found: list[Any] = feed(split(stream, cuts))[0]
    assert all(isinstance(item, DahuaEvent | Heartbeat) for item in found)
