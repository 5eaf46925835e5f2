"""Live view over HTTP: `GET /api/cameras/{camera_id}/live`, masked pictures as an MJPEG stream.

Before the first byte the caller is checked (an owner's user only its own cameras), the
camera's sharing agreement is asked, and the view is recorded in the audit log. While the
pictures flow, the agreement is asked again whenever one changes (`sharing.changed`) and when
its permission lapses (`Decision.until`): a refusal cuts the stream at once. A view also ends
after `hub.streams.live_session` seconds, so a forgotten tab does not keep a camera decoding;
the page opens it again. The pictures come from the stream engine (hub/streams/live.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aiohttp import web

from hub.audit import Action
from hub.sharing import Decision, Use
from hub.web.answers import refused
from hub.web.audit import record_view
from hub.web.auth import Access, needs, principal_of
from hub.web.keys import hub_key

if TYPE_CHECKING:
    from hub.events import Event
    from hub.registry import CameraRecord
    from hub.runtime import Hub
    from hub.streams.live import LiveViewer

log = logging.getLogger(__name__)

BOUNDARY = "pantau-live"
FIRST_PICTURE = 10.0
"""Seconds to wait for a camera's first live picture before answering that none comes."""
IDLE = 1.0
"""Seconds without a picture after which the view checks that its viewer is still there."""
CUT_GRACE = 0.5
"""Seconds a cut view's last write may take before the connection is closed under it."""


def _part(jpeg: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode("ascii") + jpeg + b"\r\n"


@needs(Access.CAMERAS_LIVE)
async def live(request: web.Request) -> web.StreamResponse:
    """`GET /api/cameras/{camera_id}/live`: the camera live, as multipart/x-mixed-replace JPEGs."""
    hub = request.app[hub_key]
    camera_id = request.match_info["camera_id"]
    owner = principal_of(request).owner
    camera = await hub.registry.get_camera(camera_id)
    if owner is not None and (camera is None or camera.owner != owner):
        # Another owner's camera looks like no camera: its id tells nothing either.
        raise refused(404, f"{owner} has no camera {camera_id!r}")
    if camera is None:
        raise refused(404, f"no camera {camera_id!r}")
    decision = await hub.sharing.decide(camera, Use.LIVE, owner=owner)
    if not decision.allowed:
        raise refused(403, decision.reason, fields={"sharing": decision.level.value})
    streams = hub.streams
    if streams is None or camera.id not in streams.workers:
        raise refused(
            409,
            f"camera {camera.id!r} is not being watched (disabled, or the stream engine is off):"
            " there is no live picture",
        )
    lifted = hub.masks is not None and hub.masks.lifted(camera.id)
    # recorded before the first picture goes out: a store that cannot record shows nothing
    await record_view(request, Action.LIVE_VIEW, camera, details={"masks_lifted": lifted})
    viewer = streams.watch(camera.id)
    try:
        first = await _first_picture(viewer)
        if first is None:
            raise refused(
                503,
                f"camera {camera.id!r} sent no picture within {FIRST_PICTURE:g} s: it may be"
                " offline (see its health in GET /api/cameras); try again later",
            )
        return await _stream(request, hub, camera, decision, viewer, first)
    finally:
        streams.unwatch(viewer)


async def _first_picture(viewer: LiveViewer) -> bytes | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FIRST_PICTURE
    while (left := deadline - loop.time()) > 0:
        picture = await viewer.next(left)
        if picture is None:
            return None
        if picture:
            return picture
    return None


async def _stream(
    request: web.Request,
    hub: Hub,
    camera: CameraRecord,
    decision: Decision,
    viewer: LiveViewer,
    first: bytes,
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # a reverse proxy must pass each picture on at once
        }
    )
    await response.prepare(request)
    writing = False

    async def pump() -> None:
        nonlocal writing
        picture: bytes | None = first
        while picture is not None:
            if picture:
                writing = True
                await response.write(_part(picture))
                writing = False
            elif request.transport is None or request.transport.is_closing():
                return  # the viewer left while the camera sent nothing
            picture = await viewer.next(IDLE)

    pumping = asyncio.create_task(pump(), name=f"live:{camera.id}")
    guarding = asyncio.create_task(
        _guard(hub, camera, principal_of(request).owner, decision, viewer),
        name=f"live-guard:{camera.id}",
    )
    try:
        await asyncio.wait({pumping, guarding}, return_when=asyncio.FIRST_COMPLETED)
        if guarding.done() and not guarding.cancelled() and guarding.exception() is not None:
            log.error(
                "live view of camera %s ended: its sharing guard failed",
                camera.id,
                exc_info=guarding.exception(),
                extra={"camera": camera.id},
            )
            viewer.close("the sharing agreement could not be followed")
        if viewer.closed:  # ended by the hub: cut
            await asyncio.wait({pumping}, timeout=CUT_GRACE)
        if not pumping.done():  # a viewer too slow to take even one picture: close under it
            pumping.cancel()
            writing = True
    finally:  # also when the handler itself is cancelled (the server shutting down)
        for task in (pumping, guarding):
            task.cancel()
        for task in (pumping, guarding):
            # what went wrong is read from the tasks below (a viewer gone, a failed guard)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if pumping.cancelled() or pumping.exception() is not None or writing:
        if request.transport is not None:
            request.transport.close()
        return response
    with contextlib.suppress(ConnectionError, RuntimeError):
        await response.write(f"--{BOUNDARY}--\r\n".encode("ascii"))
        await response.write_eof()
    return response


async def _guard(
    hub: Hub, camera: CameraRecord, owner: str | None, decision: Decision, viewer: LiveViewer
) -> None:
    """Ask the agreement again when it changes or lapses; end the view at its time limit."""
    loop = asyncio.get_running_loop()
    session = hub.config.hub.streams.live_session
    session_end = loop.time() + session
    changed = asyncio.Event()

    def notice(event: Event) -> None:
        changed.set()

    subscription = hub.bus.subscribe("sharing.changed", notice, name=f"live:{camera.id}", maxsize=4)
    try:
        until = decision.until
        while not viewer.closed:
            wait = session_end - loop.time()
            if until is not None:
                wait = min(wait, (until - datetime.now(UTC)).total_seconds())
            if wait > 0 and not changed.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), wait)
            changed.clear()
            if viewer.closed:
                return
            if loop.time() >= session_end:
                viewer.close(
                    f"a live view lasts {session / 60:g} minutes at most"
                    " (hub.streams.live_session): open it again"
                )
                return
            try:
                decision = await hub.sharing.decide(camera, Use.LIVE, owner=owner)
            except Exception:  # cannot tell whether it is still allowed: do not show it
                log.exception("could not ask the sharing policy", extra={"camera": camera.id})
                viewer.close("the sharing agreement could not be checked")
                return
            if not decision.allowed:
                log.info(
                    "live view of camera %s cut: %s",
                    camera.id,
                    decision.reason,
                    extra={"camera": camera.id},
                )
                viewer.close(decision.reason)
                return
            until = decision.until
            if until is not None and until <= datetime.now(UTC):  # lapsed, yet allowed: ask soon
                until = datetime.now(UTC) + timedelta(seconds=1)
    finally:
        await subscription.cancel()


def add_live_routes(app: web.Application) -> None:
    """Mount the live view."""
    # no HEAD: it would hold a decoding view open with nobody to send pictures to
    app.router.add_get("/api/cameras/{camera_id}/live", live, allow_head=False)
