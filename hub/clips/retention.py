"""Retention: clips and stored pictures are deleted once they are older than their camera allows.

UU 27/2022 asks that personal data be kept no longer than needed. How long is a camera's
`options.retention_days`, else its owner's `retention_days`, else the hub's `retention_days`.
The purge deletes exported clips (file and catalog row), stray files in the clips folder, and
the alert pictures the incident service spooled, except those a notification job that is not
finished still needs. The audit log is never purged: it is the record of access.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hub.clips.catalog import ClipCatalog, ClipState
from hub.incidents.outbox import FINISHED
from hub.store import Database
from hub.store.models import IncidentRow, NotificationJobRow, utcnow

if TYPE_CHECKING:
    from hub.registry import Registry

log = logging.getLogger(__name__)

OPTION = "retention_days"
"""The camera option (and owner and hub setting) that says how many days pictures are kept."""
MAX_DAYS = 3650
UNKNOWN_OWNER = "(unknown)"
"""Whose pictures the report counts when no camera or incident names an owner."""


def clips_folder(data_dir: Path) -> Path:
    """Where clips are written: `<data_dir>/clips/<camera>/`."""
    return data_dir / "clips"


def spool_folder(data_dir: Path) -> Path:
    """Where the incident service spools alert pictures (`IncidentService.spool`)."""
    return data_dir / "incidents" / "spool"


def retention_option(options: Mapping[str, Any]) -> int | None:
    """A camera's `options.retention_days`, None when unset; ValueError saying what is wrong."""
    value = options.get(OPTION)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        raise ValueError(
            f"options.{OPTION} must be a whole number of days from 1 to {MAX_DAYS}, not {value!r}"
        )
    return value


def retention_problems(options: Mapping[str, Any]) -> list[str]:
    """What is wrong with a camera's retention option, for `pantau check` and the start."""
    try:
        retention_option(options)
    except ValueError as exc:
        return [str(exc)]
    return []


@dataclass(frozen=True, slots=True)
class Retention:
    """How many days each camera's pictures are kept, from the registry as it is now."""

    default_days: int
    owner_days: Mapping[str, int | None] = field(default_factory=dict)
    camera_days: Mapping[str, int | None] = field(default_factory=dict)
    camera_owner: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    async def of(cls, registry: Registry, default_days: int) -> Retention:
        """The retention of every camera and owner the registry holds."""
        owners = {o.id: o.retention_days for o in await registry.list_owners()}
        cameras: dict[str, int | None] = {}
        camera_owner: dict[str, str] = {}
        for camera in await registry.list_cameras():
            camera_owner[camera.id] = camera.owner
            try:
                cameras[camera.id] = retention_option(camera.options)
            except ValueError as exc:  # `pantau check` says so too; the owner's period holds
                log.warning("%s: %s", camera.name, exc, extra={"camera": camera.id})
                cameras[camera.id] = None
        return cls(default_days, owners, cameras, camera_owner)

    def owner_of(self, camera_id: str | None, fallback: str | None = None) -> str | None:
        """The camera's owner now, else `fallback` (the owner recorded with the picture)."""
        if camera_id is not None and camera_id in self.camera_owner:
            return self.camera_owner[camera_id]
        return fallback

    def days(self, camera_id: str | None, owner_id: str | None = None) -> int:
        """Days a picture of `camera_id` is kept: the camera's, its owner's, else the hub's."""
        camera_days = self.camera_days.get(camera_id) if camera_id is not None else None
        if camera_days is not None:
            return camera_days
        owner = self.owner_of(camera_id, owner_id)
        owner_days = self.owner_days.get(owner) if owner is not None else None
        return owner_days if owner_days is not None else self.default_days


@dataclass
class Purged:
    """What went (or would go) of one owner's pictures."""

    clips: int = 0
    clip_bytes: int = 0
    pictures: int = 0
    picture_bytes: int = 0


@dataclass
class PurgeReport:
    """What a purge deleted, per owner; with `dry_run`, what it would have deleted."""

    dry_run: bool = False
    owners: dict[str, Purged] = field(default_factory=dict)
    kept_for_jobs: int = 0
    """Spooled pictures past their retention kept because an unfinished job still needs them."""

    def add_clip(self, owner: str | None, size: int) -> None:
        """Count one clip of `size` bytes."""
        purged = self.owners.setdefault(owner or UNKNOWN_OWNER, Purged())
        purged.clips += 1
        purged.clip_bytes += size

    def add_picture(self, owner: str | None, size: int) -> None:
        """Count one picture of `size` bytes."""
        purged = self.owners.setdefault(owner or UNKNOWN_OWNER, Purged())
        purged.pictures += 1
        purged.picture_bytes += size

    @property
    def total_bytes(self) -> int:
        """Bytes purged in all."""
        return sum(p.clip_bytes + p.picture_bytes for p in self.owners.values())

    def lines(self) -> list[str]:
        """One line per owner, for the log and the console."""
        verb = "would delete" if self.dry_run else "deleted"
        lines = [
            f"{owner}: {verb} {p.clips} clip{'s' if p.clips != 1 else ''} "
            f"({_mb(p.clip_bytes)}), {p.pictures} picture{'s' if p.pictures != 1 else ''} "
            f"({_mb(p.picture_bytes)})"
            for owner, p in sorted(self.owners.items())
        ]
        if self.kept_for_jobs:
            lines.append(
                f"kept {self.kept_for_jobs} spooled picture{'s' if self.kept_for_jobs != 1 else ''}"
                " past retention: an alert waiting to be sent still needs it"
            )
        return lines


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


class RetentionPurge:
    """Deletes clips and spooled pictures older than their camera's retention."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        catalog: ClipCatalog,
        data_dir: Path,
        default_days: int,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._registry = registry
        self._catalog = catalog
        self._clips = clips_folder(data_dir)
        self._spool = spool_folder(data_dir)
        self._default_days = default_days
        self._clock = clock

    async def purge(self, *, dry_run: bool = False) -> PurgeReport:
        """Delete (or with `dry_run` only count) what is past retention; log it per owner."""
        now = self._clock()
        retention = await Retention.of(self._registry, self._default_days)
        report = PurgeReport(dry_run=dry_run)
        known = await self._purge_catalog(retention, now, report)
        await asyncio.to_thread(self._purge_stray_clips, retention, now, known, report)
        await self._purge_spool(retention, now, report)
        for line in report.lines():
            log.info("retention purge: %s", line)
        return report

    async def _purge_catalog(
        self, retention: Retention, now: datetime, report: PurgeReport
    ) -> set[str]:
        """Catalogued clips past retention; the file names the catalog still holds."""
        gone: list[str] = []
        known: set[str] = set()
        for clip in await self._catalog.every():
            if clip.state is ClipState.CUTTING:
                known.add(clip.id)  # its files are being written: never a stray
                continue
            limit = timedelta(days=retention.days(clip.camera_id, clip.owner_id))
            if now - clip.created_at < limit:
                known.add(clip.id)
                continue
            size = clip.size or 0
            if clip.path is not None:
                size = await asyncio.to_thread(self._delete, clip.path, report.dry_run)
            report.add_clip(retention.owner_of(clip.camera_id, clip.owner_id), size)
            gone.append(clip.id)
        if not report.dry_run:
            await self._catalog.remove(gone)
        return known

    def _purge_stray_clips(
        self, retention: Retention, now: datetime, known: set[str], report: PurgeReport
    ) -> None:
        """Files in the clips folder no catalogued clip holds (cut by other callers, left over)."""
        if not self._clips.is_dir():
            return
        for folder in self._clips.iterdir():
            if not folder.is_dir():
                continue
            camera_id = folder.name
            limit = retention.days(camera_id) * 86_400
            for path in folder.iterdir():
                if path.name.split(".", 1)[0] in known or not path.is_file():
                    continue
                if now.timestamp() - path.stat().st_mtime < limit:
                    continue
                size = self._delete(path, report.dry_run)
                report.add_clip(retention.owner_of(camera_id), size)

    async def _purge_spool(self, retention: Retention, now: datetime, report: PurgeReport) -> None:
        """Spooled alert pictures past their camera's retention, unless a job still needs them."""
        if not await asyncio.to_thread(self._spool.is_dir):
            return
        needed: set[str] = set()
        cameras: dict[str, list[tuple[str | None, str]]] = {}
        query = select(
            NotificationJobRow.attachment,
            NotificationJobRow.state,
            IncidentRow.camera_id,
            IncidentRow.owner_id,
        ).join(IncidentRow, NotificationJobRow.incident_id == IncidentRow.id)
        async with self._db.session() as session:
            for attachment, state, camera_id, owner_id in await session.execute(
                query.where(NotificationJobRow.attachment.is_not(None))
            ):
                if attachment is None:
                    continue
                path = str(Path(attachment))
                cameras.setdefault(path, []).append((camera_id, owner_id))
                if state not in FINISHED:
                    needed.add(path)

        def sweep() -> None:
            for path in self._spool.iterdir():
                if not path.is_file() or path.name.startswith("."):
                    continue  # a dot file is one being written (`Spool._write`)
                users = cameras.get(str(path), [(None, None)])
                # A picture of several cameras' alerts goes with the shortest of their periods.
                days = min(retention.days(camera, owner) for camera, owner in users)
                if now.timestamp() - path.stat().st_mtime < days * 86_400:
                    continue
                if str(path) in needed:
                    report.kept_for_jobs += 1
                    continue
                camera, owner = users[0]
                size = self._delete(path, report.dry_run)
                report.add_picture(retention.owner_of(camera, owner), size)

        await asyncio.to_thread(sweep)

    @staticmethod
    def _delete(path: Path, dry_run: bool) -> int:
        """Delete `path` (unless `dry_run`); its size in bytes, 0 if it was already gone."""
        try:
            size = path.stat().st_size
            if not dry_run:
                path.unlink()
        except FileNotFoundError:
            return 0
        return size


async def purge_every(purge: RetentionPurge, interval: float) -> None:
    """Purge now, then every `interval` seconds, forever; a failed purge waits for the next."""
    while True:
        started = time.monotonic()
        try:
            await purge.purge()
        except Exception:
            log.exception("retention purge failed; trying again in %.0f s", interval)
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
