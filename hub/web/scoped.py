"""What the registry routes share: JSON bodies in, and the registry as one caller may change it.

An owner's user changes its own owner's sites and cameras only; another owner's look like none
at all (404). Every change is published on the bus in the caller's name, so that the audit log
records who made it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from typing import Any

from aiohttp import web

from hub.access import Principal
from hub.bus import Bus
from hub.events import Context, Event
from hub.registry import (
    CameraInput,
    CameraRecord,
    CameraSource,
    Change,
    Registry,
    RegistryError,
    SiteRecord,
)
from hub.runtime import Hub
from hub.web.answers import refused
from hub.web.keys import hub_key


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; 400 saying so for anything else."""
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise refused(400, "send a JSON object as the body (Content-Type: application/json)")
    return data


def only(data: dict[str, Any], allowed: Collection[str]) -> None:
    """400 for fields a route does not take: a typo should not be silently ignored."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise refused(
            400, f"unknown field(s) {', '.join(unknown)}; this takes {', '.join(sorted(allowed))}"
        )


def new_id(name: str, taken: Collection[str]) -> str:
    """An id made from a name, as the config's ids are (`Lobi Utara` -> `lobi-utara`), unused."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:56] or "x"
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


class CallerBus:
    """Publishes the registry's events in the caller's name: the audit log records who."""

    def __init__(self, bus: Bus, principal: Principal) -> None:
        self._bus = bus
        self._principal = principal

    async def publish(self, event: Event, /) -> object:
        """Publish `event` with the caller as its user and `data.by`."""
        stamped = type(event).create(
            camera_id=event.camera_id,
            time=event.time,
            context=Context(parent_id=event.context.parent_id, user_id=self._principal.user_id),
            data={**event.data, "by": self._principal.name},
        )
        await self._bus.publish(stamped)
        return None


class CallerRegistry(Registry):
    """The registry as one caller may change it: an owner's user, only its owner's entries."""

    def __init__(self, hub: Hub, principal: Principal) -> None:
        self.bus = CallerBus(hub.bus, principal)
        super().__init__(hub.db, hub.credentials, self.bus)
        self.principal = principal
        self.owner = principal.owner
        """None for the command center (admin, the admin token): every owner's entries."""

    async def own_site(self, site_id: str) -> SiteRecord:
        """The site, if the caller may see it; 404 otherwise, the same for another's and none."""
        site = await self.get_site(site_id)
        if site is None or (self.owner is not None and site.owner != self.owner):
            raise refused(404, self._none("site", site_id))
        return site

    async def own_camera(self, camera_id: str) -> CameraRecord:
        """The camera, if the caller may see it; 404 otherwise."""
        camera = await self.get_camera(camera_id)
        if camera is None or (self.owner is not None and camera.owner != self.owner):
            raise refused(404, self._none("camera", camera_id))
        return camera

    def owner_for(self, given: object) -> str:
        """Whose entry a new one is: an owner's user's own; the command center must say."""
        if self.owner is not None:
            if given not in (None, self.owner):
                raise refused(
                    403, f"you add and change entries of {self.owner} only, not of {given!r}"
                )
            return self.owner
        if not isinstance(given, str) or not given:
            raise refused(400, "owner_id is required: the owner the new entry belongs to")
        return given

    async def check_site(self, site_id: str | None, owner: str) -> None:
        """RegistryError unless the site is `owner`'s: a camera hangs at its own owner's site."""
        if site_id is None:
            return
        site = await self.get_site(site_id)
        if site is None or (self.owner is not None and site.owner != self.owner):
            raise RegistryError(f"site: no site {site_id!r} of {owner}")
        if site.owner != owner:
            raise RegistryError(f"site: site {site_id!r} belongs to {site.owner}, not to {owner}")

    async def add_camera(
        self, camera: CameraInput, source: CameraSource = CameraSource.API
    ) -> CameraRecord:
        """Add a camera at a site of its own owner."""
        await self.check_site(camera.site, camera.owner)
        return await super().add_camera(camera, source)

    async def save_camera(
        self,
        camera: CameraInput,
        source: CameraSource,
        *,
        fields: Collection[str] | None = None,
    ) -> Change:
        """An import's row: an owner's user saves its own owner's cameras only."""
        if self.owner is not None and camera.owner != self.owner:
            raise RegistryError(
                f"owner: you import cameras of {self.owner} only, not of {camera.owner!r}"
            )
        existing = await self.get_camera(camera.id)
        if existing is not None and self.owner is not None and existing.owner != self.owner:
            raise RegistryError(f"id: the id {camera.id!r} is taken; choose another")
        await self.check_site(camera.site, camera.owner)
        return await super().save_camera(camera, source, fields=fields)

    def _none(self, kind: str, entry_id: str) -> str:
        owner = f"{self.owner} has" if self.owner is not None else "there is"
        return f"{owner} no {kind} {entry_id[:70]!r}"


def caller_registry(request: web.Request, principal: Principal) -> CallerRegistry:
    """The registry as the caller of `request` may change it."""
    return CallerRegistry(request.app[hub_key], principal)


def source_status(source: CameraSource) -> int:
    """What a refused change answers: 409 for a config entry (change it there), else 400."""
    return 409 if source is CameraSource.CONFIG else 400
