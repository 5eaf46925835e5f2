"""Who may call which route: every route says what it needs, and the handler wrapper enforces it.

Until users, roles and scoped tokens exist, the one credential is the local admin token: a
random token in `<data_dir>/admin.token` (mode 600, made on the first start), or
`PANTAU_ADMIN_TOKEN` from the environment. The `pantau` command on the hub's machine reads the
same file, so an operator at the console can acknowledge an incident through the running hub
without anything more being set up; whoever can read the data folder is the hub's admin anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from pathlib import Path

from aiohttp import web

log = logging.getLogger(__name__)

TOKEN_FILE = "admin.token"  # noqa: S105 - a file name
ENV_VAR = "PANTAU_ADMIN_TOKEN"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Access(StrEnum):
    """What a route needs."""

    PUBLIC = "public"
    """Anyone: health checks."""
    SIGNED_LINK = "signed_link"
    """A link the hub signed (an acknowledge link); the handler checks the signature."""
    ADMIN = "admin"
    """The admin token."""


ACCESS_ATTRIBUTE = "pantau_access"
"""Each handler carries what it needs, so a test can walk every route and check it."""


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
    """Checks a request's bearer token against the admin token (kept only as a digest)."""

    def __init__(self, token: str) -> None:
        self._digest = hashlib.sha256(token.encode("utf-8")).digest()

    def allows(self, request: web.Request) -> bool:
        """Whether the request carries the admin token."""
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return False
        digest = hashlib.sha256(given.strip().encode("utf-8")).digest()
        return hmac.compare_digest(digest, self._digest)


guard_key = web.AppKey("guard", Guard)


def needs(access: Access) -> Callable[[Handler], Handler]:
    """Declare (and for ADMIN, enforce) what a route handler needs."""

    def wrap(handler: Handler) -> Handler:
        if access is not Access.ADMIN:
            setattr(handler, ACCESS_ATTRIBUTE, access)
            return handler

        async def checked(request: web.Request) -> web.StreamResponse:
            if not request.app[guard_key].allows(request):
                return web.json_response(
                    {"error": "this needs the admin token: Authorization: Bearer <token>"},
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="pantau"'},
                )
            return await handler(request)

        checked.__doc__ = handler.__doc__
        checked.__name__ = handler.__name__
        setattr(checked, ACCESS_ATTRIBUTE, access)
        return checked

    return wrap
