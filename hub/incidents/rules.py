"""Rules: which events become incidents, at what times, how severe, and what the alert says.

A rule is configuration (a pydantic model); matching one event against it is pure. What happens
over time (a condition that must last, a count within a window, flapping cameras) is the
lifecycle's work (`hub.incidents.lifecycle`), which asks the questions this module answers.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from hub.config.base import Section, Slug
from hub.config.errors import describe_value
from hub.events import Event
from hub.incidents.model import Severity

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Days of the week as rules write them, Monday first (as `datetime.weekday()` counts)."""

RuleKind = Literal["event", "camera_offline", "camera_tampered", "data_usage"]
ObjectKind = Literal["person", "vehicle"]
Source = Literal["device", "pixels"]
Phase = Literal["start", "end", "pulse"]

DEFAULT_OFFLINE_AFTER = 300.0
"""Seconds a camera must stay offline before a `camera_offline` rule pages, unless told."""
DEFAULT_FLAP_WINDOW = 900.0
DEFAULT_STABLE_FOR = 120.0
DEFAULT_BUCKET = 3600.0

# The events each built-in kind watches: camera health is not spelled out as event lists.
_KIND_EVENTS: dict[str, tuple[str, ...]] = {
    "camera_offline": ("camera.offline", "camera.online"),
    "camera_tampered": ("tamper",),
    "data_usage": ("usage.exceeded",),
}

# Fields that only mean something for one kind of rule.
_KIND_FIELDS = {
    "tamper_kinds": "camera_tampered",
    "flap_window": "camera_offline",
    "stable_for": "camera_offline",
}

# The kinds' default alert texts, in the hub's language (`hub.language`); a rule's own `title`
# and `message` override them.
_DEFAULT_TITLES: dict[str, dict[str, str]] = {
    "id": {
        "event": "{rule_name}: {camera}",
        "camera_offline": "Kamera {camera} terputus (offline)",
        "camera_tampered": "Kamera {camera} diganggu ({kind})",
        "data_usage": "Kamera {camera} melewati kuota paket datanya",
    },
    "en": {
        "event": "{rule_name}: {camera}",
        "camera_offline": "{camera} is offline",
        "camera_tampered": "{camera} was tampered with ({kind})",
        "data_usage": "{camera} used more data than its package allows",
    },
}
_DEFAULT_MESSAGES: dict[str, dict[str, str]] = {
    "id": {
        "event": "{type} di {camera} ({site}) pukul {time}",
        "camera_offline": "{camera} ({site}) terputus sejak pukul {time}",
        "camera_tampered": "{camera} ({site}): {kind} pukul {time}",
        "data_usage": "{camera} ({site}) memakai {used} dari kuota {allowed} (per {period}) "
        "pukul {time}",
    },
    "en": {
        "event": "{type} at {camera} ({site}) at {time}",
        "camera_offline": "{camera} ({site}) has been offline since {time}",
        "camera_tampered": "{camera} ({site}): {kind} at {time}",
        "data_usage": "{camera} ({site}) used {used} of its {allowed} ({period}) by {time}",
    },
}


# -- small value types --------------------------------------------------------------------------

_DURATION = re.compile(
    r"^(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)m(?:in)?)?(?:(?P<s>\d+(?:\.\d+)?)s)?$"
)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value: Any) -> float:
    """Seconds from a number of seconds or a text such as `90s`, `5m`, `1h30m`, `1d`."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad_duration(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        found = _DURATION.match(text)
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return float(text)
        if not text or found is None or not any(found.groupdict().values()):
            raise _bad_duration(value)
        return sum(
            float(amount) * _UNIT_SECONDS[unit]
            for unit, amount in found.groupdict().items()
            if amount is not None
        )
    if not math.isfinite(value) or value < 0:
        raise _bad_duration(value)
    return float(value)


def _bad_duration(value: Any) -> PydanticCustomError:
    return PydanticCustomError(
        "duration",
        f"must be a duration such as 90s, 5m or 1h, got {describe_value(value)}",
    )


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}]}),
]
"""Seconds; written as a number of seconds or as `90s`, `5m`, `1h30m`, `1d`."""


def _expand_days(value: Any) -> Any:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        return value  # pydantic says "must be a list"
    days: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise PydanticCustomError(
                "day", f"days must be written as mon..sun, got {describe_value(item)}"
            )
        first, dash, last = item.strip().lower().partition("-")
        for name in (first, last) if dash else (first,):
            if name not in DAYS:
                raise PydanticCustomError(
                    "day", f"unknown day '{name[:20]}': use mon, tue, wed, thu, fri, sat or sun"
                )
        if not dash:
            days.append(first)
            continue
        index = DAYS.index(first)
        days.append(DAYS[index])
        while DAYS[index] != last:  # fri-mon wraps over the weekend
            index = (index + 1) % 7
            days.append(DAYS[index])
    return list(dict.fromkeys(days))


Days = Annotated[
    list[Day],
    BeforeValidator(_expand_days),
]

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def _parse_between(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value
    if not isinstance(value, str):
        # YAML reads an unquoted 22:00 as the number 1320
        raise PydanticCustomError(
            "between", "must be two times such as '22:00-05:00' (in quotes when alone)"
        )
    parts = re.split(r"\s*(?:-|–|\bto\b)\s*", value.strip())
    times: list[time] = []
    for part in parts:
        found = _CLOCK.match(part)
        if len(parts) != 2 or found is None or int(found[1]) > 24 or int(found[2]) > 59:
            raise PydanticCustomError(
                "between",
                f"must be two times such as '22:00-05:00', got {describe_value(value)}",
            )
        hour, minute = int(found[1]), int(found[2])
        if hour == 24 and minute == 0:
            hour = 0  # 24:00 as an end means midnight
        elif hour == 24:
            raise PydanticCustomError("between", "hours go from 00 to 24")
        times.append(time(hour, minute))
    return tuple(times)


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


_PATTERN = re.compile(r"^[a-z0-9_*?][a-z0-9_.*?-]*$")


def _check_pattern(value: Any) -> Any:
    if isinstance(value, str) and not _PATTERN.match(value):
        raise PydanticCustomError(
            "event_pattern",
            f"must be an event type or a pattern such as motion.* , got {describe_value(value)}",
        )
    return value


EventPattern = Annotated[str, BeforeValidator(_check_pattern)]
"""An event type (`tamper`) or a shell-style pattern over types (`motion.*`, `*.start`)."""


def _check_template(value: Any) -> Any:
    if isinstance(value, str):
        try:
            list(string.Formatter().parse(value))
        except ValueError:
            raise PydanticCustomError(
                "template", "has an unpaired { or }: write {{ or }} for a brace itself"
            ) from None
    return value


Template = Annotated[str, BeforeValidator(_check_template)]
"""Text with `{placeholders}`; an unknown placeholder stays as written, it never fails."""


# -- time windows --------------------------------------------------------------------------------


class TimeWindow(Section):
    """Days of the week and a time of day in the hub's time zone; may run past midnight.

    `days: [fri]` with `between: 22:00-02:00` holds from Friday 22:00 to Saturday 02:00: a window
    belongs to the day it starts on. The end is not part of it: 05:00 is outside 22:00-05:00.
    """

    days: Days = Field(
        default_factory=lambda: list(DAYS),
        description="Days the window starts on: mon..sun, or ranges such as mon-fri.",
    )
    between: Annotated[tuple[time, time] | None, BeforeValidator(_parse_between)] = Field(
        None, description="Start and end, such as '22:00-05:00'; empty: the whole day."
    )

    def contains(self, at: datetime, tz: tzinfo) -> bool:
        """Whether the moment `at` (any time zone) falls in this window, read in `tz`."""
        local = at.astimezone(tz)
        clock = local.time().replace(tzinfo=None)
        today = DAYS[local.weekday()]
        yesterday = DAYS[(local.weekday() - 1) % 7]
        start, end = self.between or (time(0), time(0))
        if start < end:
            return today in self.days and start <= clock < end
        # past midnight (or a whole day when start == end): the early part began yesterday
        return (clock >= start and today in self.days) or (clock < end and yesterday in self.days)


TimeWindows = Annotated[list[TimeWindow], BeforeValidator(_one_or_many)]
"""A list of windows; one window may be written without the list."""


def in_any_window(windows: list[TimeWindow], at: datetime, tz: tzinfo) -> bool:
    """True when `at` falls in one of `windows`, or when there are none (always)."""
    return not windows or any(window.contains(at, tz) for window in windows)


# -- what a rule is told about a camera and an event --------------------------------------------


@dataclass(frozen=True, slots=True)
class CameraFacts:
    """What rules need to know about a camera; the hub fills it from the registry."""

    id: str
    name: str
    owner: str | None = None
    site: str | None = None
    tags: tuple[str, ...] = ()
    owner_name: str | None = None
    site_name: str | None = None
    offline_after: float | None = None
    """Seconds this camera may be offline before a `camera_offline` rule pages (None: rule's)."""


def event_phase(event: Event) -> Phase:
    """Whether an event starts a condition, ends one, or is a moment without duration."""
    if event.type.endswith(".end") or event.data.get("state") == "end":
        return "end"
    if event.type.endswith(".start") or event.data.get("state") == "start":
        return "start"
    return "pulse"


def start_type(event_type: str) -> str:
    """The type of the event that starts what `event_type` ends (`motion.end` -> `motion.start`)."""
    return event_type[: -len(".end")] + ".start" if event_type.endswith(".end") else event_type


def event_subject(event: Event) -> str:
    """What within a camera a condition concerns (a zone, a tamper kind), so pairs match up."""
    for name in ("zone", "region", "kind", "detail"):
        value = event.data.get(name)
        if value not in (None, ""):
            return str(value)
    return ""


def event_source(event: Event) -> Source:
    """`device` for a camera's own analytics; `pixels` for the hub's (which may not say)."""
    return "device" if event.data.get("source") == "device" else "pixels"


def _zone(event: Event) -> str | None:
    for name in ("zone", "region"):
        value = event.data.get(name)
        if value not in (None, ""):
            return str(value)
    return None


# -- rules ----------------------------------------------------------------------------------------


class MinCount(Section):
    """At least `at_least` matching events within `within` seconds."""

    at_least: int = Field(ge=2, description="How many events, 2 or more.")
    within: Duration = Field(description="Window, such as 10m.")

    @field_validator("within")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise PydanticCustomError("duration", "must be longer than 0 s")
        return value


class Rule(Section):
    """Which events become incidents, when, how severe, what the alert says and who is told."""

    id: Slug
    kind: RuleKind = Field(
        "event",
        description="event (the events listed), or a camera health check: camera_offline, "
        "camera_tampered, data_usage.",
    )
    name: str | None = None
    events: list[EventPattern] = Field(
        default_factory=list,
        validate_default=True,  # a rule of kind event that names none is a mistake
        description="Event types or patterns such as motion.* (kind event only).",
    )
    cameras: list[str] = Field(default_factory=list, description="Camera ids; empty: any.")
    tags: list[str] = Field(default_factory=list, description="Camera tags; empty: any.")
    owners: list[str] = Field(default_factory=list, description="Owner ids; empty: any.")
    sites: list[str] = Field(default_factory=list, description="Site ids; empty: any.")
    zones: list[str] = Field(default_factory=list, description="Zones or regions; empty: any.")
    objects: list[ObjectKind] = Field(default_factory=list, description="person, vehicle.")
    sources: list[Source] = Field(
        default_factory=list, description="device (camera analytics) or pixels (the hub's)."
    )
    tamper_kinds: list[str] = Field(
        default_factory=list, description="covered, frozen, black, ... (camera_tampered only)."
    )
    when: TimeWindows = Field(
        default_factory=list, description="Time windows in the hub's time zone; empty: always."
    )
    for_at_least: Duration | None = Field(
        None,
        description="Fire once the condition has lasted this long (start/end events); for "
        "camera_offline, how long a camera must be offline (default 5m).",
    )
    count: MinCount | None = Field(None, description="Fire on this many events in a window.")
    severity: Severity = Severity.MEDIUM
    title: Template | None = Field(None, description="Alert title; {camera}, {zone}, {time}...")
    message: Template | None = Field(None, description="Alert text; same placeholders.")
    responders: list[str] = Field(default_factory=list, description="Responder ids to alert.")
    escalation: str | None = Field(None, description="Id of an escalation policy.")
    bucket: Duration = Field(
        DEFAULT_BUCKET, description="Repeats within one such period update one incident."
    )
    auto_resolve: bool | None = Field(
        None,
        description="Resolve when the condition ends (default: yes for camera_offline and "
        "camera_tampered, no otherwise).",
    )
    flap_window: Duration | None = Field(
        None, description="camera_offline: page at most once per this period (default 15m)."
    )
    stable_for: Duration | None = Field(
        None, description="camera_offline: back online this long before resolving (default 2m)."
    )

    @field_validator("events")
    @classmethod
    def _events_for_kind(cls, value: list[str], info: ValidationInfo) -> list[str]:
        kind = info.data.get("kind")
        if kind == "event" and not value:
            raise PydanticCustomError("no_events", "must name at least one event type")
        if kind in _KIND_EVENTS and value:
            watched = ", ".join(_KIND_EVENTS[kind])
            raise PydanticCustomError(
                "kind_field", f"is not used by kind {kind}: it watches {watched} by itself"
            )
        return value

    @field_validator("tamper_kinds", "flap_window", "stable_for")
    @classmethod
    def _only_for_kind(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        wanted = _KIND_FIELDS[str(info.field_name)]
        if kind is not None and kind != wanted and value not in (None, []):
            raise PydanticCustomError("kind_field", f"is only used by rules of kind {wanted}")
        return value

    @field_validator("count")
    @classmethod
    def _count_or_duration(cls, value: MinCount | None, info: ValidationInfo) -> MinCount | None:
        if value is not None and info.data.get("for_at_least") is not None:
            raise PydanticCustomError("count_and_duration", "give for_at_least or count, not both")
        if value is not None and info.data.get("kind") == "camera_offline":
            raise PydanticCustomError("kind_field", "is not used by kind camera_offline")
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket_positive(cls, value: float) -> float:
        if value <= 0:
            raise PydanticCustomError("duration", "must be longer than 0 s")
        return value

    @field_validator("auto_resolve")
    @classmethod
    def _resolvable(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if value and info.data.get("kind") == "data_usage":
            raise PydanticCustomError(
                "kind_field", "data_usage incidents have no end: resolve them by hand"
            )
        return value

    # -- reading the rule ---------------------------------------------------------------------

    @property
    def label(self) -> str:
        """The rule's name, or its id when it has none."""
        return self.name or self.id

    @property
    def resolves(self) -> bool:
        """Whether its incidents resolve by themselves when their condition ends."""
        if self.auto_resolve is not None:
            return self.auto_resolve
        return self.kind in ("camera_offline", "camera_tampered")

    @property
    def offline_after(self) -> float:
        """camera_offline: seconds offline before paging, unless the camera says."""
        return DEFAULT_OFFLINE_AFTER if self.for_at_least is None else self.for_at_least

    @property
    def flap_seconds(self) -> float:
        """camera_offline: a camera pages at most once per this many seconds."""
        return DEFAULT_FLAP_WINDOW if self.flap_window is None else self.flap_window

    @property
    def stable_seconds(self) -> float:
        """camera_offline: seconds back online before the incident resolves."""
        return DEFAULT_STABLE_FOR if self.stable_for is None else self.stable_for

    def watches(self, event_type: str) -> bool:
        """Whether events of this type concern the rule at all (before any other check)."""
        patterns = _KIND_EVENTS.get(self.kind, ())
        if self.kind == "event":
            return any(fnmatchcase(event_type, pattern) for pattern in self.events)
        return event_type in patterns

    def covers_camera(self, camera: CameraFacts | None, camera_id: str | None) -> bool:
        """Whether the camera filters (cameras, tags, owners, sites) let this camera through."""
        if self.cameras and camera_id not in self.cameras:
            return False
        if not (self.tags or self.owners or self.sites):
            return True
        if camera is None:
            return False
        return (
            (not self.tags or any(tag in self.tags for tag in camera.tags))
            and (not self.owners or camera.owner in self.owners)
            and (not self.sites or camera.site in self.sites)
        )

    def covers_data(self, event: Event) -> bool:
        """Whether the event's own fields (zone, object, source, tamper kind) fit the rule."""
        if self.zones and _zone(event) not in self.zones:
            return False
        if self.objects and event.data.get("object") not in self.objects:
            return False
        if self.sources and event_source(event) not in self.sources:
            return False
        return not self.tamper_kinds or event.data.get("kind") in self.tamper_kinds

    def matches(self, event: Event, camera: CameraFacts | None, tz: tzinfo) -> bool:
        """Whether `event` (one that starts a condition or stands alone) fits every filter."""
        return (
            self.watches(event.type)
            and self.covers_camera(camera, event.camera_id)
            and self.covers_data(event)
            and in_any_window(self.when, event.time, tz)
        )

    def title_template(self, language: str = "id") -> str:
        """The title template, or the kind's default in `language` (id or en)."""
        if self.title is not None:
            return self.title
        return _DEFAULT_TITLES.get(language, _DEFAULT_TITLES["id"])[self.kind]

    def message_template(self, language: str = "id") -> str:
        """The message template, or the kind's default in `language` (id or en)."""
        if self.message is not None:
            return self.message
        return _DEFAULT_MESSAGES.get(language, _DEFAULT_MESSAGES["id"])[self.kind]


# -- alert text -----------------------------------------------------------------------------------


def template_fields(
    rule: Rule,
    event: Event,
    camera: CameraFacts | None,
    tz: tzinfo,
    *,
    count: int = 1,
) -> dict[str, Any]:
    """The values a title or message may name: `{camera}`, `{zone}`, `{time}`, `{data.x}`..."""
    local = event.time.astimezone(tz)
    data = dict(event.data)
    fields: dict[str, Any] = {key: value for key, value in data.items() if key.isidentifier()}
    camera_name = camera.name if camera is not None else (event.camera_id or "")
    site = (camera.site_name or camera.site) if camera is not None else None
    owner = (camera.owner_name or camera.owner) if camera is not None else None
    fields.update(
        rule=rule.id,
        rule_name=rule.label,
        severity=rule.severity.value,
        type=event.type,
        camera=camera_name,
        camera_id=event.camera_id or "",
        site=site or "",
        site_id=(camera.site if camera is not None else None) or "",
        owner=owner or "",
        owner_id=(camera.owner if camera is not None else None) or "",
        zone=_zone(event) or "",
        object=data.get("object") or "",
        kind=data.get("kind") or "",
        source=event_source(event),
        time=local.strftime("%H:%M"),
        date=local.strftime("%Y-%m-%d"),
        datetime=local.isoformat(timespec="seconds"),
        count=count,
        duration=_seconds_text(rule.for_at_least),
        data=data,
        event={"type": event.type, "camera_id": event.camera_id, "data": data},
    )
    return fields


def _seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:g} s"


_FIELD_PART = re.compile(r"\.([^.\[]+)|\[([^\]]+)\]")


def render(template: str, fields: Mapping[str, Any]) -> str:
    """Fill `{name}`, `{data.zone}` or `{data[zone]}` placeholders from `fields`.

    Never raises: a name that is not there, or a format that does not fit its value, stays in
    the text as written, so a typo shows in the alert instead of losing it. Only mappings are
    looked into, never attributes, so a template cannot reach the hub's objects.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return template
    out: list[str] = []
    for literal, name, spec, conversion in parsed:
        out.append(literal)
        if name is None:
            continue
        conversion_part = f"!{conversion}" if conversion else ""
        written = "{" + name + conversion_part + (f":{spec}" if spec else "") + "}"
        found, value = _look_up(fields, name)
        if not found:
            out.append(written)
            continue
        try:
            if conversion == "r":
                value = repr(value)
            elif conversion == "a":
                value = ascii(value)
            elif conversion == "s":
                value = str(value)
            out.append(format(value, spec or ""))
        except (ValueError, TypeError):
            out.append(written)
    return "".join(out)


def _look_up(fields: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    head = re.match(r"[^.\[]*", name)
    first = head.group(0) if head else name
    if first not in fields:
        return False, None
    value: Any = fields[first]
    rest = name[len(first) :]
    position = 0
    while position < len(rest):
        part = _FIELD_PART.match(rest, position)
        if part is None or not isinstance(value, Mapping):
            return False, None
        key = part.group(1) if part.group(1) is not None else part.group(2)
        if key not in value:
            return False, None
        value = value[key]
        position = part.end()
    return True, value
