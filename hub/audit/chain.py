"""An audit record, the closed vocabulary of what it says, and the hash that chains it.

A record's hash is SHA-256 over its canonical form: a JSON object holding exactly the fields
of `HASHED_FIELDS` (the previous record's hash among them), keys sorted, no whitespace, UTF-8,
times as `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC. The first record chains from `GENESIS`. Anyone
holding the records can recompute every hash: no key is needed to check the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hub.logs import SECRET_KEY_NAMES, names_secret, redactor

if TYPE_CHECKING:
    from hub.access import Principal

GENESIS = "0" * 64
"""The `prev_hash` of record 1."""

HASH_VERSION = 1
"""Written into every canonical form as `v`: a later format can never collide with this one."""

HASHED_FIELDS = (
    "v",
    "seq",
    "time",
    "actor",
    "actor_kind",
    "actor_name",
    "action",
    "camera",
    "owner",
    "source",
    "purpose",
    "details",
    "prev_hash",
)
"""The keys of the canonical form; `hash` is the digest of all of them."""

MAX_TEXT = 1000
"""Characters kept of a purpose, or of any text in `details`."""
LIMITS = {"actor": 200, "actor_name": 200, "camera": 64, "owner": 64, "source": 255}
"""Characters kept of each short field: the column's width."""


class Action(StrEnum):
    """What a record says happened; the vocabulary is closed, a new action is a code change."""

    SNAPSHOT_VIEW = "snapshot.view"
    """Someone looked at a camera's snapshot."""
    LIVE_VIEW = "live.view"
    """Someone opened a camera's live view; the purpose is required for a private camera."""
    CLIP_EXPORT = "clip.export"
    """A clip was exported (downloaded, attached) from a camera's recording."""
    PTZ_MOVE = "ptz.move"
    """Someone moved a PTZ camera."""
    MASK_LIFT = "mask.lift"
    """A privacy mask was lifted for a view or an export."""
    SHARING_CHANGE = "sharing.change"
    """An owner's sharing agreement changed (granted, narrowed, revoked)."""
    LOGIN = "login"
    """A user signed in."""
    LOGIN_FAILED = "login.failed"
    """A sign-in was refused (wrong password, or waiting after too many)."""
    LOGOUT = "logout"
    """A user signed out."""
    TOKEN_USE = "token.use"  # noqa: S105 - an action, not a secret
    """An API token was used (once a minute per token, method and path)."""
    TOKEN_CREATE = "token.create"  # noqa: S105 - an action, not a secret
    """An API token was made."""
    TOKEN_REVOKE = "token.revoke"  # noqa: S105 - an action, not a secret
    """An API token was revoked."""
    USER_CHANGE = "user.change"
    """A user was added, changed, disabled or enabled."""
    CONFIG_CHANGE = "config.change"
    """The hub started with a configuration other than the one it last recorded."""
    CAMERA_ADD = "camera.add"
    """A camera joined the registry."""
    CAMERA_UPDATE = "camera.update"
    """A camera's registry entry changed; `details.changed` names the fields."""
    CAMERA_REMOVE = "camera.remove"
    """A camera left the registry."""
    SITE_ADD = "site.add"
    """A site joined the registry."""
    SITE_UPDATE = "site.update"
    """A site's registry entry changed; `details.changed` names the fields."""
    SITE_REMOVE = "site.remove"
    """A site left the registry."""
    INCIDENT_ACK = "incident.ack"
    """Someone took an incident on."""
    INCIDENT_RESOLVE = "incident.resolve"
    """An incident was closed, by a person or by its rule."""
    AUDIT_EXPORT = "audit.export"
    """Audit records were exported."""
    AUDIT_ANCHOR = "audit.anchor"
    """The hub signed the record before this one with its key (see `AuditLog.anchor`)."""


class ActorKind(StrEnum):
    """Who stands behind an `actor`."""

    USER = "user"
    """A signed-in user; the actor is the user's id."""
    TOKEN = "token"  # noqa: S105 - a kind, not a secret
    """An API token; the actor is the token's id, `actor_name` its user's name."""
    ADMIN_TOKEN = "admin-token"  # noqa: S105 - a kind, not a secret
    """The hub's local admin token; the actor is `admin-token`."""
    RESPONDER = "responder"
    """A responder through a signed acknowledge link; the actor is `responder:<id>`."""
    NAMED = "named"
    """A name given where no account was checked: an incident's `by`, a console's login."""
    HUB = "hub"
    """The hub itself: its configuration, its rules, its anchors."""
    ANONYMOUS = "anonymous"
    """Nobody known: a refused sign-in under a name no user has; the actor is `unknown`."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: an id, what kind of id, and a name people can read."""

    id: str
    kind: ActorKind
    name: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The actor behind a web request's principal (`hub.web.auth.principal_of`)."""
        from hub.access import PrincipalKind

        if principal.kind is PrincipalKind.ADMIN_TOKEN:
            return cls("admin-token", ActorKind.ADMIN_TOKEN, principal.name)
        if principal.kind is PrincipalKind.TOKEN and principal.token_id is not None:
            return cls(principal.token_id, ActorKind.TOKEN, principal.name)
        return cls(principal.user_id or principal.name, ActorKind.USER, principal.name)

    @classmethod
    def by(cls, name: str | None) -> Actor:
        """The actor behind an incident's `by`: a name, `<responder> (link)`, `rule:<id>`."""
        if not name or name == "hub":
            return HUB
        if name.startswith("rule:"):
            return cls(name, ActorKind.HUB, name)
        if name.endswith(" (link)"):
            responder = name.removesuffix(" (link)")
            return cls(f"responder:{responder}", ActorKind.RESPONDER, responder)
        return cls(name, ActorKind.NAMED, name)


HUB = Actor("hub", ActorKind.HUB, "hub")
"""The hub acting on its own."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One record of the audit log, as stored and as hashed."""

    seq: int
    time: datetime
    actor: str
    actor_kind: str
    actor_name: str | None
    action: str
    camera_id: str | None
    owner_id: str | None
    source: str | None
    purpose: str | None
    details: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def _content(self) -> dict[str, Any]:
        """What the record says, as both the hash and the API see it."""
        return {
            "seq": self.seq,
            "time": format_time(self.time),
            "actor": self.actor,
            "actor_kind": self.actor_kind,
            "actor_name": self.actor_name,
            "action": self.action,
            "camera": self.camera_id,
            "owner": self.owner_id,
            "source": self.source,
            "purpose": self.purpose,
            "details": dict(self.details),
            "prev_hash": self.prev_hash,
        }

    def canonical(self) -> bytes:
        """The bytes the hash is taken over (see the module's docstring)."""
        return canonical_json({"v": HASH_VERSION, **self._content()}).encode("utf-8")

    def computed_hash(self) -> str:
        """The hash this record's content and predecessor call for."""
        return hashlib.sha256(self.canonical()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        """The record as the API and `--json` show it."""
        return {**self._content(), "hash": self.hash}


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, non-ASCII kept as is; NaN and infinities refused."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def format_time(value: datetime) -> str:
    """A time as the canonical form writes it: UTC, microseconds, `Z`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- keeping secrets out ----------------------------------------------------------------------

SECRET_NAMES = SECRET_KEY_NAMES | {"channel", "url"}
"""A `details` key named so (or ending `_<name>`, like `channel_url`) is dropped, value and all:
besides the keys that hold secrets anywhere, channel and camera URLs, which may carry them."""


def secret_name(key: str) -> bool:
    """Whether a `details` key names something that may be a secret."""
    return names_secret(key, SECRET_NAMES) or "session" in key.lower()


def clean_text(value: str | None, limit: int = MAX_TEXT) -> str | None:
    """Text fit for a record: printable, no URL credentials nor known secrets, cut at `limit`."""
    if value is None:
        return None
    kept = "".join(ch if ch.isprintable() else " " for ch in value)
    return redactor.redact(kept)[:limit]


def clean_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """`details` as plain JSON, without secret-named keys, credentials in URLs or known secrets.

    The callers build details from fields that hold no secret; this is the second line.
    """
    if not details:
        return {}
    plain = json.loads(json.dumps(dict(details), default=str, allow_nan=False))
    cleaned = _clean_value(plain)
    assert isinstance(cleaned, dict)
    return cleaned


def _clean_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            str(key): _clean_value(item) for key, item in value.items() if not secret_name(str(key))
        }
    if isinstance(value, list):
        return [_clean_value(item) for item in value]
    if isinstance(value, str):
        return clean_text(value)
    return value
