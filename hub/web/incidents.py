"""Incidents over HTTP: the API (list, acknowledge, resolve) and the acknowledge-link pages."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from hub.access import PrincipalKind
from hub.incidents.model import IncidentState
from hub.incidents.service import IncidentService
from hub.store.models import IncidentRow
from hub.web.answers import answer, error_answer, refused
from hub.web.auth import Access, needs, principal_of
from hub.web.keys import hub_key

MAX_BY = 100
"""Characters of a `by` name kept: it is shown in history and alerts."""

_PAGE_WORDS = {
    "id": {
        "button": "Saya tangani",
        "taken": "Terima kasih, {who}: insiden ini Anda tangani. Eskalasi dihentikan.",
        "already": "Insiden ini sudah ditangani oleh {who}.",
        "closed": "Insiden ini sudah selesai.",
        "refused": "Tautan tidak dapat dipakai: {why}.",
        "state": "Status",
    },
    "en": {
        "button": "I'm on it",
        "taken": "Thank you, {who}: this incident is yours. Escalation stopped.",
        "already": "This incident was already acknowledged by {who}.",
        "closed": "This incident is closed.",
        "refused": "This link cannot be used: {why}.",
        "state": "State",
    },
}


def _service(request: web.Request) -> IncidentService:
    service = request.app[hub_key].incidents
    if service is None:
        raise refused(503, "incidents are not configured (no rules)")
    return service


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise refused(400, "the body must be a JSON object")
    return data


def _name(value: object, default: str) -> str:
    if not isinstance(value, str):
        return default
    cleaned = "".join(ch for ch in value if ch.isprintable()).strip()[:MAX_BY]
    return cleaned or default


async def _owned_by_another(request: web.Request, incident_id: str) -> bool:
    """Whether the caller is an owner's user and the incident is not of its owner's cameras."""
    owner = principal_of(request).owner
    if owner is None:
        return False
    query = select(IncidentRow.owner_id).where(IncidentRow.id == incident_id)
    async with request.app[hub_key].db.session() as session:
        return await session.scalar(query) != owner


@needs(Access.INCIDENTS_READ)
async def list_incidents(request: web.Request) -> web.Response:
    """`GET /api/incidents?state=&limit=`: the latest incidents, newest first.

    A responder's user sees only the incidents that were sent to its responder; an owner's
    user only the incidents of its owner's cameras.
    """
    service = _service(request)
    state = request.query.get("state")
    if state is not None and state not in {s.value for s in IncidentState}:
        return error_answer(400, f"unknown state {state!r}")
    try:
        limit = min(1000, max(1, int(request.query.get("limit", "100"))))
    except ValueError:
        return error_answer(400, "limit must be a whole number")
    principal = principal_of(request)
    found = await service.outbox.incidents(
        state, limit, alerted=principal.responder, owner=principal.owner
    )
    return answer({"incidents": found})


async def _change(request: web.Request, action: str) -> web.Response:
    service = _service(request)
    incident_id = request.match_info["incident_id"]
    body = await _body(request)
    principal = principal_of(request)
    # Only the admin token (the console's `pantau incidents`) names who acted; a signed-in
    # user or a token acts as its own user, whatever the body says.
    admin = principal.kind is PrincipalKind.ADMIN_TOKEN
    by = _name(body.get("by"), "admin") if admin else principal.name
    held = service.engine.incident(incident_id)
    stored = await service.outbox.incident(incident_id) if held is None else None
    # Another owner's incident looks like no incident at all.
    if (held is None and stored is None) or await _owned_by_another(request, incident_id):
        return error_answer(404, f"no incident {incident_id!r}")
    responder = principal.responder
    if responder is not None and not await service.outbox.was_alerted(incident_id, responder):
        return error_answer(403, f"incident {incident_id!r} was not sent to {responder}")
    if held is None:
        state = stored["state"] if stored is not None else "closed"
        return error_answer(409, f"incident {incident_id!r} is already {state}")
    if action == "ack":
        if held.state is not IncidentState.TRIGGERED:
            who = held.acknowledged_by or "someone"
            return error_answer(409, f"incident {incident_id!r} was already acknowledged by {who}")
        await service.acknowledge(incident_id, by)
    else:
        reason = _name(body.get("reason"), "resolved")
        await service.resolve(incident_id, by, reason)
    return answer({"incident": await service.outbox.incident(incident_id)})


@needs(Access.INCIDENTS_ACK)
async def acknowledge(request: web.Request) -> web.Response:
    """`POST /api/incidents/{id}/ack`: take the incident on (`{"by": name}`: admin token only)."""
    return await _change(request, "ack")


@needs(Access.INCIDENTS_RESOLVE)
async def resolve(request: web.Request) -> web.Response:
    """`POST /api/incidents/{id}/resolve` with `{"reason": text}`: close it."""
    return await _change(request, "resolve")


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}button{font-size:1.2rem;padding:.7rem 1.4rem}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _link_problem(request: web.Request, service: IncidentService) -> str | None:
    links = service.ack_links
    if links is None:
        return "acknowledge links are off"
    query = request.query
    return links.check(
        request.match_info["incident_id"],
        query.get("r", ""),
        query.get("e", ""),
        query.get("s", ""),
        datetime.now(UTC),
    )


@needs(Access.SIGNED_LINK)
async def ack_page(request: web.Request) -> web.Response:
    """`GET /ack/{id}?r=&e=&s=`: the incident and one button (a GET never acknowledges)."""
    hub = request.app[hub_key]
    words = _PAGE_WORDS[hub.config.hub.language]
    service = _service(request)
    problem = _link_problem(request, service)
    if problem is not None:
        return _page("Pantau", f"<p>{html.escape(words['refused'].format(why=problem))}</p>", 403)
    stored = await service.outbox.incident(request.match_info["incident_id"])
    if stored is None:
        return _page("Pantau", f"<p>{html.escape(words['closed'])}</p>", 404)
    state = f"<p>{words['state']}: <b>{html.escape(str(stored['state']))}</b></p>"
    if stored["state"] != IncidentState.TRIGGERED:
        return _page(str(stored["title"]), state)
    form = (
        f"<form method='post' action='{html.escape(request.path_qs)}'>"
        f"<button type='submit'>{html.escape(words['button'])}</button></form>"
    )
    return _page(str(stored["title"]), state + form)


@needs(Access.SIGNED_LINK)
async def ack_by_link(request: web.Request) -> web.Response:
    """`POST /ack/{id}?r=&e=&s=`: the responder the link was sent to takes the incident on."""
    hub = request.app[hub_key]
    words = _PAGE_WORDS[hub.config.hub.language]
    service = _service(request)
    problem = _link_problem(request, service)
    if problem is not None:
        return _page("Pantau", f"<p>{html.escape(words['refused'].format(why=problem))}</p>", 403)
    incident_id = request.match_info["incident_id"]
    responder = request.query["r"]
    held = service.engine.incident(incident_id)
    if held is None:
        return _page("Pantau", f"<p>{html.escape(words['closed'])}</p>", 409)
    if held.state is not IncidentState.TRIGGERED:
        who = held.acknowledged_by or "?"
        return _page(held.title, f"<p>{html.escape(words['already'].format(who=who))}</p>", 409)
    await service.acknowledge(incident_id, f"{responder} (link)")
    return _page(held.title, f"<p>{html.escape(words['taken'].format(who=responder))}</p>")


def add_incident_routes(app: web.Application) -> None:
    """Mount the incident API and the acknowledge-link pages."""
    app.router.add_get("/api/incidents", list_incidents)
    app.router.add_post("/api/incidents/{incident_id}/ack", acknowledge)
    app.router.add_post("/api/incidents/{incident_id}/resolve", resolve)
    app.router.add_get("/ack/{incident_id}", ack_page)
    app.router.add_post("/ack/{incident_id}", ack_by_link)
