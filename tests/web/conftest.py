"""A running hub on a real port with a real store, a user of every role, and a plugin's routes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.access import Accounts, Role
from hub.config import Config
from hub.events import Event
from hub.runtime import Hub
from hub.web import build_app
from hub.web.auth import TOKEN_FILE
from tests.incidents.receivers import WebhookReceiver
from tests.plugin_kit import write_plugin
from tests.secret_scan import register_secret
from tests.test_running import free_port

PASSWORD = "Kata-Sandi-Rahasia-2026"
"""Every test user's password: tests check that it never shows up in a log or an answer."""

USERS = {
    Role.ADMIN: "ana",
    Role.OPERATOR: "sari",
    Role.RESPONDER: "budi",
    Role.OWNER: "mall-it",
    Role.VIEWER: "bupati",
}
"""One user of each role: budi answers for Damkar, mall-it for the Sunrise Mall."""

PROBE_PLUGIN = """
from aiohttp import web

from hub import hookimpl
from hub.web.auth import Access, needs


async def status(request):
    return web.json_response({"plugin": "walk_probe"})


@needs(Access.INGEST)
async def events(request):
    return web.json_response({"taken": True})


@needs(Access.PUBLIC)
async def hello(request):
    return web.json_response({"hello": True})


@hookimpl
def register_web_routes(register):
    register("GET", "/status", status)  # declares nothing: needs hub:read
    register("POST", "/events", events)
    register("GET", "/hello", hello)
"""


def city(tmp_path: Path, receiver: WebhookReceiver, port: int, **web_settings: Any) -> Config:
    plugin_dir = tmp_path / "custom"
    write_plugin(plugin_dir, "walk_probe", PROBE_PLUGIN)
    return Config.model_validate(
        {
            "hub": {
                "data_dir": str(tmp_path / "var"),
                "plugin_dir": str(plugin_dir),
                "streams": {"enabled": False},
                "web": {"host": "127.0.0.1", "port": port, **web_settings},
            },
            "owners": [
                {"id": "dlh", "name": "Dinas Lingkungan Hidup", "kind": "opd"},
                {"id": "sunrise", "name": "Sunrise Mall", "kind": "private"},
            ],
            "cameras": [
                {
                    "id": "tpa-gerbang",
                    "name": "Gerbang TPA",
                    "owner": "dlh",
                    "url": "rtsp://127.0.0.1:9/live",
                },
                {
                    "id": "mall-lobi",
                    "name": "Lobi Sunrise Mall",
                    "owner": "sunrise",
                    "url": "rtsp://127.0.0.1:9/lobby",
                },
            ],
            "responders": [
                {"id": "damkar", "name": "Damkar", "channels": [receiver.url("json", "damkar")]},
                {
                    "id": "satpol-pp",
                    "name": "Satpol PP",
                    "channels": [receiver.url("json", "satpol")],
                },
            ],
            "rules": [
                {
                    "id": "api-gerbang",
                    "events": ["motion.*"],
                    "zones": ["gate"],
                    "title": "Api di {zone}",
                    "responders": ["damkar"],
                },
                {
                    "id": "gerak-lobi",
                    "events": ["motion.*"],
                    "zones": ["lobby"],
                    "title": "Gerak di {zone}",
                    "responders": ["satpol-pp"],
                },
            ],
        }
    )


@dataclass
class Site:
    """A running hub and the ways to call it."""

    hub: Hub
    app: web.Application
    base: str
    admin_token: str
    accounts: Accounts
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    async def client(self, **headers: str) -> aiohttp.ClientSession:
        """A client that keeps cookies (also from 127.0.0.1), closed after the test."""
        session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers or None
        )
        self.sessions.append(session)
        return session

    async def signed_in(self, role: Role) -> aiohttp.ClientSession:
        """A client signed in as the test user of `role`."""
        http = await self.client()
        body = {"name": USERS[role], "password": PASSWORD}
        async with http.post(self.url("/api/login"), json=body) as answer:
            assert answer.status == 200, await answer.text()
        return http

    async def token(self, role: Role, *scopes: str, **options: Any) -> str:
        """A new API token of the test user of `role`."""
        _, secret = await self.accounts.tokens.create(USERS[role], scopes, **options)
        return register_secret(secret)

    async def incident(self, zone: str) -> str:
        """Raise an incident by motion in `zone` (gate: Damkar's, lobby: Satpol PP's); its id."""
        seen: asyncio.Queue[Event] = asyncio.Queue()
        subscription = self.hub.bus.subscribe("incident.triggered", seen.put, name="test:seen")
        try:
            event = Event(type="motion.start", camera_id="tpa-gerbang", data={"zone": zone})
            await self.hub.bus.publish(event)
            async with asyncio.timeout(10):
                opened = await seen.get()
        finally:
            await subscription.cancel()
        return str(opened.data["incident_id"])


StartSite = Callable[..., Any]


@pytest.fixture
async def start_site(
    tmp_path: Path, receiver: WebhookReceiver
) -> AsyncIterator[Callable[..., Any]]:
    """Start a hub (web settings as keywords) with one user of each role; stopped after."""
    running: list[tuple[web.AppRunner, Site]] = []

    async def start(**web_settings: Any) -> Site:
        port = free_port()
        hub = Hub(city(tmp_path, receiver, port, **web_settings))
        app = build_app(hub)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        token = register_secret((tmp_path / "var" / TOKEN_FILE).read_text("ascii").strip())
        accounts = Accounts(hub.db)
        site = Site(hub, app, f"http://127.0.0.1:{port}", token, accounts)
        running.append((runner, site))
        for role, name in USERS.items():
            ties = {"owner": "sunrise"} if role is Role.OWNER else {}
            if role is Role.RESPONDER:
                ties = {"responder": "damkar"}
            await accounts.users.add(name, role, PASSWORD, **ties)
        return site

    try:
        yield start
    finally:
        for runner, site in running:
            for session in site.sessions:
                await session.close()
            await runner.cleanup()


@pytest.fixture
async def site(start_site: Callable[..., Any]) -> Site:
    """The hub of the tests, on http://127.0.0.1."""
    started: Site = await start_site()
    return started


def dumps(data: Any) -> str:
    return json.dumps(data, default=str)
