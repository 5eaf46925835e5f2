"""Sites over HTTP: list, add, change and remove the places where an owner's cameras hang."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from hub.events import SiteAdded, SiteRemoved, SiteUpdated
from hub.registry import RegistryError, SiteInput, SiteRecord, explain
from hub.web.answers import answer, refused
from hub.web.auth import Access, needs, principal_of
from hub.web.keys import hub_key
from hub.web.scoped import CallerRegistry, caller_registry, json_object, new_id, only, source_status

SITE_FIELDS = frozenset({"id", "name", "address", "lat", "lon", "owner_id"})
CHANGEABLE = SITE_FIELDS - {"id"}


def _site(site: SiteRecord) -> dict[str, Any]:
    """A site as the API shows it: `owner` is also given as `owner_id`, as requests name it."""
    return {**site.as_dict(), "owner_id": site.owner}


@needs(Access.CAMERAS_READ)
async def list_sites(request: web.Request) -> web.Response:
    """`GET /api/sites`: every site, or an owner's user's own."""
    hub = request.app[hub_key]
    sites = await hub.registry.list_sites(owner=principal_of(request).owner)
    return answer({"sites": [_site(site) for site in sites]})


@needs(Access.CAMERAS_WRITE)
async def add_site(request: web.Request) -> web.Response:
    """`POST /api/sites` `{id?, name, address?, lat, lon, owner_id}`: 201 with the new site."""
    registry = caller_registry(request, principal_of(request))
    body = await json_object(request)
    only(body, SITE_FIELDS)
    owner = registry.owner_for(body.get("owner_id"))
    site_id = body.get("id")
    if site_id is None:
        taken = {site.id for site in await registry.list_sites()}
        site_id = new_id(str(body.get("name") or "site"), taken)
    values = {k: body.get(k) for k in ("name", "address", "lat", "lon") if k in body}
    try:
        site = SiteInput.model_validate({**values, "id": site_id, "owner": owner})
    except ValidationError as exc:
        raise refused(400, explain(exc)) from None
    try:
        record = await registry.add_site(site)
    except RegistryError as exc:
        raise refused(409 if "already exists" in str(exc) else 400, str(exc)) from None
    await _publish(registry, SiteAdded, record)
    return answer(_site(record), 201)


@needs(Access.CAMERAS_WRITE)
async def change_site(request: web.Request) -> web.Response:
    """`PATCH /api/sites/{site_id}` with the fields to change."""
    registry = caller_registry(request, principal_of(request))
    current = await registry.own_site(request.match_info["site_id"])
    body = await json_object(request)
    only(body, CHANGEABLE)
    changes = {k: v for k, v in body.items() if k != "owner_id"}
    if "owner_id" in body:
        changes["owner"] = registry.owner_for(body["owner_id"])
    try:
        record = await registry.update_site(current.id, **changes)
    except RegistryError as exc:
        raise refused(source_status(current.source), str(exc)) from None
    changed = [k for k, v in record.as_dict().items() if current.as_dict().get(k) != v]
    changed = [name for name in changed if name not in ("updated_at", "created_at")]
    if changed:
        await _publish(registry, SiteUpdated, record, changed=changed)
    return answer(_site(record))


@needs(Access.CAMERAS_WRITE)
async def remove_site(request: web.Request) -> web.Response:
    """`DELETE /api/sites/{site_id}`: a site without cameras; 409 while cameras use it."""
    registry = caller_registry(request, principal_of(request))
    current = await registry.own_site(request.match_info["site_id"])
    try:
        await registry.remove_site(current.id)
    except RegistryError as exc:
        raise refused(409, str(exc)) from None
    await _publish(registry, SiteRemoved, current)
    return answer({"removed": current.id})


async def _publish(
    registry: CallerRegistry,
    kind: type[SiteAdded | SiteUpdated | SiteRemoved],
    site: SiteRecord,
    **extra: Any,
) -> None:
    await registry.bus.publish(kind.create(data={**site.as_dict(), **extra}))


def add_site_routes(app: web.Application) -> None:
    """Mount the site routes."""
    app.router.add_get("/api/sites", list_sites)
    app.router.add_post("/api/sites", add_site)
    app.router.add_patch("/api/sites/{site_id}", change_site)
    app.router.add_delete("/api/sites/{site_id}", remove_site)
