"""Captured Hikvision alerts read offline: one alert, an alertStream, an HTTP alarm-host push.

A capture is one EventNotificationAlert (XML or JSON), or a multipart body of them (the
alertStream, or a push to an HTTP alarm host), with or without its HTTP response head; the
boundary comes from the head's Content-Type, else from the first delimiter line. As in a
session, `AlertStreamParser` cuts the parts, `read_alert` reads them and one `AlertTranslator`
makes the events: repeats of `active` give one start, an `inactive` ends what an `active`
started. No condition times out within a capture (its timing is not known): those still open
at its end are noted, as are the alerts that gave no event, grouped by reason.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

from hub.decode import read_http_capture
from hub.vendors import BadPayload, CameraEvent
from plugins.hikvision.alerts import Alert, AlertTranslator, read_alert
from plugins.hikvision.multipart import AlertPart, AlertStreamParser, boundary_of
from plugins.hikvision.options import DEFAULT_EVENT_TIMEOUT

if TYPE_CHECKING:
    from hub.decode import CaptureLog


def _parts(body: bytes, boundary: str | None, log: CaptureLog) -> list[AlertPart]:
    """The parts of a multipart capture, with a hint when its line ends were changed."""
    before = log.malformed_count
    parser = AlertStreamParser(boundary, log)
    parts = parser.feed(body)
    parser.close()
    if log.malformed_count > before and b"\n" in body and b"\r\n" not in body:
        log.ignored(
            "the capture",
            "",
            "its line ends are LF only, where devices send CRLF: Content-Lengths counted on the "
            "wire no longer match (was it saved by an editor?)",
        )
    if not parts and log.malformed_count == before:
        log.malformed(
            "capture",
            body,
            "neither an alert (XML or JSON) nor a multipart body starting with a --boundary line",
        )
    return parts


def _quiet_reason(alert: Alert, closed: bool) -> str:
    """Why an alert the translator read gave no event; `closed`: it ended an open condition."""
    name = alert.event_type
    if alert.state == "inactive":
        if name.lower() == "videoloss" and not closed:
            return "videoloss inactive with no video loss started: the heartbeat devices send"
        if closed:
            return f"{name} inactive: the end of what was reported as a pulse when it began"
        return (
            f"{name} inactive: ends a condition only once an active alert started it, and none "
            "did before it in this capture"
        )
    return (
        f"{name} {alert.state or 'without eventState'} again: a repeat of a condition already "
        "started (devices repeat active about once a second)"
    )


def decode_capture(payload: bytes, log: CaptureLog) -> list[CameraEvent]:
    """The events of a captured alert or multipart body of alerts; never raises."""
    headers, body = read_http_capture(payload, log)
    single = body.lstrip()[:1] in (b"<", b"{", b"[")
    if single:
        parts = [AlertPart({}, body.strip())]
    else:
        parts = _parts(body, boundary_of(headers.get("content-type")), log)
    translator = AlertTranslator(log, DEFAULT_EVENT_TIMEOUT)
    events: list[CameraEvent] = []
    quiet: Counter[str] = Counter()
    for number, part in enumerate(parts, 1):
        where = "the alert" if single else f"part {number}"
        try:
            alert = read_alert(part)
        except BadPayload as exc:
            log.malformed("alert" if single else f"alert ({where})", part.body, exc)
            continue
        if alert is None:
            if part.body.strip():
                kind = part.content_type or "no Content-Type"
                log.ignored(where, "", f"a part of {len(part.body)} bytes ({kind}), not an alert")
            else:
                log.ignored(where, "", "an empty part (a keep-alive)")
            continue
        before = translator.open_conditions
        found = translator.translate(alert, 0.0)
        events.extend(found)
        if not found:
            quiet[_quiet_reason(alert, translator.open_conditions < before)] += 1
    for reason, count in quiet.items():
        what = "the alert" if single else f"{count} alert{'s' if count != 1 else ''}"
        log.ignored(what, "", reason)
    still_open = translator.expire(math.inf)
    if still_open:
        kinds = ", ".join(f"{event.kind} ({event.raw_topic})" for event in still_open)
        log.ignored(
            "the capture's end",
            "",
            f"{kinds} still open: the hub ends a condition when its inactive alert comes, or "
            f"after event_timeout (default {DEFAULT_EVENT_TIMEOUT:g} s) without a repeat",
        )
    return events
