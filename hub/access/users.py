"""Users in the store: a name, a role, a password hash, and what an owner or responder acts for."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.passwords import Passwords
from hub.access.roles import ROLE_ACCESS, Principal, PrincipalKind, Role
from hub.store import Database, unbroken
from hub.store.models import UserRow, WebSessionRow, utcnow

NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")


class AccountError(ValueError):
    """A user or token change the store refuses; the message says why in plain words."""


def normal_name(name: str) -> str:
    """A user name as stored: trimmed and in lower case, so `Sari` and `sari` are one user."""
    return name.strip().lower()


@dataclass(frozen=True, slots=True)
class User:
    """A user as the rest of the hub sees it: never with the password hash."""

    id: str
    name: str
    role: Role
    owner: str | None
    responder: str | None
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None

    def principal(self) -> Principal:
        """The user signed in with a session: everything the role allows."""
        return Principal(
            kind=PrincipalKind.USER,
            name=self.name,
            role=self.role,
            access=ROLE_ACCESS[self.role],
            user_id=self.id,
            owner=self.owner,
            responder=self.responder,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the CLI and the API."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "owner": self.owner,
            "responder": self.responder,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


def user_of(row: UserRow) -> User:
    """The record of a stored user."""
    return User(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        owner=row.owner_id,
        responder=row.responder_id,
        disabled=row.disabled,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


class Users:
    """Adds, lists, changes and signs in users."""

    def __init__(self, db: Database, passwords: Passwords) -> None:
        self._db = db
        self._passwords = passwords

    @unbroken
    async def add(
        self,
        name: str,
        role: Role | str,
        password: str,
        *,
        owner: str | None = None,
        responder: str | None = None,
    ) -> User:
        """A new user; AccountError for a taken or malformed name or a role without its tie."""
        name = normal_name(name)
        if NAME.fullmatch(name) is None:
            raise AccountError(
                f"{name[:70]!r} is not a user name: 1 to 64 of a-z 0-9 . _ @ -, "
                "starting with a letter or digit"
            )
        role = _role(role)
        _check_ties(role, owner, responder)
        password_hash = await self._passwords.hash(password)
        row = UserRow(
            id=uuid.uuid4().hex,
            name=name,
            role=role.value,
            owner_id=owner,
            responder_id=responder,
            password_hash=password_hash,
            disabled=False,
        )
        try:
            async with self._db.session() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise AccountError(f"there is already a user {name!r}") from None
        return user_of(row)

    async def get(self, name: str) -> User | None:
        """The user with this name, or None."""
        async with self._db.session() as session:
            row = await session.scalar(select(UserRow).where(UserRow.name == normal_name(name)))
        return None if row is None else user_of(row)

    async def list(self) -> list[User]:
        """Every user, by name."""
        async with self._db.session() as session:
            rows = await session.scalars(select(UserRow).order_by(UserRow.name))
            return [user_of(row) for row in rows]

    @unbroken
    async def set_password(self, name: str, password: str) -> User:
        """A new password; the user's open sessions end, so a stolen one stops working."""
        password_hash = await self._passwords.hash(password)
        async with self._db.session() as session, session.begin():
            row = await self._row(session, name)
            row.password_hash = password_hash
            await session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == row.id))
        return user_of(row)

    @unbroken
    async def set_disabled(self, name: str, disabled: bool) -> User:
        """Disable (sessions end, tokens stop working) or enable a user again."""
        async with self._db.session() as session, session.begin():
            row = await self._row(session, name)
            row.disabled = disabled
            if disabled:
                await session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == row.id))
        return user_of(row)

    @unbroken
    async def sign_in(self, name: str, password: str) -> User | None:
        """The user if `password` is theirs and they are enabled, else None, in about one time.

        An unknown name is checked against a dummy hash, so that how long the answer takes
        does not tell which names exist.
        """
        async with self._db.session() as session:
            row = await session.scalar(select(UserRow).where(UserRow.name == normal_name(name)))
        stored = None if row is None else row.password_hash
        if not await self._passwords.verify(stored, password) or row is None or row.disabled:
            return None
        now = utcnow()
        rehash = self._passwords.needs_rehash(row.password_hash)
        new_hash = await self._passwords.hash(password) if rehash else None
        async with self._db.session() as session, session.begin():
            fresh = await session.get(UserRow, row.id)
            if fresh is None or fresh.disabled:
                return None
            fresh.last_login_at = now
            if new_hash is not None:
                fresh.password_hash = new_hash
        return user_of(fresh)

    @staticmethod
    async def _row(session: AsyncSession, name: str) -> UserRow:
        row: UserRow | None = await session.scalar(
            select(UserRow).where(UserRow.name == normal_name(name))
        )
        if row is None:
            raise AccountError(f"no user {normal_name(name)[:70]!r}")
        return row


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise AccountError(f"unknown role {str(value)[:40]!r} (known: {known})") from None


def _check_ties(role: Role, owner: str | None, responder: str | None) -> None:
    if role is Role.OWNER and not owner:
        raise AccountError("an owner user needs --owner: the owner whose cameras it manages")
    if role is not Role.OWNER and owner:
        raise AccountError("only an owner user belongs to an owner")
    if role is Role.RESPONDER and not responder:
        raise AccountError("a responder user needs --responder: a responder id from the config")
    if role is not Role.RESPONDER and responder:
        raise AccountError("only a responder user acts for a responder")
