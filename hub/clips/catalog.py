"""The clip catalog: every clip cut for export, from `cutting` to `ready` or `failed`."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from hub.store import Database, unbroken
from hub.store.models import ClipRow, utcnow

MAX_LIST = 1000
"""Clips `ClipCatalog.find` answers at most."""


class ClipState(StrEnum):
    """Where a clip is in its short life."""

    CUTTING = "cutting"
    """Waiting for its `post` seconds, then being masked and encoded."""
    READY = "ready"
    """Its file may be downloaded."""
    FAILED = "failed"
    """Nothing to download; `error` says why."""


@dataclass(frozen=True, slots=True)
class ClipRecord:
    """A clip in the catalog."""

    id: str
    camera_id: str
    owner_id: str
    created_at: datetime
    created_by: str
    state: ClipState
    pre: float
    post: float
    purpose: str | None
    incident_id: str | None
    masked: bool
    frames: int | None
    duration: float | None
    size: int | None
    path: Path | None
    """Where the file that may leave the hub is; inside the data folder, never shown."""
    error: str | None
    finished_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """The clip as the API shows it: without its path on the hub's disk."""
        return {
            "id": self.id,
            "camera": self.camera_id,
            "owner": self.owner_id,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "state": self.state.value,
            "pre": self.pre,
            "post": self.post,
            "purpose": self.purpose,
            "incident_id": self.incident_id,
            "masked": self.masked,
            "frames": self.frames,
            "duration": self.duration,
            "size": self.size,
            "error": self.error,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def _record(row: ClipRow) -> ClipRecord:
    return ClipRecord(
        id=row.id,
        camera_id=row.camera_id,
        owner_id=row.owner_id,
        created_at=row.created_at,
        created_by=row.created_by,
        state=ClipState(row.state),
        pre=row.pre,
        post=row.post,
        purpose=row.purpose,
        incident_id=row.incident_id,
        masked=row.masked,
        frames=row.frames,
        duration=row.duration,
        size=row.size,
        path=Path(row.path) if row.path else None,
        error=row.error,
        finished_at=row.finished_at,
    )


class ClipCatalog:
    """The `clips` table: add a clip being cut, finish or fail it, find, list and remove."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @unbroken
    async def add(
        self,
        *,
        camera_id: str,
        owner_id: str,
        created_by: str,
        pre: float,
        post: float,
        purpose: str | None = None,
        incident_id: str | None = None,
        masked: bool = False,
        created_at: datetime | None = None,
    ) -> ClipRecord:
        """A new clip in state `cutting`, with a fresh random id."""
        row = ClipRow(
            id=secrets.token_hex(16),
            camera_id=camera_id,
            owner_id=owner_id,
            created_at=created_at or utcnow(),
            created_by=created_by,
            state=ClipState.CUTTING.value,
            pre=pre,
            post=post,
            purpose=purpose,
            incident_id=incident_id,
            masked=masked,
        )
        async with self._db.session() as session, session.begin():
            session.add(row)
        return _record(row)

    async def finish(
        self, clip_id: str, *, path: Path, frames: int, duration: float, size: int, masked: bool
    ) -> ClipRecord | None:
        """Mark a clip ready with its file; None if it is no longer in the catalog."""
        return await self._change(
            clip_id,
            state=ClipState.READY.value,
            path=str(path),
            frames=frames,
            duration=duration,
            size=size,
            masked=masked,
            finished_at=utcnow(),
        )

    async def fail(self, clip_id: str, reason: str) -> ClipRecord | None:
        """Mark a clip failed, saying why; None if it is no longer in the catalog."""
        return await self._change(
            clip_id, state=ClipState.FAILED.value, error=reason, finished_at=utcnow()
        )

    @unbroken
    async def _change(self, clip_id: str, **values: Any) -> ClipRecord | None:
        async with self._db.session() as session, session.begin():
            row = await session.get(ClipRow, clip_id)
            if row is None:
                return None
            for name, value in values.items():
                setattr(row, name, value)
        return _record(row)

    @unbroken
    async def fail_unfinished(self, reason: str) -> int:
        """Fail every clip still `cutting` (the hub stopped under it); how many."""
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(ClipRow)
                .where(ClipRow.state == ClipState.CUTTING.value)
                .values(state=ClipState.FAILED.value, error=reason, finished_at=utcnow())
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def get(self, clip_id: str) -> ClipRecord | None:
        """One clip, or None."""
        async with self._db.session() as session:
            row = await session.get(ClipRow, clip_id)
            return None if row is None else _record(row)

    async def find(
        self, *, owner: str | None = None, camera: str | None = None, limit: int = 100
    ) -> list[ClipRecord]:
        """Clips, newest first: all, or one owner's or one camera's."""
        query = select(ClipRow).order_by(ClipRow.created_at.desc(), ClipRow.id)
        if owner is not None:
            query = query.where(ClipRow.owner_id == owner)
        if camera is not None:
            query = query.where(ClipRow.camera_id == camera)
        async with self._db.session() as session:
            rows = await session.scalars(query.limit(max(1, min(limit, MAX_LIST))))
            return [_record(row) for row in rows]

    async def every(self) -> list[ClipRecord]:
        """Every clip, oldest first (for the retention purge)."""
        async with self._db.session() as session:
            rows = await session.scalars(select(ClipRow).order_by(ClipRow.created_at))
            return [_record(row) for row in rows]

    @unbroken
    async def remove(self, clip_ids: Iterable[str]) -> int:
        """Delete these clips' rows (their files are the caller's); how many."""
        ids = list(clip_ids)
        if not ids:
            return 0
        async with self._db.session() as session, session.begin():
            result = await session.execute(delete(ClipRow).where(ClipRow.id.in_(ids)))
        return int(getattr(result, "rowcount", 0) or 0)
