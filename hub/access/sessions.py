"""Web sessions: a random id in a cookie, stored only as its digest, ending after a shift."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from hub.access.roles import Principal, Refusal
from hub.access.tokens import digest
from hub.access.users import user_of
from hub.store import Database, unbroken
from hub.store.models import UserRow, WebSessionRow, utcnow

LIFETIME = timedelta(hours=12)
"""A command-center shift: sign in at its start, and the session is over by the next one."""

ENDED = "the session ended: sign in again"


class Sessions:
    """Opens, checks and closes web sessions."""

    def __init__(self, db: Database, lifetime: timedelta = LIFETIME) -> None:
        self._db = db
        self.lifetime = lifetime

    @unbroken
    async def open(self, user_id: str, now: datetime | None = None) -> tuple[str, datetime]:
        """A new session for the user: the cookie's value (shown only to the browser) and end."""
        now = now or utcnow()
        cookie = secrets.token_urlsafe(32)
        expires = now + self.lifetime
        async with self._db.session() as session, session.begin():
            # Ended sessions are of no use to anyone: whoever signs in sweeps them away.
            await session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
            session.add(
                WebSessionRow(
                    id_hash=digest(cookie), user_id=user_id, created_at=now, expires_at=expires
                )
            )
        return cookie, expires

    async def identify(self, cookie: str, now: datetime | None = None) -> Principal | Refusal:
        """The signed-in user a session cookie stands for."""
        now = now or utcnow()
        query = (
            select(WebSessionRow.expires_at, UserRow)
            .join(UserRow, WebSessionRow.user_id == UserRow.id)
            .where(WebSessionRow.id_hash == digest(cookie))
        )
        async with self._db.session() as session:
            found = (await session.execute(query)).first()
        if found is None:
            return Refusal(ENDED)
        expires, user = found
        if now >= expires or user.disabled:
            return Refusal(ENDED)
        return user_of(user).principal()

    @unbroken
    async def close(self, cookie: str) -> str | None:
        """End the session; the id of its user, or None when there was no such session."""
        async with self._db.session() as session, session.begin():
            row = await session.get(WebSessionRow, digest(cookie))
            if row is None:
                return None
            await session.delete(row)
            return row.user_id
