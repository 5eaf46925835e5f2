"""API tokens for machines: shown once, kept as a digest, scoped, expiring, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from hub.access.roles import (
    ROLE_ACCESS,
    Access,
    Principal,
    PrincipalKind,
    Refusal,
    Role,
    scope_list,
)
from hub.access.users import AccountError, normal_name
from hub.store import Database, unbroken
from hub.store.models import ApiTokenRow, UserRow, utcnow

PREFIX = "pantau_"
"""Every token starts so, for secret scanners and for people reading a config."""

DEFAULT_LIFETIME = timedelta(days=90)
LAST_USED_EVERY = timedelta(minutes=1)
"""`last_used_at` is written at most this often: a busy ingest token should not write per event."""

NOT_VALID = "the token is not valid (unknown or revoked)"


def digest(secret: str) -> str:
    """The SHA-256 of a token or session id, as stored: enough for 256 random bits."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Token:
    """A token as listed: everything but the token itself, which nobody sees twice."""

    id: str
    name: str
    user: str
    scopes: frozenset[Access]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> str:
        """`active`, `expired` or `revoked`."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.expires_at else "active"

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """JSON-ready, without the token."""
        return {
            "id": self.id,
            "name": self.name,
            "user": self.user,
            "scopes": sorted(s.value for s in self.scopes),
            "state": self.state(now or utcnow()),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


class Tokens:
    """Creates, lists, revokes and checks API tokens."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @unbroken
    async def create(
        self,
        user: str,
        scopes: Iterable[str],
        *,
        lifetime: timedelta = DEFAULT_LIFETIME,
        name: str | None = None,
    ) -> tuple[Token, str]:
        """A new token for `user` and the token itself, to show once and never again."""
        try:
            wanted = scope_list(tuple(scopes))
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        if not wanted:
            raise AccountError("a token needs at least one scope")
        if lifetime <= timedelta(0):
            raise AccountError("a token's lifetime must be positive")
        now = utcnow()
        secret = PREFIX + secrets.token_urlsafe(32)
        async with self._db.session() as session, session.begin():
            owner = await session.scalar(select(UserRow).where(UserRow.name == normal_name(user)))
            if owner is None:
                raise AccountError(f"no user {normal_name(user)[:70]!r}")
            if owner.disabled:
                raise AccountError(f"user {owner.name!r} is disabled")
            beyond = wanted - ROLE_ACCESS[Role(owner.role)]
            if beyond:
                raise AccountError(
                    f"a {owner.role} cannot have {', '.join(sorted(beyond))}: "
                    "a token never does more than its user"
                )
            row = ApiTokenRow(
                id=secrets.token_hex(6),
                name=(name or "").strip()[:200] or f"{owner.name} {now:%Y-%m-%d}",
                user_id=owner.id,
                token_hash=digest(secret),
                scopes=sorted(s.value for s in wanted),
                expires_at=now + lifetime,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
        return _token_of(row, owner.name), secret

    async def list(self, user: str | None = None) -> list[Token]:
        """Every token (or one user's), oldest first."""
        query = (
            select(ApiTokenRow, UserRow.name)
            .join(UserRow, ApiTokenRow.user_id == UserRow.id)
            .order_by(ApiTokenRow.created_at, ApiTokenRow.id)
        )
        if user is not None:
            query = query.where(UserRow.name == normal_name(user))
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return [_token_of(row, user_name) for row, user_name in rows]

    @unbroken
    async def revoke(self, token_id: str) -> Token:
        """Revoke a token for good; revoking it again changes nothing."""
        now = utcnow()
        async with self._db.session() as session, session.begin():
            row = await session.get(ApiTokenRow, token_id.strip())
            if row is None:
                raise AccountError(f"no token {token_id.strip()[:40]!r}")
            if row.revoked_at is None:
                row.revoked_at = now
            user_name = await session.scalar(select(UserRow.name).where(UserRow.id == row.user_id))
        return _token_of(row, user_name or "?")

    @unbroken
    async def identify(self, secret: str, now: datetime | None = None) -> Principal | Refusal:
        """Who a bearer token acts for, with its scopes its user's role still allows."""
        if not secret.startswith(PREFIX):
            return Refusal(NOT_VALID)
        now = now or utcnow()
        query = (
            select(ApiTokenRow, UserRow)
            .join(UserRow, ApiTokenRow.user_id == UserRow.id)
            .where(ApiTokenRow.token_hash == digest(secret))
        )
        async with self._db.session() as session:
            found = (await session.execute(query)).first()
        if found is None:
            return Refusal(NOT_VALID)
        token, user = found
        if token.revoked_at is not None:
            return Refusal(NOT_VALID)
        if now >= token.expires_at:
            return Refusal(f"the token expired at {token.expires_at:%Y-%m-%d %H:%M} UTC")
        if user.disabled:
            return Refusal("the token's user is disabled")
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
            async with self._db.session() as session, session.begin():
                await session.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == token.id).values(last_used_at=now)
                )
        role = Role(user.role)
        return Principal(
            kind=PrincipalKind.TOKEN,
            name=user.name,
            role=role,
            access=_scopes(token.scopes) & ROLE_ACCESS[role],
            user_id=user.id,
            owner=user.owner_id,
            responder=user.responder_id,
            token_id=token.id,
        )


def _token_of(row: ApiTokenRow, user: str) -> Token:
    return Token(
        id=row.id,
        name=row.name,
        user=user,
        scopes=_scopes(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _scopes(stored: list[str]) -> frozenset[Access]:
    # A scope a later version dropped is ignored, never an error at every request.
    known = {access.value for access in Access}
    return frozenset(Access(scope) for scope in stored if scope in known)
