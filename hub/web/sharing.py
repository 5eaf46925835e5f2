"""Sharing agreements over HTTP: list them, make one (superseding the one in force), revoke one.

An owner's user sees and changes only its own owner's agreements; another owner's agreement is
answered 404, as if it did not exist. Every change is recorded in the audit log
(`sharing.change`): who, which owner and camera, what level and purpose, from where.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from hub.audit import Action, Actor
from hub.sharing.agreements import AgreementError, SharingAgreement, parse_draft, parse_reason
from hub.sharing.policy import AgreementPolicy
from hub.web.answers import answer, refused
from hub.web.auth import Access, needs, principal_of
from hub.web.keys import hub_key


def _policy(request: web.Request) -> AgreementPolicy:
    policy = request.app[hub_key].sharing
    if not isinstance(policy, AgreementPolicy):
        raise refused(503, "the hub is not started: no sharing agreements yet")
    return policy


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json() if request.can_read_body else {}
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise refused(400, "the body must be a JSON object")
    return data


@needs(Access.SHARING_READ)
async def list_agreements(request: web.Request) -> web.Response:
    """`GET /api/sharing?owner=&camera=`: agreements in force and past, and each camera's level."""
    hub = request.app[hub_key]
    policy = _policy(request)
    principal = principal_of(request)
    owner = principal.owner or request.query.get("owner") or None
    camera_id = request.query.get("camera") or None
    cameras = await hub.registry.list_cameras(owner=owner)
    if camera_id is not None:
        cameras = [camera for camera in cameras if camera.id == camera_id]
        if not cameras:
            return answer({"agreements": [], "cameras": []})
        owner = cameras[0].owner  # the owner-wide agreements that cover it are its owner's
    now = policy.now()
    kinds = {found.id: found.kind for found in await hub.registry.list_owners()}
    levels = []
    for camera in cameras:
        current = policy.effective(camera.id, camera.owner, kinds.get(camera.owner), now)
        agreement = current.agreement
        levels.append(
            {
                "camera": camera.id,
                "owner": camera.owner,
                "level": current.level.value,
                "agreement_id": agreement.id if agreement else None,
                "until": _iso(agreement.lapses_at()) if agreement else None,
                "reason": current.says(),
            }
        )
    agreements = policy.agreements(owner=owner, camera=camera_id)
    return answer({"agreements": [a.as_dict(now) for a in agreements], "cameras": levels})


@needs(Access.SHARING_WRITE)
async def make_agreement(request: web.Request) -> web.Response:
    """`POST /api/sharing`: make an agreement, superseding the one in force for the same scope."""
    hub = request.app[hub_key]
    policy = _policy(request)
    principal = principal_of(request)
    body = await _body(request)
    if principal.owner is not None:
        given = body.get("owner", principal.owner)
        if given != principal.owner:
            raise refused(403, f"you act for {principal.owner}: make agreements for it only")
        body = {**body, "owner": principal.owner}
    try:
        draft = parse_draft(body, hub.config.hub.timezone, policy.now())
    except AgreementError as exc:
        raise refused(400, str(exc)) from None
    if await hub.registry.get_owner(draft.owner) is None:
        raise refused(400, f"no owner {draft.owner!r}: register the owner first")
    if draft.camera is not None:
        camera = await hub.registry.get_camera(draft.camera)
        if principal.owner is not None and (camera is None or camera.owner != principal.owner):
            raise refused(404, f"{principal.owner} has no camera {draft.camera!r}")
        if camera is None:
            raise refused(400, f"no camera {draft.camera!r}: register the camera first")
        if camera.owner != draft.owner:
            raise refused(
                400,
                f"camera {draft.camera!r} belongs to {camera.owner}, not {draft.owner}: "
                "an agreement covers only its owner's cameras",
            )
    made, superseded = await policy.make(draft, principal.name)
    await _record(request, made, "changed" if superseded else "made", superseded=superseded)
    return answer(
        {"agreement": made.as_dict(policy.now()), "supersedes": [old.id for old in superseded]},
        201,
    )


@needs(Access.SHARING_WRITE)
async def revoke_agreement(request: web.Request) -> web.Response:
    """`POST /api/sharing/{agreement_id}/revoke` with `{"reason": ...}`: at once."""
    policy = _policy(request)
    principal = principal_of(request)
    agreement_id = request.match_info["agreement_id"]
    found = policy.get(agreement_id)
    if found is None or (principal.owner is not None and found.owner != principal.owner):
        raise refused(404, f"no sharing agreement {agreement_id!r}")
    try:
        reason = parse_reason(await _body(request))
        revoked = await policy.revoke(agreement_id, principal.name, reason)
    except AgreementError as exc:
        raise refused(400, str(exc)) from None
    if revoked is None:
        raise refused(404, f"no sharing agreement {agreement_id!r}")
    await _record(request, revoked, "revoked", reason=reason)
    return answer({"agreement": revoked.as_dict(policy.now())})


async def _record(
    request: web.Request,
    agreement: SharingAgreement,
    change: str,
    *,
    superseded: list[SharingAgreement] | None = None,
    reason: str | None = None,
) -> None:
    """Record the change as `sharing.change`: who, whose, what, from where."""
    details: dict[str, Any] = {
        "change": change,
        "agreement_id": agreement.id,
        "level": agreement.level.value,
        "purpose": agreement.purpose.value,
        "starts_at": _iso(agreement.starts_at),
        "ends_at": _iso(agreement.ends_at),
        "signed_by": agreement.signed_by,
    }
    if superseded:
        details["supersedes"] = [old.id for old in superseded]
    if reason is not None:
        details["reason"] = reason
    await request.app[hub_key].audit.append(
        Action.SHARING_CHANGE,
        Actor.of(principal_of(request)),
        camera_id=agreement.camera,
        owner_id=agreement.owner,
        source=request.remote,
        details=details,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def add_sharing_routes(app: web.Application) -> None:
    """Mount the sharing agreements' API."""
    app.router.add_get("/api/sharing", list_agreements)
    app.router.add_post("/api/sharing", make_agreement)
    app.router.add_post("/api/sharing/{agreement_id}/revoke", revoke_agreement)
