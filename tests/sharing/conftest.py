"""A running hub on a real port: an agency's and a mall's camera on real footage, a shop's camera,
a responder on a real webhook receiver, and users of the command center and of both businesses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.access import Accounts, Role
from hub.config import Config
from hub.runtime import Hub
from hub.web import build_app
from tests.incidents.receivers import WebhookReceiver
from tests.test_running import free_port

FOOTAGE = Path(__file__).resolve().parents[1] / "fixtures" / "media" / "car-detection.mp4"
PASSWORD = "Kata-Sandi-Bagi-Semua-2026"
USERS = {
    "ana": (Role.ADMIN, None),
    "sari": (Role.OPERATOR, None),
    "mall-it": (Role.OWNER, "sunrise"),
    "toko-it": (Role.OWNER, "toko"),
}


def city(tmp_path: Path, port: int, hook: str) -> Config:
    footage = FOOTAGE.as_uri()
    return Config.model_validate(
        {
            "hub": {
                "data_dir": str(tmp_path / "var"),
                "streams": {"keyframe_interval": 1.0},
                "web": {"host": "127.0.0.1", "port": port},
            },
            "owners": [
                {"id": "dishub", "name": "Dinas Perhubungan", "kind": "opd"},
                {"id": "sunrise", "name": "Sunrise Mall", "kind": "private"},
                {"id": "toko", "name": "Toko Makmur", "kind": "private"},
            ],
            "cameras": [
                {"id": "simpang", "name": "Simpang Empat", "owner": "dishub", "url": footage},
                {"id": "mall-lobi", "name": "Lobi Sunrise", "owner": "sunrise", "url": footage},
                {
                    "id": "toko-kasir",
                    "name": "Kasir Toko",
                    "owner": "toko",
                    "url": "rtsp://127.0.0.1:9/kasir",
                },
            ],
            "responders": [{"id": "satpol-pp", "name": "Satpol PP", "channels": [hook]}],
            "rules": [
                {
                    "id": "gerak-pintu",
                    "events": ["motion.*"],
                    "zones": ["pintu"],  # only the test's events, not the footage's own motion
                    "title": "Gerak di {camera}",
                    "responders": ["satpol-pp"],
                }
            ],
        }
    )


@dataclass
class Site:
    """The running hub and clients of its users."""

    hub: Hub
    base: str
    sessions: dict[str, aiohttp.ClientSession] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    async def as_user(self, name: str) -> aiohttp.ClientSession:
        """A client signed in as `name`."""
        if name not in self.sessions:
            http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            self.sessions[name] = http
            body = {"name": name, "password": PASSWORD}
            async with http.post(self.url("/api/login"), json=body) as answer:
                assert answer.status == 200, await answer.text()
        return self.sessions[name]

    async def call(
        self, name: str, method: str, path: str, body: Any = None
    ) -> tuple[int, dict[str, Any]]:
        """Call the API as `name`; the status and the JSON answer."""
        http = await self.as_user(name)
        async with http.request(method, self.url(path), json=body) as answer:
            return answer.status, await answer.json()

    async def snapshot(self, name: str, camera_id: str) -> tuple[int, bytes]:
        """The snapshot of `camera_id` as `name` sees it, once the camera has one."""
        http = await self.as_user(name)
        async with http.get(self.url(f"/api/cameras/{camera_id}/snapshot")) as answer:
            return answer.status, await answer.read()

    async def pictures_ready(self, *camera_ids: str) -> None:
        """Until the keyframe cache holds a picture of each camera."""
        streams = self.hub.streams
        assert streams is not None
        async with asyncio.timeout(30):
            for camera_id in camera_ids:
                while streams.snapshot(camera_id) is None:  # noqa: ASYNC110 - polled cache
                    await asyncio.sleep(0.1)


@pytest.fixture
async def site(tmp_path: Path, receiver: WebhookReceiver) -> AsyncIterator[Site]:
    port = free_port()
    hub = Hub(city(tmp_path, port, receiver.url("json", "satpol")))
    runner = web.AppRunner(build_app(hub), shutdown_timeout=1.0)
    await runner.setup()
    running = Site(hub, f"http://127.0.0.1:{port}")
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        accounts = Accounts(hub.db)
        for name, (role, owner) in USERS.items():
            ties = {"owner": owner} if owner else {}
            await accounts.users.add(name, role, PASSWORD, **ties)
        yield running
    finally:
        for http in running.sessions.values():
            await http.close()
        await runner.cleanup()
