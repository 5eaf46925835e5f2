"""Cameras over HTTP: add, change and remove one, or import an inventory CSV.

The camera list itself is `GET /api/cameras` (hub/web/app.py); what these routes answer is a
camera as that list shows it, never with its password.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from hub.inventory import COLUMNS, InventoryError, RowError, import_cameras_data
from hub.registry import CameraInput, CameraRecord, RegistryError, explain
from hub.web.answers import answer, refused
from hub.web.auth import Access, needs, principal_of
from hub.web.keys import hub_key
from hub.web.scoped import caller_registry, json_object, new_id, only, source_status

CAMERA_FIELDS = frozenset(
    {
        "id",
        "name",
        "owner_id",
        "site_id",
        "vendor",
        "url",
        "host",
        "port",
        "username",
        "password",
        "lat",
        "lon",
        "tags",
        "enabled",
        "options",
    }
)
CHANGEABLE = CAMERA_FIELDS - {"id"}
CSV_TYPES = frozenset({"text/csv", "text/plain", "application/csv"})


def camera_answer(request: web.Request, camera: CameraRecord) -> dict[str, Any]:
    """A camera as `GET /api/cameras` shows it: with its health, without a password."""
    streams = request.app[hub_key].streams
    health = streams.health() if streams is not None else {}
    return {**camera.as_dict(), "health": health.get(camera.id, "unwatched")}


def _registry_names(body: dict[str, Any]) -> dict[str, Any]:
    """The body's fields under the registry's names: `site_id` is `site`."""
    values = {k: v for k, v in body.items() if k not in ("owner_id", "site_id")}
    if "site_id" in body:
        values["site"] = body["site_id"]
    return values


@needs(Access.CAMERAS_WRITE)
async def add_camera(request: web.Request) -> web.Response:
    """`POST /api/cameras`: 201 with the new camera; an owner's user adds its own owner's."""
    registry = caller_registry(request, principal_of(request))
    body = await json_object(request)
    only(body, CAMERA_FIELDS)
    owner = registry.owner_for(body.get("owner_id"))
    values = _registry_names(body)
    if values.get("id") is None:
        taken = {camera.id for camera in await registry.list_cameras()}
        values["id"] = new_id(str(body.get("name") or "camera"), taken)
    try:
        camera = CameraInput.model_validate({**values, "owner": owner})
    except ValidationError as exc:
        raise refused(400, explain(exc)) from None
    try:
        record = await registry.add_camera(camera)
    except RegistryError as exc:
        raise refused(409 if "already exists" in str(exc) else 400, str(exc)) from None
    return answer(camera_answer(request, record), 201)


@needs(Access.CAMERAS_WRITE)
async def change_camera(request: web.Request) -> web.Response:
    """`PATCH /api/cameras/{camera_id}` with the fields to change; `password: null` forgets it."""
    registry = caller_registry(request, principal_of(request))
    current = await registry.own_camera(request.match_info["camera_id"])
    body = await json_object(request)
    only(body, CHANGEABLE)
    changes = _registry_names(body)
    if "owner_id" in body:
        changes["owner"] = registry.owner_for(body["owner_id"])
    try:
        if "site" in changes or "owner" in changes:
            await registry.check_site(
                changes.get("site", current.site), changes.get("owner", current.owner)
            )
        record = await registry.update_camera(current.id, **changes)
    except RegistryError as exc:
        raise refused(source_status(current.source), str(exc)) from None
    return answer(camera_answer(request, record))


@needs(Access.CAMERAS_WRITE)
async def remove_camera(request: web.Request) -> web.Response:
    """`DELETE /api/cameras/{camera_id}`."""
    registry = caller_registry(request, principal_of(request))
    current = await registry.own_camera(request.match_info["camera_id"])
    try:
        await registry.remove_camera(current.id)
    except RegistryError as exc:
        raise refused(source_status(current.source), str(exc)) from None
    return answer({"removed": current.id})


@needs(Access.CAMERAS_WRITE)
async def import_cameras(request: web.Request) -> web.Response:
    """`POST /api/cameras/import` with an inventory CSV (Content-Type: text/csv).

    Each good row is saved and each bad one reported with its line, as `pantau cameras
    import` does; an owner's user imports its own owner's cameras only.
    """
    if request.content_type not in CSV_TYPES:
        raise refused(415, "send the inventory as the body with Content-Type: text/csv (UTF-8)")
    registry = caller_registry(request, principal_of(request))
    data = await request.read()
    try:
        report = await import_cameras_data(registry, data, "the CSV", default_owner=registry.owner)
    except InventoryError as exc:
        raise refused(400, str(exc)) from None
    return answer(
        {
            "added": report.imported,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "errors": [row_error(error) for error in report.errors],
            "ignored_columns": report.ignored_columns,
        }
    )


_LEADING_WORD = re.compile(r"(?:\w+\.)*(\w+)")
_NAMED = re.compile(r"\b(?:duplicate (id)|no (owner|site) with id)\b")


def row_error(error: RowError) -> dict[str, Any]:
    """A bad row as JSON: its line, its camera, the column at fault (when one is), and why."""
    reason = error.reason
    field = None
    leading = _LEADING_WORD.match(reason)
    if leading is not None and leading[1] in COLUMNS:
        field = leading[1]
    else:
        named = _NAMED.search(reason)
        if named is not None:
            field = named[1] or named[2]
    return {"line": error.line, "camera_id": error.camera_id, "field": field, "message": reason}


def add_camera_routes(app: web.Application) -> None:
    """Mount the camera routes (the list and snapshots are the app's own)."""
    app.router.add_post("/api/cameras", add_camera)
    app.router.add_post("/api/cameras/import", import_cameras)
    app.router.add_patch("/api/cameras/{camera_id}", change_camera)
    app.router.add_delete("/api/cameras/{camera_id}", remove_camera)
