"""Captured Dahua events read offline: an attach stream, bare records, or JSON event records.

A capture is what `eventManager.cgi?action=attach` sent (multipart parts after `--boundary`
lines, or bare `Code=...;action=...;index=...[;data={...}]` records), with or without its HTTP
response head, read by the session's `EventStreamParser`; or JSON records as the RPC interface
(`client.notifyEventStream`, VTO doorbells) and many tools give them: one object with `Code`,
`Action`, `Index` and `Data` (keys in any case), a list of them, or a message whose
`params.eventList` holds them. Every record is normalized by `events.normalize`, as a session's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.decode import read_http_capture
from hub.vendors import CameraEvent
from plugins.dahua.events import normalize
from plugins.dahua.eventstream import (
    DahuaEvent,
    EventStreamParser,
    Heartbeat,
    StreamItem,
    boundary_of,
)

if TYPE_CHECKING:
    from hub.decode import CaptureLog


def _field(record: Mapping[str, Any], name: str) -> Any:
    """A record's field by name, whatever the case of its key (`Code`, `code`, ...)."""
    for key, value in record.items():
        if isinstance(key, str) and key.lower() == name:
            return value
    return None


def _index(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    return None


def _json_records(body: bytes, log: CaptureLog) -> list[StreamItem]:
    """The event records of a JSON capture; what is not one is noted."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        log.malformed("JSON capture", body, f"not JSON: {exc}")
        return []
    if isinstance(document, Mapping):
        params = _field(document, "params")
        listed = _field(params, "eventlist") if isinstance(params, Mapping) else None
        records = listed if isinstance(listed, list) else [document]
    elif isinstance(document, list):
        records = document
    else:
        log.malformed("JSON capture", body, "neither an event record nor a list of them")
        return []
    items: list[StreamItem] = []
    for number, record in enumerate(records, 1):
        what = "the record" if len(records) == 1 else f"record {number}"
        text = json.dumps(record)
        if not isinstance(record, Mapping):
            log.malformed(what, text, "not a JSON object")
            continue
        code, action = _field(record, "code"), _field(record, "action")
        if not isinstance(code, str) or not code:
            log.malformed(
                what,
                text,
                "no Code: an event record has Code, Action, Index and Data (just its data is "
                "not enough)",
            )
            continue
        if not isinstance(action, str) or not action:
            log.malformed(what, text, f"the {code} record has no action")
            continue
        index = _index(_field(record, "index"))
        items.append(DahuaEvent(code, action, index, _field(record, "data")))
    return items


def _stream_items(body: bytes, boundary: str | None, log: CaptureLog) -> list[StreamItem]:
    """The records and heartbeats of an attach stream capture, multipart or bare."""
    parser = EventStreamParser(log, boundary)
    # The parser reads whole lines: a capture need not end with a line end.
    items = parser.feed(body if body.endswith(b"\n") else body + b"\n")
    parser.finish()
    return items


def decode_capture(payload: bytes, log: CaptureLog) -> list[CameraEvent]:
    """The events of a captured attach stream or JSON event records; never raises."""
    headers, body = read_http_capture(payload, log)
    before = log.malformed_count
    if body.lstrip()[:1] in (b"{", b"["):
        items = _json_records(body.strip(), log)
    else:
        items = _stream_items(body, boundary_of(headers.get("content-type")), log)
    if not items and log.malformed_count == before:
        log.malformed(
            "capture",
            body,
            "no event record: an attach stream holds Code=...;action=...;index=... records, "
            "in multipart parts or bare",
        )
    events: list[CameraEvent] = []
    heartbeats = 0
    for item in items:
        if isinstance(item, Heartbeat):
            heartbeats += 1
            continue
        event = normalize(item, log)
        if event is not None:
            events.append(event)
    if heartbeats:
        log.ignored(
            f"{heartbeats} heartbeat{'s' if heartbeats != 1 else ''}",
            "",
            "the device's sign of life when nothing happens",
        )
    return events
