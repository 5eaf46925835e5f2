"""Dahua's `eventManager.cgi?action=attach` stream, parsed incrementally as bytes arrive.

The stream is `multipart/x-mixed-replace`: each part (headers, a blank line, a body) follows a
delimiter line `--<boundary>`. A body holds `Heartbeat` or one or more event records
`Code=VideoMotion;action=Start;index=0`, optionally followed by `;data=` and a JSON object that
may span many lines. Real devices bend the framing (no boundary in the Content-Type, parts
without headers or Content-Length, a declared boundary that already starts with `--`, a wrong
Content-Length), so the parser works line by line and decides only on whole lines: it gives the
same items however the bytes are split into chunks. Whatever it cannot read is logged with the
camera's name and skipped; nothing raises out of `feed` or `finish`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from hub.vendorkit import PayloadLog
from hub.vendors import BadPayload

MAX_LINE = 64 * 1024
"""Longer lines are dropped: no device writes them, and they would grow the buffer unbounded."""
MAX_RECORD = 256 * 1024
"""A record (event line and its data lines) that grows past this is dropped."""

_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"([^"]*)"|([^\s;,]+))', re.IGNORECASE)
_HEADER = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*:\s*(.*)$")
_DATA = re.compile(r";\s*data\s*=", re.IGNORECASE)
_INDEX = re.compile(r"^[+-]?\d{1,9}$")


@dataclass(frozen=True, slots=True)
class DahuaEvent:
    """One event record as the device wrote it; `data` is its parsed JSON, if it had any."""

    code: str
    action: str
    index: int | None
    data: Any = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The device's sign of life, sent every `heartbeat` seconds when nothing else happens."""


StreamItem = DahuaEvent | Heartbeat


def boundary_of(content_type: str | None) -> str | None:
    """The multipart boundary a Content-Type header declares, if any."""
    if not content_type:
        return None
    found = _BOUNDARY.search(content_type)
    if found is None:
        return None
    return (found.group(1) if found.group(1) is not None else found.group(2)) or None


def parse_record(text: str) -> DahuaEvent | Heartbeat:
    """One record, `Code=...;action=...;index=...[;data={...}]`; raises `BadPayload`."""
    if text.strip().lower() == "heartbeat":
        return Heartbeat()
    split = _DATA.search(text)
    head = text[: split.start()] if split else text
    data_text = text[split.end() :].strip() if split else ""
    fields: dict[str, str] = {}
    for item in head.split(";"):
        key, has_value, value = item.partition("=")
        if has_value:
            fields[key.strip().lower()] = value.strip()
    code = fields.get("code")
    if not code:
        raise BadPayload("the record has no Code")
    if code.lower() == "heartbeat":
        return Heartbeat()
    action = fields.get("action")
    if not action:
        raise BadPayload(f"the {code} record has no action")
    index_text = fields.get("index", "")
    index = int(index_text) if _INDEX.match(index_text) else None
    data: Any = None
    if data_text:
        try:
            data = json.loads(data_text)
        except (ValueError, RecursionError) as exc:
            raise BadPayload(f"the {code} record's data is not valid JSON: {exc}") from None
    return DahuaEvent(code=code, action=action, index=index, data=data)


def _starts_record(text: str) -> bool:
    lowered = text[:5].lower()
    return lowered == "code=" or text.lower() == "heartbeat"


class _Record:
    """An event record being read: its lines, and how far its data JSON has got."""

    __slots__ = ("depth", "done", "escaped", "in_string", "lines", "size", "started")

    def __init__(self, first: str) -> None:
        self.lines = [first]
        self.size = len(first)
        self.depth = 0
        self.started = self.done = self.in_string = self.escaped = False
        split = _DATA.search(first)
        if split is None:
            self.done = True  # no data: the line is the whole record
        else:
            self._scan(first[split.end() :])

    def add(self, line: str) -> None:
        """A continuation line: more of the data JSON."""
        self.lines.append(line)
        self.size += len(line) + 1
        self._scan(line)

    @property
    def text(self) -> str:
        """The record as written, lines joined."""
        return "\n".join(self.lines)

    def _scan(self, text: str) -> None:
        """Follow the JSON's nesting so the record is known whole when it closes (linear)."""
        for char in text:
            if self.done:
                return
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif char == "\\":
                    self.escaped = True
                elif char == '"':
                    self.in_string = False
            elif char == '"':
                self.in_string = self.started = True
            elif char in "{[":
                self.depth += 1
                self.started = True
            elif char in "}]":
                self.depth -= 1
                self.done = self.depth <= 0
            elif not self.started and not char.isspace():
                self.started = True
        if self.started and self.depth == 0 and not self.in_string:
            self.done = True  # a scalar, or nothing open: more lines cannot complete it


class EventStreamParser:
    """Turns the bytes of one attach connection into events and heartbeats.

    `feed` takes any chunk and returns the items it completed; `finish` is called when the
    connection ends, and reports a part it cut off. One parser per connection.
    """

    def __init__(self, payloads: PayloadLog, boundary: str | None = None) -> None:
        self._payloads = payloads
        self._delimiters = self._delimiters_for(boundary) if boundary else frozenset()
        self._buffer = bytearray()
        self._skipping = False
        self._in_headers = False
        self._length: int | None = None
        self._taken = 0
        self._record: _Record | None = None

    @staticmethod
    def _delimiters_for(boundary: str) -> frozenset[bytes]:
        name = boundary.strip().encode("utf-8", errors="replace")
        lines = {b"--" + name, b"--" + name + b"--"}
        if name.startswith(b"--"):
            # Some firmwares declare the boundary with its dashes and write it as declared.
            lines |= {name, name + b"--"}
        return frozenset(lines)

    def feed(self, chunk: bytes) -> list[StreamItem]:
        """The items completed by this chunk, in order."""
        items: list[StreamItem] = []
        self._buffer += chunk
        start = 0
        while (end := self._buffer.find(b"\n", start)) >= 0:
            line = bytes(self._buffer[start : end + 1])
            start = end + 1
            if self._skipping:
                self._skipping = False
                continue
            self._line(line, items)
        del self._buffer[:start]
        if len(self._buffer) > MAX_LINE:
            self._payloads.malformed(
                "event stream", bytes(self._buffer[:200]), f"a line longer than {MAX_LINE} bytes"
            )
            self._buffer.clear()
            self._skipping = True
        return items

    def finish(self) -> None:
        """The connection ended: report a part that was cut off, and forget it."""
        rest = bytes(self._buffer).strip()
        if self._record is not None or (rest and not self._skipping):
            text = self._record.text if self._record else rest.decode("utf-8", "replace")
            self._payloads.malformed(
                "event stream", text, "the stream ended in the middle of a part"
            )
        self._buffer.clear()
        self._record = None
        self._skipping = False

    def _line(self, line: bytes, items: list[StreamItem]) -> None:
        if len(line) > MAX_LINE:
            self._payloads.malformed(
                "event stream", line[:200], f"a line longer than {MAX_LINE} bytes"
            )
            return
        bare = line.strip()
        if self._is_delimiter(bare):
            self._flush(items)
            self._in_headers, self._length, self._taken = True, None, 0
            return
        if self._in_headers:
            if not bare:
                self._in_headers = False
                return
            if not _starts_record(bare.decode("utf-8", "replace")):
                self._header(bare)
                return
            self._in_headers = False  # a part without headers
        self._taken += len(line)
        self._body_line(line.decode("utf-8", "replace").rstrip("\r\n"), items)
        if self._record is not None and self._length is not None and self._taken >= self._length:
            self._flush(items)  # the part's declared length is used up: the record is all there

    def _is_delimiter(self, bare: bytes) -> bool:
        if bare in self._delimiters:
            return True
        if self._delimiters or self._record is not None or not bare.startswith(b"--"):
            return False
        if len(bare) < 3 or b" " in bare or b"\t" in bare or bare.strip(b"-") == b"":
            return False
        # No boundary was declared: the first delimiter-like line names it.
        self._delimiters = frozenset({bare, bare + b"--"})
        return True

    def _header(self, bare: bytes) -> None:
        header = _HEADER.match(bare)
        if header is None:
            self._payloads.malformed("event stream framing", bare, "not a part header")
            return
        if header.group(1).lower() == b"content-length":
            value = header.group(2).strip()
            if value.isdigit() and len(value) <= 9:
                self._length = int(value)
            else:
                self._payloads.malformed("event stream framing", bare, "a bad Content-Length")

    def _body_line(self, text: str, items: list[StreamItem]) -> None:
        bare = text.strip()
        if _starts_record(bare):
            self._flush(items)
            self._record = _Record(bare)
        elif self._record is not None:
            self._record.add(text)
            if self._record.size > MAX_RECORD:
                self._payloads.malformed(
                    "event", self._record.text[:200], f"longer than {MAX_RECORD} bytes"
                )
                self._record = None
                return
        elif bare:
            self._payloads.malformed("event stream framing", text, "not an event or a part")
            return
        if self._record is not None and self._record.done:
            self._flush(items)

    def _flush(self, items: list[StreamItem]) -> None:
        """Parse the pending record, complete or not; a bad one is logged and skipped."""
        if self._record is None:
            return
        text = self._record.text
        self._record = None
        try:
            items.append(parse_record(text))
        except BadPayload as exc:
            self._payloads.malformed("event", text, exc)
