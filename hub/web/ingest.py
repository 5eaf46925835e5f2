"""`POST /api/ingest/events`: an owner's system sends its cameras' events in (hub/ingest.py)."""

from __future__ import annotations

import json

from aiohttp import web

from hub.ingest import MAX_BODY, MAX_EVENTS, IngestRefused, WebhookIngest
from hub.registry import CameraRecord
from hub.web.answers import answer, error_answer
from hub.web.auth import Access, needs, principal_of
from hub.web.keys import hub_key

ingest_key = web.AppKey("ingest", WebhookIngest)

SHAPE = 'send a JSON object: {"events": [{"id": ..., "type": ..., "camera": ...}, ...]}'


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


async def _body(request: web.Request) -> bytes:
    """The body, read no further than MAX_BODY bytes (a sender's Content-Length may lie)."""
    too_large = IngestRefused(413, f"the body is larger than {MAX_BODY // 1024} KiB: send fewer")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _events(body: bytes) -> list[object]:
    """The events of a body that is `{"events": [...]}` or one event; IngestRefused(400) else."""
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise IngestRefused(400, f"the body is not JSON: {SHAPE}") from None
    if not isinstance(data, dict):
        raise IngestRefused(400, f"the body is not a JSON object: {SHAPE}")
    if "events" not in data:
        return [data]
    events = data["events"]
    if len(data) > 1 or not isinstance(events, list):
        raise IngestRefused(400, f'"events" must be a list and the only field: {SHAPE}')
    if not events:
        raise IngestRefused(400, '"events" is empty: send at least one event')
    if len(events) > MAX_EVENTS:
        raise IngestRefused(
            400, f"{len(events)} events: at most {MAX_EVENTS} a request, send them in several"
        )
    return events


@needs(Access.INGEST)
async def ingest_events(request: web.Request) -> web.Response:
    """`POST /api/ingest/events`: events of the caller's owner's cameras, each answered.

    200 with one result per event (`accepted`, `duplicate`, or `rejected` and why); 400 for a
    body of the wrong shape, 413 for one too large, 429 with Retry-After when the sender is
    over its rate (then nothing of the request is taken).
    """
    try:
        sent = _events(await _body(request))
        outcomes = await request.app[ingest_key].receive(principal_of(request), sent)
    except IngestRefused as refused:
        headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else {}
        return error_answer(refused.status, refused.reason, headers=headers)
    counts = {status: 0 for status in ("accepted", "duplicate", "rejected")}
    for outcome in outcomes:
        counts[outcome.status] += 1
    return answer({**counts, "results": [outcome.as_dict() for outcome in outcomes]})


def add_ingest_routes(app: web.Application) -> None:
    """Mount the webhook ingest, with its own state (rate buckets) for this application."""
    hub = app[hub_key]

    async def camera(camera_id: str) -> CameraRecord | None:
        return await hub.registry.get_camera(camera_id)

    app[ingest_key] = WebhookIngest(hub.db, hub.bus, camera)
    app.router.add_post("/api/ingest/events", ingest_events)
