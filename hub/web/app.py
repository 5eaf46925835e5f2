"""The aiohttp application: core API routes, plugin routes, and the hub's lifecycle."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from hub.runtime import Hub
from hub.web.auth import Access, Guard, admin_token, guard_key, needs
from hub.web.incidents import add_incident_routes
from hub.web.keys import hub_key

log = logging.getLogger(__name__)

_dumps = functools.partial(json.dumps, default=str)


def json_answer(data: Any, status: int = 200) -> web.Response:
    """A JSON response; datetimes and other plain values are written as text."""
    return web.json_response(data, status=status, dumps=_dumps)


@needs(Access.PUBLIC)
async def health(request: web.Request) -> web.Response:
    """`GET /api/health`: whether the hub is well, for monitors and load balancers."""
    return json_answer(await request.app[hub_key].health())


@needs(Access.PUBLIC)
async def plugins(request: web.Request) -> web.Response:
    """`GET /api/plugins`: every plugin with kind, version, source, state and failure reason."""
    records = request.app[hub_key].plugins.all_records()
    return json_answer({"plugins": [r.as_dict() for r in records]})


@needs(Access.PUBLIC)
async def cameras(request: web.Request) -> web.Response:
    """`GET /api/cameras`: the registry with each camera's health, without credentials."""
    hub = request.app[hub_key]
    items = await hub.registry.list_cameras()
    health = hub.streams.health() if hub.streams is not None else {}
    answer = []
    for camera in items:
        doc = camera.as_dict()
        doc["health"] = health.get(camera.id, "unwatched")
        answer.append(doc)
    return json_answer({"cameras": answer})


@needs(Access.PUBLIC)
async def snapshot(request: web.Request) -> web.Response:
    """`GET /api/cameras/{id}/snapshot`: the latest keyframe as JPEG, from the cache."""
    hub = request.app[hub_key]
    camera_id = request.match_info["camera_id"]
    shot = hub.streams.snapshot(camera_id) if hub.streams is not None else None
    if shot is None:
        return json_answer({"error": f"no snapshot of camera {camera_id!r} yet"}, status=404)
    age = max(0.0, time.time() - shot.at)
    return web.Response(
        body=shot.jpeg,
        content_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Snapshot-Age": f"{age:.1f}"},
    )


def build_app(hub: Hub) -> web.Application:
    """The application for `hub`; starting it starts the hub, cleaning it up stops the hub."""
    hub.load_plugins()
    app = web.Application()
    app[hub_key] = hub
    app[guard_key] = Guard(admin_token(hub.data_dir))
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/plugins", plugins)
    app.router.add_get("/api/cameras", cameras)
    app.router.add_get("/api/cameras/{camera_id}/snapshot", snapshot)
    add_incident_routes(app)
    for route in hub.plugins.web_routes:
        app.router.add_route(route.method, route.path, route.handler)
    app.cleanup_ctx.append(_hub_lifecycle)
    return app


async def _hub_lifecycle(app: web.Application) -> AsyncIterator[None]:
    hub = app[hub_key]
    await hub.start()
    try:
        yield
    finally:
        await hub.stop()


async def serve(hub: Hub, stop: asyncio.Event | None = None) -> None:
    """Serve the hub until SIGINT or SIGTERM (or `stop` is set), then shut down cleanly."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    settings = hub.config.hub
    runner = web.AppRunner(
        build_app(hub), handle_signals=False, shutdown_timeout=min(2.0, settings.shutdown_timeout)
    )
    try:
        await runner.setup()
        site = web.TCPSite(runner, settings.web.host, settings.web.port)
        await site.start()
        log.info("serving on http://%s:%d", settings.web.host, settings.web.port)
        await stop.wait()
        log.info("stopping")
    finally:
        await runner.cleanup()
        for sig in signals:
            loop.remove_signal_handler(sig)
