"""What a route needs, what each role may do, and who is behind a request (its principal).

A route needs one `Access`. Most are also the scopes an API token carries: a role is the set
of scopes its users have, and a token acts with the scopes it was given that its user's role
still has, so that a token never does more than the person it acts for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Access(StrEnum):
    """What a route needs."""

    PUBLIC = "public"
    """Anyone: health checks, the sign-in itself."""
    SIGNED_LINK = "signed_link"
    """A link the hub signed (an acknowledge link); the handler checks the signature."""
    SIGNED_IN = "signed_in"
    """Anyone who proved who they are: a user, an API token of any scope, the admin token."""
    HUB_READ = "hub:read"
    """The hub's own state: plugins and their pages (a plugin route that declares nothing)."""
    CAMERAS_READ = "cameras:read"
    """The registry and snapshots; an owner's users see their owner's cameras only."""
    INCIDENTS_READ = "incidents:read"
    """The incident list; a responder's users see those sent to them, an owner's its own."""
    INCIDENTS_ACK = "incidents:ack"
    """Take an incident on; a responder's users only those sent to them."""
    INCIDENTS_RESOLVE = "incidents:resolve"
    """Close an incident."""
    INGEST = "ingest"
    """Send events in (an owner's webhook ingest), for the owner's own cameras."""
    CAMERAS_WRITE = "cameras:write"
    """Register and change sites and cameras, and test them; an owner's users only their own."""
    CAMERAS_LIVE = "cameras:live"
    """Watch a camera live, as far as its owner's sharing agreement allows."""
    CAMERAS_CONTROL = "cameras:control"
    """Move a camera (PTZ)."""
    CLIPS_EXPORT = "clips:export"
    """Cut and download a clip, as far as the sharing agreement allows."""
    SHARING_READ = "sharing:read"
    """The sharing agreements; an owner's users see their owner's only."""
    SHARING_WRITE = "sharing:write"
    """Make, change and revoke sharing agreements; an owner's users their owner's only."""
    MASKS_REQUEST = "masks:request"
    """Ask for a privacy mask to be lifted for a while (the first of two people)."""
    MASKS_APPROVE = "masks:approve"
    """Approve or refuse a mask lift someone else asked for (the second of two people)."""
    AUDIT_READ = "audit:read"
    """The audit log; an owner's users see the records of their owner's cameras only."""
    ADMIN = "admin"
    """Run the hub: users, tokens, configuration; the admin role and the admin token."""


OPEN = frozenset({Access.PUBLIC, Access.SIGNED_LINK})
"""Needs no credential at all."""

SCOPES = frozenset(Access) - OPEN - {Access.SIGNED_IN}
"""What a role grants and a token may carry."""


class Role(StrEnum):
    """What a user is in the command center."""

    ADMIN = "admin"
    """The command center's administrator: everything."""
    OPERATOR = "operator"
    """Watches the cameras and handles incidents."""
    RESPONDER = "responder"
    """One of the config's responders: sees and acknowledges the incidents sent to it."""
    OWNER = "owner"
    """Acts for one owner (an OPD or a business): its cameras, its sharing, its ingest."""
    VIEWER = "viewer"
    """Looks, changes nothing: the map wall in the regent's office."""


ROLE_ACCESS: Mapping[Role, frozenset[Access]] = {
    Role.ADMIN: SCOPES,
    Role.OPERATOR: frozenset(
        {
            Access.HUB_READ,
            Access.CAMERAS_READ,
            Access.INCIDENTS_READ,
            Access.INCIDENTS_ACK,
            Access.INCIDENTS_RESOLVE,
            Access.CAMERAS_LIVE,
            Access.CAMERAS_CONTROL,
            Access.CLIPS_EXPORT,
            Access.SHARING_READ,
            Access.MASKS_REQUEST,
        }
    ),
    Role.RESPONDER: frozenset({Access.INCIDENTS_READ, Access.INCIDENTS_ACK}),
    Role.OWNER: frozenset(
        {
            Access.CAMERAS_READ,
            Access.CAMERAS_WRITE,
            Access.CAMERAS_LIVE,
            Access.CLIPS_EXPORT,
            Access.INCIDENTS_READ,
            Access.INGEST,
            Access.SHARING_READ,
            Access.SHARING_WRITE,
            Access.AUDIT_READ,
        }
    ),
    Role.VIEWER: frozenset({Access.HUB_READ, Access.CAMERAS_READ, Access.INCIDENTS_READ}),
}


class PrincipalKind(StrEnum):
    """How a request proved who it is."""

    USER = "user"
    """A browser session, opened by signing in."""
    TOKEN = "token"  # noqa: S105 - a kind, not a secret
    """An API token, acting for its user."""
    ADMIN_TOKEN = "admin-token"  # noqa: S105 - a kind, not a secret
    """The hub's local root credential (`<data_dir>/admin.token`)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is behind a request, and what they may do; `request["principal"]` in handlers."""

    kind: PrincipalKind
    name: str
    """The user's name; `admin` for the admin token."""
    role: Role
    access: frozenset[Access]
    user_id: str | None = None
    owner: str | None = None
    """For an owner's user: the one owner whose data it sees."""
    responder: str | None = None
    """For a responder's user: the responder id (from the config) it acts for."""
    token_id: str | None = None

    def may(self, access: Access) -> bool:
        """Whether this principal may do what `access` names."""
        return access in OPEN or access is Access.SIGNED_IN or access in self.access

    def as_dict(self) -> dict[str, Any]:
        """The principal as the API shows it (`GET /api/me`); it holds no secret."""
        return {
            "kind": self.kind.value,
            "name": self.name,
            "role": self.role.value,
            "user_id": self.user_id,
            "owner": self.owner,
            "responder": self.responder,
            "token_id": self.token_id,
            "access": sorted(a.value for a in self.access),
        }


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why credentials that were given are not taken; told to whoever gave them."""

    reason: str


ADMIN_TOKEN_PRINCIPAL = Principal(
    kind=PrincipalKind.ADMIN_TOKEN, name="admin", role=Role.ADMIN, access=SCOPES
)


def scope_list(values: list[str] | tuple[str, ...]) -> frozenset[Access]:
    """Scopes from their names; ValueError names an unknown one and lists the known."""
    scopes = set()
    for value in values:
        try:
            scope = Access(value)
        except ValueError:
            scope = None
        if scope is None or scope not in SCOPES:
            known = ", ".join(sorted(SCOPES))
            raise ValueError(f"unknown scope {value!r} (known: {known})")
        scopes.add(scope)
    return frozenset(scopes)
