from __future__ import annotations

import ast
import asyncio
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text

import hub.store
from hub.store import Database, DataUsageRow, OwnerRow, unbroken


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


SLOW = (
    "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 1000000) "
    "SELECT count(*) FROM r"
)
"""A statement that keeps aiosqlite's thread busy for a while (0.1-0.3 s here)."""


async def _write_then_dawdle(db: Database, written: asyncio.Event) -> None:
    async with db.session() as session, session.begin():
        session.add(OwnerRow(id="dlh", name="DLH", kind="opd", source="api"))
        await session.flush()  # the write lock is taken
        written.set()
        await session.execute(text(SLOW))


async def test_a_write_cancelled_mid_statement_ends_and_leaves_the_store_writable(
    tmp_path: Path,
) -> None:
    # How the hub's stop used to wedge the store: a background task cancelled while it awaited
    # a statement left its connection open with the write lock, and the next writer (the
    # audit log's anchor) waited out the busy timeout, failed, and tried again, 50 times.
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'pantau.db'}")
    await db.start()
    try:
        written = asyncio.Event()
        task = asyncio.create_task(unbroken(_write_then_dawdle)(db, written))
        await written.wait()
        await asyncio.sleep(0.02)  # inside the slow statement
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        began = time.monotonic()
        async with db.session() as session, session.begin():
            session.add(OwnerRow(id="dishub", name="Dishub", kind="opd", source="api"))
        assert time.monotonic() - began < 2.0  # not the busy timeout's 10 s
        async with db.session() as session:
            owners = set(await session.scalars(select(OwnerRow.id)))
        assert owners == {"dlh", "dishub"}  # the cancelled caller's transaction ran to its end
    finally:
        await db.close()


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


def _writers_without_unbroken() -> list[str]:
    """Coroutines in hub/ that begin or commit a session themselves and are not @unbroken."""
    root = Path(hub.store.__file__).parents[1]
    missing = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.AsyncFunctionDef):
                continue
            own = [n for n in ast.walk(node) if n is not node]
            nested = {
                id(n)
                for d in own
                if isinstance(d, ast.AsyncFunctionDef | ast.FunctionDef)
                for n in ast.walk(d)
            }
            writes = any(
                isinstance(n, ast.Attribute)
                and n.attr in ("begin", "commit")
                and isinstance(n.value, ast.Name)
                and n.value.id == "session"
                for n in own
                if id(n) not in nested
            )
            decorators = {ast.unparse(d) for d in node.decorator_list}
            if writes and "unbroken" not in decorators:
                missing.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name}")
    return missing


def test_every_write_transaction_in_the_hub_runs_unbroken() -> None:
    # The rule that keeps a stopping hub from wedging the store; see hub.store.unbroken.
    assert _writers_without_unbroken() == []
