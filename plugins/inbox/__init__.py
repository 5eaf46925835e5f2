"""Responder inbox: a page on the hub that shows the alerts sent to it through Apprise `json://`.

For demos and for trying alert channels on one machine: a responder whose channel is
`json://127.0.0.1:8123/plugins/inbox/messages` has its alerts shown at `/plugins/inbox/`.
It shows what alerts carry (snapshots of people among them), so it is off unless the config
says `plugins: {inbox: {enabled: true}}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub import hookimpl
from plugins.inbox import routes
from plugins.inbox.options import is_enabled, read_options
from plugins.inbox.store import Inbox

if TYPE_CHECKING:
    from hub.plugins import PluginContext, Register
    from hub.runtime import Hub


@hookimpl
def register_web_routes(register: Register) -> None:
    """The page, the JSON list, the address Apprise posts to, and the attachments."""
    register("GET", "/", routes.page)
    register("GET", "/messages", routes.listing)
    register("POST", "/messages", routes.receive)
    register("GET", "/files/{name}", routes.attachment)


@hookimpl
async def setup(hub: Hub, plugin: PluginContext) -> None:
    """Open the inbox with what an earlier run kept, when the config turns it on."""
    if not is_enabled(hub.config.plugins.get(plugin.name)):
        if plugin.options:
            plugin.log.warning("options given but the inbox is off: add enabled: true")
        return
    inbox = Inbox(plugin.data_dir, read_options(plugin.options))
    await inbox.load()
    routes.INBOXES[hub] = inbox
    plugin.log.info("responder inbox at /plugins/%s/ (%d messages kept)", plugin.name, len(inbox))


@hookimpl
async def shutdown(hub: Hub, plugin: PluginContext) -> None:
    """Close the inbox; what it keeps stays on disk for the next run."""
    routes.INBOXES.pop(hub, None)
