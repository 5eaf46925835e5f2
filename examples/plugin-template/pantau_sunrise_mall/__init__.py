"""A complete example plugin: a private mall's NVR as a camera vendor, with a status route."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub import hookimpl

STATE: dict[str, Any] = {"started": False}


class SunriseMallNvr:
    """Cameras that are channels of the mall's NVR: they need the NVR's host and a channel."""

    name = "sunrise_mall"
    description = "Sunrise Mall NVR channels"

    def check_camera(self, camera: Any) -> list[str]:
        """A channel camera needs the NVR host and a `channel` option."""
        problems = []
        if not camera.host:
            problems.append("vendor 'sunrise_mall' needs the NVR's host")
        if "channel" not in camera.options:
            problems.append("vendor 'sunrise_mall' needs options.channel (1, 2, ...)")
        return problems


@hookimpl
def register_camera_vendors(register: Any) -> None:
    """Offer the mall's NVR as a vendor."""
    register(SunriseMallNvr())


async def status(request: web.Request) -> web.Response:
    """Say whether the plugin is set up."""
    return web.json_response(STATE)


@hookimpl
def register_web_routes(register: Any) -> None:
    """Serve a status page at /plugins/sunrise_mall/status."""
    register("GET", "/status", status)


@hookimpl
async def setup(hub: Any, plugin: Any) -> None:
    """Remember that setup ran; a real plugin would connect to the NVR here."""
    STATE["started"] = True
    plugin.log.info("sunrise mall plugin ready")


@hookimpl
async def shutdown(hub: Any, plugin: Any) -> None:
    """Forget the NVR."""
    STATE["started"] = False
