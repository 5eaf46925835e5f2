"""A scripted RTSP server for what a real one will not do: garbage, silence, loss, wrap-around."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import struct
from collections.abc import Awaitable, Callable
from types import TracebackType

# Captured from the test server: x264enc, 1280x720 at 15 fps (sprop-parameter-sets).
X264_720P_SPS = base64.b64decode("Z0LAH9oBQBbsBagICAoAAAMAAgAAAwA9HjBlQA==")
PPS = base64.b64decode("aM48gA==")
# And x265enc, 640x360 at 25 fps (sprop-sps).
X265_360P_SPS = base64.b64decode(
    "QgEBAWAAAAMAkAAAAwAAAwA/oAUCAXHy5bpKTC//AAEAAWoMDAwIAAADAAgAAAMAyEA="
)
SPROP = f"{base64.b64encode(X264_720P_SPS).decode()},{base64.b64encode(PPS).decode()}"


def sdp(
    *,
    encoding: str = "H264/90000",
    fmtp: str = f"packetization-mode=1;sprop-parameter-sets={SPROP}",
    control: str = "trackID=0",
    extra: str = "",
) -> str:
    """A camera-like SDP with one video track."""
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=Camera\r\nt=0 0\r\na=control:*\r\n"
        "m=video 0 RTP/AVP 96\r\n"
        f"a=rtpmap:96 {encoding}\r\na=fmtp:96 {fmtp}\r\na=control:{control}\r\n{extra}"
    )


class Request:
    """One request the fake camera received."""

    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method = method
        self.url = url
        self.headers = headers

    @property
    def cseq(self) -> str:
        return self.headers.get("cseq", "0")


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request (interleaved frames from the client are skipped), or None at the end."""
    while True:
        first = await reader.read(1)
        if not first:
            return None
        if first == b"$":
            header = await reader.readexactly(3)
            await reader.readexactly(int.from_bytes(header[1:], "big"))
            continue
        if first in (b"\r", b"\n"):
            continue
        head = first + await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, url, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        return Request(method, url, headers)


def answer(
    request: Request,
    status: str = "200 OK",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    lines = [f"RTSP/1.0 {status}", f"CSeq: {request.cseq}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def rtp(seq: int, ts: int, payload: bytes, *, marker: bool = False, pt: int = 96) -> bytes:
    header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts, 0x1234)
    return header + payload


def interleaved(channel: int, packet: bytes) -> bytes:
    return b"$" + bytes([channel]) + len(packet).to_bytes(2, "big") + packet


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "FakeCamera"], Awaitable[None]]


class FakeCamera:
    """An RTSP server on localhost whose every connection runs `script`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Request] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/stream"

    async def __aenter__(self) -> FakeCamera:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        try:
            await self.script(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Ended by __aexit__; finishing normally spares asyncio.streams (3.11) a callback
            # that calls exception() on a cancelled task and logs the CancelledError.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def next_request(self, reader: asyncio.StreamReader) -> Request | None:
        request = await read_request(reader)
        if request is not None:
            self.requests.append(request)
        return request


async def handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    camera: FakeCamera,
    *,
    description: str | None = None,
    public: str = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN",
    session: str = "F00D;timeout=60",
) -> bool:
    """Answer OPTIONS, DESCRIBE, SETUP and PLAY like a camera; False if the client left."""
    body = (description if description is not None else sdp()).encode()
    while True:
        request = await camera.next_request(reader)
        if request is None:
            return False
        if request.method == "OPTIONS":
            writer.write(answer(request, headers={"Public": public}))
        elif request.method == "DESCRIBE":
            headers = {"Content-Type": "application/sdp", "Content-Base": camera.url + "/"}
            writer.write(answer(request, headers=headers, body=body))
        elif request.method == "SETUP":
            headers = {
                "Session": session,
                "Transport": "RTP/AVP/TCP;unicast;interleaved=0-1",
            }
            writer.write(answer(request, headers=headers))
        elif request.method == "PLAY":
            writer.write(answer(request, headers={"Session": session.partition(";")[0]}))
            await writer.drain()
            return True
        else:
            writer.write(answer(request))
        await writer.drain()


async def serve_requests(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
) -> None:
    """After PLAY: answer whatever comes (keep-alives, TEARDOWN) until the client leaves."""
    while (request := await camera.next_request(reader)) is not None:
        writer.write(answer(request))
        await writer.drain()
