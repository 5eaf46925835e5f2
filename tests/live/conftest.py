"""A running hub with streaming sim cameras (privacy masks on), a user of every role, and a
sharing policy the tests can switch; and a reader of the MJPEG stream it sends."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.access import Accounts, Role
from hub.config import Config
from hub.runtime import Hub
from hub.sharing import Decision, Level, Use
from hub.web import build_app
from hub.web.auth import TOKEN_FILE
from hub.web.live import BOUNDARY
from plugins.sim.camera import SimVendor
from plugins.sim.render import render_scene
from tests.streams.test_privacy import WINDOW
from tests.test_running import free_port
from tests.web.conftest import PASSWORD, USERS, Site

SCENE: dict[str, Any] = {"width": 320, "height": 180, "fps": 10, "duration": 4, "seed": 1}
"""A small, short quiet park: cheap to render, decode and look at."""
WHOLE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
CAMERA_OPTIONS: dict[str, Any] = {
    **SCENE,
    "privacy_masks": [WINDOW],
    # motion ignored everywhere and no activity episodes: only a viewer makes the camera decode
    "masks": [WHOLE],
    "activity": {"warmup": 3600},
}


class SharingSwitch:
    """A sharing policy the test flips: allowed until `until` (if set) while `allowed` holds."""

    def __init__(self) -> None:
        self.allowed = True
        self.until: datetime | None = None
        self.asked = 0

    async def decide(
        self, camera: Any, use: Use, *, owner: str | None = None, at: datetime | None = None
    ) -> Decision:
        self.asked += 1
        now = at or datetime.now(UTC)
        if self.allowed and (self.until is None or now < self.until):
            return Decision(True, "the test shares everything", Level.LIVE, until=self.until)
        return Decision(False, "Sunrise Mall revoked live sharing", Level.SNAPSHOTS)

    async def levels(self, cameras: Any) -> dict[str, Level]:
        return {camera.id: Level.LIVE for camera in cameras}


@pytest.fixture(scope="session")
def park_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sim scene rendered once for the session; each hub gets a copy in its cache."""
    out = tmp_path_factory.mktemp("sim") / "park.mp4"
    render_scene("quiet_park", out=out, **SCENE)
    return out


def city(data_dir: Path, port: int, **streams: Any) -> Config:
    sim = {"vendor": "sim", "url": "sim://quiet_park", "options": CAMERA_OPTIONS}
    return Config.model_validate(
        {
            "hub": {
                "data_dir": str(data_dir),
                "streams": {"keyframe_interval": 1.0, "ring": "memory", **streams},
                "web": {"host": "127.0.0.1", "port": port},
            },
            "owners": [
                {"id": "dlh", "name": "Dinas Lingkungan Hidup", "kind": "opd"},
                {"id": "sunrise", "name": "Sunrise Mall", "kind": "private"},
            ],
            "cameras": [
                {"id": "taman", "name": "Taman Bandeng", "owner": "dlh", **sim},
                {"id": "mall-lobi", "name": "Lobi Sunrise Mall", "owner": "sunrise", **sim},
                {"id": "mati", "name": "Kamera mati", "owner": "dlh", "enabled": False, **sim},
            ],
        }
    )


@pytest.fixture
async def live_site(tmp_path: Path, park_video: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start a hub (stream settings as keywords) whose cameras stream; stopped after."""
    running: list[tuple[web.AppRunner, Site, Any]] = []

    async def start(*roles: Role, **streams: Any) -> Site:
        """A hub with a user of each of `roles` (operator and admin by default)."""
        data_dir = tmp_path / f"var{len(running)}"
        cached = SimVendor().cache_path(CAMERA_OPTIONS | {"scene": "quiet_park"}, data_dir)
        cached.parent.mkdir(parents=True)
        shutil.copyfile(park_video, cached)
        port = free_port()
        hub = Hub(city(data_dir, port, **streams))
        app = build_app(hub)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        token = (data_dir / TOKEN_FILE).read_text(encoding="ascii").strip()
        accounts = Accounts(hub.db)
        site = Site(hub, app, f"http://127.0.0.1:{port}", token, accounts)
        running.append((runner, site, hub.sharing))
        # only the users a test signs in as: each password hash costs a fraction of a second
        ties: dict[Role, dict[str, str]] = {Role.OWNER: {"owner": "sunrise"}}
        await asyncio.gather(
            *(
                accounts.users.add(USERS[role], role, PASSWORD, **ties.get(role, {}))
                for role in roles or (Role.OPERATOR, Role.ADMIN)
            )
        )
        await streaming(hub, "taman", "mall-lobi")
        return site

    try:
        yield start
    finally:
        for runner, site, policy in running:
            site.hub.sharing = policy  # the hub stops the policy it started
            for session in site.sessions:
                await session.close()
            await runner.cleanup()


async def streaming(hub: Hub, *camera_ids: str, within: float = 20.0) -> None:
    """Wait until each camera's stream is open."""
    deadline = time.monotonic() + within
    for camera_id in camera_ids:
        while True:
            streams = hub.streams
            assert streams is not None
            worker = streams.workers.get(camera_id)
            if worker is not None and worker.info is not None:
                break
            assert time.monotonic() < deadline, f"camera {camera_id} did not start streaming"
            await asyncio.sleep(0.05)


async def next_picture(answer: aiohttp.ClientResponse) -> bytes | None:
    """The next JPEG of an MJPEG answer; None when the stream ended (cleanly or cut)."""
    content = answer.content
    try:
        line = await content.readline()
        while line in (b"\r\n", b"\n"):
            line = await content.readline()
        if not line or line.strip() == f"--{BOUNDARY}--".encode():
            return None
        assert line.strip() == f"--{BOUNDARY}".encode(), line
        headers: dict[str, str] = {}
        while (header := await content.readline()) not in (b"\r\n", b""):
            name, _, value = header.decode("ascii").partition(":")
            headers[name.strip().lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        return await content.readexactly(int(headers["content-length"]))
    except (aiohttp.ClientPayloadError, asyncio.IncompleteReadError, ConnectionError):
        return None
