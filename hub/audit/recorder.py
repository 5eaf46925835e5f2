"""What the bus tells, kept in the audit log; and the hub's signature on the chain, now and then.

The recorder follows `camera.added/updated/removed` (the registry), `site.added/updated/removed`
(the sites API), `incident.acknowledged`
and `incident.resolved` (the incident service) and `access.*` (sign-ins and token use, from
the web layer), and writes each as an audit record. Views of cameras are not on the bus: the
web handler records them itself, before it answers (`AuditLog.view`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from hub.audit.chain import HUB, Action, Actor, ActorKind, AuditRecord, canonical_json
from hub.audit.log import AuditLog
from hub.bus import Bus, Subscription
from hub.events import Event

if TYPE_CHECKING:
    from hub.config import Config
    from hub.registry import CameraRecord

log = logging.getLogger(__name__)

QUEUE = 10_000
"""Events the recorder may fall behind by; past that the bus drops and counts them."""
ANCHOR_EVERY = 300.0
"""Seconds between anchors (only when something was appended since the last one)."""
TOKEN_USE_QUIET = 60.0
"""Seconds in which a token's further uses of the same method and path are not recorded again."""
DRAIN = 5.0
"""Seconds `stop` waits for the events already queued to be recorded."""

_CAMERA_ACTIONS = {
    "camera.added": Action.CAMERA_ADD,
    "camera.updated": Action.CAMERA_UPDATE,
    "camera.removed": Action.CAMERA_REMOVE,
}
_SITE_ACTIONS = {
    "site.added": Action.SITE_ADD,
    "site.updated": Action.SITE_UPDATE,
    "site.removed": Action.SITE_REMOVE,
}
_INCIDENT_ACTIONS = {
    "incident.acknowledged": Action.INCIDENT_ACK,
    "incident.resolved": Action.INCIDENT_RESOLVE,
}
_ACCESS_ACTIONS = {
    "access.login": Action.LOGIN,
    "access.login_failed": Action.LOGIN_FAILED,
    "access.logout": Action.LOGOUT,
    "access.token_used": Action.TOKEN_USE,
}
ADMIN_TOKEN_NAME = "admin"  # noqa: S105 - how `access.token_used` names the admin token
RECORDED = (
    frozenset(_CAMERA_ACTIONS)
    | frozenset(_SITE_ACTIONS)
    | frozenset(_INCIDENT_ACTIONS)
    | frozenset(_ACCESS_ACTIONS)
)
"""The event types the recorder keeps."""

CameraLookup = Callable[[str], Awaitable["CameraRecord | None"]]


class AuditRecorder:
    """Turns camera, site, incident and access events into audit records; anchors the chain."""

    def __init__(
        self,
        audit: AuditLog,
        bus: Bus,
        cameras: CameraLookup | None = None,
        *,
        anchor_every: float = ANCHOR_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.audit = audit
        self._bus = bus
        self._cameras = cameras
        self._anchor_every = anchor_every
        self._clock = clock
        self._token_uses: dict[tuple[str, str, str], float] = {}
        self._subscription: Subscription | None = None
        self._anchoring: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Follow the bus and anchor the chain every `anchor_every` seconds."""
        self._subscription = self._bus.subscribe(
            "*",
            self._on_event,
            name="audit",
            filter=lambda event: event.type in RECORDED,
            maxsize=QUEUE,
        )
        self._anchoring = asyncio.get_running_loop().create_task(
            self._anchor_now_and_then(), name="audit:anchor"
        )

    async def stop(self) -> None:
        """Record what is queued (for a few seconds at most), stop following, anchor once more."""
        if self._subscription is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN):
                    await self._subscription.wait_idle()
            await self._subscription.cancel()
            self._subscription = None
        if self._anchoring is not None:
            self._anchoring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._anchoring
            self._anchoring = None
        await self._anchor()

    async def idle(self) -> None:
        """Wait until every event received so far is recorded."""
        if self._subscription is not None:
            await self._subscription.wait_idle()

    async def config_loaded(self, config: Config) -> AuditRecord | None:
        """Record `config.change` if `config` differs from the one last recorded.

        The configuration is compared by a digest of its JSON form with every secret value
        replaced, so that neither a secret nor a hash of one reaches the log.
        """
        from hub.config import secret_values

        secrets = sorted(secret_values(config), key=len, reverse=True)
        digest = hashlib.sha256(
            canonical_json(_without(config.model_dump(mode="json"), secrets)).encode("utf-8")
        ).hexdigest()
        last = await self.audit.records(action=Action.CONFIG_CHANGE, limit=1)
        previous = last[0].details.get("digest") if last else None
        if previous == digest:
            return None
        details = {
            "digest": digest,
            "previous": previous,
            "owners": len(config.owners),
            "cameras": len(config.cameras),
            "rules": len(config.rules),
        }
        return await self.audit.append(Action.CONFIG_CHANGE, HUB, details=details)

    # -- inside

    async def _on_event(self, event: Event) -> None:
        try:
            if event.type in _CAMERA_ACTIONS:
                await self._camera(event, _CAMERA_ACTIONS[event.type])
            elif event.type in _SITE_ACTIONS:
                await self._site(event, _SITE_ACTIONS[event.type])
            elif event.type in _INCIDENT_ACTIONS:
                await self._incident(event, _INCIDENT_ACTIONS[event.type])
            elif event.type in _ACCESS_ACTIONS:
                await self._access(event, _ACCESS_ACTIONS[event.type])
        except Exception:
            log.exception(
                "could not record %s in the audit log",
                event.type,
                extra={"camera": event.camera_id} if event.camera_id else None,
            )

    async def _camera(self, event: Event, action: Action) -> None:
        data = event.data
        details: dict[str, Any] = {
            name: data[name] for name in ("name", "vendor", "site", "source") if data.get(name)
        }
        if action is Action.CAMERA_UPDATE:
            details["changed"] = [str(name) for name in data.get("changed", ())]
        owner = data.get("owner")
        await self.audit.append(
            action,
            _actor(event),
            camera_id=event.camera_id,
            owner_id=str(owner) if owner else None,
            details=details,
        )

    async def _site(self, event: Event, action: Action) -> None:
        data = event.data
        # where a site is (address, coordinates) stays in the registry: the record says which
        fields = {"site": data.get("id"), "name": data.get("name"), "source": data.get("source")}
        details: dict[str, Any] = {name: value for name, value in fields.items() if value}
        if action is Action.SITE_UPDATE:
            details["changed"] = [str(name) for name in data.get("changed", ())]
        owner = data.get("owner")
        await self.audit.append(
            action, _actor(event), owner_id=str(owner) if owner else None, details=details
        )

    async def _incident(self, event: Event, action: Action) -> None:
        data = event.data
        details = {
            name: data[name]
            for name in ("incident_id", "title", "severity", "state", "reason")
            if data.get(name) is not None
        }
        await self.audit.append(
            action,
            Actor.by(data.get("by")),
            camera_id=event.camera_id,
            owner_id=await self._owner_of(event.camera_id),
            details=details,
        )

    async def _access(self, event: Event, action: Action) -> None:
        data = event.data
        user_id = event.context.user_id
        source = data.get("address")
        if action is Action.TOKEN_USE:
            token, method, path = (
                str(data.get("token")),
                str(data.get("method")),
                str(data.get("path")),
            )
            if self._recently_used(token, method, path):
                return
            actor = (
                Actor("admin-token", ActorKind.ADMIN_TOKEN, "admin")
                if token == ADMIN_TOKEN_NAME
                else Actor(token, ActorKind.TOKEN, data.get("user"))
            )
            details: dict[str, Any] = {"method": method, "path": path}
        else:
            name = data.get("user") if action is not Action.LOGIN_FAILED else data.get("name")
            actor = (
                Actor(user_id, ActorKind.USER, name)
                if user_id is not None
                else Actor("unknown", ActorKind.ANONYMOUS, None)
            )
            details = {k: data[k] for k in ("role", "reason") if data.get(k) is not None}
        await self.audit.append(
            action, actor, source=str(source) if source else None, details=details
        )

    def _recently_used(self, token: str, method: str, path: str) -> bool:
        now = self._clock()
        key = (token, method, path)
        last = self._token_uses.get(key)
        if last is not None and now - last < TOKEN_USE_QUIET:
            return True
        if len(self._token_uses) > 10_000:
            self._token_uses = {
                k: at for k, at in self._token_uses.items() if now - at < TOKEN_USE_QUIET
            }
        self._token_uses[key] = now
        return False

    async def _owner_of(self, camera_id: str | None) -> str | None:
        if camera_id is None or self._cameras is None:
            return None
        camera = await self._cameras(camera_id)
        return camera.owner if camera is not None else None

    async def _anchor_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(self._anchor_every)
            await self._anchor()

    async def _anchor(self) -> None:
        try:
            record = await self.audit.anchor()
        except Exception:  # a missed anchor is made up for by the next one
            log.exception("could not anchor the audit log")
            return
        if record is not None:
            log.debug("audit log anchored at record %d", record.seq)


def _actor(event: Event) -> Actor:
    """Who changed a camera or site: the event's user, its `by`, else the hub (config, CLI)."""
    if event.context.user_id is not None:
        return Actor(event.context.user_id, ActorKind.USER, event.data.get("by"))
    by = event.data.get("by")
    return Actor.by(str(by)) if by else HUB


def _without(value: Any, secrets: list[str]) -> Any:
    """`value` with every secret string in it replaced by `***`."""
    if isinstance(value, Mapping):
        return {key: _without(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_without(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    return value
