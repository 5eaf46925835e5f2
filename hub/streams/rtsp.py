"""RTSP cameras, read cheaply: RTSP 1.0 over TCP, RTP depacketized into access units on the loop.

One `asyncio.BufferedProtocol` per camera receives into a reusable buffer, walks the interleaved
framing (RFC 2326 10.12) and the RTP headers (RFC 3550), and gives NAL payload slices to a
depacketizer that joins them once per access unit. Nothing is decoded here; RTSP requests and
their answers share the same connection as the media.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
import socket
import ssl
import struct
import time
from base64 import b64encode
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import cast
from urllib.parse import unquote, urlsplit

from hub.streams.h264 import (
    CODECS,
    Depacketizer,
    NalError,
    annexb,
    depacketizer_for,
    nal_type,
    parameter_set_types,
    parameter_sets_from_fmtp,
    parse_sps,
)
from hub.streams.units import (
    VIDEO_CLOCK,
    AccessUnit,
    Sink,
    SourceError,
    SourceFailure,
    StreamInfo,
)

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322}
DEFAULT_SESSION_TIMEOUT = 60.0
"""Seconds a server keeps a silent session, when its Session header does not say (RFC 2326)."""
TEARDOWN_WAIT = 1.0

_RTP_HEADER = struct.Struct("!BBHI")
_INITIAL_BUFFER = 128 * 1024  # two interleaved frames of the largest size
_MIN_READ = 16 * 1024
_MAX_HEADER = 64 * 1024
_MAX_BODY = 1024 * 1024
READ_BATCH = 0.1
"""Seconds of media the kernel gathers before it wakes the loop (SO_RCVLOWAT): a 2 Mbit/s camera
then costs ten reads a second instead of a hundred or more, and no frame waits longer than this
at the camera's usual rate."""
WATCH_TICK = 0.25
"""Seconds between a connection's checks: read timeout, and the read batch's size."""
_MIN_BATCH = 4 * 1024
"""Below this many bytes per batch, batching saves nothing: wake at every byte."""
_MAX_BATCH = 64 * 1024
_SECRET_QUERY_KEYS = re.compile(r"pass|pwd|token|secret|key|auth|sig", re.IGNORECASE)
_CHALLENGE_START = re.compile(r"(?:^|,)\s*(basic|digest)\b", re.IGNORECASE)
_AUTH_PARAM = re.compile(r'([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


# ---------------------------------------------------------------------------------------------
# URLs without their secrets


@dataclass(frozen=True, slots=True)
class RtspUrl:
    """An RTSP URL split into what goes on the wire, what may be shown, and its credentials."""

    scheme: str
    host: str
    port: int
    request: str
    """The URL as sent in request lines: the given one without user info."""
    shown: str
    """For messages and logs: scheme://host:port/path, secret-looking query values masked."""
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> RtspUrl:
        """Split `url`; user info in it becomes the credentials. Raises ValueError (no secrets)."""
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError(f"not an rtsp:// or rtsps:// URL (scheme {scheme!r})")
        host = parts.hostname
        if not host:
            raise ValueError("the RTSP URL has no host")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError:
            raise ValueError(f"the RTSP URL for {host} has an invalid port") from None
        netloc = parts.netloc.rpartition("@")[2]
        request = f"{scheme}://{netloc}{parts.path or '/'}"
        if parts.query:
            request += f"?{parts.query}"
        where = f"[{host}]" if ":" in host else host
        shown = f"{scheme}://{where}:{port}{parts.path or '/'}"
        if parts.query:
            shown += "?" + _mask_query(parts.query)
        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(scheme, host, port, request, shown, username, password)


def _mask_query(query: str) -> str:
    """A query string with the values of secret-looking parameters replaced by ***."""
    masked = []
    for item in query.split("&"):
        name, equals, _ = item.partition("=")
        masked.append(f"{name}=***" if equals and _SECRET_QUERY_KEYS.search(name) else item)
    return "&".join(masked)


def _strip_userinfo(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


def resolve_control(base: str, control: str | None) -> str:
    """The URL of a media or session `a=control` attribute, relative to the base URL.

    Cameras expect a relative control appended to the base as a path segment (what every
    client does), not RFC 3986 resolution, which would drop the base's last segment.
    """
    if not control or control == "*":
        return base
    if re.match(r"(?i)rtsps?://", control):
        return _strip_userinfo(control)
    if control.startswith("/"):
        scheme, _, rest = base.partition("://")
        return f"{scheme}://{rest.partition('/')[0]}{control}"
    return base + ("" if base.endswith("/") else "/") + control


# ---------------------------------------------------------------------------------------------
# Authentication (RFC 2617, RFC 7616)


def digest_response(
    *,
    username: str,
    password: str,
    realm: str,
    nonce: str,
    method: str,
    uri: str,
    algorithm: str = "MD5",
    qop: str | None = None,
    nc: str = "00000001",
    cnonce: str = "",
) -> str:
    """The `response` value of a Digest Authorization header."""
    name = algorithm.upper()
    session = name.endswith("-SESS")
    hash_name = {"MD5": "md5", "SHA-256": "sha256"}[name.removesuffix("-SESS")]

    def digest(text: str) -> str:
        return hashlib.new(hash_name, text.encode("utf-8"), usedforsecurity=False).hexdigest()

    secret = digest(f"{username}:{realm}:{password}")
    if session:
        secret = digest(f"{secret}:{nonce}:{cnonce}")
    request = digest(f"{method}:{uri}")
    if qop:
        return digest(f"{secret}:{nonce}:{nc}:{cnonce}:{qop}:{request}")
    return digest(f"{secret}:{nonce}:{request}")


def parse_challenges(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """The (scheme, parameters) of WWW-Authenticate header values, schemes lower-case."""
    challenges: list[tuple[str, dict[str, str]]] = []
    for value in values:
        starts = list(_CHALLENGE_START.finditer(value))
        for index, start in enumerate(starts):
            stop = starts[index + 1].start() if index + 1 < len(starts) else len(value)
            params = {
                match[1].lower(): match[2].replace('\\"', '"') if match[2] is not None else match[3]
                for match in _AUTH_PARAM.finditer(value, start.end(), stop)
            }
            challenges.append((start[1].lower(), params))
    return challenges


class _Authenticator:
    """Answers a camera's challenge; holds the credentials and never shows them."""

    __slots__ = ("_count", "_params", "_password", "_scheme", "_username")

    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._password = password
        self._scheme: str | None = None
        self._params: dict[str, str] = {}
        self._count = 0

    def __repr__(self) -> str:
        return f"<_Authenticator {self._scheme or 'unchallenged'}>"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("RTSP credentials cannot be pickled")

    def challenge(self, values: list[str]) -> bool:
        """Take the challenges of a 401 answer; whether asking again may succeed."""
        usable = [
            (scheme, params)
            for scheme, params in parse_challenges(values)
            if scheme == "basic"
            or params.get("algorithm", "MD5").upper()
            in ("MD5", "MD5-SESS", "SHA-256", "SHA-256-SESS")
        ]
        if not usable:
            return False
        # Digest first: Basic sends the password itself.
        scheme, params = min(usable, key=lambda item: item[0] != "digest")
        self._scheme, self._params, self._count = scheme, params, 0
        return True

    def header(self, method: str, uri: str) -> str | None:
        """The Authorization header for a request, once challenged."""
        if self._scheme == "basic":
            token = b64encode(f"{self._username}:{self._password}".encode()).decode("ascii")
            return f"Basic {token}"
        if self._scheme != "digest":
            return None
        params = self._params
        realm, nonce = params.get("realm", ""), params.get("nonce", "")
        algorithm = params.get("algorithm")
        qops = [item.strip().lower() for item in params.get("qop", "").split(",")]
        qop = "auth" if "auth" in qops else None
        self._count += 1
        nc = f"{self._count:08x}"
        cnonce = secrets.token_hex(8)
        response = digest_response(
            username=self._username,
            password=self._password,
            realm=realm,
            nonce=nonce,
            method=method,
            uri=uri,
            algorithm=algorithm or "MD5",
            qop=qop,
            nc=nc,
            cnonce=cnonce,
        )
        user = self._username.replace("\\", "\\\\").replace('"', '\\"')
        fields = [
            f'username="{user}"',
            f'realm="{realm}"',
            f'nonce="{nonce}"',
            f'uri="{uri}"',
            f'response="{response}"',
        ]
        if algorithm:
            fields.append(f"algorithm={algorithm}")
        if qop or (algorithm or "").upper().endswith("-SESS"):
            fields.append(f'cnonce="{cnonce}"')
        if qop:
            fields += [f"qop={qop}", f"nc={nc}"]
        if "opaque" in params:
            fields.append(f'opaque="{params["opaque"]}"')
        return "Digest " + ", ".join(fields)


# ---------------------------------------------------------------------------------------------
# SDP (RFC 4566), as much as choosing and setting up a video track needs


@dataclass(frozen=True, slots=True)
class SdpMedia:
    """One `m=` section of a session description."""

    kind: str
    payload_types: tuple[int, ...]
    rtpmap: Mapping[int, str]
    """Payload type -> encoding name / clock rate, e.g. "H264/90000"."""
    fmtp: Mapping[int, Mapping[str, str]]
    """Payload type -> format parameters, keys lower-case."""
    control: str | None = None
    framerate: float | None = None


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A parsed SDP: the session-level control and the media sections."""

    control: str | None
    media: tuple[SdpMedia, ...]


_STATIC_PAYLOADS = {26: "JPEG/90000", 31: "H261/90000", 32: "MPV/90000", 34: "H263/90000"}


def parse_sdp(text: str) -> SessionDescription:
    """Parse the parts of an SDP a video client needs; unknown lines are ignored."""
    session_control: str | None = None
    media: list[SdpMedia] = []
    current: dict[str, object] | None = None

    def finish() -> None:
        if current is not None:
            media.append(SdpMedia(**current))  # type: ignore[arg-type]

    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            finish()
            words = value.split()
            types = tuple(int(word) for word in words[3:] if word.isdigit())
            current = {"kind": words[0].lower() if words else "", "payload_types": types}
            current["rtpmap"] = {pt: _STATIC_PAYLOADS[pt] for pt in types if pt in _STATIC_PAYLOADS}
            current["fmtp"] = {}
            continue
        if kind != "a":
            continue
        name, _, argument = value.partition(":")
        name = name.strip().lower()
        if current is None:
            if name == "control":
                session_control = argument.strip()
            continue
        if name == "control":
            current["control"] = argument.strip()
        elif name in ("framerate", "x-framerate"):
            with contextlib.suppress(ValueError):
                current["framerate"] = float(argument.strip()) or None
        elif name in ("rtpmap", "fmtp"):
            number, _, rest = argument.strip().partition(" ")
            if not number.isdigit():
                continue
            table = current[name]
            assert isinstance(table, dict)
            if name == "rtpmap":
                table[int(number)] = rest.strip()
            else:
                table[int(number)] = _parse_fmtp(rest)
    finish()
    return SessionDescription(session_control, tuple(media))


def _parse_fmtp(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in text.split(";"):
        key, _, value = item.strip().partition("=")
        if key:
            params[key.strip().lower()] = value.strip()
    return params


def _codec_of(encoding: str) -> str:
    name = encoding.partition("/")[0].strip().upper()
    return {"H264": "h264", "H265": "hevc", "HEVC": "hevc"}.get(name, name.lower())


@dataclass(frozen=True, slots=True)
class _Track:
    payload_type: int
    codec: str
    clock_rate: int
    fmtp: Mapping[str, str]
    control: str | None
    framerate: float | None


def _choose_track(description: SessionDescription) -> _Track | str:
    """The first H.264 or H.265 video track, or words naming what the camera offers instead."""
    offered: list[str] = []
    for media in description.media:
        if media.kind != "video":
            continue
        for pt in media.payload_types:
            encoding = media.rtpmap.get(pt, f"payload type {pt}")
            codec = _codec_of(encoding)
            if codec in CODECS:
                clock = encoding.partition("/")[2].partition("/")[0]
                return _Track(
                    pt,
                    codec,
                    int(clock) if clock.isdigit() and int(clock) else VIDEO_CLOCK,
                    media.fmtp.get(pt, {}),
                    media.control,
                    media.framerate,
                )
            offered.append(encoding.partition("/")[0])
    if not offered:
        return "no video track"
    return "video as " + ", ".join(offered)


# ---------------------------------------------------------------------------------------------
# The connection: RTSP messages and interleaved RTP on one socket


class _Violation(Exception):
    """The camera sent bytes that are neither RTSP nor interleaved RTP."""


class RtspResponse:
    """An RTSP answer: status, headers (names lower-case, repeats kept) and body."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        """The first value of a header, or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def headers_named(self, name: str) -> list[str]:
        """Every value of a header."""
        return [value for key, value in self.headers if key == name]

    @property
    def status_line(self) -> str:
        """Status code and reason, as the camera wrote them."""
        return f"{self.status} {self.reason}".strip()


def _rtp_payload(buf: bytearray, first: int, start: int, stop: int) -> tuple[int, int]:
    """Where the payload of an RTP packet with CSRCs, an extension or padding starts and ends."""
    if first & 0xC0 != 0x80:
        raise _Violation("interleaved data that is not RTP version 2")
    payload = start + 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension
        if payload + 4 > stop:
            raise _Violation("an RTP header extension overruns its packet")
        payload += 4 + 4 * ((buf[payload + 2] << 8) | buf[payload + 3])
    if first & 0x20:  # padding
        stop -= buf[stop - 1]
    if payload > stop:
        raise _Violation("an RTP header or padding longer than its packet")
    return payload, stop


def _ignore(unit: AccessUnit) -> None:
    """The sink before `run` gives one."""


def _ignore_payload(packet: bytearray, start: int, end: int) -> None:
    """The depacketizer before `run` gives one."""


def _nothing() -> None:
    """Nothing to drop before `run`."""


class _Ticks:
    """One timer per event loop and period that runs the watch of every connection.

    A timer per connection woke the loop four times a second per camera, each wake on its own
    (a hundred cameras: 400 timers a second); one shared timer runs them all in one wake.
    """

    _running: dict[tuple[asyncio.AbstractEventLoop, float], _Ticks] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop, every: float) -> None:
        self._loop = loop
        self._every = every
        self._checks: dict[_Connection, Callable[[], None]] = {}
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def join(
        cls,
        loop: asyncio.AbstractEventLoop,
        every: float,
        conn: _Connection,
        check: Callable[[], None],
    ) -> _Ticks:
        """Run `check` every `every` seconds from the next tick until `leave`."""
        ticks = cls._running.get((loop, every))
        if ticks is None:
            ticks = cls._running[loop, every] = cls(loop, every)
        ticks._checks[conn] = check
        if ticks._timer is None:
            ticks._timer = loop.call_later(every, ticks._tick)
        return ticks

    def leave(self, conn: _Connection) -> None:
        """Stop running `conn`'s check; the timer stops with the last one."""
        self._checks.pop(conn, None)
        if not self._checks:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._running.get((self._loop, self._every)) is self:
                del self._running[self._loop, self._every]

    def _tick(self) -> None:
        self._timer = self._loop.call_later(self._every, self._tick)
        for conn, check in list(self._checks.items()):
            try:
                check()
            except Exception:  # one connection's trouble must not stop the others' watch
                log.exception("%s: watch failed", conn._shown)
                self.leave(conn)


class _Connection(asyncio.BufferedProtocol):
    """One TCP (or TLS) connection to a camera: RTSP requests out, answers and RTP in."""

    # Slotted: attributes are read and written for every packet.
    __slots__ = (
        "_buf",
        "_clock_scale",
        "_cseq",
        "_drop",
        "_end",
        "_known_sps",
        "_loop",
        "_next_seq",
        "_payload_type",
        "_pending",
        "_pts",
        "_push",
        "_rtp_channel",
        "_shown",
        "_start",
        "_ts",
        "_view",
        "_waiter",
        "_watchdog",
        "bytes_received",
        "closing",
        "depacketizer",
        "failure",
        "lost",
        "lost_packets",
        "low_water",
        "on_parameter_sets",
        "rtp_packets",
        "sink",
        "transport",
        "units",
    )

    def __init__(self, shown: str, loop: asyncio.AbstractEventLoop) -> None:
        self._shown = shown
        self._loop = loop
        self._buf = bytearray(_INITIAL_BUFFER)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = loop.create_future()
        self.failure: BaseException | None = None
        self.closing = False
        self._cseq = 0
        self._pending: dict[int, asyncio.Future[RtspResponse | None]] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._watchdog: _Ticks | None = None
        # Media state, set by `stream`.
        self.sink: Sink = _ignore
        self.depacketizer: Depacketizer | None = None
        self.on_parameter_sets: Callable[[], None] | None = None
        self._rtp_channel = -1
        self._payload_type = -1
        self._clock_scale = 1.0
        self._push: Callable[[bytearray, int, int], None] = _ignore_payload
        self._drop: Callable[[], None] = _nothing
        self._next_seq = -1
        self._ts = -1
        self._pts = 0
        self._known_sps: bytes | None = None
        # Counters, cheap enough to bump per packet.
        self.bytes_received = 0
        self.low_water = 1
        """Bytes the kernel gathers before a read (SO_RCVLOWAT); 1 is its default."""
        self.rtp_packets = 0
        self.lost_packets = 0
        self.units = 0

    # -- asyncio.BufferedProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # noqa: D102
        # A stream transport; uvloop's do not subclass asyncio.Transport, so no isinstance here.
        self.transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:  # noqa: D102
        if len(self._buf) - self._end < _MIN_READ:
            self._make_room()
        return self._view[self._end :]

    def _make_room(self) -> None:
        held = self._end - self._start
        if held + _MIN_READ <= len(self._buf):
            # Same length slice assignment: no resize, allowed while a view is exported.
            self._buf[:held] = self._buf[self._start : self._end]
        else:
            grown = bytearray(max(len(self._buf) * 2, held + _MIN_READ))
            grown[:held] = self._buf[self._start : self._end]
            self._buf = grown
            self._view = memoryview(grown)
        self._start, self._end = 0, held

    def buffer_updated(self, nbytes: int) -> None:  # noqa: D102
        self._end += nbytes
        self.bytes_received += nbytes
        try:
            self._parse()
        except _Violation as exc:
            self.fail(SourceError(SourceFailure.PROTOCOL, f"{self._shown}: {exc}"))
        except Exception as exc:  # a sink that raised: stop and let run() raise it
            self.fail(exc)
        if self._start == self._end:
            self._start = self._end = 0

    def eof_received(self) -> bool | None:  # noqa: D102
        return None

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: D102
        if self.failure is None and not self.closing:
            if self._end > self._start and self._waiter is not None:
                log.debug("%s: connection closed inside a message", self._shown)
            self.failure = SourceError(
                SourceFailure.ENDED, f"{self._shown}: the camera closed the connection"
            )
        for waiting in self._pending.values():
            if not waiting.done():
                waiting.set_result(None)
        self._pending.clear()
        self._stop_watchdog()
        self._wake()
        if not self.lost.done():
            self.lost.set_result(None)

    # -- failing and waiting

    def fail(self, exc: BaseException) -> None:
        """Stop with `exc` (kept for `run` to raise) and drop the connection."""
        if self.failure is None:
            self.failure = exc
        self._wake()
        if self.transport is not None:
            self.transport.abort()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait_stopped(self) -> None:
        """Return when the connection failed or was closed."""
        if self.failure is not None or self.lost.done():
            return
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    @property
    def is_lost(self) -> bool:
        """Whether the connection is gone."""
        return self.lost.done()

    # -- requests

    def send(
        self, method: str, url: str, headers: Mapping[str, str]
    ) -> asyncio.Future[RtspResponse | None]:
        """Write a request; the future gets its answer, or None if the connection ends first."""
        answer: asyncio.Future[RtspResponse | None] = self._loop.create_future()
        if self.transport is None or self.transport.is_closing():
            answer.set_result(None)
            return answer
        self._cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self._cseq}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._pending[self._cseq] = answer
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        return answer

    def close(self) -> None:
        """Close the transport (after flushing what was written)."""
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    # -- media

    def stream(
        self,
        sink: Sink,
        depacketizer: Depacketizer,
        channel: int,
        payload_type: int,
        clock_rate: int,
    ) -> None:
        """Start delivering access units of the RTP stream on `channel` to `sink`."""
        self.sink = sink
        self.depacketizer = depacketizer
        self._push = depacketizer.push
        self._drop = depacketizer.drop
        self._known_sps = depacketizer.sps
        self._rtp_channel = channel
        self._payload_type = payload_type
        self._clock_scale = VIDEO_CLOCK / clock_rate

    def stop_streaming(self) -> None:
        """Deliver nothing more."""
        self.sink = _ignore
        self._rtp_channel = -1
        self._stop_watchdog()
        self._set_low_water(1)  # answers to TEARDOWN are small: wake for them at once

    def _set_low_water(self, nbytes: int) -> None:
        """Have the kernel wake the loop only once `nbytes` are waiting (Linux: SO_RCVLOWAT)."""
        if nbytes == self.low_water or self.transport is None or self.is_lost:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is None or not hasattr(socket, "SO_RCVLOWAT"):
            return
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, nbytes)
        except OSError:  # not every platform or transport honours it: read as it comes
            return
        self.low_water = nbytes

    def _batch_reads(self, rate: float, idle: bool) -> None:
        """Size the read batch to READ_BATCH seconds of the stream's rate; none when it idles."""
        if idle:
            self._set_low_water(1)  # a quiet stream must not hold back its last bytes
            return
        want = int(rate * READ_BATCH)
        want = 1 if want < _MIN_BATCH else min(want, _MAX_BATCH)
        if abs(want - self.low_water) * 4 > self.low_water:
            self._set_low_water(want)

    def watch(self, read_timeout: float) -> None:
        """Fail with TIMEOUT once no RTP arrived for `read_timeout` seconds.

        Every tick it also sizes the read batch to the bytes of the last two seconds, and stops
        batching as soon as a tick passes without a byte. Bytes the kernel holds back below the
        batch size wait for that: at most two ticks, so ticks come every quarter second. The
        ticks are shared by every connection on the loop with the same period (`_Ticks`).
        """
        every = min(WATCH_TICK, read_timeout / 4)
        deadline = [self._loop.time() + read_timeout, self.rtp_packets]
        window: deque[tuple[float, int]] = deque([(self._loop.time(), self.bytes_received)])
        history = round(2.0 / every) + 1  # ticks in two seconds, both ends counted

        def check() -> None:
            now = self._loop.time()
            window.append((now, self.bytes_received))
            if len(window) > history:
                window.popleft()
            first_at, first_bytes = window[0]
            if now > first_at:
                idle = window[-1][1] == window[-2][1]
                self._batch_reads((self.bytes_received - first_bytes) / (now - first_at), idle)
            if self.rtp_packets != deadline[1]:
                deadline[0], deadline[1] = now + read_timeout, self.rtp_packets
            elif now >= deadline[0]:
                self._stop_watchdog()
                self.fail(
                    SourceError(
                        SourceFailure.TIMEOUT,
                        f"{self._shown}: no video for {read_timeout:g} s",
                    )
                )

        self._stop_watchdog()
        self._watchdog = _Ticks.join(self._loop, every, self, check)

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.leave(self)
            self._watchdog = None

    # -- parsing

    def _parse(self) -> None:
        buf = self._buf
        pos = self._start
        end = self._end
        unpack = _RTP_HEADER.unpack_from
        push = self._push
        packets = 0
        try:
            while end - pos >= 4:
                if buf[pos] != 0x24:  # not "$": an RTSP message (an answer, or a request)
                    used = self._message(buf, pos, end)
                    if not used:
                        break
                    pos += used
                    continue
                stop = pos + 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
                if stop > end:
                    break
                if buf[pos + 1] == self._rtp_channel:
                    packets += 1
                    if stop - pos < 16:
                        raise _Violation(
                            f"an RTP packet of {stop - pos - 4} bytes, shorter than its header"
                        )
                    first, second, seq, ts = unpack(buf, pos + 4)
                    # The hot path, nearly every packet: the next of its access unit, without
                    # CSRCs, extension or padding. Anything else takes the whole way (`_rtp`).
                    if (
                        first == 0x80
                        and seq == self._next_seq
                        and ts == self._ts
                        and second & 0x7F == self._payload_type
                    ):
                        self._next_seq = (seq + 1) & 0xFFFF
                        push(buf, pos + 16, stop)
                        if second & 0x80:  # marker: the last packet of an access unit
                            self._emit()
                    else:
                        self._rtp(buf, pos + 4, stop, first, second, seq, ts)
                pos = stop
        finally:
            self._start = pos
            self.rtp_packets += packets

    def _rtp(
        self, buf: bytearray, start: int, stop: int, first: int, second: int, seq: int, ts: int
    ) -> None:
        """An RTP packet of the video channel that `_parse` did not take the short way."""
        if first == 0x80:  # version 2 without padding, extension or CSRC: nearly always
            payload = start + 12
        else:
            payload, stop = _rtp_payload(buf, first, start, stop)
        if second & 0x7F != self._payload_type:
            return
        gap = False
        if seq != self._next_seq and self._next_seq >= 0:
            missing = (seq - self._next_seq) & 0xFFFF
            if missing >= 0x8000:
                return  # late or repeated: its access unit has already been handled
            self.lost_packets += missing
            gap = True
            self._drop()  # the access unit in progress lost something
        self._next_seq = (seq + 1) & 0xFFFF
        if ts != self._ts:
            self._emit()
            if self._ts < 0:
                self._pts = ts
            else:
                step = (ts - self._ts) & 0xFFFFFFFF
                self._pts += step - 0x100000000 if step & 0x80000000 else step
            self._ts = ts
        if gap:
            self._drop()  # and so may the one this packet belongs to
        self._push(buf, payload, stop)
        if second & 0x80:  # marker: the last packet of an access unit
            self._emit()

    def _emit(self) -> None:
        depacketizer = self.depacketizer
        assert depacketizer is not None
        unit = depacketizer.flush()
        if unit is None:
            return
        if depacketizer.sps is not self._known_sps:
            self._known_sps = depacketizer.sps
            if self.on_parameter_sets is not None:
                self.on_parameter_sets()
        self.units += 1
        pts = self._pts if self._clock_scale == 1.0 else int(self._pts * self._clock_scale)
        self.sink(AccessUnit(unit[0], pts, unit[1], time.monotonic()))

    def _message(self, buf: bytearray, pos: int, end: int) -> int:
        """Handle one RTSP message at `pos`; the bytes it used, or 0 while it is incomplete."""
        if buf[pos] in (0x0D, 0x0A):
            return 1  # a stray line end between messages
        if not 0x41 <= buf[pos] <= 0x5A:  # answers and requests begin with A-Z
            raise _Violation(f"bytes that are neither RTSP nor RTP ({bytes(buf[pos : pos + 8])!r})")
        line_end = buf.find(b"\n", pos, end)
        if line_end < 0:
            if end - pos > _MAX_HEADER:
                raise _Violation("an endless line instead of an RTSP message")
            return 0
        start_line = bytes(buf[pos:line_end]).decode("latin-1").strip()
        words = start_line.split(" ", 2)
        is_answer = words[0].startswith("RTSP/") and len(words) >= 2 and words[1].isdigit()
        is_request = len(words) == 3 and words[2].startswith("RTSP/") and words[0].isalpha()
        if not is_answer and not is_request:
            raise _Violation(f"an answer that is not RTSP: {start_line[:80]!r}")
        head_end = buf.find(b"\r\n\r\n", pos, end)
        blank = 4
        if head_end < 0:
            head_end, blank = buf.find(b"\n\n", pos, end), 2
        if head_end < 0:
            if end - pos > _MAX_HEADER:
                raise _Violation("RTSP headers longer than 64 KiB")
            return 0
        headers = _parse_headers(bytes(buf[line_end + 1 : head_end]).decode("latin-1"))
        length_text = next((value for key, value in headers if key == "content-length"), "0")
        try:
            length = int(length_text)
        except ValueError:
            raise _Violation(f"a Content-Length of {length_text[:20]!r}") from None
        if not 0 <= length <= _MAX_BODY:
            raise _Violation(f"a message body of {length} bytes")
        body_start = head_end + blank
        if body_start + length > end:
            return 0
        body = bytes(buf[body_start : body_start + length])
        if is_answer:
            self._answer(words, headers, body)
        else:
            self._serve(words[0], headers)
        return body_start + length - pos

    def _answer(self, words: list[str], headers: list[tuple[str, str]], body: bytes) -> None:
        response = RtspResponse(int(words[1]), words[2] if len(words) > 2 else "", headers, body)
        cseq_text = response.header("cseq")
        waiting = None
        if cseq_text is not None and cseq_text.strip().isdigit():
            waiting = self._pending.pop(int(cseq_text), None)
        elif self._pending:
            waiting = self._pending.pop(min(self._pending))
        if waiting is not None and not waiting.done():
            waiting.set_result(response)

    def _serve(self, method: str, headers: list[tuple[str, str]]) -> None:
        """Answer a request from the camera (some probe their clients with OPTIONS)."""
        cseq = next((value for key, value in headers if key == "cseq"), "0")
        status = "200 OK" if method in ("OPTIONS", "GET_PARAMETER") else "501 Not Implemented"
        if self.transport is not None:
            self.transport.write(f"RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n\r\n".encode("latin-1"))


def _parse_headers(text: str) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and headers:  # folded continuation
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.strip().lower(), value.strip()))
    return headers


# ---------------------------------------------------------------------------------------------
# The source


class RtspSource:
    """A camera's RTSP stream, read over TCP, as access units (a `PacketSource`).

    `open` connects, authenticates, describes and sets up the first H.264/H.265 video track;
    `run` plays it and gives each access unit to the sink; `close` tears it down.
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        open_timeout: float = 10.0,
        read_timeout: float = 10.0,
        user_agent: str = "Pantau",
        verify_tls: bool = True,
        keepalive: float | None = None,
    ) -> None:
        """Credentials in `url` are used when none are given separately.

        `keepalive` overrides the interval of keep-alive requests (half the session timeout).
        """
        self._url = RtspUrl.parse(url)
        username = username if username is not None else self._url.username
        password = password if password is not None else self._url.password
        self._auth = _Authenticator(username, password or "") if username is not None else None
        self._open_timeout = open_timeout
        self._read_timeout = read_timeout
        self._user_agent = user_agent
        self._verify_tls = verify_tls
        self._keepalive_every = keepalive
        self._conn: _Connection | None = None
        self._session: str | None = None
        self._play_url = self._url.request
        self._keepalive_method = "OPTIONS"
        self._keepalive_task: asyncio.Task[None] | None = None
        self._track: _Track | None = None
        self._channel = 0
        self._depacketizer: Depacketizer | None = None
        self._ran = False
        self.info: StreamInfo | None = None
        """What is known of the stream; updated when parameter sets arrive in band."""

    def __repr__(self) -> str:
        return f"<RtspSource {self._url.shown}>"

    @property
    def url(self) -> str:
        """The camera's URL as it may be shown: no user info, secret query values masked."""
        return self._url.shown

    @property
    def bytes_received(self) -> int:
        """Every byte read from the socket."""
        return self._conn.bytes_received if self._conn else 0

    @property
    def rtp_packets(self) -> int:
        """RTP packets received on the video track's interleaved channel."""
        return self._conn.rtp_packets if self._conn else 0

    @property
    def lost_packets(self) -> int:
        """RTP packets missing from the sequence numbers."""
        return self._conn.lost_packets if self._conn else 0

    @property
    def units(self) -> int:
        """Access units delivered to the sink."""
        return self._conn.units if self._conn else 0

    # -- PacketSource

    async def open(self) -> StreamInfo:
        """Connect, describe and set up the video track; raises `SourceError`."""
        if self._conn is not None:
            raise RuntimeError("an RtspSource opens once; make a new one to reconnect")
        shown = self._url.shown
        try:
            async with asyncio.timeout(self._open_timeout):
                await self._connect()
                await self._handshake()
        except TimeoutError:
            self._abort()
            raise SourceError(
                SourceFailure.TIMEOUT, f"{shown}: no answer within {self._open_timeout:g} s"
            ) from None
        except BaseException:
            self._abort()
            raise
        assert self.info is not None
        return self.info

    async def run(self, sink: Sink) -> None:
        """Play, and give every access unit to `sink` until the stream stops (`SourceError`)."""
        conn = self._conn
        if conn is None or self._track is None or self._depacketizer is None:
            raise RuntimeError("open() the RtspSource before run()")
        if self._ran:
            raise RuntimeError("an RtspSource runs once")
        self._ran = True
        track = self._track
        conn.on_parameter_sets = self._learn_parameter_sets
        conn.stream(sink, self._depacketizer, self._channel, track.payload_type, track.clock_rate)
        try:
            try:
                async with asyncio.timeout(self._open_timeout):
                    answer = await self._request("PLAY", self._play_url, {"Range": "npt=0.000-"})
            except TimeoutError:
                raise SourceError(
                    SourceFailure.TIMEOUT,
                    f"{self._url.shown}: no answer to PLAY within {self._open_timeout:g} s",
                ) from None
            self._check(answer, "PLAY")
            conn.watch(self._read_timeout)
            await conn.wait_stopped()
            if conn.failure is not None:
                raise conn.failure
        except asyncio.CancelledError:
            self._abandon()
            raise
        finally:
            conn.stop_streaming()
            self._stop_keepalive()

    async def close(self) -> None:
        """Tear the session down (waiting at most about a second) and close the connection."""
        self._stop_keepalive()
        conn = self._conn
        if conn is None or conn.is_lost:
            return
        try:
            async with asyncio.timeout(TEARDOWN_WAIT):
                if not conn.closing and self._session is not None:
                    headers = self._headers("TEARDOWN", self._play_url)
                    conn.closing = True
                    await conn.send("TEARDOWN", self._play_url, headers)
                conn.close()
                await asyncio.shield(conn.lost)
        except TimeoutError:
            pass
        finally:
            if not conn.is_lost and conn.transport is not None:
                conn.transport.abort()

    # -- the handshake

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        url = self._url
        context: ssl.SSLContext | None = None
        if url.scheme == "rtsps":
            context = ssl.create_default_context()
            if not self._verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        conn = _Connection(url.shown, loop)
        try:
            await loop.create_connection(
                lambda: conn,
                url.host,
                url.port,
                ssl=context,
                server_hostname=url.host if context else None,
            )
        except ssl.SSLCertVerificationError as exc:
            raise SourceError(
                SourceFailure.PROTOCOL,
                f"{url.shown}: the camera's TLS certificate is not trusted ({exc.verify_message})",
            ) from None
        except ssl.SSLError as exc:
            raise SourceError(
                SourceFailure.PROTOCOL, f"{url.shown}: TLS failed ({exc.reason or exc})"
            ) from None
        except socket.gaierror:
            raise SourceError(
                SourceFailure.UNREACHABLE, f"{url.shown}: unknown host {url.host}"
            ) from None
        except ConnectionRefusedError:
            raise SourceError(
                SourceFailure.UNREACHABLE, f"{url.shown}: connection refused"
            ) from None
        except OSError as exc:
            raise SourceError(
                SourceFailure.UNREACHABLE, f"{url.shown}: {exc.strerror or type(exc).__name__}"
            ) from None
        self._conn = conn

    async def _handshake(self) -> None:
        url = self._url
        options = await self._request("OPTIONS", url.request)
        if options.status in (401, 403):
            self._check(options, "OPTIONS")
        if "GET_PARAMETER" in (options.header("public") or "").upper():
            self._keepalive_method = "GET_PARAMETER"

        described = await self._request("DESCRIBE", url.request, {"Accept": "application/sdp"})
        self._check(described, "DESCRIBE")
        base = _strip_userinfo(
            described.header("content-base") or described.header("content-location") or url.request
        )
        description = parse_sdp(described.body.decode("utf-8", "replace"))
        track = _choose_track(description)
        if isinstance(track, str):
            raise SourceError(
                SourceFailure.UNSUPPORTED, f"{url.shown}: no H.264 or H.265 video ({track})"
            )
        try:
            depacketizer = depacketizer_for(track.codec, track.fmtp)
        except NalError as exc:
            raise SourceError(SourceFailure.UNSUPPORTED, f"{url.shown}: {exc}") from None

        setup = await self._request(
            "SETUP",
            resolve_control(base, track.control),
            {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"},
        )
        if setup.status == 461:
            raise SourceError(
                SourceFailure.UNSUPPORTED,
                f"{url.shown}: the camera does not send RTP over TCP ({setup.status_line})",
            )
        self._check(setup, "SETUP")
        session = setup.header("session")
        if not session:
            raise SourceError(SourceFailure.PROTOCOL, f"{url.shown}: SETUP gave no session")
        session_id, _, session_params = session.partition(";")
        self._session = session_id.strip()
        timeout = DEFAULT_SESSION_TIMEOUT
        match = re.search(r"timeout\s*=\s*(\d+)", session_params)
        if match and int(match[1]) > 0:
            timeout = float(match[1])
        match = re.search(r"interleaved\s*=\s*(\d+)", setup.header("transport") or "")
        self._channel = int(match[1]) if match else 0
        self._play_url = resolve_control(base, description.control)
        self._track = track
        self._depacketizer = depacketizer
        self.info = self._describe(track, depacketizer)
        interval = self._keepalive_every or max(1.0, timeout / 2)
        self._keepalive_task = asyncio.create_task(self._keep_alive(interval))

    def _describe(self, track: _Track, depacketizer: Depacketizer) -> StreamInfo:
        """What SDP says: codec, parameter sets (and so size), frame rate."""
        try:
            nals = parameter_sets_from_fmtp(track.codec, track.fmtp)
        except NalError as exc:
            log.warning("%s: ignoring the SDP's parameter sets: %s", self._url.shown, exc)
            nals = []
        # The depacketizer starts from these, so that the same sets in band change nothing.
        kinds = parameter_set_types(track.codec)  # (VPS,) SPS, PPS
        names = dict(zip(kinds, ("vps", "sps", "pps")[-len(kinds) :], strict=True))
        for nal in nals:
            name = names.get(nal_type(track.codec, nal))
            if name is not None and getattr(depacketizer, name) is None:
                setattr(depacketizer, name, nal)
        info = StreamInfo(
            codec=track.codec,
            fps=track.framerate,
            transport=f"{self._url.scheme}/tcp",
        )
        return self._with_parameter_sets(info, depacketizer)

    def _with_parameter_sets(self, info: StreamInfo, depacketizer: Depacketizer) -> StreamInfo:
        if depacketizer.sps is None:
            return info
        try:
            sequence = parse_sps(info.codec, depacketizer.sps)
        except NalError as exc:
            log.warning("%s: unreadable sequence parameter set: %s", self._url.shown, exc)
            return info
        return replace(
            info,
            width=sequence.width,
            height=sequence.height,
            fps=info.fps if self._track and self._track.framerate else sequence.fps or info.fps,
            extradata=annexb(depacketizer.parameter_sets()),
        )

    def _learn_parameter_sets(self) -> None:
        """Parameter sets changed in band: the picture size (or extradata) may have too."""
        if self.info is None or self._depacketizer is None:
            return
        updated = self._with_parameter_sets(self.info, self._depacketizer)
        if (updated.width, updated.height) != (self.info.width, self.info.height):
            log.info("%s: %s %sx%s", self._url.shown, updated.codec, updated.width, updated.height)
        self.info = updated

    # -- requests

    def _headers(
        self, method: str, url: str, extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        headers = {"User-Agent": self._user_agent}
        if self._session is not None:
            headers["Session"] = self._session
        if self._auth is not None:
            authorization = self._auth.header(method, url)
            if authorization is not None:
                headers["Authorization"] = authorization
        if extra:
            headers.update(extra)
        return headers

    async def _request(
        self, method: str, url: str, extra: Mapping[str, str] | None = None
    ) -> RtspResponse:
        """Send a request and return its answer, answering one authentication challenge."""
        conn = self._conn
        assert conn is not None
        for attempt in range(2):
            answer = await conn.send(method, url, self._headers(method, url, extra))
            if answer is None:
                failure = conn.failure
                if isinstance(failure, SourceError) and failure.kind != SourceFailure.ENDED:
                    raise failure
                raise SourceError(
                    SourceFailure.PROTOCOL,
                    f"{self._url.shown}: the camera closed the connection instead of answering"
                    f" {method}",
                )
            if (
                answer.status == 401
                and attempt == 0
                and self._auth is not None
                and self._auth.challenge(answer.headers_named("www-authenticate"))
            ):
                continue
            return answer
        raise AssertionError("unreachable")

    def _check(self, answer: RtspResponse, method: str) -> None:
        shown = self._url.shown
        if answer.status == 401:
            if self._auth is None:
                raise SourceError(
                    SourceFailure.AUTH,
                    f"{shown}: the camera asks for credentials and none are configured (401)",
                )
            raise SourceError(
                SourceFailure.AUTH, f"{shown}: the camera refused the credentials (401)"
            )
        if answer.status == 403:
            raise SourceError(SourceFailure.AUTH, f"{shown}: the camera refused access (403)")
        if not 200 <= answer.status < 300:
            raise SourceError(
                SourceFailure.PROTOCOL, f"{shown}: {method} answered {answer.status_line}"
            )

    async def _keep_alive(self, interval: float) -> None:
        conn = self._conn
        assert conn is not None
        while not conn.is_lost:
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(self._open_timeout):
                    answer = await self._request(self._keepalive_method, self._play_url)
                if answer.status >= 300:
                    log.debug("%s: keep-alive answered %s", self._url.shown, answer.status_line)
            except (SourceError, TimeoutError) as exc:
                log.debug("%s: keep-alive failed: %s", self._url.shown, exc)

    def _stop_keepalive(self) -> None:
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            self._keepalive_task = None

    def _abort(self) -> None:
        self._stop_keepalive()
        if self._conn is not None and self._conn.transport is not None:
            self._conn.closing = True
            self._conn.transport.abort()

    def _abandon(self) -> None:
        """Cancelled: say TEARDOWN without waiting, and close."""
        self._stop_keepalive()
        conn = self._conn
        if conn is None or conn.is_lost or conn.closing:
            return
        if self._session is not None:
            conn.send("TEARDOWN", self._play_url, self._headers("TEARDOWN", self._play_url))
        conn.close()
