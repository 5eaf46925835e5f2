"""Who may call which route: every route says what it needs, and the handler wrapper enforces it.

A request proves who it is in one of three ways: the session cookie a browser got by signing
in, an API token (`Authorization: Bearer pantau_...`), or the local admin token. The admin
token is the hub's root credential: a random token in `<data_dir>/admin.token` (mode 600,
made on the first start), or `PANTAU_ADMIN_TOKEN` from the environment. The `pantau` command on
the hub's machine reads the same file, so an operator at the console can acknowledge an
incident through the running hub without anything more being set up; whoever can read the
data folder is the hub's admin anyway.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from hub.access import (
    ADMIN_TOKEN_PRINCIPAL,
    OPEN,
    Access,
    Accounts,
    LoginThrottle,
    Principal,
    PrincipalKind,
    Refusal,
)
from hub.access.audit import TokenUsed
from hub.bus import Bus
from hub.events import Context, Event
from hub.web.answers import error_answer

__all__ = [
    "ACCESS_ATTRIBUTE",
    "ENV_VAR",
    "PLUGIN_DEFAULT",
    "PRINCIPAL",
    "SECURE_SESSION_COOKIE",
    "SESSION_COOKIE",
    "TOKEN_FILE",
    "Access",
    "Guard",
    "Handler",
    "admin_token",
    "guard_key",
    "needs",
    "principal_of",
    "read_admin_token",
    "unauthenticated",
]

log = logging.getLogger(__name__)

TOKEN_FILE = "admin.token"  # noqa: S105 - a file name
ENV_VAR = "PANTAU_ADMIN_TOKEN"

SESSION_COOKIE = "pantau_session"
SECURE_SESSION_COOKIE = "__Host-pantau_session"
"""Over https: the `__Host-` prefix makes browsers refuse it unless Secure, on `/`, no Domain."""

PRINCIPAL = web.RequestKey("principal", Principal)
"""Where `needs` puts who is calling: `request[PRINCIPAL]`; `principal_of(request)` reads it."""

ACCESS_ATTRIBUTE = "pantau_access"
"""Each handler carries what it needs, so a test can walk every route and check it."""

PLUGIN_DEFAULT = Access.HUB_READ
"""What a plugin route needs when its handler declares nothing: a command-center user."""

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def admin_token(data_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """The admin token: PANTAU_ADMIN_TOKEN, else `<data_dir>/admin.token`, made if absent."""
    environ = os.environ if environ is None else environ
    given = environ.get(ENV_VAR, "").strip()
    if given:
        return given
    path = data_dir / TOKEN_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made meanwhile by another process: read theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
            log.info("created the admin token at %s", path)
    token = path.read_text(encoding="ascii").strip()
    if not token:
        raise ValueError(f"{path} is empty: delete it and the hub makes a new token")
    return token


def read_admin_token(data_dir: Path, environ: Mapping[str, str] | None = None) -> str | None:
    """The admin token if one exists (the CLI's view: it never makes one)."""
    environ = os.environ if environ is None else environ
    given = environ.get(ENV_VAR, "").strip()
    if given:
        return given
    try:
        return (data_dir / TOKEN_FILE).read_text(encoding="ascii").strip() or None
    except OSError:
        return None


class Guard:
    """Tells who a request is (admin token, API token or session) and keeps sign-in state."""

    def __init__(
        self,
        token: str,
        accounts: Accounts,
        bus: Bus | None = None,
        *,
        public_url: str | None = None,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self._digest = hashlib.sha256(token.encode("utf-8")).digest()
        self.accounts = accounts
        self.throttle = throttle or LoginThrottle()
        self._bus = bus
        self._public_origin = _origin(public_url) if public_url else None
        # A hub reached over https sends its cookie only over https, even behind a TLS proxy.
        self._secure = bool(public_url and public_url.startswith("https://"))

    def is_admin_token(self, given: str) -> bool:
        """Whether `given` is the admin token (compared as digests, in constant time)."""
        digest = hashlib.sha256(given.encode("utf-8")).digest()
        return hmac.compare_digest(digest, self._digest)

    async def identify(self, request: web.Request) -> Principal | Refusal | None:
        """Who the request is; a Refusal for credentials that do not hold, None for none."""
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, given = header.partition(" ")
            given = given.strip()
            if scheme.lower() != "bearer" or not given:
                return Refusal("send a token as Authorization: Bearer <token>")
            found = (
                ADMIN_TOKEN_PRINCIPAL
                if self.is_admin_token(given)
                else await self.accounts.tokens.identify(given)
            )
            if isinstance(found, Principal):
                await self.audit(
                    TokenUsed.create(
                        context=Context(user_id=found.user_id),
                        data={
                            "token": found.token_id or "admin",
                            "user": found.name,
                            "method": request.method,
                            "path": request.path,
                            "address": request.remote,
                        },
                    )
                )
            return found
        cookie = self.session_cookie(request)
        if cookie is not None:
            return await self.accounts.sessions.identify(cookie)
        return None

    def secure(self, request: web.Request) -> bool:
        """Whether cookies go out Secure: served over https, or public_url says https."""
        return self._secure or request.secure

    def cookie_name(self, request: web.Request) -> str:
        """The session cookie's name for this request."""
        return SECURE_SESSION_COOKIE if self.secure(request) else SESSION_COOKIE

    def session_cookie(self, request: web.Request) -> str | None:
        """The session id the browser sent, if any."""
        return request.cookies.get(SECURE_SESSION_COOKIE) or request.cookies.get(SESSION_COOKIE)

    def same_origin(self, request: web.Request) -> bool:
        """Whether a browser's request comes from the hub's own pages (or no browser sent it).

        SameSite=Strict keeps other sites' requests from carrying the cookie; this also refuses
        the hub's sibling sites (another app on the same domain), whose requests browsers count
        as same-site.
        """
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        allowed = {f"{request.scheme}://{request.host}".lower(), self._public_origin}
        return origin.lower() in allowed

    async def audit(self, event: Event) -> None:
        """Hand an `access.*` event to the bus (the audit log's hook); never fails a request."""
        if self._bus is None:
            return
        with contextlib.suppress(RuntimeError):  # the bus closed: the hub is stopping
            await self._bus.publish(event)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


guard_key = web.AppKey("guard", Guard)


def principal_of(request: web.Request) -> Principal:
    """The principal `needs` found for this request (only in handlers that need a credential)."""
    try:
        return request[PRINCIPAL]
    except KeyError:
        raise RuntimeError(f"{request.path} is not behind needs(): no principal") from None


def needs(access: Access) -> Callable[[Handler], Handler]:
    """Declare what a route handler needs, and (for all but PUBLIC and SIGNED_LINK) enforce it.

    A request without credentials is answered 401; with credentials that do not allow
    `access`, 403. The handler finds the caller in `request["principal"]`.
    """

    def wrap(handler: Handler) -> Handler:
        if access in OPEN:
            setattr(handler, ACCESS_ATTRIBUTE, access)
            return handler

        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            guard = request.app[guard_key]
            found = await guard.identify(request)
            if not isinstance(found, Principal):
                return unauthenticated(found)
            if not found.may(access):
                return error_answer(403, f"this needs {access.value}, which {_who(found)} lacks")
            by_cookie = found.kind is PrincipalKind.USER
            if by_cookie and request.method not in _SAFE_METHODS and not guard.same_origin(request):
                return error_answer(403, "refused: the request came from another site's page")
            request[PRINCIPAL] = found
            return await handler(request)

        setattr(checked, ACCESS_ATTRIBUTE, access)
        return checked

    return wrap


def unauthenticated(refusal: Refusal | None) -> web.Response:
    """401: no credentials, or credentials that do not hold."""
    reason = (
        refusal.reason
        if refusal is not None
        else "sign in (POST /api/login) or send a token: Authorization: Bearer <token>"
    )
    return error_answer(401, reason, headers={"WWW-Authenticate": 'Bearer realm="pantau"'})


def _who(principal: Principal) -> str:
    if principal.kind is PrincipalKind.TOKEN:
        return f"token {principal.token_id} (of {principal.name})"
    if principal.kind is PrincipalKind.ADMIN_TOKEN:
        return "the admin token"
    return f"a {principal.role.value}"
