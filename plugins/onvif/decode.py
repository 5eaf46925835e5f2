"""Captured ONVIF event documents read offline, notification by notification.

A capture is any XML document holding `wsnt:NotificationMessage`s: a PullMessagesResponse
envelope, a Notify, an RTSP metadata stream's `tt:MetadataStream`, or one notification with its
namespaces declared; with or without its HTTP response head. Each notification goes through the
same topic parsers as a session's (`parsers.read_events`); one that gives no event is noted with
the reason. The device's video sources are not known offline, so events carry no channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.decode import read_http_capture
from hub.vendors import BadPayload, CameraEvent
from plugins.onvif.parsers import (
    EventContext,
    notification_elements,
    parse_xml,
    read_events,
    read_notification,
)

if TYPE_CHECKING:
    from hub.decode import CaptureLog


def _local(element: Any) -> str:
    tag = getattr(element, "tag", None)
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _fault(root: Any) -> str | None:
    """The reason a SOAP Fault gives, or None when the document is not one."""
    for element in root.iter():
        if _local(element) == "Fault":
            texts = [
                (item.text or "").strip()
                for item in element.iter()
                if _local(item) in ("Text", "faultstring") and (item.text or "").strip()
            ]
            return "; ".join(texts) or "no reason given"
    return None


def _no_event_reason(element: Any) -> str:
    """Why a notification the parsers read gave no event."""
    try:
        note = read_notification(element)
    except BadPayload as exc:  # read_events would have noted it; kept for safety
        return str(exc)
    if note.operation == "Initialized":
        return (
            f"{note.topic} Initialized, not holding: the state a subscription starts in is "
            "reported only when the condition holds"
        )
    if note.operation == "Deleted":
        return f"{note.topic} Deleted: a moment has no end to report"
    return f"{note.topic}: its parser found nothing to report"


def decode_capture(
    payload: bytes, log: CaptureLog, ctx: EventContext | None = None
) -> list[CameraEvent]:
    """The events of every notification in a captured document; never raises."""
    context = ctx or EventContext()
    body = read_http_capture(payload, log)[1]
    try:
        root = parse_xml(body)
    except BadPayload as exc:
        log.malformed("event document", body, exc)
        return []
    try:
        elements = notification_elements(root)
    except Exception as exc:  # an element tree no device should send
        log.malformed("event document", body, f"unreadable ({type(exc).__name__})")
        return []
    if not elements:
        fault = _fault(root)
        reason = (
            f"a SOAP Fault, not events: {fault}"
            if fault is not None
            else f"no wsnt:NotificationMessage in <{_local(root)}>: nothing to decode"
        )
        log.ignored("the document", body, reason)
        return []
    events: list[CameraEvent] = []
    for index, element in enumerate(elements, 1):
        before = log.malformed_count
        found = read_events(element, context, log)
        events.extend(found)
        if not found and log.malformed_count == before:
            what = f"notification {index}"
            log.ignored(what, "", _no_event_reason(element))
    return events
