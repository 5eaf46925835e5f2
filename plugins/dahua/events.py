"""Dahua event codes in Pantau's words: each `Code` becomes a normalized `CameraEvent`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.vendorkit import PayloadLog, json_ready
from hub.vendors import CameraEvent, EventKind, EventState, ObjectKind
from plugins.dahua.eventstream import DahuaEvent

STATES: dict[str, EventState] = {"start": "start", "stop": "end", "pulse": "pulse"}
OBJECTS: dict[str, ObjectKind] = {
    "human": "person",
    "vehicle": "vehicle",
    "motorvehicle": "vehicle",
    "nonmotor": "vehicle",
}
FIELD_ACTIONS = ("Inside", "Appear")
STATE_REPORT = "a report that a condition still holds; its Start and Stop carry the event"
"""CrossRegionDetection `Action`s that mean an object is in the area rather than crossing it."""


@dataclass(frozen=True, slots=True)
class Rule:
    """How one Dahua code maps: the kind, a fixed detail or object, and whether it is IVS."""

    kind: EventKind
    detail: str | None = None
    object: ObjectKind | None = None
    analytic: bool = False
    """An IVS rule: the object and rule name come from the event's data."""


RULES: dict[str, Rule] = {
    "VideoMotion": Rule("motion"),
    "SmartMotionHuman": Rule("motion", object="person"),
    "SmartMotionVehicle": Rule("motion", object="vehicle"),
    "CrossLineDetection": Rule("line_crossing", analytic=True),
    "CrossRegionDetection": Rule("intrusion", detail="region", analytic=True),
    "VideoBlind": Rule("tamper", detail="covered"),
    "SceneChange": Rule("tamper", detail="scene_change"),
    "VideoLoss": Rule("video_loss"),
    "AlarmLocal": Rule("io_input"),
}


def normalize(event: DahuaEvent, payloads: PayloadLog) -> CameraEvent | None:
    """The normalized event, or None (logged) when its action is not start, stop or pulse.

    A code no rule knows is logged once and delivered as kind `raw`. `channel` is Dahua's
    0-based `index` plus one, except for `AlarmLocal`, whose index numbers an alarm input (it
    goes in `detail`, as the device numbers it) and not a video channel.
    """
    raw = json_ready(
        {"code": event.code, "action": event.action, "index": event.index, "data": event.data}
    )
    state = STATES.get(event.action.lower())
    if event.action.lower() == "state":
        # e.g. VideoMotionInfo, about once a second while motion lasts: its Start and Stop
        # already carry the event, so this is no news and, above all, not a malformed record
        payloads.ignored(f"{event.code} state report", repr(raw), STATE_REPORT)
        return None
    if state is None:
        payloads.malformed("event", repr(raw), f"unknown action {event.action!r}")
        return None
    data: Mapping[str, Any] = event.data if isinstance(event.data, Mapping) else {}
    rule = RULES.get(event.code)
    if rule is None:
        payloads.unknown_topic(event.code, raw)
        rule = Rule("raw")
    channel = event.index + 1 if event.index is not None and event.index >= 0 else None
    detail = rule.detail
    if rule.kind == "io_input":
        detail, channel = (str(event.index) if event.index is not None else None), None
    elif rule.kind == "intrusion" and data.get("Action") in FIELD_ACTIONS:
        detail = "field"
    return CameraEvent(
        kind=rule.kind,
        state=state,
        raw_topic=event.code,
        raw=raw,
        channel=channel,
        object=_object_of(data) if rule.analytic else rule.object,
        detail=detail,
        region=_region_of(data) if rule.analytic else None,
        time=_time_of(data),
    )


def _object_of(data: Mapping[str, Any]) -> ObjectKind | None:
    found = data.get("Object")
    if not isinstance(found, Mapping):
        objects = data.get("Objects")
        found = objects[0] if isinstance(objects, list) and objects else None
    if not isinstance(found, Mapping):
        return None
    kind = found.get("ObjectType")
    return OBJECTS.get(kind.lower()) if isinstance(kind, str) else None


def _region_of(data: Mapping[str, Any]) -> str | None:
    name = data.get("Name")
    return name if isinstance(name, str) and name else None


def _time_of(data: Mapping[str, Any]) -> datetime | None:
    """The device's `UTC` seconds; some firmwares put local time there, so it may be off."""
    seconds = data.get("UTC")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
