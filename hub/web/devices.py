"""Asking devices over HTTP: an NVR's channels, and probing a camera before or after adding it.

Both reach out to the device with credentials the caller gives or the registry keeps; neither
answer, nor any error, ever holds the password.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from hub.probe import probe_camera, settings_problems, unregistered_camera
from hub.registry import CameraRecord
from hub.vendors import (
    AuthenticationFailed,
    CameraAccess,
    CameraVendor,
    ClockSkew,
    DeviceVendor,
    Unsupported,
    VendorError,
)
from hub.web.answers import answer, refused
from hub.web.auth import Access, needs, principal_of
from hub.web.keys import hub_key
from hub.web.scoped import caller_registry, json_object, only

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 10.0
"""Seconds for one request to a device."""
STEP_TIMEOUT = 5.0
"""Seconds for each step of a probe."""
PROBE_TIMEOUT = 25.0
"""Seconds for a whole probe: the page waits for it, so it must end."""

DEVICE_FIELDS = frozenset({"vendor", "url", "host", "port", "username", "password", "options"})


def _vendor(request: web.Request, name: object) -> CameraVendor:
    vendors = request.app[hub_key].vendors
    if not isinstance(name, str) or not name:
        raise refused(400, "vendor is required: the plugin that talks to the device")
    vendor = vendors.get(name.strip().lower())
    if vendor is None:
        known = ", ".join(sorted(vendors)) or "none"
        raise refused(422, f"no plugin provides vendor {name[:40]!r} (known: {known})")
    return vendor


def _unregistered(body: dict[str, Any], vendor: CameraVendor) -> tuple[CameraRecord, str | None]:
    """A camera from a request's fields, not in the registry, and its password."""
    url, host, port = body.get("url"), body.get("host"), body.get("port")
    username, password = body.get("username"), body.get("password")
    options = body.get("options") or {}
    for name, value in (
        ("url", url),
        ("host", host),
        ("username", username),
        ("password", password),
    ):
        if value is not None and not isinstance(value, str):
            raise refused(400, f"{name} must be text")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool)):
        raise refused(400, "port must be a whole number")
    if not isinstance(options, dict):
        raise refused(400, "options must be a JSON object")
    if bool(url) == bool(host):
        raise refused(400, "give the device's url or its host (and port), one of the two")
    target = url if url else (f"{host}:{port}" if port is not None else str(host))
    if host and ":" in str(host) and port is not None:
        target = f"[{host}]:{port}"
    try:
        camera, secret = unregistered_camera(
            vendor.name, str(target), username=username, password=password, options=options
        )
    except ValueError as exc:
        raise refused(400, _without(str(exc), password)) from None
    problems = settings_problems(vendor, camera)
    if problems:
        raise refused(422, _without("; ".join(problems), secret))
    return camera, secret


@needs(Access.CAMERAS_WRITE)
async def device_channels(request: web.Request) -> web.Response:
    """`POST /api/devices/channels`: what a device is and the channels it has, to add as cameras."""
    body = await json_object(request)
    only(body, DEVICE_FIELDS)
    vendor = _vendor(request, body.get("vendor"))
    if not isinstance(vendor, DeviceVendor):
        raise refused(
            422, f"vendor {vendor.name!r} cannot list channels: it does not talk to devices"
        )
    camera, password = _unregistered(body, vendor)
    session = vendor.connect(CameraAccess.of(camera, password, timeout=REQUEST_TIMEOUT))
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT * 2):
            info = await session.device_info()
    except TimeoutError:
        raise refused(502, f"{camera.name}: the device did not answer in time") from None
    except VendorError as exc:
        raise _device_refusal(exc, password) from None
    finally:
        await session.close()
    device = {
        "make": info.manufacturer,
        "model": info.model,
        "firmware": info.firmware,
        "serial": info.serial,
        "device_type": info.device_type,
    }
    channels = [
        {"number": channel.index, "name": channel.name, "online": channel.online}
        for channel in info.channels
    ]
    return answer({"device": device, "channels": channels})


def _device_refusal(error: VendorError, password: str | None) -> web.HTTPException:
    """A device's failure as an answer: its own words, without the password."""
    text = _without(f"{type(error).__name__}: {error}", password)
    if isinstance(error, (AuthenticationFailed, ClockSkew, Unsupported)):
        return refused(422, text)  # the caller can fix it: other credentials, another vendor
    return refused(502, text)


@needs(Access.CAMERAS_WRITE)
async def probe_registered(request: web.Request) -> web.Response:
    """`POST /api/cameras/{camera_id}/probe`: the probe's steps, each passed, failed or skipped."""
    registry = caller_registry(request, principal_of(request))
    camera = await registry.own_camera(request.match_info["camera_id"])
    hub = request.app[hub_key]
    vendor = hub.vendors.get(camera.vendor)
    if vendor is None:
        raise refused(
            422, f"no plugin provides vendor {camera.vendor!r}: the camera cannot be tested"
        )
    password = await hub.registry.camera_password(camera.id)
    return await _probe(request, camera, password, vendor)


@needs(Access.CAMERAS_WRITE)
async def probe_unregistered(request: web.Request) -> web.Response:
    """`POST /api/probe`: probe a camera before it is added, from its vendor, address, login."""
    body = await json_object(request)
    only(body, DEVICE_FIELDS)
    vendor = _vendor(request, body.get("vendor"))
    camera, password = _unregistered(body, vendor)
    return await _probe(request, camera, password, vendor)


async def _probe(
    request: web.Request, camera: CameraRecord, password: str | None, vendor: CameraVendor
) -> web.Response:
    hub = request.app[hub_key]
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            report = await probe_camera(
                camera, password, vendor, hub.data_dir, step_timeout=STEP_TIMEOUT
            )
    except TimeoutError:
        raise refused(504, f"testing {camera.name} took longer than {PROBE_TIMEOUT:g} s") from None
    log.info(
        "probed %s: %s",
        camera.name,
        "passed" if report.ok else "failed",
        extra={"camera": camera.id},
    )
    result = report.as_dict()
    if camera.id == "probe":
        result["camera_id"] = None
    # The steps keep the password out already; what the device itself said is scrubbed too.
    text = _without(json.dumps(result, default=str), password and json.dumps(password)[1:-1])
    return web.Response(
        text=text, content_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _without(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def add_device_routes(app: web.Application) -> None:
    """Mount the routes that ask devices."""
    app.router.add_post("/api/devices/channels", device_channels)
    app.router.add_post("/api/probe", probe_unregistered)
    app.router.add_post("/api/cameras/{camera_id}/probe", probe_registered)
