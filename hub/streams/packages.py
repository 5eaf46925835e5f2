"""Data packages: a camera that uses up its SIM card's allowance raises `usage.exceeded`.

After each flush of the usage ledger, every camera that received bytes is compared with the
packages that cover it, for the local day and for the package's month. An allowance is crossed
when the camera's usage before the flush was below it and after the flush reaches it. Nothing
else is remembered: a restart after a crossing does not raise it again, and a new day or month
starts from nothing.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from hub.events import Event, UsageExceeded, UsageWarning
from hub.store import Database
from hub.store.models import DataUsageRow

if TYPE_CHECKING:
    from hub.config.models import DataPackage
    from hub.registry import CameraRecord

log = logging.getLogger(__name__)

PACKAGE_DAYS = 30
"""Days in one month of a `period: 30d` package, as prepaid packages count them."""

Period = Literal["day", "month"]


def month_start(package: DataPackage, today: date) -> date:
    """The first day of the package's month that holds `today`."""
    if package.bought_on is not None:  # period 30d
        cycles = (today - package.bought_on).days // PACKAGE_DAYS
        return package.bought_on + timedelta(days=cycles * PACKAGE_DAYS)
    start = _day_of_month(today.year, today.month, package.renews_on)
    if start <= today:
        return start
    if today.month == 1:
        return _day_of_month(today.year - 1, 12, package.renews_on)
    return _day_of_month(today.year, today.month - 1, package.renews_on)


def _day_of_month(year: int, month: int, day: int) -> date:
    # renews_on: 31 means the last day of a shorter month
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def covers(package: DataPackage, camera_id: str, camera: CameraRecord | None) -> bool:
    """Whether the package covers a camera: it must fit each of cameras, tags, owners given."""
    if package.cameras and camera_id not in package.cameras:
        return False
    if not (package.tags or package.owners):
        return True
    if camera is None:
        return False
    return (not package.tags or any(tag in package.tags for tag in camera.tags)) and (
        not package.owners or camera.owner in package.owners
    )


def size_text(size: float) -> str:
    """Bytes as `pantau cameras usage` prints them: 812 B, 50.2 GB (powers of 1000)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.2f} TB"


@dataclass(frozen=True, slots=True)
class Allowance:
    """What one package lets each camera it covers use in one period."""

    package: str
    period: Period
    since: date
    allowed: int
    warn_at: float | None


def allowances(package: DataPackage, today: date) -> list[Allowance]:
    """The package's daily and monthly allowances for the periods holding `today`."""
    found = []
    if package.daily is not None:
        found.append(Allowance(package.id, "day", today, package.daily, package.warn_at))
    if package.monthly is not None:
        since = month_start(package, today)
        found.append(Allowance(package.id, "month", since, package.monthly, package.warn_at))
    return found


class AllowanceWatch:
    """Compares the cameras' data usage with their packages after each flush of the ledger."""

    def __init__(
        self,
        db: Database,
        packages: Sequence[DataPackage],
        timezone: str,
        cameras: Callable[[], Awaitable[Sequence[CameraRecord]]],
    ) -> None:
        self.db = db
        self.packages = list(packages)
        self.zone = ZoneInfo(timezone)
        self.cameras = cameras
        # packages naming camera ids only need no registry lookup
        self._by_tag_or_owner = any(p.tags or p.owners for p in self.packages)

    async def check(self, added: Mapping[str, int], at: datetime) -> list[Event]:
        """Events for the allowances that the bytes just `added` on the day of `at` reached."""
        added = {camera_id: n for camera_id, n in added.items() if n > 0}
        if not self.packages or not added:
            return []
        today = at.astimezone(self.zone).date()
        records = {c.id: c for c in await self.cameras()} if self._by_tag_or_owner else {}
        limits: dict[str, list[Allowance]] = {}
        for camera_id in added:
            found = [
                allowance
                for package in self.packages
                if covers(package, camera_id, records.get(camera_id))
                for allowance in allowances(package, today)
            ]
            if found:
                limits[camera_id] = found
        if not limits:
            return []
        totals = await self._totals(limits, today)
        events = []
        for camera_id, found in limits.items():
            for allowance in found:
                after = totals.get((camera_id, allowance.since), 0)
                event = self._crossed(camera_id, allowance, after - added[camera_id], after, at)
                if event is not None:
                    events.append(event)
        return events

    async def _totals(
        self, limits: Mapping[str, Sequence[Allowance]], today: date
    ) -> dict[tuple[str, date], int]:
        """Each camera's bytes from each period's first day to today, in one query."""
        starts = sorted({allowance.since for found in limits.values() for allowance in found})
        sums = [
            func.sum(case((DataUsageRow.day >= since, DataUsageRow.bytes_received), else_=0))
            for since in starts
        ]
        query = (
            select(DataUsageRow.camera_id, *sums)
            .where(
                DataUsageRow.camera_id.in_(list(limits)),
                DataUsageRow.day >= starts[0],
                DataUsageRow.day <= today,
            )
            .group_by(DataUsageRow.camera_id)
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        # PostgreSQL sums BIGINTs into NUMERIC: back to int
        return {
            (row[0], since): int(row[index + 1] or 0)
            for row in rows
            for index, since in enumerate(starts)
        }

    def _crossed(
        self, camera_id: str, allowance: Allowance, before: int, after: int, at: datetime
    ) -> Event | None:
        allowed = allowance.allowed
        data = {
            "package": allowance.package,
            "period": allowance.period,
            "since": allowance.since.isoformat(),
            "used_bytes": after,
            "allowed_bytes": allowed,
            "used": size_text(after),
            "allowed": size_text(allowed),
        }
        if before < allowed <= after:
            log.warning(
                "camera used its %s allowance of data package %s: %s of %s",
                "daily" if allowance.period == "day" else "monthly",
                allowance.package,
                data["used"],
                data["allowed"],
                extra={"camera": camera_id},
            )
            return UsageExceeded.create(camera_id=camera_id, time=at, data=data)
        share = allowance.warn_at
        if share is not None and before < allowed * share <= after:
            data["warn_at"] = share
            return UsageWarning.create(camera_id=camera_id, time=at, data=data)
        return None
