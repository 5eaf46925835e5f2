"""Moving cameras through the hub: PTZ moves and presets, each move audited before it is sent.

`POST /api/cameras/{camera_id}/ptz` moves a camera (`{pan, tilt, zoom, seconds}`) or sends it
to a preset (`{preset}`); `GET /api/cameras/{camera_id}/presets` lists its presets. Both go
through the camera's vendor plugin (a `DeviceVendor`), on a device session that the hub keeps
open while a timed move runs, so that the plugin can stop the move when its time is up.

A move is not a picture, but an owner who shares only the registry has not let the command
center steer its camera: a move needs what a live view needs from the sharing agreement.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.audit import Action, Actor
from hub.registry import CameraRecord
from hub.runtime import Hub
from hub.sharing import Use
from hub.vendors import (
    AuthenticationFailed,
    CameraAccess,
    DeviceSession,
    DeviceVendor,
    PtzMove,
    Unsupported,
    VendorError,
)
from hub.web.answers import answer, error_answer
from hub.web.audit import purpose_of
from hub.web.auth import Access, needs, principal_of
from hub.web.keys import hub_key

log = logging.getLogger(__name__)

MAX_SECONDS = 10.0
"""The longest a single move may run; the device stops it then, whatever the client does."""
LINGER = 2.0
"""Seconds a device session stays open after its last timed move ended, for the next one."""
REQUEST_TIMEOUT = 10.0
"""Seconds for one request to the device."""


class PtzRequest(BaseModel):
    """A move (`pan`, `tilt`, `zoom` for `seconds`) or a preset to go to; all zero stops."""

    model_config = ConfigDict(extra="forbid")

    pan: float = Field(0.0, ge=-1.0, le=1.0)
    tilt: float = Field(0.0, ge=-1.0, le=1.0)
    zoom: float = Field(0.0, ge=-1.0, le=1.0)
    seconds: float = Field(1.0, gt=0.0, le=MAX_SECONDS)
    preset: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_kind(self) -> PtzRequest:
        moving = self.pan or self.tilt or self.zoom
        if self.preset is not None and moving:
            raise ValueError("give either a preset or pan/tilt/zoom, not both")
        return self

    def move(self) -> PtzMove:
        """The vendor-neutral command."""
        if self.preset is not None:
            return PtzMove("goto_preset", preset=self.preset.strip())
        if not (self.pan or self.tilt or self.zoom):
            return PtzMove("stop")
        return PtzMove(
            "continuous", pan=self.pan, tilt=self.tilt, zoom=self.zoom, timeout=self.seconds
        )

    def details(self) -> dict[str, Any]:
        """What the audit record keeps of the move."""
        if self.preset is not None:
            return {"move": "preset", "preset": self.preset}
        if not (self.pan or self.tilt or self.zoom):
            return {"move": "stop"}
        return {
            "move": "continuous",
            "pan": self.pan,
            "tilt": self.tilt,
            "zoom": self.zoom,
            "seconds": self.seconds,
        }


@dataclass
class _Open:
    session: DeviceSession
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    until: float = 0.0
    """When (loop time) the session may close: the end of its last move, and a little more."""
    closing: asyncio.TimerHandle | None = None


class PtzSessions:
    """One device session per moving camera, closed a little after its last move ended.

    Plugins stop a timed move from a task on their session; closing it at once would cancel
    that stop and leave the camera turning. A new move on the same camera reuses the session,
    so that an earlier move's stop cannot cut the new one short.
    """

    def __init__(self) -> None:
        self._open: dict[str, _Open] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def take(self, camera: CameraRecord, vendor: DeviceVendor, password: str | None) -> _Open:
        """The camera's session, opened if needed (connecting does no I/O); kept open."""
        entry = self._open.get(camera.id)
        if entry is None:
            access = CameraAccess.of(camera, password, timeout=REQUEST_TIMEOUT)
            entry = self._open[camera.id] = _Open(vendor.connect(access))
        if entry.closing is not None:
            entry.closing.cancel()
            entry.closing = None
        return entry

    def release(self, camera_id: str, entry: _Open, keep: float) -> None:
        """Close the camera's session `keep` seconds from now (or later), unless used again."""
        if self._open.get(camera_id) is not entry:
            return
        loop = asyncio.get_running_loop()
        entry.until = max(entry.until, loop.time() + keep)
        if entry.closing is not None:
            entry.closing.cancel()
        entry.closing = loop.call_at(entry.until, self._close_soon, camera_id, entry)

    def _close_soon(self, camera_id: str, entry: _Open) -> None:
        if self._open.get(camera_id) is entry:
            del self._open[camera_id]
        task = asyncio.get_running_loop().create_task(_close(entry.session))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Close every session (the hub is stopping)."""
        entries, self._open = list(self._open.values()), {}
        for entry in entries:
            if entry.closing is not None:
                entry.closing.cancel()
        await asyncio.gather(*(_close(entry.session) for entry in entries), *self._closing)


async def _close(session: DeviceSession) -> None:
    try:
        await session.close()
    except Exception:  # a plugin's close failing must not fail the hub's shutdown
        log.warning("closing a PTZ device session failed", exc_info=True)


ptz_sessions_key = web.AppKey("ptz_sessions", PtzSessions)


async def _movable(
    request: web.Request, use_label: str
) -> tuple[Hub, CameraRecord, DeviceVendor] | web.Response:
    """The camera a PTZ request names, its vendor, or the refusal to answer with."""
    hub = request.app[hub_key]
    principal = principal_of(request)
    camera_id = request.match_info["camera_id"]
    camera = await hub.registry.get_camera(camera_id)
    if principal.owner is not None and (camera is None or camera.owner != principal.owner):
        return error_answer(404, f"{principal.owner} has no camera {camera_id!r}")
    if camera is None:
        return error_answer(404, f"no camera {camera_id!r}")
    vendor = hub.vendors.get(camera.vendor)
    if not isinstance(vendor, DeviceVendor):
        return error_answer(
            409,
            f"this camera cannot move: its vendor {camera.vendor!r} does not talk to the "
            "device itself (PTZ needs a device vendor such as hikvision, dahua or onvif)",
        )
    decision = await hub.sharing.decide(camera, Use.LIVE, owner=principal.owner)
    if not decision.allowed:
        return error_answer(
            403,
            f"{use_label} {camera.name!r} is not allowed: its sharing agreement does not "
            f"allow live use now ({decision.reason})",
        )
    return hub, camera, vendor


def _device_error(camera: CameraRecord, exc: VendorError) -> web.Response:
    if isinstance(exc, Unsupported):
        return error_answer(409, f"this camera cannot move: {exc}")
    problem = "refused the credentials" if isinstance(exc, AuthenticationFailed) else "failed"
    log.warning("PTZ on camera %s %s: %s", camera.name, problem, exc, extra={"camera": camera.id})
    return error_answer(502, f"the device of camera {camera.name!r} {problem}: {exc}")


@needs(Access.CAMERAS_CONTROL)
async def move(request: web.Request) -> web.Response:
    """`POST /api/cameras/{id}/ptz`: move for some seconds, stop, or go to a preset."""
    found = await _movable(request, "moving")
    if isinstance(found, web.Response):
        return found
    hub, camera, vendor = found
    try:
        body = await request.json()
    except ValueError:
        return error_answer(400, "send a JSON object: {pan, tilt, zoom, seconds} or {preset}")
    if not isinstance(body, dict):
        return error_answer(400, "send a JSON object: {pan, tilt, zoom, seconds} or {preset}")
    try:
        wanted = PtzRequest.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return error_answer(400, f"not a PTZ move: {problems}")
    # Recorded before the device is told: a store that cannot record moves nothing.
    await hub.audit.append(
        Action.PTZ_MOVE,
        Actor.of(principal_of(request)),
        camera_id=camera.id,
        owner_id=camera.owner,
        source=request.remote,
        purpose=purpose_of(request),
        details=wanted.details(),
    )
    command = wanted.move()
    password = await hub.registry.camera_password(camera.id)
    sessions = request.app[ptz_sessions_key]
    entry = sessions.take(camera, vendor, password)
    try:
        async with entry.lock:
            await entry.session.ptz(command)
    except VendorError as exc:
        return _device_error(camera, exc)
    finally:
        sessions.release(camera.id, entry, (command.timeout or 0.0) + LINGER)
    return answer({"camera": camera.id, **wanted.details()})


@needs(Access.CAMERAS_CONTROL)
async def presets(request: web.Request) -> web.Response:
    """`GET /api/cameras/{id}/presets`: the positions stored on the camera."""
    found = await _movable(request, "steering")
    if isinstance(found, web.Response):
        return found
    hub, camera, vendor = found
    password = await hub.registry.camera_password(camera.id)
    sessions = request.app[ptz_sessions_key]
    entry = sessions.take(camera, vendor, password)
    try:
        async with entry.lock:
            stored = await entry.session.presets()
    except VendorError as exc:
        return _device_error(camera, exc)
    finally:
        sessions.release(camera.id, entry, LINGER)
    return answer(
        {"camera": camera.id, "presets": [{"id": p.token, "name": p.name} for p in stored]}
    )


async def _close_sessions(app: web.Application) -> None:
    await app[ptz_sessions_key].close()


def add_control_routes(app: web.Application) -> None:
    """Add the PTZ routes to `app`."""
    app[ptz_sessions_key] = PtzSessions()
    app.router.add_post("/api/cameras/{camera_id}/ptz", move)
    app.router.add_get("/api/cameras/{camera_id}/presets", presets)
    app.on_cleanup.append(_close_sessions)
