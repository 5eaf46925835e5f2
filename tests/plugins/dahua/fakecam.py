"""A Dahua device on 127.0.0.1 for tests: digest auth, recorded CGI answers, scripted events.

The CGI answers are the recorded ones in tests/fixtures/dahua/. The recorded event files are
parsed dumps (JSON), not wire format, so the attach stream is built here, in test code, the
way Dahua devices frame it: `multipart/x-mixed-replace` parts after `--myboundary` lines, each
with `Content-Type: text/plain`, usually a `Content-Length`, and a CRLF after the body.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiohttp import web

FIXTURES = Path(__file__).parents[2] / "fixtures" / "dahua"
USERNAME = "admin"
PASSWORD = "Rah4sia-Pati#77"  # noqa: S105 - a test password, asserted never to leak
REALM = "Login to 4X7C5A1ZAG21L3F"
BOUNDARY = "myboundary"
_PAIR = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]+))')


def fixture(name: str) -> str:
    """A recorded payload, as text."""
    return (FIXTURES / name).read_text(encoding="utf-8")


def crlf(text: str) -> str:
    """Text with CRLF line ends, as devices send it."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def record(
    code: str, action: str, index: int | str, data: Any = None, indent: int | None = None
) -> str:
    """One event record; `indent` spreads the data JSON over lines as some firmwares do."""
    text = f"Code={code};action={action};index={index}"
    if data is not None:
        text += ";data=" + crlf(json.dumps(data, indent=indent))
    return text


def part(body: str, *, length: bool = True, boundary: str = BOUNDARY) -> bytes:
    """One multipart part: delimiter, headers, blank line, body and its CRLF, then a CRLF."""
    payload = body.encode() + b"\r\n"
    head = f"--{boundary}\r\nContent-Type: text/plain\r\n"
    if length:
        head += f"Content-Length: {len(payload)}\r\n"
    return head.encode() + b"\r\n" + payload + b"\r\n"


HEARTBEAT = part("Heartbeat")


def make_jpeg() -> bytes:
    """A real, tiny JPEG, as snapshot.cgi answers."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = 32, 16, "yuvj420p"
    picture = np.full((16, 32, 3), 90, np.uint8)
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuvj420p")
    packets = [*codec.encode(frame), *codec.encode(None)]
    return b"".join(bytes(packet) for packet in packets)


class Drop:
    """A script step: cut the connection where it stands (mid-part, if a part is open)."""


class Hang:
    """A script step: send nothing more, keeping the connection open (a dead stream)."""


Step = bytes | float | Drop | Hang


@dataclass
class FakeDahua:
    """The device: `answers` by (cgi, action[, name]), `scripts` for successive attaches."""

    answers: dict[tuple[str, ...], tuple[int, str]] = field(default_factory=dict)
    scripts: list[list[Step]] = field(default_factory=list)
    snapshot: bytes = b""
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    attaches: int = 0
    port: int = 0
    nonce: str = field(default_factory=lambda: secrets.token_hex(16))
    done: asyncio.Event = field(default_factory=asyncio.Event)
    attached: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/{cgi}", self.handle)
        return app

    def authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        fields = {
            m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _PAIR.finditer(header)
        }
        if fields.get("username") != USERNAME or fields.get("uri") != request.raw_path:
            return False
        ha1 = _md5(f"{USERNAME}:{REALM}:{PASSWORD}")
        ha2 = _md5(f"{request.method}:{request.raw_path}")
        expected = _md5(
            ":".join((ha1, self.nonce, fields.get("nc", ""), fields.get("cnonce", ""), "auth", ha2))
        )
        return fields.get("nonce") == self.nonce and fields.get("response") == expected

    async def handle(self, request: web.Request) -> web.StreamResponse:
        cgi = request.match_info["cgi"]
        query = dict(request.query)
        if not self.authorized(request):
            challenge = f'Digest realm="{REALM}", qop="auth", nonce="{self.nonce}", opaque="5ccc"'
            return web.Response(
                status=401, text="Error\r\n", headers={"WWW-Authenticate": challenge}
            )
        self.requests.append((cgi, query))
        if cgi == "eventManager.cgi" and query.get("action") == "attach":
            return await self.attach(request)
        if cgi == "snapshot.cgi":
            return web.Response(body=self.snapshot, content_type="image/jpeg")
        for key in (
            (cgi, query.get("action", ""), query.get("name", "")),
            (cgi, query.get("action", "")),
        ):
            if key in self.answers:
                status, text = self.answers[key]
                return web.Response(status=status, text=text)
        return web.Response(status=400, text="Error\r\nBad Request!\r\n")

    async def attach(self, request: web.Request) -> web.StreamResponse:
        self.attaches += 1
        self.attached.set()
        script = self.scripts.pop(0) if self.scripts else [Hang()]
        response = web.StreamResponse(
            headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}"}
        )
        await response.prepare(request)
        for step in script:
            if isinstance(step, bytes):
                await response.write(step)
            elif isinstance(step, float):
                await asyncio.sleep(step)
            elif isinstance(step, Drop):
                assert request.transport is not None
                request.transport.close()
                return response
            else:
                await self.done.wait()
                return response
        await response.write_eof()
        return response


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - digest auth is MD5


def ipc_answers() -> dict[tuple[str, ...], tuple[int, str]]:
    """A fixed camera's answers: recorded magicBox lines (sent with CRLF and a blank line)."""
    return {
        ("magicBox.cgi", "getSystemInfo"): (
            200,
            crlf(fixture("cgi/magicBox.getSystemInfo.IPC-HDW5831R-ZE.txt")) + "\r\n",
        ),
        ("magicBox.cgi", "getDeviceType"): (200, crlf(fixture("cgi/magicBox.getDeviceType.txt"))),
        ("magicBox.cgi", "getSoftwareVersion"): (
            200,
            crlf(fixture("cgi/magicBox.getSoftwareVersion.txt")),
        ),
        ("magicBox.cgi", "getVendor"): (200, crlf(fixture("cgi/magicBox.getVendor.txt"))),
        ("magicBox.cgi", "getMachineName"): (200, crlf(fixture("cgi/magicBox.getMachineName.txt"))),
        # Not recorded: the documented answer shape (`table.ChannelTitle[i].Name=...`).
        ("configManager.cgi", "getConfig", "ChannelTitle"): (
            200,
            "table.ChannelTitle[0].Name=Gerbang Utara\r\n",
        ),
        # A fixed camera does not know MaxRemoteInputChannels: Dahua's error answer.
        ("magicBox.cgi", "getProductDefinition", "MaxRemoteInputChannels"): (
            400,
            "Error\r\nBad Request!\r\n",
        ),
    }


async def serve(camera: FakeDahua) -> AsyncIterator[FakeDahua]:
    """Run `camera` on 127.0.0.1 on a free port until the caller is done with it."""
    runner = web.AppRunner(camera.app(), shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    camera.port = runner.addresses[0][1]
    try:
        yield camera
    finally:
        camera.done.set()
        await runner.cleanup()
