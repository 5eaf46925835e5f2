"""A complete third-party vendor plugin: the channels of a mall's Sunrise NVR.

The NVR speaks a small HTTP JSON API (described in this template's README.md): device
information and channels, snapshots, and an event feed of JSON lines; its channels stream over
RTSP. A camera gives the NVR's `host` and may set these `options`:

- `channel`: the NVR channel this camera is (1-based); default 1. Streams and snapshots use it;
  events come for every channel, each with its own.
- `stream`: `sub` (default) or `main`, the stream the hub monitors.
- `port`: the API's port; default the camera's `port`, else 80 (443 with `https`).
- `https`: true to speak HTTPS to the API; `tls_verify`: false to accept a self-signed
  certificate (default true).
- `rtsp_port`: the RTSP server's port; default 554.
- `heartbeat`: seconds between the NVR's heartbeats on the event feed; default 10. A feed silent
  for three heartbeats is reopened.

Besides the vendor, the plugin shows the other kinds of hook: `setup` and `shutdown`, and a
status page at `/plugins/sunrise_mall/status`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub import hookimpl
from pantau_sunrise_mall.camera import SunriseMallNvr

if TYPE_CHECKING:
    from hub.plugins import PluginContext, Register
    from hub.runtime import Hub

STATE: dict[str, Any] = {"started": False}
"""What the status page shows; set by `setup` and `shutdown`."""


@hookimpl
def register_camera_vendors(register: Register) -> None:
    """Offer the `sunrise_mall` vendor."""
    register(SunriseMallNvr())


async def status(request: web.Request) -> web.Response:
    """Say whether the plugin is set up."""
    return web.json_response(STATE)


@hookimpl
def register_web_routes(register: Register) -> None:
    """Serve a status page at /plugins/sunrise_mall/status."""
    register("GET", "/status", status)


@hookimpl
async def setup(hub: Hub, plugin: PluginContext) -> None:
    """Note that the plugin is ready; the hub opens the NVR's sessions itself."""
    STATE["started"] = True
    plugin.log.info("sunrise mall plugin ready")


@hookimpl
async def shutdown(hub: Hub, plugin: PluginContext) -> None:
    """Note that the plugin stopped."""
    STATE["started"] = False
