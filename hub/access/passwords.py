"""Passwords: kept only as Argon2id hashes, checked off the event loop, never logged.

Argon2id (RFC 9106) is memory-hard: a copied store costs an attacker 64 MiB and a tenth of a
second of a core per guess with argon2-cffi's default parameters. The parameters travel inside
each hash, so raising them later rehashes every password at its next sign-in.
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024
"""Longer is refused before hashing: a megabyte "password" only costs the hub time."""

KDF_CONCURRENCY = 2
"""Hashes computed at once: each takes 64 MiB, and a burst of sign-ins must not exhaust memory."""


class PasswordError(ValueError):
    """A password the hub will not take; the message says why, never what it was."""


def check_policy(password: str) -> None:
    """Raise PasswordError unless `password` is long enough (length is what resists guessing)."""
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"a password has at most {MAX_LENGTH} characters")
    if password.strip() != password or not password.isprintable():
        raise PasswordError("a password has no spaces at its ends and no control characters")


class Passwords:
    """Hashes and checks passwords in worker threads, a few at a time."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._slots = asyncio.Semaphore(KDF_CONCURRENCY)
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        """The encoded Argon2id hash of a password that passed `check_policy`."""
        check_policy(password)
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches `stored`; with no hash, as slow a False (no user to time)."""
        if len(password) > MAX_LENGTH:
            return False
        if stored is None:
            stored = await self.dummy()
            password = ""  # never matches: the dummy is the hash of an unknown random text
        async with self._slots:
            return await asyncio.to_thread(self._check, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        """Whether `stored` was made with weaker parameters than the hub uses now."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    async def dummy(self) -> str:
        """A hash nobody knows the password of, made once, to time unknown names like known."""
        if self._dummy is None:
            async with self._slots:
                if self._dummy is None:
                    self._dummy = await asyncio.to_thread(
                        self._hasher.hash, secrets.token_urlsafe(32)
                    )
        return self._dummy

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
