"""Clips for export: cut in the background, masked, catalogued; and the hourly retention purge."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import av

from hub.clips.catalog import ClipCatalog, ClipRecord
from hub.clips.retention import RetentionPurge, clips_folder, purge_every
from hub.store import Database
from hub.streams.export import export_clip
from hub.streams.privacy import PrivacyMask

if TYPE_CHECKING:
    from hub.registry import CameraRecord, Registry
    from hub.streams.engine import StreamEngine

log = logging.getLogger(__name__)

PURGE_EVERY = 3600.0
"""Seconds between retention purges (the first runs when the hub starts)."""
MAX_CUTTING = 8
"""Clips being cut at once, hub-wide; more are refused until one is done."""
ENCODERS = 1
"""Masked clips encoded at once: an encode takes a core, and the cameras need the others."""


class TooManyClips(Exception):
    """As many clips as the hub cuts at once are being cut already."""


class ClipService:
    """Cuts clips in the background (`cut`), keeps the catalog, and purges by retention."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        data_dir: Path,
        *,
        retention_days: int,
        streams: Callable[[], StreamEngine | None],
        purge_interval: float = PURGE_EVERY,
    ) -> None:
        self.catalog = ClipCatalog(db)
        self.purge = RetentionPurge(db, registry, self.catalog, data_dir, retention_days)
        self._folder = clips_folder(data_dir)
        self._streams = streams
        self._purge_interval = purge_interval
        self._cutting: dict[str, asyncio.Task[None]] = {}
        self._encoders = asyncio.Semaphore(ENCODERS)
        self._purger: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Fail the clips a stopped hub left half cut, and start the purge (now, then hourly)."""
        failed = await self.catalog.fail_unfinished(
            "the hub stopped while this clip was being cut; cut it again"
        )
        if failed:
            log.info("%d clip%s left half cut by the last stop: failed", failed, "s" * (failed > 1))
        self._purger = asyncio.get_running_loop().create_task(
            purge_every(self.purge, self._purge_interval), name="clips:retention"
        )

    async def stop(self) -> None:
        """Stop the purge and every cut in progress (those clips fail)."""
        tasks = [*self._cutting.values(), *([self._purger] if self._purger else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._cutting.clear()
        self._purger = None

    async def cut(
        self,
        camera: CameraRecord,
        *,
        pre: float,
        post: float,
        by: str,
        privacy: PrivacyMask | None,
        purpose: str | None = None,
        incident_id: str | None = None,
    ) -> ClipRecord:
        """Start cutting a clip of `camera`; the catalog's record at once, in state `cutting`.

        `privacy` is what to burn into every frame: the camera's masks, or None for a camera
        without any (or whose mask lift someone approved: the caller decides).
        """
        if len(self._cutting) >= MAX_CUTTING:
            raise TooManyClips(
                f"{MAX_CUTTING} clips are being cut already; ask again in {post:.0f} s or so"
            )
        clip = await self.catalog.add(
            camera_id=camera.id,
            owner_id=camera.owner,
            created_by=by,
            pre=pre,
            post=post,
            purpose=purpose,
            incident_id=incident_id,
            masked=privacy is not None,
        )
        task = asyncio.get_running_loop().create_task(
            self._cut(clip, camera, privacy), name=f"clips:{clip.id}"
        )
        self._cutting[clip.id] = task
        task.add_done_callback(lambda _: self._cutting.pop(clip.id, None))
        return clip

    async def _cut(
        self, clip: ClipRecord, camera: CameraRecord, privacy: PrivacyMask | None
    ) -> None:
        folder = self._folder / camera.id
        remux = folder / f"{clip.id}.remux.mp4"
        target = folder / f"{clip.id}.mp4"
        try:
            engine = self._streams()
            if engine is None:
                raise LookupError("the stream engine is off (hub.streams.enabled: false)")
            cut = await engine.clip(camera.id, pre=clip.pre, post=clip.post, path=remux)
            async with self._encoders:
                done = await export_clip(cut.path, target, privacy)
        except asyncio.CancelledError:
            await _quietly(self.catalog.fail(clip.id, "the hub stopped while cutting this clip"))
            await asyncio.to_thread(_remove, remux, target)
            raise
        except Exception as exc:
            reason = _reason(exc)
            log.warning(
                "clip %s of %s failed: %s",
                clip.id,
                camera.name,
                reason,
                extra={"camera": camera.id},
                exc_info=not isinstance(exc, KeyError | LookupError),
            )
            await asyncio.to_thread(_remove, remux, target)
            await _quietly(self.catalog.fail(clip.id, reason))
            return
        finished = await self.catalog.finish(
            clip.id,
            path=done.path,
            frames=done.frames,
            duration=done.duration,
            size=done.size,
            masked=done.masked,
        )
        if finished is None:  # purged meanwhile (a retention shorter than the cut): no orphan
            await asyncio.to_thread(_remove, target)
            return
        log.info(
            "clip %s of %s ready: %.1f s, %d bytes%s",
            clip.id,
            camera.name,
            done.duration,
            done.size,
            ", masked" if done.masked else "",
            extra={"camera": camera.id},
        )


def _reason(exc: Exception) -> str:
    """Why a cut failed, as a sentence for the clip's `error` (never a URL or a path)."""
    if isinstance(exc, KeyError):
        return "the camera is not being watched (disabled, or its stream is down); try again later"
    if isinstance(exc, av.FFmpegError):
        return "the clip could not be decoded or encoded; see the hub's log"
    if isinstance(exc, LookupError | ValueError):
        return str(exc)
    return f"the clip could not be written ({type(exc).__name__}); see the hub's log"


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".part").unlink(missing_ok=True)


async def _quietly(step: Awaitable[object]) -> None:
    """Await a catalog change without raising: the store being down must not hide the cause."""
    try:
        await step
    except Exception:
        log.exception("could not record a clip's failure in the catalog")
