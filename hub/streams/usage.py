"""Data usage: bytes each camera delivered per day, so the command center can size data packages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.store import Database, unbroken
from hub.store.models import DataUsageRow


@dataclass(frozen=True, slots=True)
class UsageLine:
    """One camera's bytes on one day."""

    camera_id: str
    day: date
    bytes_received: int


class UsageLedger:
    """Adds bytes to (camera, local day) rows; days follow the hub's time zone."""

    def __init__(self, db: Database, timezone: str) -> None:
        self.db = db
        self.zone = ZoneInfo(timezone)

    @staticmethod
    def local_today(timezone: str) -> date:
        """Today in `timezone`."""
        return datetime.now(ZoneInfo(timezone)).date()

    def today(self, at: datetime | None = None) -> date:
        """The local day of `at` (now by default)."""
        return (at or datetime.now(self.zone)).astimezone(self.zone).date()

    @unbroken
    async def add(self, counts: Mapping[str, int], at: datetime | None = None) -> None:
        """Add each camera's bytes to its row for the local day of `at`."""
        rows = [
            {"camera_id": cam, "day": self.today(at), "bytes_received": n}
            for cam, n in counts.items()
            if n > 0
        ]
        if not rows:
            return
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        statement = insert(DataUsageRow).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["camera_id", "day"],
            set_={
                "bytes_received": DataUsageRow.bytes_received + statement.excluded.bytes_received
            },
        )
        async with self.db.session() as session:
            await session.execute(statement)
            await session.commit()

    async def lines(self, first: date, last: date, camera_id: str | None = None) -> list[UsageLine]:
        """Usage rows between two days, inclusive, by camera then day."""
        query = select(DataUsageRow).where(DataUsageRow.day >= first, DataUsageRow.day <= last)
        if camera_id is not None:
            query = query.where(DataUsageRow.camera_id == camera_id)
        query = query.order_by(DataUsageRow.camera_id, DataUsageRow.day)
        async with self.db.session() as session:
            result = await session.scalars(query)
            return [UsageLine(r.camera_id, r.day, r.bytes_received) for r in result]
