"""The inbox's routes under `/plugins/inbox/`: Apprise posts in, a page and a JSON list out.

`POST messages` takes what Apprise's `json://127.0.0.1:8123/plugins/inbox/messages` sends;
`GET /` is the page, `GET messages` the same as JSON, `GET files/<name>` an attachment.
Each hub has its own inbox (tests run several hubs in one process); a hub whose config does not
turn the inbox on answers 404 on every route.

The hub has no users yet, so these routes are as public as the health check: the inbox is for a
hub on one machine. Once it has, the page and the list need a login and the post a token that
the json:// URL carries (`?+Authorization=Bearer%20...` adds the header).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.web import hub_key
from hub.web.auth import Access, needs
from plugins.inbox.page import CONTENT_SECURITY_POLICY, render_page
from plugins.inbox.payload import PayloadError, parse_payload
from plugins.inbox.store import IMAGE_TYPES, Inbox, Message

if TYPE_CHECKING:
    from hub.runtime import Hub

log = logging.getLogger(__name__)

INBOXES: weakref.WeakKeyDictionary[Hub, Inbox] = weakref.WeakKeyDictionary()
"""The inbox of each running hub whose config turns it on; filled by the plugin's setup."""

OFF = "the responder inbox is off: set plugins: {inbox: {enabled: true}} in the configuration"
_CHUNK = 64 * 1024
_SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def _inbox_of(request: web.Request) -> Inbox | None:
    return INBOXES.get(request.app[hub_key])


def _base(request: web.Request) -> str:
    """`/plugins/inbox`, from the path of `messages` that was asked for."""
    return request.path.rsplit("/", 1)[0]


@needs(Access.PUBLIC)
async def page(request: web.Request) -> web.Response:
    """`GET /plugins/inbox/`: the messages as a page, newest first."""
    inbox = _inbox_of(request)
    if inbox is None:
        return web.Response(status=404, text=OFF + "\n")
    hub = request.app[hub_key]
    base = request.path.rstrip("/")
    html = render_page(
        inbox.newest_first(),
        hub_name=hub.config.hub.name,
        tz=ZoneInfo(hub.config.hub.timezone),
        refresh=inbox.options.refresh,
        post_url=f"json://{request.host}{base}/messages",
    )
    headers = {
        **_SAFE_HEADERS,
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Cache-Control": "no-store",
    }
    return web.Response(text=html, content_type="text/html", charset="utf-8", headers=headers)


@needs(Access.PUBLIC)
async def listing(request: web.Request) -> web.Response:
    """`GET /plugins/inbox/messages`: the messages as JSON, newest first."""
    inbox = _inbox_of(request)
    if inbox is None:
        return _refuse(404, OFF)
    files = f"{_base(request)}/files/"
    answer = [_as_json(message, files) for message in inbox.newest_first()]
    return web.json_response({"messages": answer}, headers={"Cache-Control": "no-store"})


@needs(Access.PUBLIC)
async def receive(request: web.Request) -> web.Response:
    """`POST /plugins/inbox/messages`: keep one Apprise notification; 4xx says what is wrong."""
    inbox = _inbox_of(request)
    if inbox is None:
        return _refuse(404, OFF)
    if request.content_type != "application/json":
        return _refuse(
            415, "send JSON with Content-Type: application/json, as Apprise's json:// does"
        )
    limit = inbox.options.max_post_bytes
    too_big = f"the notification is larger than the inbox takes ({limit} bytes)"
    if request.content_length is not None and request.content_length > limit:
        return _refuse(413, too_big)
    body = bytearray()
    async for chunk in request.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > limit:
            return _refuse(413, too_big)
    try:
        received = await asyncio.to_thread(parse_payload, bytes(body))
    except PayloadError as refused:
        log.info("inbox: refused a post: %s", refused.reason, extra={"plugin": "inbox"})
        return _refuse(refused.status, refused.reason)
    message = await inbox.add(received)
    log.info(
        "inbox: message #%d with %d attachments: %s",
        message.id,
        len(message.attachments),
        message.title[:200],
        extra={"plugin": "inbox"},
    )
    return web.json_response({"id": message.id})


@needs(Access.PUBLIC)
async def attachment(request: web.Request) -> web.StreamResponse:
    """`GET /plugins/inbox/files/{name}`: an attachment of a kept message."""
    inbox = _inbox_of(request)
    if inbox is None:
        return _refuse(404, OFF)
    name = request.match_info["name"]
    path = inbox.file_path(name)
    if path is None or not path.is_file():
        return _refuse(404, f"no kept message has a file {name[:80]!r}")
    headers = {
        **_SAFE_HEADERS,
        # named by its content: the same URL is always the same bytes
        "Cache-Control": "private, max-age=31536000, immutable",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Content-Type": IMAGE_TYPES.get(path.suffix, "application/octet-stream"),
    }
    if path.suffix not in IMAGE_TYPES:
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return web.FileResponse(path, headers=headers)


def _as_json(message: Message, files: str) -> dict[str, Any]:
    return {
        "id": message.id,
        "received": message.received.isoformat(),
        "type": message.type,
        "title": message.title,
        "body": message.body,
        "attachments": [
            {
                "filename": f.filename,
                "mimetype": f.mimetype,
                "size": f.size,
                "image": f.is_image,
                "url": files + f.stored,
            }
            for f in message.attachments
        ],
    }
