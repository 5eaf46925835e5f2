"""The aiohttp application: core API routes, plugin routes, and the hub's lifecycle."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator
from typing import cast

from aiohttp import web

from hub.access import Accounts
from hub.audit import Action
from hub.runtime import Hub
from hub.sharing import Use
from hub.web.answers import answer, error_answer
from hub.web.audit import add_audit_routes, record_view
from hub.web.auth import (
    ACCESS_ATTRIBUTE,
    PLUGIN_DEFAULT,
    Access,
    Guard,
    Handler,
    admin_token,
    guard_key,
    needs,
    principal_of,
)
from hub.web.clips import add_clip_routes
from hub.web.control import add_control_routes
from hub.web.incidents import add_incident_routes
from hub.web.ingest import add_ingest_routes
from hub.web.keys import hub_key
from hub.web.live import add_live_routes
from hub.web.login import add_login_routes
from hub.web.masks import add_mask_routes
from hub.web.onboarding import add_onboarding_routes
from hub.web.pages import add_page_routes
from hub.web.sharing import add_sharing_routes

log = logging.getLogger(__name__)


@needs(Access.PUBLIC)
async def health(request: web.Request) -> web.Response:
    """`GET /api/health`: whether the hub is well, for monitors and load balancers."""
    return answer(await request.app[hub_key].health())


@needs(Access.HUB_READ)
async def plugins(request: web.Request) -> web.Response:
    """`GET /api/plugins`: every plugin with kind, version, source, state and failure reason."""
    records = request.app[hub_key].plugins.all_records()
    return answer({"plugins": [r.as_dict() for r in records]})


@needs(Access.CAMERAS_READ)
async def cameras(request: web.Request) -> web.Response:
    """`GET /api/cameras`: the registry with each camera's health, without credentials."""
    hub = request.app[hub_key]
    # An owner's user sees its owner's cameras; everyone else who may read cameras sees all.
    items = await hub.registry.list_cameras(owner=principal_of(request).owner)
    health = hub.streams.health() if hub.streams is not None else {}
    levels = await hub.sharing.levels(items)  # what each shares with the command center now
    shown = []
    for camera in items:
        doc = camera.as_dict()
        doc["health"] = health.get(camera.id, "unwatched")
        doc["sharing"] = levels[camera.id].value
        shown.append(doc)
    return answer({"cameras": shown})


@needs(Access.CAMERAS_READ)
async def snapshot(request: web.Request) -> web.Response:
    """`GET /api/cameras/{id}/snapshot`: the latest keyframe as JPEG, from the cache."""
    hub = request.app[hub_key]
    camera_id = request.match_info["camera_id"]
    owner = principal_of(request).owner
    camera = await hub.registry.get_camera(camera_id)
    if owner is not None and (camera is None or camera.owner != owner):
        # Another owner's camera looks like no camera: its id tells nothing either.
        return error_answer(404, f"{owner} has no camera {camera_id!r}")
    if camera is None:
        return error_answer(404, f"no camera {camera_id!r}")
    decision = await hub.sharing.decide(camera, Use.SNAPSHOT, owner=owner)
    if not decision.allowed:  # the camera is on the map; its pictures are not shared
        return error_answer(403, decision.reason, fields={"sharing": decision.level.value})
    shot = hub.streams.snapshot(camera_id) if hub.streams is not None else None
    if shot is None:
        return error_answer(404, f"no snapshot of camera {camera_id!r} yet")
    # recorded before the picture goes out: a store that cannot record shows nothing
    await record_view(request, Action.SNAPSHOT_VIEW, camera)
    age = max(0.0, time.time() - shot.at)
    return web.Response(
        body=shot.jpeg,
        content_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Snapshot-Age": f"{age:.1f}"},
    )


def build_app(hub: Hub) -> web.Application:
    """The application for `hub`; starting it starts the hub, cleaning it up stops the hub."""
    hub.load_plugins()
    app = web.Application(middlewares=[_declared_routes_only])
    app[hub_key] = hub
    app[guard_key] = Guard(
        admin_token(hub.data_dir),
        Accounts(hub.db),
        hub.bus,
        public_url=hub.config.hub.web.public_url,
    )
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/plugins", plugins)
    app.router.add_get("/api/cameras", cameras)
    app.router.add_get("/api/cameras/{camera_id}/snapshot", snapshot)
    add_login_routes(app)
    add_onboarding_routes(app)
    add_incident_routes(app)
    add_ingest_routes(app)
    add_control_routes(app)
    add_audit_routes(app)
    add_sharing_routes(app)
    add_clip_routes(app)
    add_live_routes(app)
    add_mask_routes(app)
    add_page_routes(app)
    for route in hub.plugins.web_routes:
        handler = cast(Handler, route.handler)
        if not hasattr(handler, ACCESS_ATTRIBUTE):
            handler = needs(PLUGIN_DEFAULT)(handler)
        app.router.add_route(route.method, route.path, handler)
    app.cleanup_ctx.append(_hub_lifecycle)
    return app


@web.middleware
async def _declared_routes_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a route whose handler declares no access: a forgotten `needs` fails closed."""
    match = request.match_info
    if match.http_exception is None and not hasattr(match.handler, ACCESS_ATTRIBUTE):
        log.error("%s %s has no needs(...): refused", request.method, match.route.resource)
        return error_answer(403, "this route declares no access, so nobody may call it")
    return await handler(request)


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
