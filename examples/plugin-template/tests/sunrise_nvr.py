"""A Sunrise NVR on 127.0.0.1 for tests: the JSON API of the README, over real HTTP.

It checks basic authentication, answers `/system`, `/channels` and snapshots, and plays a script
on each connection to the event feed: JSON lines, raw bytes, pauses, a dropped connection or a
feed that hangs. `camera_record` makes the registry records the hub gives the vendor.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import encode_basic_auth, web

from hub.registry import CameraRecord, CameraSource

USERNAME = "satpam"
PASSWORD = "Matahari-Terbit#2026"  # noqa: S105 - a test password, asserted never to leak
JPEG = base64.b64decode(
    "/9j//gAQTGF2YzYyLjI4LjEwMgD/2wBDAAgEBAQEBAUFBQUFBQYGBgYGBgYGBgYGBgYHBwcICAgHBwcGBgcHCAgICAkJ"
    "CQgICAgJCQoKCgwMCwsODg4RERT/xABMAAEBAAAAAAAAAAAAAAAAAAAABAEBAAAAAAAAAAAAAAAAAAAAARABAAAAAAAA"
    "AAAAAAAAAAAAABEBAQAAAAAAAAAAAAAAAAAAACH/wAARCAAQABADASIAAhEAAxEA/9oADAMBAAIRAxEAPwCcAUV//9k="
)
"""A real 16x16 grey JPEG, as the NVR's snapshots are."""

SYSTEM = {
    "vendor": "Sunrise Vision",
    "model": "SV-NVR1604",
    "firmware": "2.4.1",
    "serial": "SVN04-2201-0042",
    "uptime": 86400,
}


def channel(number: int, name: str, online: bool = True) -> dict[str, Any]:
    """One channel as `/channels` lists it, with its main and sub stream."""
    return {
        "id": number,
        "name": name,
        "online": online,
        "streams": [
            {"id": "main", "codec": "H.264", "width": 1920, "height": 1080, "fps": 25},
            {"id": "sub", "codec": "H.264", "width": 640, "height": 360, "fps": 12.5},
        ],
    }


CHANNELS = [channel(1, "Lobby Utara"), channel(2, "Parkir B1"), channel(3, "Pintu Timur", False)]


class Drop:
    """A script step: cut the connection where it stands."""


class Hang:
    """A script step: send nothing more and keep the connection open (a dead feed)."""


Step = dict[str, Any] | bytes | float | Drop | Hang


def line(record: dict[str, Any]) -> bytes:
    """One JSON line of the event feed."""
    return json.dumps(record).encode() + b"\n"


@dataclass
class FakeNvr:
    """The NVR: `feeds` holds a script for each successive connection to the event feed."""

    feeds: list[list[Step]] = field(default_factory=list)
    system: dict[str, Any] = field(default_factory=lambda: dict(SYSTEM))
    channels: list[dict[str, Any]] = field(default_factory=lambda: list(CHANNELS))
    snapshot: bytes = JPEG
    has_feed: bool = True
    port: int = 0
    paths: list[str] = field(default_factory=list)
    feeds_opened: int = 0
    heartbeats_asked: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        """The NVR's web application."""
        app = web.Application(middlewares=[self.login])
        app.router.add_get("/api/v1/system", self.system_info)
        app.router.add_get("/api/v1/channels", self.channel_list)
        app.router.add_get("/api/v1/channels/{number}/snapshot", self.take_snapshot)
        app.router.add_get("/api/v1/events/stream", self.event_feed)
        return app

    @web.middleware
    async def login(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Refuse any request without the right basic-auth credentials."""
        if request.headers.get("Authorization") != encode_basic_auth(USERNAME, PASSWORD):
            return web.json_response(
                {"error": "unauthorized"},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="Sunrise NVR"'},
            )
        self.paths.append(request.path)
        response: web.StreamResponse = await handler(request)
        return response

    async def system_info(self, request: web.Request) -> web.Response:
        """`GET /api/v1/system`."""
        return web.json_response(self.system)

    async def channel_list(self, request: web.Request) -> web.Response:
        """`GET /api/v1/channels`."""
        return web.json_response({"channels": self.channels})

    async def take_snapshot(self, request: web.Request) -> web.Response:
        """`GET /api/v1/channels/{number}/snapshot`."""
        number = request.match_info["number"]
        if not any(str(c["id"]) == number for c in self.channels):
            return web.json_response({"error": f"no channel {number}"}, status=404)
        return web.Response(body=self.snapshot, content_type="image/jpeg")

    async def event_feed(self, request: web.Request) -> web.StreamResponse:
        """`GET /api/v1/events/stream?heartbeat=N`: the next script, as JSON lines."""
        if not self.has_feed:
            return web.json_response({"error": "not found"}, status=404)
        self.feeds_opened += 1
        self.heartbeats_asked.append(request.query.get("heartbeat", ""))
        script = self.feeds.pop(0) if self.feeds else [Hang()]
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for step in script:
            if isinstance(step, dict):
                await response.write(line(step))
            elif isinstance(step, bytes):
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


@asynccontextmanager
async def serve(nvr: FakeNvr) -> AsyncIterator[FakeNvr]:
    """Run `nvr` on 127.0.0.1 on a free port until the caller is done with it."""
    runner = web.AppRunner(nvr.app(), shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    nvr.port = runner.addresses[0][1]
    try:
        yield nvr
    finally:
        nvr.done.set()
        await runner.cleanup()


def camera_record(**fields: Any) -> CameraRecord:
    """A camera of the NVR as the hub's registry gives it to the vendor."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": "lobby-utara",
        "name": "Lobby Utara",
        "owner": "sunrise-mall",
        "site": None,
        "vendor": "sunrise_mall",
        "url": None,
        "host": "10.40.0.2",
        "port": None,
        "username": USERNAME,
        "has_password": True,
        "lat": None,
        "lon": None,
        "tags": (),
        "enabled": True,
        "options": {"channel": 1},
        "source": CameraSource.CONFIG,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    return CameraRecord(**values)
