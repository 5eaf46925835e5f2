"""A running hub watching two cameras served by GStreamer's RTSP server (the streams tests'):
Dishub's street camera, masked, and Sunrise Mall's lobby; an admin, an operator and the mall's
user, each signed in."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.access import Accounts, Role
from hub.config import Config
from hub.runtime import Hub
from hub.web import build_app
from tests.streams.conftest import RtspTestServer, rtsp_server
from tests.test_running import free_port
from tests.web.conftest import PASSWORD

__all__ = ["City", "city", "rtsp_server"]

SQUARE = [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]
"""The middle quarter of the street camera's 320x240 picture: x 80-240, y 60-180."""
USERS = {
    "ana": (Role.ADMIN, None),
    "sari": (Role.OPERATOR, None),
    "mall-it": (Role.OWNER, "sunrise"),
}


class City:
    """A running hub with the street camera of Dishub (masked) and Sunrise Mall's lobby."""

    def __init__(self, hub: Hub, base: str) -> None:
        self.hub = hub
        self.base = base
        self.clients: dict[str, aiohttp.ClientSession] = {}

    async def sign_in(self, name: str) -> None:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.clients[name] = http
        body = {"name": name, "password": PASSWORD}
        async with http.post(self.base + "/api/login", json=body) as answer:
            assert answer.status == 200, await answer.text()

    async def call(
        self, name: str, method: str, path: str, **options: Any
    ) -> tuple[int, Any, dict[str, str]]:
        async with self.clients[name].request(method, self.base + path, **options) as answer:
            raw = await answer.read()
            kind = answer.headers.get("Content-Type", "")
            body = json.loads(raw) if kind.startswith("application/json") else raw
            return answer.status, body, dict(answer.headers)

    async def ready(self, name: str, clip_id: str) -> dict[str, Any]:
        """The clip once it is no longer being cut."""
        async with asyncio.timeout(30):
            while True:
                status, clip, _ = await self.call(name, "GET", f"/api/clips/{clip_id}")
                assert status == 200, clip
                if clip["state"] != "cutting":
                    return dict(clip)
                await asyncio.sleep(0.3)


@pytest.fixture
async def city(rtsp_server: RtspTestServer, tmp_path: Path) -> AsyncIterator[City]:
    street = rtsp_server.add_mount(
        "clips-street", "testsrc", pattern="smpte", width=320, height=240, fps=15, gop=1
    )
    lobby = rtsp_server.add_mount("clips-lobby", "testsrc", width=320, height=240, fps=15, gop=1)
    port = free_port()
    config = Config.model_validate(
        {
            "hub": {
                "data_dir": str(tmp_path / "var"),
                "web": {"host": "127.0.0.1", "port": port},
                "streams": {"keyframe_interval": 1.0, "pre_roll": 3.0},
                "sharing": {"default_opd": "live", "default_private": "registry"},
            },
            "owners": [
                {"id": "dishub", "name": "Dishub", "kind": "opd"},
                {"id": "sunrise", "name": "Sunrise Mall", "kind": "private"},
            ],
            "cameras": [
                {
                    "id": "simpang",
                    "name": "Simpang Lima",
                    "owner": "dishub",
                    "url": street,
                    "options": {"privacy_masks": [SQUARE]},
                },
                {"id": "mall-lobi", "name": "Lobi", "owner": "sunrise", "url": lobby},
            ],
        }
    )
    hub = Hub(config)
    runner = web.AppRunner(build_app(hub), shutdown_timeout=1.0)
    await runner.setup()
    city = City(hub, f"http://127.0.0.1:{port}")
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        accounts = Accounts(hub.db)
        for name, (role, owner) in USERS.items():
            await accounts.users.add(name, role, PASSWORD, owner=owner)
            await city.sign_in(name)
        engine = hub.streams
        assert engine is not None
        async with asyncio.timeout(20):  # both cameras' keyframes reach the pre-roll
            while not all(map(engine.snapshot, ("simpang", "mall-lobi"))):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        yield city
    finally:
        for http in city.clients.values():
            await http.close()
        await runner.cleanup()
        rtsp_server.remove_mount("clips-street")
        rtsp_server.remove_mount("clips-lobby")
