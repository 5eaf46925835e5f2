"""Invitations: an admin invites an owner's first user, who accepts by setting a password.

The invitation is a link with a random 256-bit token, shown once to the admin who made it and
kept by the hub only as its SHA-256, like API tokens. It names the owner and the user name to
be; accepting it makes that user (role `owner`, tied to the owner) and uses the invitation up,
once, whoever else tries at the same moment.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hub.access.passwords import Passwords
from hub.access.roles import Role
from hub.access.tokens import digest
from hub.access.users import NAME, AccountError, User, normal_name, user_of
from hub.store import Database, unbroken
from hub.store.models import InviteRow, UserRow, utcnow

DEFAULT_DAYS = 7
MAX_DAYS = 30
"""An invitation is a password-less way in: it should not lie around for months."""


class InviteRefused(AccountError):
    """An invitation that cannot be used; `status`: 404 unknown, 410 used, revoked or expired."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class Invite:
    """An invitation as listed: everything but its token, which nobody sees twice."""

    id: str
    owner: str
    name: str
    email: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    user_id: str | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """`open`, `used`, `revoked` or `expired`."""
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.expires_at else "open"

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """JSON-ready, without the token."""
        return {
            "id": self.id,
            "owner_id": self.owner,
            "name": self.name,
            "email": self.email,
            "state": self.state(now or utcnow()),
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "used_at": self.used_at.isoformat() if self.used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _invite(row: InviteRow) -> Invite:
    return Invite(
        id=row.id,
        owner=row.owner_id,
        name=row.name,
        email=row.email,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        user_id=row.user_id,
        revoked_at=row.revoked_at,
    )


def _unusable(invite: Invite, now: datetime) -> InviteRefused | None:
    """Why a known invitation cannot be used any more, in words for the person holding it."""
    state = invite.state(now)
    if state == "used":
        return InviteRefused(
            410, "this invitation was already used: sign in with the name and password set then"
        )
    if state == "revoked":
        return InviteRefused(
            410, "this invitation was withdrawn: ask the command center for a new one"
        )
    if state == "expired":
        return InviteRefused(
            410,
            f"this invitation expired on {invite.expires_at:%Y-%m-%d %H:%M} UTC:"
            " ask the command center for a new one",
        )
    return None


UNKNOWN = InviteRefused(404, "no such invitation: check that the whole link was copied")


class Invites:
    """Makes, lists, revokes, looks up and accepts invitations."""

    def __init__(self, db: Database, passwords: Passwords) -> None:
        self._db = db
        self._passwords = passwords

    @unbroken
    async def create(
        self,
        owner: str,
        name: str,
        *,
        created_by: str,
        email: str | None = None,
        days: int = DEFAULT_DAYS,
        now: datetime | None = None,
    ) -> tuple[Invite, str]:
        """A new invitation and its token (to show once); AccountError for a taken name."""
        now = now or utcnow()
        name = normal_name(name)
        if NAME.fullmatch(name) is None:
            raise AccountError(
                f"{name[:70]!r} is not a user name: 1 to 64 of a-z 0-9 . _ @ -, "
                "starting with a letter or digit"
            )
        if not 1 <= days <= MAX_DAYS:
            raise AccountError(f"days must be between 1 and {MAX_DAYS}, got {days}")
        token = secrets.token_urlsafe(32)
        row = InviteRow(
            id=uuid.uuid4().hex,
            token_hash=digest(token),
            owner_id=owner,
            name=name,
            email=email,
            created_by=created_by,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        async with self._db.session() as session, session.begin():
            if await session.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
                raise AccountError(f"there is already a user {name!r}: invite another name")
            pending = await session.scalars(select(InviteRow).where(InviteRow.name == name))
            if any(_invite(other).state(now) == "open" for other in pending):
                raise AccountError(
                    f"{name!r} already has an open invitation: revoke it first, or use it"
                )
            session.add(row)
        return _invite(row), token

    async def list(self) -> list[Invite]:
        """Every invitation, newest first."""
        async with self._db.session() as session:
            rows = await session.scalars(select(InviteRow).order_by(InviteRow.created_at.desc()))
            return [_invite(row) for row in rows]

    @unbroken
    async def revoke(self, invite_id: str, now: datetime | None = None) -> Invite:
        """Withdraw an invitation that was not used yet; its link stops working at once."""
        now = now or utcnow()
        async with self._db.session() as session, session.begin():
            row = await session.get(InviteRow, invite_id)
            if row is None:
                raise InviteRefused(404, f"no invitation {invite_id[:70]!r}")
            if row.used_at is not None:
                raise InviteRefused(
                    409,
                    f"invitation {invite_id!r} was already used; disable the user"
                    f" {row.name!r} instead (pantau users disable {row.name})",
                )
            if row.revoked_at is None:
                row.revoked_at = now
            return _invite(row)

    async def lookup(self, token: str, now: datetime | None = None) -> Invite:
        """The open invitation of a link's token; InviteRefused (404, 410) says why not."""
        now = now or utcnow()
        async with self._db.session() as session:
            row = await session.scalar(
                select(InviteRow).where(InviteRow.token_hash == digest(token))
            )
        if row is None:
            raise UNKNOWN
        invite = _invite(row)
        refused = _unusable(invite, now)
        if refused is not None:
            raise refused
        return invite

    @unbroken
    async def accept(self, token: str, password: str, now: datetime | None = None) -> User:
        """Make the invitation's user with `password` and use the invitation up, once.

        The password is checked and hashed first; then, in one transaction, the invitation is
        marked used only if it still is open (so of two at once, one wins) and the user is
        added. A name taken meanwhile rolls both back: the invitation stays open.
        """
        invite = await self.lookup(token, now)
        password_hash = await self._passwords.hash(password)  # PasswordError says what is wrong
        now = now or utcnow()
        user = UserRow(
            id=uuid.uuid4().hex,
            name=invite.name,
            role=Role.OWNER.value,
            owner_id=invite.owner,
            responder_id=None,
            password_hash=password_hash,
            disabled=False,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._db.session() as session, session.begin():
                taken = await session.execute(
                    update(InviteRow)
                    .where(
                        InviteRow.id == invite.id,
                        InviteRow.used_at.is_(None),
                        InviteRow.revoked_at.is_(None),
                        InviteRow.expires_at > now,
                    )
                    .values(used_at=now, user_id=user.id)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    raise InviteRefused(
                        410, "this invitation was used or withdrawn a moment ago: sign in instead"
                    )
                session.add(user)
        except IntegrityError:
            raise AccountError(
                f"there is already a user {invite.name!r}: ask the command center for a new"
                " invitation"
            ) from None
        return user_of(user)
