"""Sources that are not RTSP, read with PyAV's demuxer: files (paced and looped), HTTP, and more.

The blocking demuxer runs in a thread of its own per source; each access unit crosses to the
event loop with `call_soon_threadsafe`. H.264 and H.265 units are Annex B like RTSP's: MP4's
length-prefixed NAL units are converted, and keyframes carry their parameter sets.

MJPEG is taken from multipart HTTP streams (`multipart/x-mixed-replace`, FFmpeg's `mpjpeg`):
each unit is one whole JPEG and a keyframe, timed by the clock it arrived on, since the
multipart stream carries no timestamps. FFmpeg finds the parts by their Content-Length or, when
a camera leaves it out, by the boundary on CRLF lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import av
import av.error
from av.container import InputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from hub.streams.h264 import (
    CODECS,
    NalError,
    annexb,
    nal_type,
    parameter_set_types,
    parameter_sets_from_extradata,
    split_annexb,
    split_length_prefixed,
)
from hub.streams.rtsp import DEFAULT_PORTS, RtspSource, RtspUrl
from hub.streams.units import (
    VIDEO_CLOCK,
    AccessUnit,
    PacketSource,
    Sink,
    SourceError,
    SourceFailure,
    StreamInfo,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

INTRA_CODECS = ("mjpeg",)
"""Codecs of which every picture stands alone: each unit is a keyframe, with no parameter sets."""
_MULTIPART = "mpjpeg"
"""FFmpeg's demuxer for multipart/x-mixed-replace JPEG streams."""
JPEG_START = b"\xff\xd8"

_IN_FLIGHT = 64
"""Units handed to the loop and not yet delivered, before an unpaced reader waits."""
_LATE_RESET = 1.0
"""Seconds behind schedule after which pacing starts afresh instead of catching up in a burst."""


def open_source(
    url: str,
    username: str | None = None,
    password: str | None = None,
    **options: Any,
) -> PacketSource:
    """The source for a URL: `RtspSource` for rtsp:// and rtsps://, `AvSource` for the rest."""
    if urlsplit(url.strip()).scheme.lower() in DEFAULT_PORTS:
        return RtspSource(url, username=username, password=password, **options)
    return AvSource(url, username=username, password=password, **options)


def _shown(url: str) -> str:
    """A URL without its user info (or a file path, as given)."""
    parts = urlsplit(url)
    if not parts.scheme or len(parts.scheme) == 1 or parts.scheme == "file":
        return url
    if parts.scheme in DEFAULT_PORTS:
        return RtspUrl.parse(url).shown
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc).geturl()


def _with_credentials(url: str, username: str | None, password: str | None) -> str:
    """The URL FFmpeg opens: credentials as user info (never shown anywhere)."""
    if username is None:
        return url
    parts = urlsplit(url)
    if not parts.scheme or len(parts.scheme) == 1 or parts.scheme == "file":
        return url
    userinfo = quote(username, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return parts._replace(netloc=f"{userinfo}@{parts.netloc.rpartition('@')[2]}").geturl()


def _transport(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    return "file" if not scheme or len(scheme) == 1 or scheme == "file" else scheme


def _failure(exc: BaseException, shown: str) -> SourceError:
    """A PyAV error in the operator's words; never its text, which holds the URL as opened."""
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return SourceError(SourceFailure.AUTH, f"{shown}: the server refused access ({reason})")
    if isinstance(exc, av.error.ExitError | av.error.TimeoutError | TimeoutError):
        return SourceError(SourceFailure.TIMEOUT, f"{shown}: timed out")
    if isinstance(
        exc,
        av.error.FileNotFoundError
        | av.error.HTTPNotFoundError
        | av.error.IsADirectoryError
        | av.error.PermissionError
        | ConnectionError
        | av.error.ProtocolNotFoundError,
    ):
        return SourceError(SourceFailure.UNREACHABLE, f"{shown}: {reason}")
    if isinstance(exc, av.error.InvalidDataError):
        return SourceError(SourceFailure.PROTOCOL, f"{shown}: not a stream FFmpeg can read")
    if isinstance(exc, OSError):
        return SourceError(SourceFailure.UNREACHABLE, f"{shown}: {reason}")
    return SourceError(SourceFailure.PROTOCOL, f"{shown}: {reason}")


def _settle(future: asyncio.Future[T], value: T) -> None:
    if not future.done():
        future.set_result(value)


class AvSource:
    """A stream PyAV can demux (a file, HTTP, ...), as access units (a `PacketSource`).

    With `realtime`, units are released at the pace of their timestamps, as a camera would
    send them; with `loop`, the file starts again at its end, timestamps running on. Without
    `realtime` a file is read as fast as the loop takes its units.
    """

    def __init__(
        self,
        url: str | Path,
        *,
        username: str | None = None,
        password: str | None = None,
        realtime: bool = False,
        loop: bool = False,
        open_timeout: float = 10.0,
        read_timeout: float = 10.0,
        av_options: Mapping[str, str] | None = None,
    ) -> None:
        """`av_options` go to FFmpeg's demuxer and protocol (e.g. {"user_agent": "Pantau"})."""
        url = str(url)
        self._url = _with_credentials(url, username, password)
        self._shown = _shown(url)
        self._realtime = realtime
        self._loop_file = loop
        self._open_timeout = open_timeout
        self._read_timeout = read_timeout
        self._av_options = dict(av_options or {})
        self._container: InputContainer | None = None
        self._stream: VideoStream | None = None
        self._length_size = 0
        self._parameter_sets = b""
        self._sps_type = 0
        self._intra = False
        self._stop = threading.Event()
        self._credit = threading.Semaphore(_IN_FLIGHT)
        self._thread: threading.Thread | None = None
        self._thread_done: asyncio.Future[None] | None = None
        self._sink: Sink | None = None
        self._sink_error: BaseException | None = None
        self._ran = False
        self._closed = False
        self.info: StreamInfo | None = None
        self.bytes_received = 0
        """Bytes of video packets read (before Annex B conversion)."""
        self.units = 0
        """Access units delivered to the sink."""

    def __repr__(self) -> str:
        return f"<AvSource {self._shown}>"

    @property
    def url(self) -> str:
        """The source's URL or path as it may be shown."""
        return self._shown

    # -- threads

    async def _in_thread(self, work: Callable[[], T], name: str) -> T:
        """Run blocking `work` in a new thread (not the loop's pool, which many sources exhaust)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[T | None, BaseException | None]] = loop.create_future()

        def target() -> None:
            try:
                outcome: tuple[T | None, BaseException | None] = (work(), None)
            except BaseException as exc:  # handed to the awaiting coroutine
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
                loop.call_soon_threadsafe(_settle, done, outcome)

        thread = threading.Thread(target=target, name=f"{name} {self._shown}", daemon=True)
        thread.start()
        result, error = await done
        if error is not None:
            raise error
        return result  # type: ignore[return-value]

    # -- PacketSource

    async def open(self) -> StreamInfo:
        """Open the container and learn its video stream; raises `SourceError`."""
        if self._container is not None:
            raise RuntimeError("an AvSource opens once; make a new one to reopen")
        try:
            container = await self._in_thread(self._open_container, "av-open")
        except SourceError:
            raise
        except Exception as exc:
            raise _failure(exc, self._shown) from None
        if self._closed:
            container.close()
            raise SourceError(SourceFailure.ENDED, f"{self._shown}: closed while opening")
        self._container = container
        try:
            self.info = self._describe(container)
        except SourceError:
            container.close()
            self._container = None
            raise
        return self.info

    def _open_container(self) -> InputContainer:
        return av.open(
            self._url,
            "r",
            options=self._av_options,
            timeout=(self._open_timeout, self._read_timeout),
        )

    def _describe(self, container: InputContainer) -> StreamInfo:
        if not container.streams.video:
            raise SourceError(SourceFailure.UNSUPPORTED, f"{self._shown}: no video stream")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        multipart = container.format.name == _MULTIPART
        if codec in INTRA_CODECS and multipart:
            self._stream, self._intra = stream, True
            return StreamInfo(
                codec=codec,
                width=stream.codec_context.width or None,
                height=stream.codec_context.height or None,
                fps=None,  # FFmpeg assumes 25 fps; the health monitor learns the real rate
                transport=_transport(self._shown),
            )
        if codec not in CODECS:
            also = " or MJPEG over multipart HTTP" if codec in INTRA_CODECS else ""
            raise SourceError(
                SourceFailure.UNSUPPORTED,
                f"{self._shown}: video is {codec}, not H.264 or H.265{also}",
            )
        self._stream = stream
        try:
            nals, self._length_size = parameter_sets_from_extradata(
                codec, stream.codec_context.extradata or b""
            )
        except NalError as exc:
            raise SourceError(SourceFailure.PROTOCOL, f"{self._shown}: {exc}") from None
        order = parameter_set_types(codec)
        nals = sorted(
            (nal for nal in nals if nal and nal_type(codec, nal) in order),
            key=lambda nal: order.index(nal_type(codec, nal)),
        )
        self._parameter_sets = annexb(nals)
        self._sps_type = order[-2]
        rate = stream.average_rate or stream.guessed_rate
        return StreamInfo(
            codec=codec,
            width=stream.codec_context.width or None,
            height=stream.codec_context.height or None,
            fps=float(rate) if rate else None,
            extradata=self._parameter_sets,
            transport=_transport(self._shown),
        )

    async def run(self, sink: Sink) -> None:
        """Give every access unit to `sink` until the stream ends (`SourceError` ENDED) or fails."""
        if self._container is None or self._stream is None:
            raise RuntimeError("open() the AvSource before run()")
        if self._ran:
            raise RuntimeError("an AvSource runs once")
        self._ran = True
        self._sink = sink
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._thread_done = done
        failure: list[SourceError] = []

        def target() -> None:
            try:
                failure.append(self._demux(loop))
            except Exception as exc:
                if not self._stop.is_set():
                    failure.append(_failure(exc, self._shown))
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, done, None)

        self._thread = threading.Thread(target=target, name=f"av-demux {self._shown}", daemon=True)
        self._thread.start()
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            self._stop.set()
            raise
        if self._sink_error is not None:
            raise self._sink_error
        if failure and not self._closed:
            raise failure[0]

    async def close(self) -> None:
        """Stop reading and close the container; safe to call more than once."""
        self._closed = True
        self._stop.set()
        done = self._thread_done
        if done is not None and not done.done():
            # A blocked network read ends at its read timeout at the latest.
            try:
                async with asyncio.timeout(self._read_timeout + 1):
                    await asyncio.shield(done)
            except TimeoutError:
                log.warning("%s: the demuxer thread did not stop; leaving it", self._shown)
                return
        container, self._container = self._container, None
        if container is not None:
            container.close()

    # -- the demuxer thread

    def _packets(
        self, container: InputContainer, stream: VideoStream
    ) -> Iterator[Packet[VideoStream]]:
        for packet in container.demux(stream):
            if packet.size:
                yield packet

    def _demux(self, loop: asyncio.AbstractEventLoop) -> SourceError:
        """Read, pace and hand over units until stopped or the end; the reason it stopped."""
        container, stream = self._container, self._stream
        assert container is not None and stream is not None
        time_base = stream.time_base or Fraction(1, VIDEO_CLOCK)
        to_clock = float(time_base * VIDEO_CLOCK)
        seconds = float(time_base)
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        frame_ticks = max(1, round(1 / (rate * time_base)))
        offset = 0  # added to timestamps after each loop, in time_base units
        origin: int | None = None  # the first dts, to which pacing is anchored
        started = 0.0
        count = 0
        epoch = time.monotonic()  # multipart JPEGs are timed by their arrival from here
        while not self._stop.is_set():
            first = last = None
            duration = frame_ticks
            for packet in self._packets(container, stream):
                if self._stop.is_set():
                    return SourceError(SourceFailure.ENDED, f"{self._shown}: stopped")
                dts = packet.dts if packet.dts is not None else packet.pts
                if dts is None:  # a raw stream without timestamps: count frames
                    dts = count * frame_ticks
                pts = packet.pts if packet.pts is not None else dts
                count += 1
                if first is None:
                    first = dts
                last, duration = dts, packet.duration or frame_ticks
                if self._realtime:
                    if origin is None:
                        origin, started = dts + offset, time.monotonic()
                    delay = started + (dts + offset - origin) * seconds - time.monotonic()
                    if delay < -_LATE_RESET:
                        origin, started = dts + offset, time.monotonic()
                    elif delay > 0 and self._stop.wait(delay):
                        break
                arrival = time.monotonic()
                if self._intra:
                    data, key = bytes(packet), True
                    if not data.startswith(JPEG_START):
                        log.debug("%s: skipping a part that is not a JPEG", self._shown)
                        continue
                    ticks = round((arrival - epoch) * VIDEO_CLOCK)
                else:
                    key = packet.is_keyframe
                    try:
                        data = self._annexb(bytes(packet), key)
                    except NalError as exc:
                        log.debug("%s: skipping a malformed packet: %s", self._shown, exc)
                        continue
                    ticks = round((pts + offset) * to_clock)
                unit = AccessUnit(data, ticks, key, arrival)
                self.bytes_received += packet.size
                if not self._hand_over(loop, unit):
                    break
            if self._stop.is_set():
                break
            if not self._loop_file:
                return SourceError(SourceFailure.ENDED, f"{self._shown}: the stream ended")
            if first is None or last is None:
                return SourceError(SourceFailure.ENDED, f"{self._shown}: nothing to loop")
            offset += last + duration - first
            container.seek(0, backward=True, any_frame=False, stream=stream)
        return SourceError(SourceFailure.ENDED, f"{self._shown}: stopped")

    def _annexb(self, data: bytes, key: bool) -> bytes:
        """A packet as Annex B; a keyframe without parameter sets gets the container's."""
        if self._length_size:
            nals = split_length_prefixed(data, self._length_size)
            if key and self._parameter_sets and not self._has_sps(nals):
                return self._parameter_sets + annexb(nals)
            return annexb(nals)
        if key and self._parameter_sets and not self._has_sps(split_annexb(data)):
            return self._parameter_sets + data
        return data

    def _has_sps(self, nals: list[bytes]) -> bool:
        assert self.info is not None
        codec = self.info.codec
        return any(nal and nal_type(codec, nal) == self._sps_type for nal in nals)

    def _hand_over(self, loop: asyncio.AbstractEventLoop, unit: AccessUnit) -> bool:
        """Queue `unit` for the sink on the loop; False once stopped."""
        while not self._credit.acquire(timeout=0.25):
            if self._stop.is_set():
                return False
        try:
            loop.call_soon_threadsafe(self._deliver, unit)
        except RuntimeError:  # the loop closed
            self._stop.set()
            return False
        return True

    def _deliver(self, unit: AccessUnit) -> None:
        """On the loop: give `unit` to the sink."""
        self._credit.release()
        if self._stop.is_set() or self._sink is None:
            return
        self.units += 1
        try:
            self._sink(unit)
        except Exception as exc:  # a broken sink stops the source; run() raises it
            self._sink_error = exc
            self._stop.set()
