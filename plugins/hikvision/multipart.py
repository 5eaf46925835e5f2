r"""The alertStream's multipart framing, cut into parts incrementally from chunks as they arrive.

A device answers `/ISAPI/Event/notification/alertStream` with one long multipart body:

    --boundary\r\n
    Content-Type: application/xml; charset="UTF-8"\r\n
    Content-Length: 478\r\n
    \r\n
    <EventNotificationAlert ...>...</EventNotificationAlert>\r\n
    --boundary\r\n
    ...

Firmware varies: the Content-Length may count the trailing CRLF or not, lines may end in LF
alone, parts may have no headers or no Content-Length, and the boundary may be missing from the
Content-Type header. A part with a Content-Length is delivered as soon as its bytes are in (a
device sends the next delimiter only with the next alert); a part without one ends at the next
delimiter. Whatever cannot be framed is logged and skipped, and the parser finds the next
delimiter. The parts that come out depend only on the bytes, never on how they were chunked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from hub.vendorkit import PayloadLog

MAX_PART = 4 * 1024 * 1024
"""The largest part kept (snapshots ride along on some devices); a larger one is skipped."""
MAX_HEADERS = 8 * 1024
MAX_LINE_TAIL = 256
"""How far after a delimiter its line may run (transport padding) before it is not one."""
_WHITESPACE = b" \t\r\n"
_AFTER_DELIMITER = b" \t\r\n-"
_BOUNDARY = re.compile(rb"[0-9A-Za-z'()+_,\-./:=?]{1,70}")
_LEARN_WINDOW = 72 + MAX_LINE_TAIL


@dataclass(frozen=True, slots=True)
class AlertPart:
    """One part of the stream: its headers (names in lower case) and its body."""

    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        """The media type without parameters, in lower case ('' when none was given)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class _State(Enum):
    SEEK = 1
    """Looking for the next delimiter; what comes before it is not part of any part."""
    HEADERS = 2
    BODY = 3


def boundary_of(content_type: str | None) -> str | None:
    """The boundary parameter of a multipart Content-Type header, or None."""
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "boundary":
            value = value.strip().strip('"').strip()
            return value or None
    return None


class AlertStreamParser:
    """Cuts one connection's alertStream into parts; feed it chunks of any size."""

    def __init__(self, boundary: str | None, log: PayloadLog, max_part: int = MAX_PART) -> None:
        """`boundary` from the response's Content-Type; None learns it from the first delimiter."""
        self._log = log
        self._max_part = max_part
        self._delimiter = b"--" + boundary.encode("latin-1", "replace") if boundary else None
        self._buffer = bytearray()
        self._state = _State.SEEK
        self._scan = 0
        """Where the next search of the buffer starts: bytes before it were looked at."""
        self._line_start = True
        """Whether the buffer starts at the beginning of a line (to learn a boundary)."""
        self._headers: dict[str, str] = {}
        self._length: int | None = None
        self._garbage = bytearray()
        self._discard = False
        """Set when a part is skipped: its rest, up to the next delimiter, is not garbage again."""
        self.parts = 0
        """Parts delivered so far."""

    def feed(self, data: bytes) -> list[AlertPart]:
        """The parts completed by `data`; malformed input is logged and skipped."""
        self._buffer += data
        parts: list[AlertPart] = []
        while True:
            if self._state is _State.SEEK:
                progressed = self._seek()
            elif self._state is _State.HEADERS:
                progressed = self._read_headers()
            else:
                part = self._read_body()
                progressed = part is not None or self._state is not _State.BODY
                if part is not None:
                    parts.append(part)
            if not progressed:
                break
        self.parts += len(parts)
        return parts

    def close(self) -> None:
        """The stream ended: a part it cut off, or data outside any part, is logged."""
        if self._state is _State.SEEK:
            self._note_garbage(bytes(self._buffer))
            self._report_garbage()
        else:
            what = bytes(self._buffer) or repr(self._headers)
            self._log.malformed(
                "alertStream part (cut off)", what, "the stream ended inside a part"
            )
        self._buffer.clear()
        self._state = _State.SEEK
        self._scan = 0
        self._discard = False

    # -- framing

    def _consume(self, count: int) -> None:
        if count <= 0:
            return
        self._line_start = self._buffer[count - 1] == 0x0A
        del self._buffer[:count]
        self._scan = 0

    def _find_delimiter(self, start: int, end: int) -> int | None:
        """The first delimiter starting in [start, end) with the byte after it in the buffer.

        -1 when one may still complete beyond the buffer; None when there is none.
        """
        delimiter = self._delimiter
        assert delimiter is not None
        buffer = self._buffer
        index = buffer.find(delimiter, start, end + len(delimiter) - 1)
        while index != -1 and index < end:
            after = index + len(delimiter)
            if after >= len(buffer):
                return -1
            if buffer[after] in _AFTER_DELIMITER:
                return index
            index = buffer.find(delimiter, index + 1, end + len(delimiter) - 1)
        return None

    def _learn_boundary(self) -> bool:
        """Take the boundary from the first line that starts with `--` and names one."""
        buffer = self._buffer
        if self._line_start and buffer.startswith(b"--"):
            index = 0
        else:
            newline = buffer.find(b"\n--")
            index = -1 if newline == -1 else newline + 1
        if index == -1:
            drop = len(buffer) - 2  # the last two bytes may begin a line of "--"
            if drop > 0:
                self._note_garbage(bytes(buffer[:drop]))
                self._consume(drop)
            return False
        end = buffer.find(b"\n", index, index + _LEARN_WINDOW)
        if end == -1:
            if len(buffer) < index + _LEARN_WINDOW:
                if index:
                    self._note_garbage(bytes(buffer[:index]))
                    self._consume(index)
                return False
            end = index + 2  # far too long for a delimiter line: not one
        candidate = bytes(buffer[index + 2 : end]).strip()
        if _BOUNDARY.fullmatch(candidate) and not candidate.endswith(b"--"):
            self._delimiter = b"--" + candidate
            self._note_garbage(bytes(buffer[:index]))
            self._consume(index)
            return True
        self._note_garbage(bytes(buffer[: index + 2]))
        self._consume(index + 2)
        return True

    def _seek(self) -> bool:
        if self._delimiter is None:
            return self._learn_boundary()
        buffer = self._buffer
        found = self._find_delimiter(self._scan, len(buffer))
        if found is None:
            # Keep what may be the start of a delimiter that the next chunk completes.
            drop = max(0, len(buffer) - len(self._delimiter) + 1)
            if drop:
                self._note_garbage(bytes(buffer[:drop]))
                self._consume(drop)
            return False
        if found == -1:
            return False
        after = found + len(self._delimiter)
        line_end = buffer.find(b"\n", after, after + MAX_LINE_TAIL)
        if line_end == -1:
            if len(buffer) < after + MAX_LINE_TAIL:
                self._scan = found
                return False
            # Not a delimiter line after all: skip past it and look again.
            self._note_garbage(bytes(buffer[:after]))
            self._consume(after)
            return True
        self._note_garbage(bytes(buffer[:found]))
        closing = bytes(buffer[after:line_end]).strip().startswith(b"--")
        self._consume(line_end + 1)
        self._report_garbage()
        self._discard = False
        if not closing:
            self._state = _State.HEADERS
            self._headers = {}
            self._length = None
        return True

    def _read_headers(self) -> bool:
        buffer = self._buffer
        if not buffer:
            return False
        if buffer[0] in b"<{":  # no headers at all: the body starts right away
            return self._start_body({})
        for blank in (b"\r\n", b"\n"):
            if buffer.startswith(blank):
                self._consume(len(blank))
                return self._start_body({})
        if buffer == b"\r":
            return False
        window = MAX_HEADERS + 3
        crlf, lf = buffer.find(b"\n\r\n", 0, window), buffer.find(b"\n\n", 0, window)
        ends = [(index, size) for index, size in ((crlf, 3), (lf, 2)) if index != -1]
        if not ends:
            if len(buffer) >= window:
                self._skip_part(
                    bytes(buffer[:MAX_HEADERS]), "part headers run on without end", "headers"
                )
                return True
            return False
        index, size = min(ends)
        block = bytes(buffer[:index]).decode("latin-1")
        headers: dict[str, str] = {}
        for line in block.split("\n"):
            line = line.strip("\r")
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            if not colon or not name.strip() or name != name.strip():
                self._skip_part(
                    block.encode("latin-1"), f"not a part header: {line[:80]!r}", "headers"
                )
                return True
            headers[name.strip().lower()] = value.strip()
        self._consume(index + size)
        return self._start_body(headers)

    def _start_body(self, headers: dict[str, str]) -> bool:
        self._headers = headers
        self._length = None
        length = headers.get("content-length")
        if length is not None:
            try:
                self._length = int(length)
            except ValueError:
                self._length = None  # unreadable: the next delimiter ends the part
            if self._length is not None and self._length < 0:
                self._length = None
            if self._length is not None and self._length > self._max_part:
                self._skip_part(b"", f"part of {self._length} bytes is larger than allowed")
                return True
        self._state = _State.BODY
        self._scan = 0
        return True

    def _read_body(self) -> AlertPart | None:
        assert self._delimiter is not None
        buffer, length = self._buffer, self._length
        if length is not None:
            # A delimiter inside the announced length means the length is wrong.
            limit = min(len(buffer), length)
            found = self._find_delimiter(self._scan, max(self._scan, limit - len(self._delimiter)))
            if found is not None and found != -1:
                self._skip_part(
                    bytes(buffer[:found]), f"Content-Length {length} runs past the boundary"
                )
                return None
            self._scan = max(0, limit - len(self._delimiter))
            if len(buffer) < length:
                return None
            body = bytes(buffer[:length])
        else:
            limit = min(len(buffer), self._max_part + 1)
            found = self._find_delimiter(self._scan, limit)
            if found is None:
                if len(buffer) >= self._max_part + len(self._delimiter) + 1:
                    self._skip_part(bytes(buffer[:1024]), "no boundary after the largest part")
                    self._consume(self._max_part)
                    return None
                self._scan = max(0, len(buffer) - len(self._delimiter))
                return None
            if found == -1:
                self._scan = max(0, len(buffer) - len(self._delimiter) - 1)
                return None
            length = found
            body = bytes(buffer[:found])
            if body.endswith(b"\r\n"):
                body = body[:-2]
            elif body.endswith(b"\n"):
                body = body[:-1]
        self._consume(length)
        self._state = _State.SEEK
        return AlertPart(self._headers, body)

    def _skip_part(self, sample: bytes, reason: str, what: str = "framing") -> None:
        self._log.malformed(f"alertStream part ({what})", sample or repr(self._headers), reason)
        self._state = _State.SEEK
        self._scan = 0
        self._discard = True

    # -- what lies between parts

    def _note_garbage(self, data: bytes) -> None:
        if not self._discard and data.strip(_WHITESPACE) and len(self._garbage) < 1024:
            self._garbage += data[: 1024 - len(self._garbage)]

    def _report_garbage(self) -> None:
        if self._garbage:
            self._log.malformed("alertStream data", bytes(self._garbage), "bytes outside any part")
            self._garbage.clear()
