"""Owner onboarding over HTTP: an admin invites an owner's first user, who accepts by a link.

The admin makes the invitation (`POST /api/invites`) and sends its link; the person opening
it sees whose invitation it is (`GET /api/invites/{token}`), sets a password and is signed in
as the owner's user (`POST /api/invites/{token}/accept`). From there the owner registers its
sites and cameras (hub/web/sites.py, cameras.py, devices.py). docs/onboarding.md tells it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import ValidationError

from hub.access import AccountError, InviteRefused, LoginThrottle, PasswordError
from hub.access.invites import DEFAULT_DAYS
from hub.access.throttle import Limit
from hub.audit import Action, Actor, ActorKind
from hub.logs import redactor
from hub.registry import OwnerInput, RegistryError, explain
from hub.web.answers import answer, refused
from hub.web.auth import Access, guard_key, needs, principal_of
from hub.web.cameras import add_camera_routes
from hub.web.devices import add_device_routes
from hub.web.keys import hub_key
from hub.web.login import start_session
from hub.web.scoped import json_object, only
from hub.web.sites import add_site_routes

log = logging.getLogger(__name__)

T = TypeVar("T")

INVITE_FIELDS = frozenset({"owner_id", "owner", "name", "email", "days"})


ACCESS_LOG = "aiohttp.access"

invite_throttle_key = web.AppKey("invite_throttle", LoginThrottle)
"""Unknown invitation links, counted per client address: guessing one is slowed as sign-in is."""


def _days(value: object) -> int:
    if value is None:
        return DEFAULT_DAYS
    if not isinstance(value, int) or isinstance(value, bool):
        raise refused(400, "days must be a whole number of days")
    return value


def _email(value: object) -> str | None:
    if value is None or value == "":
        return None
    if (
        not isinstance(value, str)
        or "@" not in value
        or len(value) > 200
        or not value.isprintable()
    ):
        raise refused(400, "email must be an e-mail address (at most 200 characters)")
    return value.strip()


async def _invited_owner(request: web.Request, body: dict[str, Any]) -> tuple[str, bool]:
    """The owner the invitation is for, made first when the body describes a new one."""
    registry = request.app[hub_key].registry
    given, new = body.get("owner_id"), body.get("owner")
    if new is not None:
        if given is not None:
            raise refused(400, "give owner_id (an existing owner) or owner (a new one), not both")
        if not isinstance(new, dict):
            raise refused(400, "owner must be an object: {id, name, kind: opd or private}")
        try:
            owner = OwnerInput.model_validate(new)
        except ValidationError as exc:
            raise refused(400, f"owner: {explain(exc)}") from None
        try:
            await registry.add_owner(owner)
        except RegistryError as exc:
            raise refused(409, f"{exc}: send owner_id to invite a user of it") from None
        return owner.id, True
    if not isinstance(given, str) or not given:
        raise refused(400, "owner_id is required: the owner whose user is invited")
    if await registry.get_owner(given) is None:
        raise refused(
            404, f"no owner {given[:70]!r}: add it first, or send owner {{id, name, kind}}"
        )
    return given, False


@needs(Access.ADMIN)
async def create_invite(request: web.Request) -> web.Response:
    """`POST /api/invites`: 201 with the invitation and its link, shown this once."""
    hub = request.app[hub_key]
    principal = principal_of(request)
    body = await json_object(request)
    only(body, INVITE_FIELDS)
    name, days, email = body.get("name"), _days(body.get("days")), _email(body.get("email"))
    if not isinstance(name, str) or not name.strip():
        raise refused(400, "name is required: the user name the owner's person will sign in with")
    owner, owner_made = await _invited_owner(request, body)
    accounts = request.app[guard_key].accounts
    try:
        invite, token = await accounts.invites.create(
            owner, name, created_by=principal.name, email=email, days=days
        )
    except AccountError as exc:
        status = 409 if "already" in str(exc) else 400
        if owner_made:  # a new owner made for an invitation that failed is of no use
            await hub.registry.remove_owner(owner)
        raise refused(status, str(exc)) from None
    details = {
        "user": invite.name,
        "change": "invite",
        "role": "owner",
        "invite_id": invite.id,
        "expires": invite.expires_at.isoformat(),
        "owner_added": owner_made,
    }
    await hub.audit.append(
        Action.USER_CHANGE,
        Actor.of(principal),
        owner_id=owner,
        source=request.remote,
        details=details,
    )
    log.info("%s invited %s for owner %s", principal.name, invite.name, owner)
    url = f"{hub.config.hub.web.base_url()}/invite/{token}"
    return answer(
        {
            "id": invite.id,
            "owner_id": owner,
            "name": invite.name,
            "url": url,
            "expires_at": invite.expires_at.isoformat(),
        },
        201,
    )


@needs(Access.ADMIN)
async def list_invites(request: web.Request) -> web.Response:
    """`GET /api/invites`: every invitation and its state, never a link."""
    invites = await request.app[guard_key].accounts.invites.list()
    return answer({"invites": [invite.as_dict() for invite in invites]})


@needs(Access.ADMIN)
async def revoke_invite(request: web.Request) -> web.Response:
    """`POST /api/invites/{invite_id}/revoke`: the link stops working at once."""
    principal = principal_of(request)
    try:
        invite = await request.app[guard_key].accounts.invites.revoke(
            request.match_info["invite_id"]
        )
    except InviteRefused as exc:
        raise refused(exc.status, str(exc)) from None
    await request.app[hub_key].audit.append(
        Action.USER_CHANGE,
        Actor.of(principal),
        owner_id=invite.owner,
        source=request.remote,
        details={"user": invite.name, "change": "invite.revoke", "invite_id": invite.id},
    )
    return answer(invite.as_dict())


def _throttled(request: web.Request) -> str:
    """The client's address; 429 while it waits after too many unknown links."""
    address = request.remote or "unknown"
    wait = request.app[invite_throttle_key].wait(address, address)
    if wait > 0:
        seconds = math.ceil(wait)
        raise refused(
            429,
            f"too many unknown invitation links: try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    return address


async def _lookup(request: web.Request, action: Callable[[str], Awaitable[T]]) -> T:
    """Run `action` on the link's token; an unknown link counts as a failed guess."""
    address = _throttled(request)
    try:
        return await action(request.match_info["token"])
    except InviteRefused as exc:
        if exc.status == 404:
            request.app[invite_throttle_key].failed(address, address)
            log.info("unknown invitation link from %s", address)
        raise refused(exc.status, str(exc)) from None


@needs(Access.PUBLIC)
async def show_invite(request: web.Request) -> web.Response:
    """`GET /api/invites/{token}`: whose invitation it is; 404 unknown, 410 used up or ended."""
    accounts = request.app[guard_key].accounts
    invite = await _lookup(request, accounts.invites.lookup)
    owner = await request.app[hub_key].registry.get_owner(invite.owner)
    return answer(
        {
            "owner_name": owner.name if owner is not None else invite.owner,
            "name": invite.name,
            "expires_at": invite.expires_at.isoformat(),
        }
    )


@needs(Access.PUBLIC)
async def accept_invite(request: web.Request) -> web.Response:
    """`POST /api/invites/{token}/accept` `{password}`: 201, the user made and signed in."""
    guard = request.app[guard_key]
    if not guard.same_origin(request):
        raise refused(403, "refused: the request came from another site's page")
    body = await json_object(request)
    only(body, {"password"})
    password = body.get("password")
    if not isinstance(password, str):
        raise refused(400, 'send JSON: {"password": ...}')
    try:
        user = await _lookup(request, lambda token: guard.accounts.invites.accept(token, password))
    except PasswordError as exc:
        raise refused(400, str(exc)) from None
    except AccountError as exc:
        raise refused(409, str(exc)) from None
    await request.app[hub_key].audit.append(
        Action.USER_CHANGE,
        Actor(user.id, ActorKind.USER, user.name),
        owner_id=user.owner,
        source=request.remote,
        details={"user": user.name, "change": "add", "role": user.role.value, "by": "invite"},
    )
    log.info("%s accepted an invitation for owner %s", user.name, user.owner)
    return await start_session(request, user, status=201)


def add_onboarding_routes(app: web.Application) -> None:
    """Mount invitations, sites, cameras and the routes that ask devices."""
    # The access log writes every path, invitation links too: scrub it before any handler sees
    # it, whoever configured logging (added once, however many apps).
    logging.getLogger(ACCESS_LOG).addFilter(redactor)
    app[invite_throttle_key] = LoginThrottle(per_name=Limit(free=20), per_address=Limit(free=20))
    app.router.add_post("/api/invites", create_invite)
    app.router.add_get("/api/invites", list_invites)
    app.router.add_post("/api/invites/{invite_id}/revoke", revoke_invite)
    app.router.add_get("/api/invites/{token}", show_invite)
    app.router.add_post("/api/invites/{token}/accept", accept_invite)
    add_site_routes(app)
    add_camera_routes(app)
    add_device_routes(app)
