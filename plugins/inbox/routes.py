"""The inbox's routes under `/plugins/inbox/`: Apprise posts in, a page and a JSON list out.

`POST messages` takes what Apprise's `json://127.0.0.1:8123/plugins/inbox/messages` sends;
`GET /` is the page, `GET messages` the same as JSON, `GET files/<name>` an attachment.
Each hub has its own inbox (tests run several hubs in one process); a hub whose config does not
turn the inbox on answers 404 on every route.

The inbox is for trying alerts on one machine (the demo): every route answers only requests
from the hub's own machine (a loopback address) and refuses the network with 403, so the
alerts it keeps, snapshots included, never leave that machine. The routes need no sign-in,
since a browser on that machine can open the page with nothing set up.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.web import hub_key
from hub.web.answers import answer, error_answer
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


LOCAL_ONLY = "the responder inbox answers only the hub's own machine"


def is_loopback(address: str | None) -> bool:
    """Whether a peer address is this machine's loopback (127.0.0.0/8, ::1, ::ffff:127.x)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False  # a unix socket or something unknown: not known to be local
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _local_only(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @functools.wraps(handler)
    async def local(request: web.Request) -> web.StreamResponse:
        # the peer address, not X-Forwarded-For: a proxy in front makes every client remote
        if not is_loopback(request.remote):
            return error_answer(403, LOCAL_ONLY)
        return await handler(request)

    return local


def _inbox_of(request: web.Request) -> Inbox | None:
    return INBOXES.get(request.app[hub_key])


def _base(request: web.Request) -> str:
    """`/plugins/inbox`, from the path of `messages` that was asked for."""
    return request.path.rsplit("/", 1)[0]


@needs(Access.PUBLIC)
@_local_only
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
@_local_only
async def listing(request: web.Request) -> web.Response:
    """`GET /plugins/inbox/messages`: the messages as JSON, newest first."""
    inbox = _inbox_of(request)
    if inbox is None:
        return error_answer(404, OFF)
    files = f"{_base(request)}/files/"
    return answer({"messages": [_as_json(message, files) for message in inbox.newest_first()]})


@needs(Access.PUBLIC)
@_local_only
async def receive(request: web.Request) -> web.Response:
    """`POST /plugins/inbox/messages`: keep one Apprise notification; 4xx says what is wrong."""
    inbox = _inbox_of(request)
    if inbox is None:
        return error_answer(404, OFF)
    if request.content_type != "application/json":
        return error_answer(
            415, "send JSON with Content-Type: application/json, as Apprise's json:// does"
        )
    limit = inbox.options.max_post_bytes
    too_big = f"the notification is larger than the inbox takes ({limit} bytes)"
    if request.content_length is not None and request.content_length > limit:
        return error_answer(413, too_big)
    body = bytearray()
    async for chunk in request.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > limit:
            return error_answer(413, too_big)
    try:
        received = await asyncio.to_thread(parse_payload, bytes(body))
    except PayloadError as refused:
        log.info("inbox: refused a post: %s", refused.reason, extra={"plugin": "inbox"})
        return error_answer(refused.status, refused.reason)
    message = await inbox.add(received)
    log.info(
        "inbox: message #%d with %d attachments: %s",
        message.id,
        len(message.attachments),
        message.title[:200],
        extra={"plugin": "inbox"},
    )
    return answer({"id": message.id})


@needs(Access.PUBLIC)
@_local_only
async def attachment(request: web.Request) -> web.StreamResponse:
    """`GET /plugins/inbox/files/{name}`: an attachment of a kept message."""
    inbox = _inbox_of(request)
    if inbox is None:
        return error_answer(404, OFF)
    name = request.match_info["name"]
    path = inbox.file_path(name)
    if path is None or not path.is_file():
        return error_answer(404, f"no kept message has a file {name[:80]!r}")
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
