from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text

import hub.store
from hub.store import Database, DataUsageRow, OwnerRow


def _head() -> str:
    """The newest migration's revision, from the files: the store must end at it."""
    versions = Path(hub.store.__file__).parent / "migrations" / "versions"
    return max(p.stem.split("_", 1)[0] for p in versions.glob("[0-9]*_*.py"))


async def test_start_creates_the_sqlite_folder_and_migrates(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "var" / "pantau.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.start()
    try:
        assert path.exists()
        async with db.session() as session:
            version = await session.scalar(text("SELECT version_num FROM alembic_version"))
        assert version == _head()
    finally:
        await db.close()


async def test_start_twice_on_the_same_file_keeps_the_data(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pantau.db'}"
    first = Database(url)
    await first.start()
    async with first.session() as session, session.begin():
        session.add(OwnerRow(id="dishub", name="Dishub", kind="opd", source="api"))
    await first.close()
    second = Database(url)
    await second.start()
    try:
        async with second.session() as session:
            assert await session.get(OwnerRow, "dishub") is not None
    finally:
        await second.close()


async def test_session_before_start_says_so() -> None:
    db = Database("sqlite+aiosqlite:///:memory:")
    with pytest.raises(RuntimeError, match="not started"):
        db.session()
    await db.close()  # closing an unstarted database is harmless


def test_repr_hides_the_password() -> None:
    db = Database("postgresql+asyncpg://pantau:hunter22@db.example/pantau")
    assert "hunter22" not in repr(db)
    assert db.dialect == "postgresql"


async def test_timestamps_come_back_aware_in_utc(db: Database) -> None:
    wib = timezone(timedelta(hours=7))
    created = datetime(2026, 1, 2, 10, 0, tzinfo=wib)
    async with db.session() as session, session.begin():
        session.add(OwnerRow(id="o", name="O", kind="opd", source="api", created_at=created))
    async with db.session() as session:
        row = await session.get(OwnerRow, "o")
        assert row is not None
        assert row.created_at == created
        assert row.created_at.tzinfo is not None
        assert row.created_at.utcoffset() == timedelta(0)
        assert row.updated_at.tzinfo is not None


async def test_naive_timestamps_are_refused(db: Database) -> None:
    async with db.session() as session:
        session.add(
            OwnerRow(id="o", name="O", kind="opd", source="api", created_at=datetime(2026, 1, 1))
        )
        with pytest.raises(Exception, match="naive datetime"):
            await session.flush()


async def test_data_usage_is_one_row_per_camera_and_day(db: Database) -> None:
    async with db.session() as session, session.begin():
        session.add(DataUsageRow(camera_id="cam-1", day=date(2026, 1, 1), bytes_received=10))
        session.add(DataUsageRow(camera_id="cam-1", day=date(2026, 1, 2), bytes_received=2**40))
    async with db.session() as session:
        rows = (await session.scalars(select(DataUsageRow).order_by(DataUsageRow.day))).all()
    assert [(r.day, r.bytes_received) for r in rows] == [
        (date(2026, 1, 1), 10),
        (date(2026, 1, 2), 2**40),
    ]
