"""EventNotificationAlert messages read from parts, and turned into Pantau's `CameraEvent`s.

Mapping (eventType, case-insensitive, to kind and detail):

    VMD                          motion                     start/end
    PIR                          motion, detail "pir"       start/end
    linedetection                line_crossing              a pulse when a crossing begins
    fielddetection               intrusion, detail "field"  start/end
    regionEntrance/regionExiting intrusion, detail "region" a pulse when it begins
    shelteralarm/tamperdetection tamper, detail "covered"   start/end
    videoloss                    video_loss                 start/end
    IO                           io_input, detail = input   start/end
    ANPR                         plate, object "vehicle"    a pulse per plate read; the plate in
                                                            `detail` (and raw["plate"])
    anything else                raw (logged once)          start/end, or a pulse without state

A device repeats `active` about once a second while a condition holds: one start is emitted per
condition (event type, channel and input), and its end when `inactive` arrives or when no
repeat came for `event_timeout` seconds. An `inactive` for a condition that was never seen
started emits nothing; `videoloss` `inactive` without a channel is a heartbeat. `targetType` or
`detectionTarget` human/vehicle gives the object; `dynChannelID` (else `channelID`) the channel.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from hub.vendorkit import PayloadLog, json_ready
from hub.vendors import BadPayload, CameraEvent, EventKind, EventState, ObjectKind
from plugins.hikvision.multipart import AlertPart
from plugins.hikvision.xmldoc import find_text, parse_xml, to_int, top_text

Mode = Literal["condition", "pulse_at_start", "pulse"]
"""How an event type's states become Pantau states (see the module docstring)."""

EVENT_TYPES: dict[str, tuple[EventKind, str | None, Mode]] = {
    "vmd": ("motion", None, "condition"),
    "pir": ("motion", "pir", "condition"),
    "linedetection": ("line_crossing", None, "pulse_at_start"),
    "fielddetection": ("intrusion", "field", "condition"),
    "regionentrance": ("intrusion", "region", "pulse_at_start"),
    "regionexiting": ("intrusion", "region", "pulse_at_start"),
    "shelteralarm": ("tamper", "covered", "condition"),
    "tamperdetection": ("tamper", "covered", "condition"),
    "videoloss": ("video_loss", None, "condition"),
    "io": ("io_input", None, "condition"),
    "anpr": ("plate", None, "pulse"),
}
OBJECTS: dict[str, ObjectKind] = {
    "human": "person",
    "person": "person",
    "pedestrian": "person",
    "vehicle": "vehicle",
    "car": "vehicle",
    "motorvehicle": "vehicle",
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One EventNotificationAlert, with the fields Pantau reads taken out."""

    event_type: str
    state: str | None
    """`active`, `inactive` (in lower case), or None when the device gave no eventState."""
    fields: Mapping[str, Any]
    """Everything the alert held, JSON-ready, namespaces dropped."""
    channel: int | None = None
    time: datetime | None = None
    object: ObjectKind | None = None
    region: str | None = None
    input_id: str | None = None
    plate: str | None = None


def _is_image(part: AlertPart) -> bool:
    return part.content_type.startswith("image/") or part.body.startswith(b"\xff\xd8")


def _decode(part: AlertPart) -> Mapping[str, Any] | None:
    """The alert's fields from an XML or JSON part; None for a part that holds no alert."""
    body = part.body.strip()
    kind = part.content_type
    if not body:
        return None  # an empty part: some firmware sends these to keep the stream alive
    # The body decides over the Content-Type: firmware labels JSON as XML and the reverse.
    if body[:1] in (b"{", b"[") or (body[:1] != b"<" and "json" in kind):
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise BadPayload(f"not JSON: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("EventNotificationAlert"), dict):
            data = data["EventNotificationAlert"]
        if not isinstance(data, dict):
            raise BadPayload("a JSON part that is not an object")
        return data
    if "xml" in kind or body.startswith(b"<"):
        try:
            root, data = parse_xml(body)
        except ValueError as exc:
            raise BadPayload(str(exc)) from None
        if not isinstance(data, dict):
            raise BadPayload(f"an XML part with an empty <{root}>")
        return data
    raise BadPayload(f"a part that is neither XML nor JSON ({kind or 'no Content-Type'})")


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def read_alert(part: AlertPart) -> Alert | None:
    """The alert a part holds; None for image and empty parts; `BadPayload` if unreadable."""
    if _is_image(part):
        return None
    data = _decode(part)
    if data is None:
        return None
    event_type = top_text(data, "eventType")
    if not event_type:
        raise BadPayload("an alert without eventType")
    channel = to_int(top_text(data, "dynChannelID") or top_text(data, "channelID", "channel"))
    state = top_text(data, "eventState")
    target = find_text(data, "targetType", "detectionTarget")
    plate = find_text(data, "licensePlate") if event_type.lower() == "anpr" else None
    return Alert(
        event_type=event_type,
        state=state.lower() if state else None,
        fields=json_ready(data),
        channel=channel if channel is not None and channel > 0 else None,
        time=_time(top_text(data, "dateTime")),
        object="vehicle" if plate is not None else OBJECTS.get((target or "").lower()),
        region=find_text(data, "regionID"),
        input_id=find_text(data, "inputIOPortID", "dynInputIOPortID", "ioPortID"),
        plate=plate,
    )


@dataclass(slots=True)
class _Condition:
    mode: Mode
    last: CameraEvent
    """The event of the latest `active` alert, state as emitted at the start."""
    seen: float
    """When the latest `active` alert arrived (the session's monotonic clock)."""


ConditionKey = tuple[str, int | None, str | None]


class AlertTranslator:
    """Turns one device's alerts into `CameraEvent`s, holding the conditions still open."""

    def __init__(self, log: PayloadLog, event_timeout: float) -> None:
        self._log = log
        self._timeout = event_timeout
        self._open: dict[ConditionKey, _Condition] = {}

    def translate(self, alert: Alert, now: float) -> list[CameraEvent]:
        """The events one alert brings (often none: repeats and heartbeats)."""
        type_key = alert.event_type.lower()
        if type_key == "videoloss" and alert.state == "inactive" and alert.channel is None:
            return []  # the heartbeat of many devices
        known = EVENT_TYPES.get(type_key)
        if known is None:
            self._log.unknown_topic(alert.event_type, alert.fields)
            kind: EventKind = "raw"
            detail: str | None = None
            mode: Mode = "pulse" if alert.state not in ("active", "inactive") else "condition"
        else:
            kind, detail, mode = known
        if kind == "io_input":
            detail = alert.input_id
        if kind == "plate":
            detail = alert.plate
        raw = dict(alert.fields)
        if alert.plate is not None:
            raw["plate"] = alert.plate
        event = CameraEvent(
            kind=kind,
            state="pulse",
            raw_topic=alert.event_type,
            raw=raw,
            channel=alert.channel,
            object=alert.object,
            detail=detail,
            region=alert.region,
            time=alert.time,
        )
        if mode == "pulse":
            return [event]
        key = (type_key, alert.channel, alert.input_id)
        if alert.state == "inactive":
            condition = self._open.pop(key, None)
            if condition is None or condition.mode == "pulse_at_start":
                return []
            return [replace(event, state="end")]
        state: EventState = "start" if mode == "condition" else "pulse"
        event = replace(event, state=state)
        condition = self._open.get(key)
        if condition is not None:
            condition.last, condition.seen = event, now
            return []
        self._open[key] = _Condition(mode, event, now)
        return [event]

    def next_deadline(self) -> float | None:
        """When the earliest open condition times out, or None when none is open."""
        if not self._open:
            return None
        return min(condition.seen for condition in self._open.values()) + self._timeout

    def expire(self, now: float) -> list[CameraEvent]:
        """The ends of conditions whose repeats stopped `event_timeout` seconds ago or more."""
        over = sorted(
            (key for key, condition in self._open.items() if now - condition.seen >= self._timeout),
            key=lambda key: self._open[key].seen,
        )
        events: list[CameraEvent] = []
        for key in over:
            condition = self._open.pop(key)
            if condition.mode == "condition":
                events.append(replace(condition.last, state="end"))
        return events

    @property
    def open_conditions(self) -> int:
        """How many conditions are open (started and not yet ended)."""
        return len(self._open)
