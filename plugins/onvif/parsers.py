"""ONVIF event notifications read from XML and normalized to `CameraEvent`s by topic.

A notification (`wsnt:NotificationMessage`, in a PullMessages answer or an RTSP metadata
stream) carries a topic and a `tt:Message` of Source, Key and Data simple items. Its topic is
normalized (each segment's prefix resolved to its namespace and written the registry's way,
so `tns1:` means the ONVIF topic namespace whatever prefix the device chose) and looked up in
`TOPIC_PARSERS`; a key ending in `/*` stands for every topic below it. A topic with no parser
is delivered as kind `raw` (state `pulse`) after one log line with a sample.

Property messages: `Initialized` gives the current state when a subscription starts (a start
is emitted only when the condition holds), `Changed` a change, `Deleted` the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree

from hub.vendorkit import PayloadLog, json_ready
from hub.vendors import BadPayload, CameraEvent, EventKind, EventState, ObjectKind
from plugins.onvif.const import TOPIC_PREFIXES, WSNT

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_TRUE = frozenset({"true", "1", "on", "yes", "active"})
_FALSE = frozenset({"false", "0", "off", "no", "inactive"})
_SOURCE_TOKENS = ("VideoSourceConfigurationToken", "VideoSourceToken", "VideoSource", "Source")
_REGION_ITEMS = ("Rule", "RuleName", "RuleToken")
_PERSON = ("person", "human", "people", "face", "pedestrian")
_VEHICLE = ("vehicle", "car", "truck", "bus", "motor", "bike", "bicycle")


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification as the device sent it, before any meaning is given to it."""

    topic: str
    """Normalized, such as `tns1:RuleEngine/CellMotionDetector/Motion`."""
    operation: str | None = None
    """`Initialized`, `Changed`, `Deleted`, or None for plain (non-property) events."""
    utc_time: str | None = None
    source: Mapping[str, str] = field(default_factory=dict)
    key: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, str] = field(default_factory=dict)

    @property
    def time(self) -> datetime | None:
        """The device's time stamp, when it can be read."""
        if not self.utc_time:
            return None
        try:
            return datetime.fromisoformat(self.utc_time.strip())
        except ValueError:
            return None

    def raw(self) -> dict[str, Any]:
        """What rides along in `CameraEvent.raw`: JSON-ready."""
        raw: dict[str, Any] = {
            "source": dict(self.source),
            "key": dict(self.key),
            "data": dict(self.data),
        }
        if self.operation:
            raw["operation"] = self.operation
        if self.utc_time:
            raw["utc_time"] = self.utc_time
        return json_ready(raw)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class EventContext:
    """What a topic parser may know of the device: its video sources as channels."""

    channels: Mapping[str, int] = field(default_factory=dict)
    """Video source and video source configuration tokens by 1-based channel."""

    def channel(self, source: Mapping[str, str]) -> int | None:
        """The channel a notification's source names; None on a device with one channel."""
        if len(set(self.channels.values())) < 2:
            return None
        for name in _SOURCE_TOKENS:
            token = source.get(name)
            if token is not None and token in self.channels:
                return self.channels[token]
        return None


TopicParser = Callable[[Notification, EventContext], CameraEvent | None]
"""Builds the event for a notification, None when there is nothing to say; BadPayload if bad."""


def flag(value: str | None) -> bool | None:
    """A device's boolean ("true", "1", "on", ...), None when it is not one."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _object_kind(note: Notification) -> ObjectKind | None:
    for items in (note.data, note.source, note.key):
        for name in ("ObjectType", "ClassTypes", "Class", "Type", "TargetType"):
            value = items.get(name, "").lower()
            if any(word in value for word in _PERSON):
                return "person"
            if any(word in value for word in _VEHICLE):
                return "vehicle"
    return None


def _region(note: Notification) -> str | None:
    for name in _REGION_ITEMS:
        if note.source.get(name):
            return note.source[name]
    return None


def _event(
    note: Notification,
    ctx: EventContext,
    kind: EventKind,
    state: EventState,
    detail: str | None,
) -> CameraEvent:
    return CameraEvent(
        kind=kind,
        state=state,
        raw_topic=note.topic,
        raw=note.raw(),
        channel=ctx.channel(note.source),
        object=_object_kind(note),
        detail=detail,
        region=_region(note),
        time=note.time,
    )


Detail = str | Callable[[Notification], str | None] | None


def _detail(detail: Detail, note: Notification) -> str | None:
    return detail(note) if callable(detail) else detail


def condition(kind: EventKind, items: Iterable[str], detail: Detail = None) -> TopicParser:
    """A parser for a condition that holds or not: the first of `items` in Data says which."""
    names = tuple(items)

    def parse(note: Notification, ctx: EventContext) -> CameraEvent | None:
        if note.operation == "Deleted":
            return _event(note, ctx, kind, "end", _detail(detail, note))
        present = [note.data[name] for name in names if name in note.data]
        if not present:
            raise BadPayload(f"{note.topic}: none of {', '.join(names)} in the message data")
        holds = flag(present[0])
        if holds is None:
            raise BadPayload(f"{note.topic}: {present[0]!r} is not a boolean")
        if note.operation == "Initialized" and not holds:
            return None
        return _event(note, ctx, kind, "start" if holds else "end", _detail(detail, note))

    return parse


def moment(kind: EventKind, detail: Detail = None) -> TopicParser:
    """A parser for something that happens at an instant (a line crossed)."""

    def parse(note: Notification, ctx: EventContext) -> CameraEvent | None:
        if note.operation in ("Initialized", "Deleted"):
            return None
        return _event(note, ctx, kind, "pulse", _detail(detail, note))

    return parse


def _source_item(*names: str) -> Callable[[Notification], str | None]:
    def pick(note: Notification) -> str | None:
        for name in names:
            if note.source.get(name):
                return note.source[name]
        return None

    return pick


_TAMPER_SERVICES = ("ImagingService", "AnalyticsService", "RecordingService")

TOPIC_PARSERS: dict[str, TopicParser] = {
    "tns1:VideoSource/MotionAlarm": condition("motion", ("State", "IsMotion")),
    "tns1:RuleEngine/CellMotionDetector/Motion": condition("motion", ("IsMotion", "State")),
    "tns1:RuleEngine/MotionRegionDetector/Motion": condition("motion", ("State", "IsMotion")),
    "tnsaxis:CameraApplicationPlatform/VMD/*": condition("motion", ("active", "State")),
    "tnsaxis:CameraApplicationPlatform/MotionGuard/*": condition("motion", ("active", "State")),
    "tns1:RuleEngine/LineDetector/Crossed": moment("line_crossing"),
    "tns1:RuleEngine/FieldDetector/ObjectsInside": condition(
        "intrusion", ("IsInside", "State"), "field"
    ),
    "tns1:RuleEngine/TamperDetector/Tamper": condition("tamper", ("IsTamper", "State"), "covered"),
    **{
        f"tns1:VideoSource/GlobalSceneChange/{service}": condition(
            "tamper", ("State",), "scene_change"
        )
        for service in _TAMPER_SERVICES
    },
    "tns1:VideoSource/ImageTooBlurry/*": condition("tamper", ("State",), "defocus"),
    "tns1:VideoSource/ImageTooDark/*": condition("tamper", ("State",), "covered"),
    "tns1:VideoSource/ImageTooBright/*": condition("tamper", ("State",), "covered"),
    "tns1:VideoSource/SignalLoss": condition("video_loss", ("State",)),
    "tns1:Device/Trigger/DigitalInput": condition(
        "io_input", ("LogicalState", "State"), _source_item("InputToken", "Index")
    ),
    "tns1:Device/tnsaxis:IO/Port": condition(
        "io_input", ("state", "State", "LogicalState"), _source_item("port", "InputToken")
    ),
}
"""Topic parsers by normalized topic; `/*` keys cover every topic below them."""


def find_parser(
    topic: str, parsers: Mapping[str, TopicParser] = TOPIC_PARSERS
) -> TopicParser | None:
    """The parser for a normalized topic: its own, else the nearest `/*` above it."""
    found = parsers.get(topic)
    if found is not None:
        return found
    parts = topic.split("/")
    for end in range(len(parts) - 1, 0, -1):
        found = parsers.get("/".join(parts[:end]) + "/*")
        if found is not None:
            return found
    return None


def _local(element: Any) -> str | None:
    """An element's local name; None for comments and processing instructions."""
    tag = getattr(element, "tag", None)
    if not isinstance(tag, str):
        return None
    return tag.rpartition("}")[2]


def _child(element: Any, name: str) -> Any:
    for child in element:
        if _local(child) == name:
            return child
    return None


def normalize_topic(text: str, nsmap: Mapping[str | None, str]) -> str:
    """A topic expression with each prefix replaced by the registry's prefix for its namespace."""
    expression = text.strip().split("|")[0].strip()
    expression = expression.removesuffix("//.").rstrip("/")
    segments = []
    for segment in expression.split("/"):
        prefix, colon, name = segment.strip().rpartition(":")
        if colon:
            namespace = nsmap.get(prefix)
            prefix = TOPIC_PREFIXES.get(namespace, prefix) if namespace else prefix
            segments.append(f"{prefix}:{name}")
        else:
            segments.append(name)
    return "/".join(segments)


def _items(element: Any) -> dict[str, str]:
    items: dict[str, str] = {}
    if element is None:
        return items
    for item in element:
        kind = _local(item)
        name = item.get("Name") if kind in ("SimpleItem", "ElementItem") else None
        if name is None:
            continue
        items[name] = item.get("Value", "") if kind == "SimpleItem" else "(element)"
    return items


def read_notification(element: Any) -> Notification:
    """A `wsnt:NotificationMessage` element as a `Notification`; BadPayload when it is not one."""
    topic_element = _child(element, "Topic")
    if topic_element is None or not (topic_element.text or "").strip():
        raise BadPayload("notification without a topic")
    topic = normalize_topic(topic_element.text, topic_element.nsmap)
    if not topic:
        raise BadPayload("notification with an empty topic")
    holder = _child(element, "Message")
    message = None
    if holder is not None:
        message = next((child for child in holder if _local(child) is not None), None)
    if message is None:
        raise BadPayload(f"{topic}: notification without a message")
    return Notification(
        topic=topic,
        operation=message.get("PropertyOperation"),
        utc_time=message.get("UtcTime"),
        source=_items(_child(message, "Source")),
        key=_items(_child(message, "Key")),
        data=_items(_child(message, "Data")),
    )


def parse_xml(payload: bytes | str) -> Any:
    """An XML document's root element (no entities, no network); BadPayload if it is not XML."""
    data = payload.encode("utf-8", errors="replace") if isinstance(payload, str) else payload
    try:
        return etree.fromstring(data, parser=_PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise BadPayload(f"not XML: {exc}") from None


def notification_elements(root: Any) -> list[Any]:
    """The `wsnt:NotificationMessage` elements anywhere in a document."""
    return list(root.iter(f"{{{WSNT}}}NotificationMessage"))


def event_for(
    note: Notification, ctx: EventContext, parsers: Mapping[str, TopicParser] = TOPIC_PARSERS
) -> tuple[CameraEvent | None, bool]:
    """The event for a notification and whether its topic is known; BadPayload if malformed."""
    parser = find_parser(note.topic, parsers)
    if parser is None:
        return CameraEvent(
            kind="raw",
            state="pulse",
            raw_topic=note.topic,
            raw=note.raw(),
            channel=ctx.channel(note.source),
            time=note.time,
        ), False
    return parser(note, ctx), True


def read_events(
    document: bytes | str | Any,
    ctx: EventContext,
    log: PayloadLog,
    parsers: Mapping[str, TopicParser] = TOPIC_PARSERS,
) -> list[CameraEvent]:
    """The events in a document (bytes, text or a parsed element); never raises.

    A malformed notification is logged (with the camera's name) and skipped; an unknown topic
    is logged once and delivered raw.
    """
    try:
        root = parse_xml(document) if isinstance(document, bytes | str) else document
        elements = notification_elements(root)
    except BadPayload as exc:
        log.malformed("event document", _text(document), exc)
        return []
    except Exception as exc:  # an element tree no device should send: say so and go on
        log.malformed("event document", _text(document), f"unreadable ({type(exc).__name__})")
        return []
    events = []
    for element in elements:
        try:
            note = read_notification(element)
            event, known = event_for(note, ctx, parsers)
        except BadPayload as exc:
            log.malformed("event notification", _text(element), exc)
            continue
        except Exception as exc:  # a parser bug must not end the camera's events
            log.malformed("event notification", _text(element), f"{type(exc).__name__}: {exc}")
            continue
        if not known:
            log.unknown_topic(note.topic, _text(element))
        if event is not None:
            events.append(event)
    return events


def _text(document: Any) -> str:
    """A document as text for a log sample."""
    if isinstance(document, bytes | str):
        return document.decode("utf-8", "replace") if isinstance(document, bytes) else document
    try:
        return str(etree.tostring(document, encoding="unicode"))
    except (TypeError, ValueError):
        return repr(document)
