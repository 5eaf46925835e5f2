"""Captured device payloads decoded offline into normalized events (`pantau events decode`).

A plugin author who captured what a device sends (an ONVIF PullMessages answer, a Hikvision
alert or alertStream, a Dahua attach stream) gives it to the vendor that reads such payloads
and sees the `CameraEvent`s a session would give, one JSON object a line, and for every part
that gave none the reason in plain words. Vendors offer this as `DecodingVendor`; they report
what they skip to a `CaptureLog`, which keeps each report as a `CaptureNote` instead of
logging it. `read_http_capture` takes the HTTP response head off a capture that kept it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hub.vendorkit import PayloadLog, json_ready, sample
from hub.vendors import CameraEvent, CameraVendor, DecodingVendor

log = logging.getLogger(__name__)

NoteKind = Literal["malformed", "unknown", "ignored"]
"""`malformed`: could not be read, skipped; `unknown`: a topic no parser knows, delivered as a
`raw` event; `ignored`: read, but gives no event (a heartbeat, a repeat, an end of nothing)."""

_REQUEST_LINE = re.compile(rb"^[A-Z]{3,10} \S+ HTTP/\d(\.\d)?\r?$")
_CHUNK_SIZE = re.compile(rb"^([0-9A-Fa-f]{1,8})[ \t]*(;[^\r\n]*)?\r?$")


class DecodeError(Exception):
    """The payload could not be tried: an unknown vendor, one that cannot decode, no file."""


@dataclass(frozen=True, slots=True)
class CaptureNote:
    """A part of a capture that gave no event (or a raw one), and why."""

    kind: NoteKind
    what: str
    """What the part was: `alert (part 3)`, `notification 2 (tns1:...)`, a topic, ..."""
    reason: str
    sample: str = ""
    """A short printable excerpt of the part."""


class CaptureLog(PayloadLog):
    """The `PayloadLog` a vendor's `decode` reports to: every report is kept, none is logged.

    Unlike a session's log it never rate-limits: an author wants to see each skipped part.
    An unknown topic is noted once, as a session logs it once.
    """

    def __init__(self, camera: str = "capture") -> None:
        super().__init__(log, camera, every=0.0)
        self.notes: list[CaptureNote] = []

    def malformed(self, what: str, payload: bytes | str, error: BaseException | str) -> None:
        """Note a part that was skipped because it could not be understood."""
        self.malformed_count += 1
        self.notes.append(CaptureNote("malformed", what, str(error), sample(payload)))

    def unknown_topic(self, topic: str, payload: bytes | str | Mapping[str, Any]) -> bool:
        """Note a topic no parser knows, once; True the first time it is seen."""
        if topic in self.unknown_topics:
            return False
        self.unknown_topics.add(topic)
        # No sample: the raw event carries what the device sent.
        reason = "no parser knows this topic: delivered as kind raw"
        self.notes.append(CaptureNote("unknown", topic, reason))
        return True

    def ignored(self, what: str, payload: bytes | str, reason: str) -> None:
        """Note a part that was read but gives no event, and why."""
        self.notes.append(CaptureNote("ignored", what, reason, sample(payload) if payload else ""))


@dataclass(frozen=True, slots=True)
class Decoded:
    """What a capture gave: its events in order, and notes on the parts that gave none."""

    vendor: str
    events: list[CameraEvent]
    notes: list[CaptureNote]


def read_http_capture(payload: bytes, log: PayloadLog) -> tuple[dict[str, str], bytes]:
    """A capture's HTTP response headers (names in lower case) and body.

    A capture without a response head (`HTTP/1.1 200 OK`) is all body, with no headers; a
    request head before the response (a captured conversation) is dropped. A chunked body is
    put back together; when its chunks cannot be read, it is used as it is, and `log` says so.
    """
    data = payload
    if _REQUEST_LINE.match(data.split(b"\n", 1)[0]):
        data = _after_head(data) or b""
    if not data.lstrip().startswith(b"HTTP/"):
        return {}, data
    data = data.lstrip()
    body = _after_head(data)
    head = data[: len(data) - len(body)] if body is not None else data
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines()[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers[name.strip().lower()] = value.strip()
    body = body or b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        joined = _dechunk(body)
        if joined is None:
            log.malformed("HTTP body", body, "its chunks cannot be read: read as it is")
        else:
            body = joined
    return headers, body


def _after_head(data: bytes) -> bytes | None:
    """What follows the first blank line (CRLF or LF), or None when there is none."""
    ends = ((data.find(b"\r\n\r\n"), 4), (data.find(b"\n\n"), 2))
    found = [(index, size) for index, size in ends if index != -1]
    if not found:
        return None
    index, size = min(found)
    return data[index + size :]


def _dechunk(body: bytes) -> bytes | None:
    """A chunked body's content; None when it does not read as chunks."""
    parts: list[bytes] = []
    position = 0
    while position < len(body):
        line_end = body.find(b"\n", position)
        if line_end == -1:
            return None if not parts else b"".join(parts)  # cut off: keep what came whole
        size_line = _CHUNK_SIZE.match(body[position:line_end])
        if size_line is None:
            return None
        size = int(size_line.group(1), 16)
        if size == 0:
            break
        start = line_end + 1
        parts.append(body[start : start + size])
        position = start + size
        for ending in (b"\r\n", b"\n"):
            if body.startswith(ending, position):
                position += len(ending)
                break
    return b"".join(parts)


def decoding_vendors(vendors: Mapping[str, CameraVendor]) -> list[str]:
    """The names of the vendors that can decode captures, sorted."""
    return sorted(name for name, vendor in vendors.items() if isinstance(vendor, DecodingVendor))


def find_decoder(vendors: Mapping[str, CameraVendor], name: str) -> DecodingVendor:
    """The vendor `name` as a decoder; `DecodeError` naming those that can decode if it cannot."""
    able = ", ".join(decoding_vendors(vendors)) or "none"
    vendor = vendors.get(name)
    if vendor is None:
        raise DecodeError(f"no plugin provides vendor {name!r} (vendors that can decode: {able})")
    if not isinstance(vendor, DecodingVendor):
        raise DecodeError(
            f"vendor {name!r} cannot decode captured payloads (vendors that can: {able})"
        )
    return vendor


def decode_payload(vendor: DecodingVendor, payload: bytes, camera: str = "capture") -> Decoded:
    """The events and notes of one captured payload.

    `DecodeError` only when the plugin raises, which its `decode` must never do: that is a bug
    in the plugin, logged with its traceback.
    """
    capture = CaptureLog(camera)
    try:
        events = list(vendor.decode(payload, capture))
    except Exception as exc:
        log.exception("vendor %r: decode raised on capture %r", vendor.name, camera)
        raise DecodeError(
            f"the {vendor.name} plugin failed on this payload ({type(exc).__name__}: {exc}); "
            "that is a bug in the plugin"
        ) from exc
    return Decoded(vendor.name, events, capture.notes)


def decode_file(vendors: Mapping[str, CameraVendor], name: str, path: Path | None) -> Decoded:
    """The events and notes of the capture in `path` (standard input when None)."""
    vendor = find_decoder(vendors, name)
    if path is None:
        payload = sys.stdin.buffer.read()
        camera = "stdin"
    else:
        try:
            payload = path.read_bytes()
        except OSError as exc:
            raise DecodeError(f"cannot read {path}: {exc.strerror or exc}") from None
        camera = path.name
    return decode_payload(vendor, payload, camera)


def event_json(vendor: str, event: CameraEvent) -> dict[str, Any]:
    """An event as a JSON object: its fields, and the type of bus event the hub makes of it."""
    from hub.devices import bus_event

    return {
        "kind": event.kind,
        "state": event.state,
        "channel": event.channel,
        "object": event.object,
        "detail": event.detail,
        "region": event.region,
        "time": event.time.isoformat() if event.time is not None else None,
        "raw_topic": event.raw_topic,
        "bus_type": bus_event("capture", vendor, event).type,
        "raw": json_ready(event.raw),
    }


def note_text(note: CaptureNote) -> str:
    """A note in plain words, with its sample on a second line."""
    if note.kind == "malformed":
        line = f"skipped {note.what}: {note.reason}"
    elif note.kind == "unknown":
        line = f"unknown topic {note.what}: {note.reason}"
    else:
        line = f"no event from {note.what}: {note.reason}"
    return f"{line}\n    sample: {note.sample}" if note.sample else line


def summary(decoded: Decoded, source: str) -> str:
    """One line: how many events came out of `source`, and how many parts were skipped."""
    count = len(decoded.events)
    skipped = sum(1 for note in decoded.notes if note.kind == "malformed")
    words = [f"{count} event{'s' if count != 1 else ''} from {source} ({decoded.vendor})"]
    if skipped:
        words.append(f"{skipped} part{'s' if skipped != 1 else ''} skipped as malformed")
    return "; ".join(words)
