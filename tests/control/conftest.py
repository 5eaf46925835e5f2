"""A running hub whose cameras include a PTZ dome (a local ISAPI device) and a plain RTSP one."""

from __future__ import annotations

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
from hub.web.auth import TOKEN_FILE
from tests.plugins.hikvision.device import PASSWORD, USERNAME, FakeDevice, camera_answers, serve
from tests.test_running import free_port
from tests.web.conftest import PASSWORD as USER_PASSWORD
from tests.web.conftest import USERS, Site


def dome(camera_id: str, name: str, owner: str, port: int, password: str) -> dict[str, Any]:
    """A Hikvision PTZ camera at 127.0.0.1:`port` (device events off: PTZ is what is tested)."""
    return {
        "id": camera_id,
        "name": name,
        "owner": owner,
        "vendor": "hikvision",
        "host": "127.0.0.1",
        "port": port,
        "username": USERNAME,
        "password": password,
        "options": {"events": False},
    }


def city(tmp_path: Path, web_port: int, device_port: int) -> Config:
    return Config.model_validate(
        {
            "hub": {
                "data_dir": str(tmp_path / "var"),
                "streams": {"enabled": False},
                "web": {"host": "127.0.0.1", "port": web_port},
            },
            "owners": [
                {"id": "dishub", "name": "Dinas Perhubungan", "kind": "opd"},
                {"id": "sunrise", "name": "Sunrise Mall", "kind": "private"},
            ],
            "cameras": [
                dome("simpang-ptz", "Simpang Empat PTZ", "dishub", device_port, PASSWORD),
                dome("parkir-ptz", "Parkir Sunrise PTZ", "sunrise", device_port, PASSWORD),
                dome("salah-sandi", "Kubah Salah Sandi", "dishub", device_port, "Bukan-Sandi-1"),
                dome("mati", "Kubah Mati", "dishub", free_port(), PASSWORD),
                {
                    "id": "lobi",
                    "name": "Lobi Sunrise",
                    "owner": "sunrise",
                    "url": "rtsp://127.0.0.1:9/lobby",
                },
            ],
        }
    )


@pytest.fixture
async def device() -> AsyncIterator[FakeDevice]:
    """A PTZ dome on a local port: it records every PUT it gets."""
    async with serve(camera_answers(FakeDevice())) as running:
        yield running


@pytest.fixture
async def site(tmp_path: Path, device: FakeDevice) -> AsyncIterator[Site]:
    """The hub, with the web tests' operator, owner (of sunrise) and viewer."""
    port = free_port()
    hub = Hub(city(tmp_path, port, device.port))
    app = build_app(hub)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    token = (tmp_path / "var" / TOKEN_FILE).read_text(encoding="ascii").strip()
    accounts = Accounts(hub.db)
    running = Site(hub, app, f"http://127.0.0.1:{port}", token, accounts)
    for role in (Role.OPERATOR, Role.OWNER, Role.VIEWER):
        ties = {"owner": "sunrise"} if role is Role.OWNER else {}
        await accounts.users.add(USERS[role], role, USER_PASSWORD, **ties)
    try:
        yield running
    finally:
        for session in running.sessions:
            await session.close()
        await runner.cleanup()


async def bearer(site: Site, role: Role, *scopes: str) -> aiohttp.ClientSession:
    """A client calling with a new API token of the test user of `role`."""
    token = await site.token(role, *scopes)
    return await site.client(Authorization=f"Bearer {token}")
