"""The whole public plugin API of Pantau: every hook a plugin may implement.

Each hook is documented in `docs/plugins.md`; a test fails when one is missing there.
Hooks may be plain functions or coroutines: the host awaits whatever they return.
Registry hooks receive a `register` callback so the host knows which plugin registered what.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from hub import PROJECT

if TYPE_CHECKING:
    from hub.plugins import PluginContext, Register
    from hub.runtime import Hub

hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def setup(hub: Hub, plugin: PluginContext) -> Any:
    """Start the plugin: subscribe to the bus, start its tasks; runs in dependency order."""


@hookspec
def shutdown(hub: Hub, plugin: PluginContext) -> Any:
    """Stop the plugin and release what it holds; runs in reverse setup order."""


@hookspec
def register_camera_vendors(register: Register) -> Any:
    """Register camera vendors (brands, NVRs, generic streams) by calling `register(vendor)`."""


@hookspec
def register_owner_integrations(register: Register) -> Any:
    """Register ways an owner's site joins the hub (webhook ingest, NVR channels, edge nodes)."""


@hookspec
def register_notification_channels(register: Register) -> Any:
    """Register channels that carry alerts to responders."""


@hookspec
def register_analyzers(register: Register) -> Any:
    """Register analyzers that turn pictures or packets into events (motion, tamper, queues)."""


@hookspec
def register_bridges(register: Register) -> Any:
    """Register bridges that carry bus events to other systems (MQTT, outgoing webhooks)."""


@hookspec
def register_web_routes(register: Register) -> Any:
    """Register aiohttp routes, served under `/plugins/<plugin name>/`."""
