"""Test code: a local ISAPI device (aiohttp.web on 127.0.0.1) answering with recorded payloads.

It checks HTTP digest auth itself (RFC 7616, MD5, qop=auth, as Hikvision firmware does) or
basic auth, serves fixed answers per path, records PUTs, and plays one scripted alertStream per
connection: chunks of bytes, pauses, then an orderly end, an abrupt disconnect, or holding the
connection open until the device stops.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

import av
import numpy as np
from aiohttp import web

from tests.plugins.hikvision.wire import CONTENT_TYPE, fixture

USERNAME = "admin"
PASSWORD = "Sup3r-Secret!pw"
REALM = "IP Camera(C12345678)"
XML = "application/xml"

Step = bytes | float | Literal["disconnect", "hang"]
"""One step of a scripted alertStream: bytes to send, a pause (s), or how it ends."""


def jpeg(width: int = 64, height: int = 48) -> bytes:
    """A real (tiny, grey) JPEG, as a device's snapshot would be."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mjpeg") as output:
        stream = output.add_stream("mjpeg", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuvj420p"
        picture = np.full((height, width, 3), 128, np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuvj420p")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    return buffer.getvalue()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@dataclass
class FakeDevice:
    """What the device answers; change the fields between requests as a test needs."""

    auth: Literal["digest", "basic", "none"] = "digest"
    username: str = USERNAME
    password: str = PASSWORD
    answers: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    """GET and PUT answers by path: status, content type, body."""
    scripts: list[list[Step]] = field(default_factory=list)
    """One alertStream script per connection, in order; later connections hang."""
    puts: list[tuple[str, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    """Every authenticated request, as 'METHOD path'."""
    stream_connections: int = 0
    unauthorized: int = 0
    port: int = 0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _put: asyncio.Event = field(default_factory=asyncio.Event)
    _nonces: set[str] = field(default_factory=set)

    def answer(self, path: str, body: bytes | str, status: int = 200, kind: str = XML) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.answers[path] = (status, kind, data)

    async def wait_for_puts(self, count: int) -> None:
        """Until `count` PUTs have come in."""
        while len(self.puts) < count:
            self._put.clear()
            await self._put.wait()

    # -- auth

    def _challenge(self) -> web.Response:
        self.unauthorized += 1
        if self.auth == "basic":
            header = f'Basic realm="{REALM}"'
        else:
            nonce = secrets.token_hex(16)
            self._nonces.add(nonce)
            header = f'Digest qop="auth", realm="{REALM}", nonce="{nonce}", stale="FALSE"'
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<userCheck><statusValue>401</statusValue>'
            "<statusString>Unauthorized</statusString></userCheck>"
        )
        return web.Response(
            status=401, text=body, content_type=XML, headers={"WWW-Authenticate": header}
        )

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if self.auth == "none":
            return True
        if self.auth == "basic":
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return header == f"Basic {expected}"
        if not header.startswith("Digest "):
            return False
        params = {
            key: quoted if quoted else bare
            for key, quoted, bare in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header[7:])
        }
        if params.get("username") != self.username or params.get("realm") != REALM:
            return False
        if params.get("nonce") not in self._nonces or params.get("uri") != request.path_qs:
            return False
        ha1 = _md5(f"{self.username}:{REALM}:{self.password}")
        ha2 = _md5(f"{request.method}:{params['uri']}")
        if params.get("qop") == "auth":
            expected = _md5(
                f"{ha1}:{params['nonce']}:{params.get('nc')}:{params.get('cnonce')}:auth:{ha2}"
            )
        else:
            expected = _md5(f"{ha1}:{params['nonce']}:{ha2}")
        return params.get("response") == expected

    # -- handlers

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return self._challenge()
        self.requests.append(f"{request.method} {request.path}")
        stream = request.path == "/ISAPI/Event/notification/alertStream"
        if stream and request.method == "GET" and request.path not in self.answers:
            return await self._alert_stream(request)
        if request.method == "PUT":
            self.puts.append((request.path, await request.text()))
            self._put.set()
        status, kind, body = self.answers.get(
            request.path,
            (
                404,
                XML,
                b"<ResponseStatus><statusCode>4</statusCode>"
                b"<subStatusCode>notSupport</subStatusCode></ResponseStatus>",
            ),
        )
        if request.method == "PUT" and request.path not in self.answers:
            status, kind, body = (
                200,
                XML,
                b"<ResponseStatus><statusCode>1</statusCode></ResponseStatus>",
            )
        return web.Response(status=status, body=body, content_type=kind)

    async def _alert_stream(self, request: web.Request) -> web.StreamResponse:
        index = self.stream_connections
        self.stream_connections += 1
        script: list[Step] = self.scripts[index] if index < len(self.scripts) else ["hang"]
        response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE})
        await response.prepare(request)
        for step in script:
            if isinstance(step, bytes):
                await response.write(step)
            elif isinstance(step, float):
                await asyncio.sleep(step)
            elif step == "disconnect":
                assert request.transport is not None
                request.transport.close()  # abruptly, in the middle of whatever was sent
                return response
            else:
                await self.stopping.wait()
                return response
        await response.write_eof()
        return response


@asynccontextmanager
async def serve(device: FakeDevice, port: int = 0) -> AsyncIterator[FakeDevice]:
    """Run `device` on 127.0.0.1 (on a free port unless given) until the block ends."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", device.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    device.port = runner.addresses[0][1]
    try:
        yield device
    finally:
        device.stopping.set()
        await runner.cleanup()


# -- what the test devices answer: recorded where a recording exists, test-made otherwise

DEVICE_INFO = "/ISAPI/System/deviceInfo"


def camera_answers(device: FakeDevice) -> FakeDevice:
    """A PTZ dome: the recorded deviceInfo; channel, stream, PTZ lists test-made."""
    device.answer(DEVICE_INFO, fixture("System.deviceInfo.PTZ-DS-2DE4A425IW-DE.xml"))
    device.answer(
        "/ISAPI/System/Video/inputs/channels",
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VideoInputChannelList version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        "<VideoInputChannel><id>1</id><inputPort>1</inputPort>"
        "<videoInputEnabled>true</videoInputEnabled><name>Gerbang Timur</name>"
        "<videoFormat>PAL</videoFormat></VideoInputChannel></VideoInputChannelList>",
    )
    device.answer(
        "/ISAPI/Streaming/channels",
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<StreamingChannelList version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        + _streaming_channel(101, "H.264", 2560, 1440, 2500, "CBR", 4096)
        + _streaming_channel(102, "H.265", 640, 360, 1250, "VBR", 512)
        + _streaming_channel(103, "H.264", 704, 576, 2500, "CBR", 1024, enabled=False)
        + "</StreamingChannelList>",
    )
    device.answer(
        "/ISAPI/PTZCtrl/channels",
        '<PTZChannelList version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        "<PTZChannel><id>1</id><enabled>true</enabled><videoInputID>1</videoInputID></PTZChannel>"
        "</PTZChannelList>",
    )
    device.answer(
        "/ISAPI/PTZCtrl/channels/1/presets",
        '<PTZPresetList version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        "<PTZPreset><enabled>true</enabled><id>1</id><presetName>Gate</presetName></PTZPreset>"
        "<PTZPreset><enabled>true</enabled><id>2</id><presetName>Road</presetName></PTZPreset>"
        "<PTZPreset><enabled>false</enabled><id>3</id><presetName>Unused</presetName></PTZPreset>"
        "</PTZPresetList>",
    )
    device.answer("/ISAPI/Streaming/channels/101/picture", jpeg(), kind="image/jpeg")
    return device


def _streaming_channel(
    stream_id: int,
    codec: str,
    width: int,
    height: int,
    rate: int,
    control: str,
    kbps: int,
    enabled: bool = True,
) -> str:
    bitrate = (
        f"<constantBitRate>{kbps}</constantBitRate>"
        if control == "CBR"
        else (f"<vbrUpperCap>{kbps}</vbrUpperCap><constantBitRate>9999</constantBitRate>")
    )
    return (
        f"<StreamingChannel><id>{stream_id}</id><channelName>Gerbang Timur</channelName>"
        f"<enabled>{str(enabled).lower()}</enabled><Transport><ControlProtocolList>"
        "<ControlProtocol><streamingTransport>RTSP</streamingTransport></ControlProtocol>"
        "</ControlProtocolList></Transport><Video><enabled>true</enabled>"
        f"<videoCodecType>{codec}</videoCodecType><videoResolutionWidth>{width}"
        f"</videoResolutionWidth><videoResolutionHeight>{height}</videoResolutionHeight>"
        f"<videoQualityControlType>{control}</videoQualityControlType>{bitrate}"
        f"<maxFrameRate>{rate}</maxFrameRate></Video></StreamingChannel>"
    )


def nvr_answers(device: FakeDevice, channels: int = 16) -> FakeDevice:
    """A 16-channel NVR (test-made from the recorded deviceInfo); it will not list streams."""
    info = fixture("System.deviceInfo.PTZ-DS-2DE4A425IW-DE.xml").decode("utf-8")
    info = info.replace("<deviceType>IPDome</deviceType>", "<deviceType>NVR</deviceType>")
    info = info.replace("DS-2DE4A425IW-DE", "DS-7616NI-K2")
    device.answer(DEVICE_INFO, info)
    entries = "".join(
        f"<InputProxyChannel><id>{index}</id><name>Pos {index:02d}</name>"
        "<sourceInputPortDescriptor><proxyProtocol>HIKVISION</proxyProtocol>"
        f"<addressingFormatType>ipaddress</addressingFormatType><ipAddress>192.168.254.{index + 1}"
        "</ipAddress><managePortNo>8000</managePortNo><srcInputPort>1</srcInputPort>"
        "</sourceInputPortDescriptor></InputProxyChannel>"
        for index in range(1, channels + 1)
    )
    device.answer(
        "/ISAPI/ContentMgmt/InputProxy/channels",
        '<InputProxyChannelList version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        f"{entries}</InputProxyChannelList>",
    )
    statuses = "".join(
        f"<InputProxyChannelStatus><id>{index}</id><online>{str(index != 16).lower()}</online>"
        "</InputProxyChannelStatus>"
        for index in range(1, channels + 1)
    )
    device.answer(
        "/ISAPI/ContentMgmt/InputProxy/channels/status",
        '<InputProxyChannelStatusList version="2.0" '
        'xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        f"{statuses}</InputProxyChannelStatusList>",
    )
    device.answer(
        "/ISAPI/Streaming/channels",
        "<ResponseStatus><statusCode>4</statusCode><subStatusCode>notSupport</subStatusCode>"
        "</ResponseStatus>",
        status=403,
    )
    return device
