"""Who may do what: users and roles, API tokens, web sessions, and the principal of a request.

See docs/access.md for the roles and what each may do.
"""

from __future__ import annotations

from hub.access.invites import Invite, InviteRefused, Invites
from hub.access.passwords import PasswordError, Passwords
from hub.access.roles import (
    ADMIN_TOKEN_PRINCIPAL,
    OPEN,
    ROLE_ACCESS,
    SCOPES,
    Access,
    Principal,
    PrincipalKind,
    Refusal,
    Role,
)
from hub.access.sessions import Sessions
from hub.access.throttle import LoginThrottle
from hub.access.tokens import Token, Tokens
from hub.access.users import AccountError, User, Users
from hub.store import Database


class Accounts:
    """Users, tokens, sessions and invitations of one store, sharing one password hasher."""

    def __init__(self, db: Database, passwords: Passwords | None = None) -> None:
        self.passwords = passwords or Passwords()
        self.users = Users(db, self.passwords)
        self.tokens = Tokens(db)
        self.sessions = Sessions(db)
        self.invites = Invites(db, self.passwords)


__all__ = [
    "ADMIN_TOKEN_PRINCIPAL",
    "OPEN",
    "ROLE_ACCESS",
    "SCOPES",
    "Access",
    "AccountError",
    "Accounts",
    "Invite",
    "InviteRefused",
    "Invites",
    "LoginThrottle",
    "PasswordError",
    "Passwords",
    "Principal",
    "PrincipalKind",
    "Refusal",
    "Role",
    "Sessions",
    "Token",
    "Tokens",
    "User",
    "Users",
]
