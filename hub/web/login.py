"""Signing in and out of the web interface, and who the caller is (`GET /api/me`)."""

from __future__ import annotations

import logging
import math

from aiohttp import web

from hub.access.audit import SignedIn, SignedOut, SignInRefused
from hub.access.users import NAME, User, normal_name
from hub.events import Context
from hub.web.answers import answer, error_answer
from hub.web.auth import (
    SECURE_SESSION_COOKIE,
    SESSION_COOKIE,
    Access,
    Guard,
    guard_key,
    needs,
    principal_of,
)

log = logging.getLogger(__name__)

WRONG = "wrong name or password"
"""The one answer to every failed sign-in: unknown name, wrong password and disabled alike."""


async def _credentials(request: web.Request) -> tuple[str, str] | None:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    name, password = data.get("name"), data.get("password")
    if not isinstance(name, str) or not isinstance(password, str):
        return None
    return name, password


@needs(Access.PUBLIC)
async def login(request: web.Request) -> web.Response:
    """`POST /api/login` with `{"name", "password"}`: a session cookie for the browser."""
    guard = request.app[guard_key]
    if not guard.same_origin(request):
        return error_answer(403, "refused: the request came from another site's page")
    given = await _credentials(request)
    if given is None:
        return error_answer(400, 'send JSON: {"name": ..., "password": ...}')
    # A name is at most 64 characters; longer text is cut so that the throttle's keys stay small.
    name, password = normal_name(given[0])[:100], given[1]
    address = request.remote or "unknown"
    wait = guard.throttle.wait(name, address)
    if wait > 0:
        seconds = math.ceil(wait)
        await _refused(guard, name, address, "waiting")
        return error_answer(
            429,
            f"too many failed sign-ins: try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    user = await guard.accounts.users.sign_in(name, password)
    if user is None:
        guard.throttle.failed(name, address)
        log.info("sign-in refused from %s", address)
        await _refused(guard, name, address, WRONG)
        return error_answer(401, WRONG)
    guard.throttle.succeeded(name)
    return await start_session(request, user)


async def start_session(request: web.Request, user: User, status: int = 200) -> web.Response:
    """Sign `user` in: a new session, its cookie on the answer, and `access.login` on the bus."""
    guard = request.app[guard_key]
    address = request.remote or "unknown"
    cookie, expires = await guard.accounts.sessions.open(user.id)
    log.info("%s (%s) signed in from %s", user.name, user.role.value, address)
    await guard.audit(
        SignedIn.create(
            context=Context(user_id=user.id),
            data={"user": user.name, "role": user.role.value, "address": address},
        )
    )
    response = answer({"user": user.principal().as_dict(), "expires": expires.isoformat()}, status)
    response.set_cookie(
        guard.cookie_name(request),
        cookie,
        max_age=int(guard.accounts.sessions.lifetime.total_seconds()),
        path="/",
        secure=guard.secure(request),
        httponly=True,
        samesite="Strict",
    )
    return response


async def _refused(guard: Guard, name: str, address: str, reason: str) -> None:
    # The audit keeps the name only when a user has it: a password typed into the name box,
    # which no user is called, is kept by no one.
    known = await guard.accounts.users.get(name) if NAME.fullmatch(name) else None
    shown = known.name if known is not None else None
    await guard.audit(
        SignInRefused.create(
            context=Context(user_id=known.id if known else None),
            data={"name": shown, "address": address, "reason": reason},
        )
    )


@needs(Access.PUBLIC)
async def logout(request: web.Request) -> web.Response:
    """`POST /api/logout`: the session ends on the hub, and the browser forgets its cookie."""
    guard = request.app[guard_key]
    if not guard.same_origin(request):
        return error_answer(403, "refused: the request came from another site's page")
    cookie = guard.session_cookie(request)
    user_id = await guard.accounts.sessions.close(cookie) if cookie else None
    if user_id is not None:
        address = request.remote or "unknown"
        await guard.audit(
            SignedOut.create(context=Context(user_id=user_id), data={"address": address})
        )
    response = answer({"signed_out": user_id is not None})
    for name in (SESSION_COOKIE, SECURE_SESSION_COOKIE):
        if name in request.cookies:
            response.del_cookie(name, path="/", secure=name == SECURE_SESSION_COOKIE)
    return response


@needs(Access.SIGNED_IN)
async def me(request: web.Request) -> web.Response:
    """`GET /api/me`: who the caller is and what it may do."""
    return answer(principal_of(request).as_dict())


def add_login_routes(app: web.Application) -> None:
    """Mount sign-in, sign-out and `me`."""
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
