"""The audit log over HTTP, and how a handler records a view of a camera before it answers.

`GET /api/audit` answers records as JSON, newest first; `GET /api/audit.csv` streams them as
CSV, oldest first. Both take `owner`, `camera`, `action`, `since` and `until` as query
parameters (`limit` and `before` page the JSON). An owner's user reads its own owner's records
only: naming another owner is refused (403), and another owner's camera is answered 404, as
`GET /api/cameras/{id}/snapshot` answers it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.audit import Action, Actor, AuditRecord, csv_lines
from hub.audit.log import MAX_LIMIT, PurposeMissing, parse_when
from hub.web.answers import answer, refused
from hub.web.auth import Access, needs, principal_of
from hub.web.keys import hub_key

if TYPE_CHECKING:
    from hub.registry import CameraRecord

PURPOSE_HEADER = "X-Pantau-Purpose"
"""Where a client states why it opens a live view (or the `purpose` query parameter)."""


async def _filters(request: web.Request) -> dict[str, Any]:
    """The query's filters, checked; an owner's user is held to its own owner's records."""
    query = request.query
    timezone = request.app[hub_key].config.hub.timezone
    filters: dict[str, Any] = {
        "owner": query.get("owner") or None,
        "camera": query.get("camera") or None,
    }
    action = query.get("action")
    if action:
        try:
            filters["action"] = Action(action)
        except ValueError:
            known = ", ".join(sorted(a.value for a in Action))
            raise refused(400, f"unknown action {action!r} (known: {known})") from None
    for name in ("since", "until"):
        value = query.get(name)
        if value:
            try:
                filters[name] = parse_when(value, timezone, end=name == "until")
            except ValueError:
                raise refused(
                    400, f"{name} must be a date (2026-11-24) or a time, not {value!r}"
                ) from None
    owner = principal_of(request).owner
    if owner is not None:
        await _hold_to(request, owner, filters)
    return filters


async def _hold_to(request: web.Request, owner: str, filters: dict[str, Any]) -> None:
    """Keep an owner's user to its owner's records: refuse a wider ask rather than widen."""
    asked = filters["owner"]
    if asked is not None and asked != owner:
        raise refused(
            403,
            f"you read the audit records of {owner} only: leave out owner= (or give owner={owner})",
        )
    filters["owner"] = owner
    camera_id = filters["camera"]
    if camera_id is not None:
        camera = await request.app[hub_key].registry.get_camera(camera_id)
        if camera is None or camera.owner != owner:
            # Another owner's camera looks like no camera: its id tells nothing either.
            raise refused(404, f"{owner} has no camera {camera_id!r}")


def _whole(request: web.Request, name: str, default: int | None) -> int | None:
    value = request.query.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise refused(400, f"{name} must be a whole number") from None


@needs(Access.AUDIT_READ)
async def list_records(request: web.Request) -> web.Response:
    """`GET /api/audit?owner=&camera=&action=&since=&until=&limit=&before=`: newest first."""
    filters = await _filters(request)
    limit = _whole(request, "limit", 100) or 100
    before = _whole(request, "before", None)
    audit = request.app[hub_key].audit
    found = await audit.records(**filters, limit=min(limit, MAX_LIMIT), before=before)
    return answer({"records": [record.as_dict() for record in found]})


@needs(Access.AUDIT_READ)
async def export_csv(request: web.Request) -> web.StreamResponse:
    """`GET /api/audit.csv?owner=&camera=&action=&since=&until=`: every match, as CSV."""
    filters = await _filters(request)
    audit = request.app[hub_key].audit
    # The export is itself an access to personal data: it is recorded before it starts.
    await audit.append(
        Action.AUDIT_EXPORT,
        Actor.of(principal_of(request)),
        owner_id=filters["owner"],
        camera_id=filters["camera"],
        source=request.remote,
        details={name: str(value) for name, value in filters.items() if value is not None},
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    name = f"pantau-audit-{filters['owner'] or 'all'}-{stamp}.csv"
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    async for line in csv_lines(audit.stream(**filters)):
        await response.write(line.encode("utf-8"))
    await response.write_eof()
    return response


def purpose_of(request: web.Request) -> str | None:
    """The purpose a request states for a view: the `X-Pantau-Purpose` header or `?purpose=`."""
    given = request.headers.get(PURPOSE_HEADER) or request.query.get("purpose") or ""
    return given.strip() or None


async def record_view(
    request: web.Request,
    action: Action,
    camera: CameraRecord,
    *,
    details: dict[str, Any] | None = None,
) -> AuditRecord:
    """Record that the caller looks at `camera` (`snapshot.view`, `live.view`, `clip.export`).

    Call it in the handler after the access checks and before the picture goes out; it
    raises `HTTPBadRequest` when a live view of a private owner's camera states no purpose,
    and lets a store failure through, so that nothing is shown unrecorded.
    """
    hub = request.app[hub_key]
    owner = await hub.registry.get_owner(camera.owner)
    try:
        return await hub.audit.view(
            action,
            Actor.of(principal_of(request)),
            camera.id,
            camera.owner,
            # An owner the registry no longer knows is treated as private: ask rather than not.
            private=owner is None or owner.kind == "private",
            source=request.remote,
            purpose=purpose_of(request),
            details=details,
        )
    except PurposeMissing as exc:
        raise refused(400, f"{exc} ({PURPOSE_HEADER} header or ?purpose=)") from None


def add_audit_routes(app: web.Application) -> None:
    """Mount the audit log's API."""
    app.router.add_get("/api/audit", list_records)
    app.router.add_get("/api/audit.csv", export_csv)
