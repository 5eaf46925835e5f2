"""The NVR's event feed (one JSON object a line) normalized to Pantau's `CameraEvent`s.

A line looks like `{"seq": 812, "type": "motion", "channel": 3, "active": true, "time":
"2026-03-02T10:15:02+07:00"}`. `active` true starts a condition and false ends it; a type that
has no duration (a line crossed) comes without it. `heartbeat` lines only keep the feed alive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub.vendorkit import PayloadLog, json_ready
from hub.vendors import CameraEvent, EventKind, EventState, ObjectKind

MAX_LINE = 64 * 1024
"""A longer line is no event of this NVR's: it is skipped."""

KINDS: dict[str, EventKind] = {
    "motion": "motion",
    "line_cross": "line_crossing",
    "intrusion": "intrusion",
    "tamper": "tamper",
    "video_loss": "video_loss",
    "alarm_input": "io_input",
}
"""The NVR's event types, and the kinds they are in Pantau's vocabulary."""
PULSES = frozenset({"line_cross"})
"""Types that are a moment, not a condition: always `pulse`, whatever `active` says."""
TARGETS: dict[str, ObjectKind] = {"human": "person", "car": "vehicle", "motorcycle": "vehicle"}
DETAILS = {"intrusion": "field", "tamper": "covered"}
"""The NVR reports only area intrusion (`field`) and a covered lens (`covered`)."""


class JsonLines:
    """Splits a feed that arrives in arbitrary chunks into whole lines."""

    def __init__(self, payloads: PayloadLog, limit: int = MAX_LINE) -> None:
        self.payloads = payloads
        self.limit = limit
        self._buffer = bytearray()
        self._overlong = False

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines `chunk` completes, without their line ends; blank lines are dropped."""
        self._buffer += chunk
        lines = []
        while (end := self._buffer.find(b"\n")) != -1:
            line = bytes(self._buffer[:end]).strip()
            del self._buffer[: end + 1]
            if self._overlong:
                self._overlong = False  # the rest of a line already reported
            elif line:
                lines.append(line)
        if len(self._buffer) > self.limit:
            if not self._overlong:
                error = f"a line longer than {self.limit} bytes"
                self.payloads.malformed("event line", bytes(self._buffer), error)
            self._overlong = True
            self._buffer.clear()
        return lines

    def finish(self) -> list[bytes]:
        """The last line, when the feed ended without a line end after it."""
        line = bytes(self._buffer).strip()
        self._buffer.clear()
        return [line] if line and not self._overlong else []


def read_event(line: bytes, payloads: PayloadLog) -> CameraEvent | None:
    """The event one line holds; None for a heartbeat and for a line that is no event."""
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        payloads.malformed("event line", line, exc)
        return None
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        payloads.malformed("event line", line, "not an object with a 'type'")
        return None
    return normalize(record, payloads)


def normalize(record: Mapping[str, Any], payloads: PayloadLog) -> CameraEvent | None:
    """The `CameraEvent` for one event record of the NVR; None for a heartbeat."""
    topic = str(record["type"])
    if topic == "heartbeat":
        payloads.ignored("heartbeat", json.dumps(record), "the NVR's sign of life")
        return None
    kind = KINDS.get(topic)
    if kind is None:
        payloads.unknown_topic(topic, record)
        kind = "raw"
    state: EventState = "pulse"
    if topic not in PULSES and isinstance(record.get("active"), bool):
        state = "start" if record["active"] else "end"
    detail = DETAILS.get(topic)
    if kind == "io_input" and record.get("input") is not None:
        detail = str(record["input"])
    region = record.get("rule") or record.get("zone")
    return CameraEvent(
        kind=kind,
        state=state,
        raw_topic=topic,
        raw=json_ready(record),
        channel=_channel(record.get("channel")),
        object=TARGETS.get(str(record.get("target"))),
        detail=detail,
        region=str(region) if region is not None else None,
        time=_time(record.get("time")),
    )


def decode_feed(payload: bytes, payloads: PayloadLog) -> list[CameraEvent]:
    """The events in a captured stretch of the feed, as a session would give them."""
    lines = JsonLines(payloads)
    found = [read_event(line, payloads) for line in [*lines.feed(payload), *lines.finish()]]
    return [event for event in found if event is not None]


def _channel(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
