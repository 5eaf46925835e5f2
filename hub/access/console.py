"""What `pantau users` and `pantau tokens` do: they change the store directly, like `cameras add`.

A running hub sees the changes at the next request: it keeps no user, token or session in
memory.
"""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

from hub.access import AccountError, Accounts, Token, User
from hub.audit import Action, Actor, ActorKind, AuditLog
from hub.config import Config
from hub.incidents.rules import parse_duration
from hub.store.models import utcnow

PASSWORD_ENV = "PANTAU_PASSWORD"  # noqa: S105 - the variable's name
"""For scripts: the new password, instead of asking for it twice."""


@asynccontextmanager
async def _accounts(config: Config) -> AsyncIterator[tuple[Accounts, set[str]]]:
    """The store's accounts and the owner ids it knows (after syncing the config's owners)."""
    async with _console(config) as (accounts, owners, _):
        yield accounts, owners


@asynccontextmanager
async def _console(config: Config) -> AsyncIterator[tuple[Accounts, set[str], AuditLog]]:
    """`_accounts`, and the audit log that records what the console changes."""
    from hub.runtime import Hub

    hub = Hub(config)
    try:
        registry = await hub.open_store()
        await registry.sync_from_config(config)
        owners = {owner.id for owner in await registry.list_owners()}
        yield Accounts(hub.db), owners, hub.audit
    finally:
        await hub.db.close()


def console_actor() -> Actor:
    """Who changes accounts at the console: the operating-system login that runs `pantau`."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return Actor(f"console:{login}", ActorKind.NAMED, login)


async def add_user(
    config: Config,
    name: str,
    role: str,
    password: str,
    *,
    owner: str | None = None,
    responder: str | None = None,
) -> User:
    """Add a user, checking that its owner and responder exist."""
    responders = {r.id for r in config.responders}
    if responder is not None and responder not in responders:
        known = ", ".join(sorted(responders)) or "none"
        raise AccountError(f"no responder {responder!r} in the config (known: {known})")
    async with _console(config) as (accounts, owners, audit):
        if owner is not None and owner not in owners:
            known = ", ".join(sorted(owners)) or "none"
            raise AccountError(f"no owner {owner!r} (known: {known})")
        user = await accounts.users.add(name, role, password, owner=owner, responder=responder)
        details = {"user": user.name, "change": "add", "role": user.role.value}
        await audit.append(
            Action.USER_CHANGE,
            console_actor(),
            owner_id=owner,
            details={**details, "responder": responder},
        )
        return user


async def list_users(config: Config) -> list[User]:
    """Every user."""
    async with _accounts(config) as (accounts, _):
        return await accounts.users.list()


async def set_password(config: Config, name: str, password: str) -> User:
    """A new password; the user's sessions end."""
    async with _console(config) as (accounts, _, audit):
        user = await accounts.users.set_password(name, password)
        await audit.append(
            Action.USER_CHANGE, console_actor(), details={"user": user.name, "change": "passwd"}
        )
        return user


async def set_disabled(config: Config, name: str, disabled: bool) -> User:
    """Disable or enable a user."""
    async with _console(config) as (accounts, _, audit):
        user = await accounts.users.set_disabled(name, disabled)
        change = "disable" if disabled else "enable"
        await audit.append(
            Action.USER_CHANGE, console_actor(), details={"user": user.name, "change": change}
        )
        return user


def lifetime(text: str) -> timedelta:
    """A token's lifetime from `90d`, `12h`, `30m`: AccountError for anything else."""
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise AccountError(f"--expires takes a duration such as 90d or 12h, not {text!r}") from None
    if seconds <= 0:
        raise AccountError("--expires must be longer than 0 s")
    return timedelta(seconds=seconds)


async def create_token(
    config: Config, user: str, scopes: Sequence[str], expires: str, name: str | None
) -> tuple[Token, str]:
    """A new token and its secret (to show once)."""
    valid_for = lifetime(expires)
    async with _console(config) as (accounts, _, audit):
        token, secret = await accounts.tokens.create(user, scopes, lifetime=valid_for, name=name)
        details = {
            "token_id": token.id,
            "user": token.user,
            "scopes": sorted(scope.value for scope in token.scopes),
            "expires": token.expires_at.isoformat(),
        }
        await audit.append(Action.TOKEN_CREATE, console_actor(), details=details)
        return token, secret


async def list_tokens(config: Config, user: str | None = None) -> list[Token]:
    """Every token, or one user's."""
    async with _accounts(config) as (accounts, _):
        return await accounts.tokens.list(user)


async def revoke_token(config: Config, token_id: str) -> Token:
    """Revoke a token."""
    async with _console(config) as (accounts, _, audit):
        token = await accounts.tokens.revoke(token_id)
        details = {"token_id": token.id, "user": token.user}
        await audit.append(Action.TOKEN_REVOKE, console_actor(), details=details)
        return token


def user_rows(users: Sequence[User]) -> tuple[list[list[object]], list[str]]:
    """Rows and headers for `pantau users list`."""
    rows: list[list[object]] = [
        [
            u.name,
            u.role.value,
            u.owner or u.responder or "",
            "disabled" if u.disabled else "active",
            f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never",
        ]
        for u in users
    ]
    return rows, ["NAME", "ROLE", "FOR", "STATE", "LAST SIGN-IN (UTC)"]


def token_rows(tokens: Sequence[Token]) -> tuple[list[list[object]], list[str]]:
    """Rows and headers for `pantau tokens list`."""
    now = utcnow()
    rows: list[list[object]] = [
        [
            t.id,
            t.name,
            t.user,
            " ".join(sorted(s.value for s in t.scopes)),
            t.state(now),
            f"{t.expires_at:%Y-%m-%d %H:%M}",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never",
        ]
        for t in tokens
    ]
    return rows, ["ID", "NAME", "USER", "SCOPES", "STATE", "EXPIRES (UTC)", "LAST USED (UTC)"]
