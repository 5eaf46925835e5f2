"""A real Chromium (Debian's) driven by Playwright, and hubs for the pages to run against.

The hub runs in the test's event loop; the browser runs in a thread of its own with its own
loop, started once per module, so each test only opens a fresh browser context (cookies apart).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from hub.access import Accounts, Role
from hub.config import Config
from hub.runtime import Hub
from hub.web import build_app
from hub.web.auth import TOKEN_FILE
from tests.incidents.receivers import WebhookReceiver
from tests.test_running import free_port
from tests.web.conftest import PASSWORD, USERS, Site, city, site, start_site

__all__ = ["BrowserThread", "site", "start_site"]  # the web tests' hub, for the pages' tests

CHROMIUM = Path("/usr/bin/chromium")
T = TypeVar("T")

try:
    from playwright.async_api import Browser, Page, async_playwright
except ImportError:  # pragma: no cover - the skip below says what to install
    async_playwright = None  # type: ignore[assignment]


class BrowserThread:
    """Chromium in a thread with its own event loop; `run(steps)` runs `steps(page)` there."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._playwright: Any = None
        self._browser: Browser | None = None
        self._call(self._start()).result(timeout=60)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    async def _start(self) -> None:
        assert async_playwright is not None
        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )

    async def _session(self, steps: Callable[[Page], Awaitable[T]]) -> T:
        assert self._browser is not None
        context = await self._browser.new_context(locale="id-ID")
        context.set_default_timeout(10_000)
        try:
            page = await context.new_page()
            return await steps(page)
        finally:
            await context.close()

    async def run(self, steps: Callable[[Page], Awaitable[T]]) -> T:
        """Run `steps` with a new page in a new context, without blocking the hub's loop."""
        return await asyncio.wrap_future(self._call(self._session(steps)))

    def close(self) -> None:
        async def stop() -> None:
            if self._browser is not None:
                await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()

        self._call(stop()).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    """One Chromium for the module; skipped (with what to install) where it is missing."""
    if async_playwright is None:
        pytest.skip("playwright is not installed: .venv/bin/pip install playwright")
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip("Debian's chromium is not installed: apt-get install chromium")
    running = BrowserThread()
    try:
        yield running
    finally:
        running.close()


def watched_city(tmp_path: Path, receiver: WebhookReceiver, port: int) -> Config:
    """The web tests' city with the stream engine on and a sim camera that streams.

    Both of the city's own cameras point at a closed port (offline); the sim camera renders a
    short, small scene, so it is online within seconds.
    """
    data = city(tmp_path, receiver, port).model_dump(mode="python")
    data["hub"]["streams"]["enabled"] = True
    positions = {"tpa-gerbang": (-7.4705, 112.4401), "mall-lobi": (-7.4722, 112.4334)}
    for camera in data["cameras"]:
        camera["lat"], camera["lon"] = positions[camera["id"]]
    data["cameras"].append(
        {
            "id": "alun-alun",
            "name": "Alun-alun",
            "owner": "dlh",
            "vendor": "sim",
            "url": "sim://quiet_park",
            "lat": -7.4725,
            "lon": 112.4381,
            "options": {"width": 160, "height": 96, "fps": 5, "duration": 4},
        }
    )
    return Config.model_validate(data)


@pytest.fixture
async def watched_site(tmp_path: Path, receiver: WebhookReceiver) -> AsyncIterator[Site]:
    """A running hub that watches its cameras, with the web tests' operator."""
    port = free_port()
    hub = Hub(watched_city(tmp_path, receiver, port))
    app = build_app(hub)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        token = (tmp_path / "var" / TOKEN_FILE).read_text(encoding="ascii").strip()
        accounts = Accounts(hub.db)
        # the map's test signs in as the operator only: one password hash, not five
        await accounts.users.add(USERS[Role.OPERATOR], Role.OPERATOR, PASSWORD)
        site = Site(hub, app, f"http://127.0.0.1:{port}", token, accounts)
        yield site
        for session in site.sessions:
            await session.close()
    finally:
        await runner.cleanup()
