"""A camera that offers only a JPEG snapshot URL, polled into the engine as an MJPEG stream.

Each answer becomes one access unit: a whole JPEG, a keyframe, timed on the monotonic clock it
arrived on. The engine treats it like any camera: health from the units, the frozen-picture
check from the decoded keyframes (so a picture that did not change is still a unit), and clips
from the ring.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp
from yarl import URL

from hub.streams.pictures import jpeg_size
from hub.streams.units import (
    VIDEO_CLOCK,
    AccessUnit,
    Sink,
    SourceError,
    SourceFailure,
    StreamInfo,
)
from hub.vendorkit import PayloadLog

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 2.0
"""Seconds between snapshots: enough for health and snapshots, cheap enough for most links."""
MAX_JPEG = 16 * 1024 * 1024
"""Bytes an answer may hold; a camera that sends more is broken (or not a camera)."""
JPEG_START = b"\xff\xd8"


class JpegPollSource:
    """A JPEG snapshot URL, polled every `interval` seconds, as MJPEG keyframes (a `PacketSource`).

    Every poll downloads a whole picture. Cameras on paid mobile data packages pay for each one:
    at the default 2 s a 100 KB picture is about 4.3 GB a day, so raise `interval` on metered
    links (at 10 s the same camera costs about 860 MB a day).

    Credentials go in at request time, never in the URL: digest when the camera asks for it
    (then sent with every request, without a second round trip), basic only when the camera
    asks for basic. A refusal (401, 403) ends the source at once, since knocking on locks
    accounts. A failed poll (no answer, an error status, an answer that is not a JPEG) is
    skipped; `max_failures` in a row end the source, so the worker's reconnect ladder takes
    over. An answer that is not a JPEG is logged with the camera's name. The same picture twice
    is still a unit: the engine's frozen-picture check needs to see it.
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        camera: str = "",
        interval: float = DEFAULT_INTERVAL,
        timeout: float = 10.0,
        max_failures: int = 3,
        verify_tls: bool = True,
    ) -> None:
        """`camera` is the camera's name, for log lines; `timeout` bounds each request (s)."""
        if interval <= 0:
            raise ValueError(f"interval must be more than 0 seconds, not {interval}")
        if max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, not {max_failures}")
        target = URL(url)
        if username is None and target.user is not None:
            username, password = target.user, target.password
        self._url = target.with_user(None).with_password(None)
        self._shown = str(self._url.with_query(None).with_fragment(None))
        self._username = username
        self._password = password
        self.camera = camera or self._shown
        self.interval = interval
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_failures = max_failures
        self._verify_tls = verify_tls
        self._payloads = PayloadLog(log, self.camera)
        self._http: aiohttp.ClientSession | None = None
        self._basic: str | None = None
        """The basic Authorization header, once the camera asked for basic."""
        self._first: AccessUnit | None = None
        self._last_jpeg: bytes | None = None
        self._epoch = 0.0
        self._polled_at = 0.0
        self._ran = False
        self._closed = False
        self._closing = asyncio.Event()
        self.info: StreamInfo | None = None
        self.bytes_received = 0
        """Bytes of every answer's body, JPEG or not: what the camera's data package pays for."""
        self.units = 0
        """Access units delivered to the sink."""

    def __repr__(self) -> str:
        return f"<JpegPollSource {self._shown} every {self.interval:g} s>"

    @property
    def url(self) -> str:
        """The snapshot URL as it may be shown: no user info, no query (it may hold a token)."""
        return self._shown

    # -- PacketSource

    async def open(self) -> StreamInfo:
        """Take the first snapshot and learn its size; raises `SourceError` unless it is a JPEG."""
        if self._http is not None or self._closed:
            raise RuntimeError("a JpegPollSource opens once; make a new one to reopen")
        digest: tuple[aiohttp.DigestAuthMiddleware, ...] = ()
        if self._username is not None:
            try:
                digest = (aiohttp.DigestAuthMiddleware(self._username, self._password or ""),)
            except ValueError:
                raise SourceError(
                    SourceFailure.AUTH, f"{self._shown}: a username with ':' cannot log in"
                ) from None
        self._http = aiohttp.ClientSession(
            middlewares=digest,
            connector=aiohttp.TCPConnector(limit=1, ssl=self._verify_tls),
            timeout=self._timeout,
            headers={"User-Agent": "Pantau", "Cache-Control": "no-cache"},
        )
        self._epoch = time.monotonic()
        jpeg = await self._poll()
        if jpeg is None:  # logged by _poll
            raise SourceError(SourceFailure.PROTOCOL, f"{self._shown}: the answer is not a JPEG")
        width, height = jpeg_size(jpeg)
        self._first = self._unit(jpeg)
        self.info = StreamInfo(
            codec="mjpeg",
            width=width,
            height=height,
            fps=1.0 / self.interval,
            transport=f"{self._url.scheme}/poll",
        )
        return self.info

    async def run(self, sink: Sink) -> None:
        """Give a snapshot to `sink` every `interval` seconds until closed or failing."""
        if self._ran:
            raise RuntimeError("a JpegPollSource runs once")
        if self._first is None:
            raise RuntimeError("open() the JpegPollSource before run()")
        self._ran = True
        self._deliver(sink, self._first)
        self._first = None
        failures = 0
        due = self._polled_at
        while not self._closed:
            due += self.interval
            if not await self._wait_until(due):
                return
            due = max(due, time.monotonic())  # after a slow answer, on from now, no burst
            try:
                jpeg = await self._poll()
            except SourceError as exc:
                if self._closed:
                    return
                if exc.kind is SourceFailure.AUTH:
                    raise
                failures += 1
                if failures >= self._max_failures:
                    raise SourceError(
                        exc.kind, f"{exc} ({failures} polls in a row failed)"
                    ) from None
                log.debug("camera %r: snapshot failed, skipped: %s", self.camera, exc)
                continue
            if jpeg is None:
                failures += 1
                if failures >= self._max_failures:
                    raise SourceError(
                        SourceFailure.PROTOCOL,
                        f"{self._shown}: {failures} answers in a row were not JPEGs",
                    )
                continue
            failures = 0
            self._deliver(sink, self._unit(jpeg))

    async def close(self) -> None:
        """Stop polling and close the HTTP client; safe to call more than once."""
        self._closed = True
        self._closing.set()
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    # -- polling

    async def _wait_until(self, due: float) -> bool:
        """Sleep until `due` (monotonic); False if the source was closed meanwhile."""
        delay = due - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
        return not self._closed

    async def _poll(self) -> bytes | None:
        """One snapshot: its JPEG, or None for an answer that is not one (logged, skipped)."""
        self._polled_at = time.monotonic()
        status, content_type, challenge, body = await self._get()
        if status == 401 and self._basic is None and self._asks_basic(challenge):
            self._basic = aiohttp.encode_basic_auth(self._username or "", self._password or "")
            status, content_type, challenge, body = await self._get()
        if status in (401, 403):
            who = f"user {self._username!r}" if self._username is not None else "a request"
            raise SourceError(
                SourceFailure.AUTH, f"{self._shown}: the camera refused {who} (HTTP {status})"
            )
        if status == 304 and self._last_jpeg is not None:
            return self._last_jpeg  # not modified: the same picture, which is news too
        if status == 404:
            raise SourceError(SourceFailure.UNREACHABLE, f"{self._shown}: not found (HTTP 404)")
        if status != 200:
            raise SourceError(SourceFailure.PROTOCOL, f"{self._shown}: answered HTTP {status}")
        problem = _not_a_jpeg(body)
        if problem is not None:
            what = content_type or "no content type"
            sample = self._scrub(body[:1024].decode("utf-8", "replace"))
            self._payloads.malformed("snapshot", sample, f"answered {what}, {problem}")
            return None
        self._last_jpeg = body
        return body

    async def _get(self) -> tuple[int, str, str, bytes]:
        """Status, content type, authentication challenge and body of one GET."""
        http = self._http
        if http is None:
            raise SourceError(SourceFailure.ENDED, f"{self._shown}: closed")
        headers = {"Authorization": self._basic} if self._basic is not None else None
        try:
            async with http.get(self._url, headers=headers, allow_redirects=True) as response:
                body = bytearray()
                while chunk := await response.content.readany():
                    self.bytes_received += len(chunk)
                    body += chunk
                    if len(body) > MAX_JPEG:
                        raise SourceError(
                            SourceFailure.PROTOCOL,
                            f"{self._shown}: the answer is larger than {MAX_JPEG} bytes",
                        )
                challenge = response.headers.get("WWW-Authenticate", "")
                return response.status, response.content_type, challenge, bytes(body)
        except TimeoutError:
            raise SourceError(
                SourceFailure.TIMEOUT,
                f"{self._shown}: no answer within {self._timeout.total:g} s",
            ) from None
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror or type(exc.os_error).__name__
            raise SourceError(
                SourceFailure.UNREACHABLE, f"{self._shown}: {self._scrub(reason).lower()}"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise SourceError(
                SourceFailure.UNREACHABLE, f"{self._shown}: {type(exc).__name__}"
            ) from None

    def _asks_basic(self, challenge: str) -> bool:
        return self._username is not None and challenge.lower().startswith("basic")

    def _unit(self, jpeg: bytes) -> AccessUnit:
        arrival = time.monotonic()
        return AccessUnit(jpeg, round((arrival - self._epoch) * VIDEO_CLOCK), True, arrival)

    def _deliver(self, sink: Sink, unit: AccessUnit) -> None:
        self.units += 1
        sink(unit)

    def _scrub(self, text: str) -> str:
        """`text` without the password, should a camera or a library ever echo it."""
        password = self._password
        return text.replace(password, "***") if password else text


def _not_a_jpeg(body: bytes) -> str | None:
    """Why `body` is not a usable JPEG, or None when it is one."""
    if not body.startswith(JPEG_START):
        return "not a JPEG"
    try:
        jpeg_size(body)
    except ValueError as exc:
        return str(exc)
    return None
