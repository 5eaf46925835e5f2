"""Sign-ins and token use as bus events: the audit log subscribes to `access.*`.

Each event's `context.user_id` is the acting user's id where there is one; `data` never holds
a password, a token or a session id.
"""

from __future__ import annotations

from hub.events import Event


class SignedIn(Event):
    """A user signed in; `data.user`, `data.role`, `data.address`."""

    event_type = "access.login"


class SignInRefused(Event):
    """A sign-in failed or waited; `data.name` (None unless a user has it), `address`, `reason`."""

    event_type = "access.login_failed"


class SignedOut(Event):
    """A user signed out; `data.address` (the user is `context.user_id`)."""

    event_type = "access.logout"


class TokenUsed(Event):
    """A token (`data.token`: its id, or `admin`) was used; `user`, `method`, `path`, `address`."""

    event_type = "access.token_used"
