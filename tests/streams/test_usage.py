"""Data usage per camera per local day, added up on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hub.store import Database
from hub.streams.usage import UsageLedger, UsageLine


async def test_bytes_add_up_per_camera_and_local_day(db: Database) -> None:
    ledger = UsageLedger(db, "Asia/Jakarta")
    # 16:59 UTC is 23:59 in Jakarta; 17:01 UTC is already the next day there
    late = datetime(2026, 11, 23, 16, 59, tzinfo=UTC)
    after_midnight = datetime(2026, 11, 23, 17, 1, tzinfo=UTC)
    await ledger.add({"alun-1": 1_000, "tpa-1": 500, "idle": 0}, at=late)
    await ledger.add({"alun-1": 2_000}, at=late)
    await ledger.add({"alun-1": 7}, at=after_midnight)
    lines = await ledger.lines(date(2026, 11, 1), date(2026, 11, 30))
    assert lines == [
        UsageLine("alun-1", date(2026, 11, 23), 3_000),
        UsageLine("alun-1", date(2026, 11, 24), 7),
        UsageLine("tpa-1", date(2026, 11, 23), 500),
    ]
    only = await ledger.lines(date(2026, 11, 24), date(2026, 11, 24), camera_id="alun-1")
    assert only == [UsageLine("alun-1", date(2026, 11, 24), 7)]
