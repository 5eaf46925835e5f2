"""Test code: recorded Hikvision payloads, and alertStream wire bytes built from them.

The recorded alerts (tests/fixtures/hikvision) are framed here the way a device frames its
alertStream; the framing, and the few alert types with no recording (IO, PIR, ANPR,
shelteralarm, regionEntrance, JSON alerts), are made by this test code from recorded alerts.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "hikvision"
BOUNDARY = "boundary"
CONTENT_TYPE = f"multipart/mixed; boundary={BOUNDARY}"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def alert(name: str) -> bytes:
    """A recorded EventNotificationAlert from tests/fixtures/hikvision/alert/."""
    return fixture(f"alert/{name}.xml")


@functools.cache
def recorded_stream() -> tuple[bytes, ...]:
    """The 770 alerts of the recorded camera alertStream, in the order they came."""
    lines = (FIXTURES / "alertStream-captures" / "HikSink.samples_cam.jsonl").read_text("utf-8")
    return tuple(json.loads(line)["content"].encode("utf-8") for line in lines.splitlines())


def variant(base: bytes, event_type: str, state: str | None = "active", extra: str = "") -> bytes:
    """A recorded alert turned into another event type (test-made, for types not recorded)."""
    text = base.decode("utf-8")
    text = re.sub(r"<eventType>[^<]*</eventType>", f"<eventType>{event_type}</eventType>", text)
    if state is None:
        text = re.sub(r"<eventState>[^<]*</eventState>\r?\n?", "", text)
    else:
        text = re.sub(r"<eventState>[^<]*</eventState>", f"<eventState>{state}</eventState>", text)
    text = text.replace("</EventNotificationAlert>", f"{extra}</EventNotificationAlert>")
    return text.encode("utf-8")


def io_alert(state: str, port: int = 2) -> bytes:
    return variant(
        alert("HikSink.cam.VMD.active"), "IO", state, f"<inputIOPortID>{port}</inputIOPortID>"
    )


def pir_alert(state: str) -> bytes:
    return variant(alert("HikSink.cam.VMD.active"), "PIR", state)


def anpr_alert(plate: str) -> bytes:
    anpr = (
        f"<ANPR><country>ID</country><licensePlate>{plate}</licensePlate>"
        "<direction>forward</direction><confidenceLevel>97</confidenceLevel></ANPR>"
    )
    return variant(alert("HikSink.cam.VMD.active"), "ANPR", "active", anpr)


def json_alert(event_type: str, state: str, channel: int = 1, **fields: object) -> bytes:
    """An alert as newer firmware sends it, as JSON (test-made)."""
    data = {
        "ipAddress": "10.1.2.3",
        "portNo": 80,
        "protocol": "HTTP",
        "channelID": channel,
        "dateTime": "2024-05-01T10:00:00+07:00",
        "activePostCount": 1,
        "eventType": event_type,
        "eventState": state,
        "eventDescription": f"{event_type} alarm",
        **fields,
    }
    return json.dumps(data).encode("utf-8")


def part(
    body: bytes,
    content_type: str = 'application/xml; charset="UTF-8"',
    length: bool = True,
    newline: bytes = b"\r\n",
) -> bytes:
    """One part as a device writes it: delimiter, headers, blank line, body, line end."""
    headers = [f"--{BOUNDARY}", f"Content-Type: {content_type}"]
    if length:
        headers.append(f"Content-Length: {len(body)}")
    head = newline.join(h.encode("latin-1") for h in headers)
    return head + newline + newline + body + newline


def stream(bodies: list[bytes]) -> bytes:
    return b"".join(part(body) for body in bodies)
