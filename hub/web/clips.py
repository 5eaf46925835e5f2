"""Clips over HTTP: cut one (in the background), list them, read one, download its video.

Every clip is asked of the camera's sharing agreement twice: when it is cut and again when it
is downloaded, so an agreement revoked in between stops the download. Only the file that
`hub.streams.export` made leaves: masked for a camera with privacy masks. Each download is
recorded in the audit log (`clip.export`) before the first byte goes out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.audit import Action
from hub.clips import ClipRecord, ClipService, ClipState, TooManyClips
from hub.registry import explain
from hub.sharing import Use
from hub.streams.privacy import PrivacyMask, privacy_mask
from hub.web.answers import answer, refused
from hub.web.audit import record_view
from hub.web.auth import Access, needs, principal_of
from hub.web.keys import hub_key

if TYPE_CHECKING:
    from hub.registry import CameraRecord

MAX_POST = 60.0
"""Seconds after the request a clip may run on: longer is a recording, not a clip."""


class ClipRequest(BaseModel):
    """What `POST /api/cameras/{camera_id}/clips` takes."""

    model_config = ConfigDict(extra="forbid")

    pre: float | None = Field(
        None, ge=0, description="Seconds before now; default and most: streams.pre_roll."
    )
    post: float = Field(10.0, ge=0, le=MAX_POST, description="Seconds after now.")
    purpose: str | None = Field(None, max_length=1000, description="Why the clip is cut.")
    incident_id: str | None = Field(None, max_length=64, description="The incident it is for.")


def _service(request: web.Request) -> ClipService:
    clips = request.app[hub_key].clips
    if clips is None:
        raise refused(503, "the hub is starting or stopping; try again")
    return clips


def _shown(clip: ClipRecord) -> dict[str, Any]:
    data = clip.as_dict()
    data["url"] = f"/api/clips/{clip.id}"
    data["video"] = f"/api/clips/{clip.id}/video" if clip.state is ClipState.READY else None
    return data


async def _camera(request: web.Request, camera_id: str) -> CameraRecord:
    """The camera, if the caller may see it: another owner's camera is answered 404."""
    owner = principal_of(request).owner
    camera = await request.app[hub_key].registry.get_camera(camera_id)
    if owner is not None and (camera is None or camera.owner != owner):
        raise refused(404, f"{owner} has no camera {camera_id!r}")
    if camera is None:
        raise refused(404, f"no camera {camera_id!r}")
    return camera


async def _clip(request: web.Request) -> ClipRecord:
    """The clip of the path, if the caller may see it: another owner's clip is answered 404."""
    clip_id = request.match_info["clip_id"]
    clip = await _service(request).catalog.get(clip_id)
    owner = principal_of(request).owner
    if clip is None or (owner is not None and clip.owner_id != owner):
        raise refused(404, f"no clip {clip_id!r}")
    return clip


async def _allowed(request: web.Request, camera: CameraRecord) -> None:
    """Ask the camera's sharing agreement for a clip; 403 with its reason if it says no."""
    decision = await request.app[hub_key].sharing.decide(
        camera, Use.CLIP, owner=principal_of(request).owner
    )
    if not decision.allowed:
        raise refused(403, f"no clips of camera {camera.id!r}: {decision.reason}")


def _privacy(request: web.Request, camera: CameraRecord) -> PrivacyMask | None:
    """What to burn into the camera's clip: its masks, unless an approved lift is in force."""
    try:
        mask = privacy_mask(camera.options)
    except ValueError as exc:
        raise refused(
            409,
            f"camera {camera.id!r} has malformed privacy masks ({exc}): fix them first",
        ) from None
    return None if mask is not None and _mask_lifted(request, camera) else mask


def _mask_lifted(request: web.Request, camera: CameraRecord) -> bool:
    masks = request.app[hub_key].masks
    return masks is not None and masks.lifted(camera.id)


async def _request(request: web.Request) -> ClipRequest:
    try:
        data = await request.json() if request.can_read_body else {}
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise refused(400, 'the body must be a JSON object, such as {"pre": 5}')
    try:
        wanted = ClipRequest.model_validate(data)
    except ValidationError as exc:
        raise refused(400, explain(exc)) from None
    pre_roll = request.app[hub_key].config.hub.streams.pre_roll
    if wanted.pre is None:
        wanted.pre = pre_roll
    if wanted.pre > pre_roll:
        raise refused(
            400,
            f"pre must be at most {pre_roll:g} s: the hub keeps that much before now"
            " (hub.streams.pre_roll)",
        )
    if wanted.pre + wanted.post <= 0:
        raise refused(400, "pre and post are both 0: the clip would be empty")
    return wanted


@needs(Access.CLIPS_EXPORT)
async def cut_clip(request: web.Request) -> web.Response:
    """`POST /api/cameras/{camera_id}/clips`: start cutting; 202 with the clip, `cutting`."""
    wanted = await _request(request)
    camera = await _camera(request, request.match_info["camera_id"])
    hub = request.app[hub_key]
    service = _service(request)
    if hub.streams is None or camera.id not in hub.streams.workers:
        raise refused(
            409,
            f"camera {camera.id!r} is not being watched (disabled, or the stream engine is off):"
            " there is nothing to cut a clip from",
        )
    await _allowed(request, camera)
    # Unmasked only while an approved lift is in force; such a clip goes out only during one.
    privacy = _privacy(request, camera)
    try:
        clip = await service.cut(
            camera,
            pre=wanted.pre or 0.0,
            post=wanted.post,
            by=principal_of(request).name,
            privacy=privacy,
            purpose=(wanted.purpose or "").strip() or None,
            incident_id=wanted.incident_id,
        )
    except TooManyClips as exc:
        raise refused(429, str(exc)) from None
    return answer(_shown(clip), 202, headers={"Location": f"/api/clips/{clip.id}"})


@needs(Access.CLIPS_EXPORT)
async def list_clips(request: web.Request) -> web.Response:
    """`GET /api/clips?camera=&limit=`: clips, newest first; an owner's user only its own."""
    try:
        limit = int(request.query.get("limit") or 100)
    except ValueError:
        raise refused(400, "limit must be a whole number") from None
    found = await _service(request).catalog.find(
        owner=principal_of(request).owner,
        camera=request.query.get("camera") or None,
        limit=limit,
    )
    return answer({"clips": [_shown(clip) for clip in found]})


@needs(Access.CLIPS_EXPORT)
async def get_clip(request: web.Request) -> web.Response:
    """`GET /api/clips/{clip_id}`: one clip's state and metadata."""
    return answer(_shown(await _clip(request)))


@needs(Access.CLIPS_EXPORT)
async def clip_video(request: web.Request) -> web.StreamResponse:
    """`GET /api/clips/{clip_id}/video`: the MP4, after the agreement and the audit log."""
    clip = await _clip(request)
    if clip.state is ClipState.CUTTING:
        raise refused(409, f"clip {clip.id} is still being cut; ask again shortly")
    if clip.state is ClipState.FAILED or clip.path is None:
        raise refused(409, f"clip {clip.id} failed: {clip.error or 'no file'}")
    camera = await request.app[hub_key].registry.get_camera(clip.camera_id)
    if camera is None:
        raise refused(
            409,
            f"camera {clip.camera_id!r} is no longer in the registry, so no sharing agreement"
            " can allow its clip",
        )
    await _allowed(request, camera)
    if not clip.masked and _privacy(request, camera) is not None:
        # Cut while a lift was in force (or before masks were added): out only during a lift.
        raise refused(
            403,
            f"clip {clip.id} is not masked and camera {camera.id!r} is masked now (its mask"
            " lift ended, or masks were added since): cut a new, masked clip",
        )
    if not clip.path.is_file():
        raise refused(410, f"clip {clip.id}'s file is gone (purged by retention?)")
    details: dict[str, Any] = {"clip": clip.id, "masked": clip.masked}
    if not clip.masked and _mask_lifted(request, camera):
        details["mask_lifted"] = True
    if clip.purpose:
        details["clip_purpose"] = clip.purpose
    if clip.incident_id:
        details["incident_id"] = clip.incident_id
    if "Range" in request.headers:
        details["range"] = request.headers["Range"][:100]
    # recorded before the first byte goes out: a store that cannot record sends nothing
    await record_view(request, Action.CLIP_EXPORT, camera, details=details)
    stamp = clip.created_at.strftime("%Y%m%d-%H%M%S")
    return web.FileResponse(
        clip.path,
        headers={
            "Content-Type": "video/mp4",
            "Content-Disposition": f'attachment; filename="{clip.camera_id}-{stamp}.mp4"',
            "Cache-Control": "no-store",
        },
    )


def add_clip_routes(app: web.Application) -> None:
    """Mount the clip API."""
    app.router.add_post("/api/cameras/{camera_id}/clips", cut_clip)
    app.router.add_get("/api/clips", list_clips)
    app.router.add_get("/api/clips/{clip_id}", get_clip)
    app.router.add_get("/api/clips/{clip_id}/video", clip_video)
