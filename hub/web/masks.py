"""Mask lifts over HTTP: one person asks to see a camera without its privacy masks, another decides.

- `POST /api/cameras/{camera_id}/mask-lifts` `{"reason": "...", "minutes": 15}` (masks:request)
- `POST /api/mask-lifts/{lift_id}/approve`, `.../deny` (masks:approve; not by who asked)
- `GET /api/mask-lifts?state=&camera=&limit=` (masks:request)

The rules themselves live in hub/masks; this module turns them into answers.
"""

from __future__ import annotations

from aiohttp import web

from hub.access import Principal
from hub.audit import Actor
from hub.masks import MAX_MINUTES, LiftRefused, LiftState, MaskLifts
from hub.web.answers import answer, refused
from hub.web.auth import Access, needs, principal_of
from hub.web.keys import hub_key


def _service(request: web.Request) -> MaskLifts:
    masks = request.app[hub_key].masks
    if masks is None:
        raise refused(503, "the hub is starting or stopping: ask again in a moment")
    return masks


def person(principal: Principal) -> str:
    """Who a caller is as the two-person rule counts people: a user (by any of its tokens too)."""
    return principal.user_id or principal.kind.value


async def _body(request: web.Request) -> tuple[str, int]:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise refused(400, 'send a JSON object such as {"reason": "...", "minutes": 15}')
    unknown = sorted(set(data) - {"reason", "minutes"})
    if unknown:
        raise refused(400, f"unknown field(s) {', '.join(unknown)}: give reason and minutes")
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise refused(400, "reason is required: say why the camera must be seen without its masks")
    minutes = data.get("minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_MINUTES:
        raise refused(400, f"minutes must be a whole number from 1 to {MAX_MINUTES}")
    return reason, minutes


@needs(Access.MASKS_REQUEST)
async def request_lift(request: web.Request) -> web.Response:
    """`POST /api/cameras/{camera_id}/mask-lifts`: ask; 201 with the lift, pending."""
    hub = request.app[hub_key]
    camera_id = request.match_info["camera_id"]
    caller = principal_of(request)
    camera = await hub.registry.get_camera(camera_id)
    if caller.owner is not None and (camera is None or camera.owner != caller.owner):
        raise refused(404, f"{caller.owner} has no camera {camera_id!r}")
    if camera is None:
        raise refused(404, f"no camera {camera_id!r}")
    reason, minutes = await _body(request)
    masks = _service(request)
    try:
        lift = await masks.request(
            camera,
            reason=reason,
            seconds=minutes * 60,
            actor=Actor.of(caller),
            person=person(caller),
            source=request.remote,
        )
    except LiftRefused as exc:
        raise refused(exc.status, str(exc)) from None
    return answer(
        lift.as_dict(masks.now()),
        201,
        headers={"Location": f"/api/mask-lifts?camera={camera.id}"},
    )


async def _decide(request: web.Request, approve: bool) -> web.Response:
    masks = _service(request)
    caller = principal_of(request)
    lift_id = request.match_info["lift_id"]
    decide = masks.approve if approve else masks.deny
    try:
        lift = await decide(
            lift_id, actor=Actor.of(caller), person=person(caller), source=request.remote
        )
    except LiftRefused as exc:
        raise refused(exc.status, str(exc)) from None
    return answer(lift.as_dict(masks.now()))


@needs(Access.MASKS_APPROVE)
async def approve_lift(request: web.Request) -> web.Response:
    """`POST /api/mask-lifts/{lift_id}/approve`: the lift takes effect now, for its minutes."""
    return await _decide(request, approve=True)


@needs(Access.MASKS_APPROVE)
async def deny_lift(request: web.Request) -> web.Response:
    """`POST /api/mask-lifts/{lift_id}/deny`: refuse (or, for who asked, withdraw) a request."""
    return await _decide(request, approve=False)


@needs(Access.MASKS_REQUEST)
async def list_lifts(request: web.Request) -> web.Response:
    """`GET /api/mask-lifts?state=&camera=&limit=`: lifts, newest first."""
    masks = _service(request)
    query = request.query
    states: list[LiftState] = []
    for name in filter(None, (query.get("state") or "").split(",")):
        try:
            states.append(LiftState(name.strip()))
        except ValueError:
            known = ", ".join(state.value for state in LiftState)
            raise refused(400, f"unknown state {name!r} (known: {known})") from None
    try:
        limit = int(query.get("limit") or 100)
    except ValueError:
        raise refused(400, "limit must be a whole number") from None
    found = await masks.find(
        states=states, camera_id=query.get("camera") or None, limit=max(1, min(limit, 1000))
    )
    now = masks.now()
    return answer({"lifts": [lift.as_dict(now) for lift in found]})


def add_mask_routes(app: web.Application) -> None:
    """Mount the mask lifts' API."""
    app.router.add_post("/api/cameras/{camera_id}/mask-lifts", request_lift)
    app.router.add_post("/api/mask-lifts/{lift_id}/approve", approve_lift)
    app.router.add_post("/api/mask-lifts/{lift_id}/deny", deny_lift)
    app.router.add_get("/api/mask-lifts", list_lifts)
