"""The audit log on both backends: the chain, what verify finds, appends that race."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from hub.audit import (
    GENESIS,
    Action,
    Actor,
    ActorKind,
    AuditLog,
    AuditRecord,
    Flaw,
    PurposeMissing,
)
from hub.audit.log import _taken, parse_when, record_of
from hub.credentials import CredentialBox
from hub.store import Database
from hub.store.models import AuditRecordRow
from tests.audit.conftest import SARI, fill, rechain, tampering

ROOT = Path(__file__).resolve().parents[2]


async def test_appends_chain_from_the_genesis_value(audit: AuditLog) -> None:
    made = await fill(audit, 3)
    assert [r.seq for r in made] == [1, 2, 3]
    assert made[0].prev_hash == GENESIS
    assert made[1].prev_hash == made[0].hash and made[2].prev_hash == made[1].hash
    stored = await audit.records()
    assert [r.seq for r in stored] == [3, 2, 1]  # newest first
    assert stored[::-1] == made  # what was hashed is what is stored, to the microsecond
    assert all(r.computed_hash() == r.hash for r in stored)
    result = await audit.verify()
    assert result.intact and result.records == 3 and result.head == 3
    assert result.head_hash == made[-1].hash
    assert result.summary().startswith("audit log intact: 3 records, head 3")


async def test_an_empty_log_is_intact(audit: AuditLog) -> None:
    result = await audit.verify()
    assert result.intact and result.records == 0 and result.head_hash == GENESIS
    assert await audit.anchor() is None  # nothing to vouch for


async def test_the_store_refuses_to_update_or_delete_a_record(
    audit: AuditLog, db: Database
) -> None:
    await fill(audit, 1)
    for statement in (
        update(AuditRecordRow).values(actor="someone-else"),
        delete(AuditRecordRow),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.session() as session, session.begin():
                await session.execute(statement)
    assert (await audit.verify()).intact


async def test_verify_finds_a_changed_field(audit: AuditLog, db: Database) -> None:
    await fill(audit, 4)
    async with tampering(db) as session:
        row = await session.get(AuditRecordRow, 2)
        assert row is not None
        row.source = "10.0.0.99"  # hide where the view came from
    result = await audit.verify()
    assert result.problem is not None
    assert (result.problem.seq, result.problem.flaw) == (2, Flaw.CHANGED)
    assert "record 2 (snapshot.view" in result.summary()
    assert "changed after it was written" in result.summary()


async def test_verify_finds_a_deleted_record(audit: AuditLog, db: Database) -> None:
    await fill(audit, 5)
    async with tampering(db) as session:
        await session.execute(delete(AuditRecordRow).where(AuditRecordRow.seq.in_([2, 3])))
    result = await audit.verify()
    assert result.problem is not None
    assert (result.problem.seq, result.problem.flaw) == (2, Flaw.GAP)
    assert "records 2 to 3 are missing: the chain jumps to record 4" in result.problem.message


async def test_verify_finds_a_deleted_first_record(audit: AuditLog, db: Database) -> None:
    await fill(audit, 2)
    async with tampering(db) as session:
        await session.execute(delete(AuditRecordRow).where(AuditRecordRow.seq == 1))
    result = await audit.verify()
    assert result.problem is not None
    assert (result.problem.seq, result.problem.flaw) == (1, Flaw.GAP)


async def test_verify_finds_a_relinked_record(audit: AuditLog, db: Database) -> None:
    made = await fill(audit, 4)
    async with tampering(db) as session:
        # Record 3 made to follow record 1, as if record 2 had never been; its own hash is
        # recomputed, so only the link gives it away.
        row = await session.get(AuditRecordRow, 3)
        assert row is not None
        row.prev_hash = made[0].hash
        row.hash = record_of(row).computed_hash()
    result = await audit.verify()
    assert result.problem is not None
    assert (result.problem.seq, result.problem.flaw) == (3, Flaw.LINK)
    assert "does not follow record 2" in result.problem.message


async def test_verify_finds_reordered_records(audit: AuditLog, db: Database) -> None:
    await fill(audit, 4)
    async with tampering(db) as session:
        two = await session.get(AuditRecordRow, 2)
        three = await session.get(AuditRecordRow, 3)
        assert two is not None and three is not None
        # Swap what records 2 and 3 say, each hash recomputed for its new place.
        for name in ("camera_id", "details", "prev_hash", "time"):
            first, second = getattr(two, name), getattr(three, name)
            setattr(two, name, second)
            setattr(three, name, first)
        for row in (two, three):
            row.hash = record_of(row).computed_hash()
    result = await audit.verify()
    assert result.problem is not None
    assert (result.problem.seq, result.problem.flaw) == (2, Flaw.LINK)


async def test_a_recomputed_chain_passes_the_plain_check_but_not_the_anchor(
    audit: AuditLog, db: Database, credentials: CredentialBox
) -> None:
    await fill(audit, 3)
    anchor = await audit.anchor()
    assert anchor is not None and anchor.seq == 4 and anchor.action == Action.AUDIT_ANCHOR
    assert anchor.details["vouches_for"] == 3
    assert await audit.anchor() is None  # nothing new to vouch for
    await fill(audit, 2)
    assert (await audit.verify()).anchors == 1
    async with tampering(db) as session:
        row = await session.get(AuditRecordRow, 2)
        assert row is not None
        row.actor, row.actor_name = "u-budi", "budi"  # blame someone else
        await session.flush()
        await rechain(session, 2)  # every hash after it recomputed: consistent again
    # Without the key the chain only agrees with itself, which a forger can arrange...
    keyless = AuditLog(db)
    unsure = await keyless.verify()
    assert unsure.intact and unsure.unchecked_anchors == 1
    assert "1 not checked (no key)" in unsure.summary()
    # ...with it, the anchor's signature gives the rewrite away.
    result = await audit.verify()
    assert result.problem is not None
    assert (result.problem.seq, result.problem.flaw) == (4, Flaw.ANCHOR)
    assert "rewritten" in result.problem.message
    # A key from elsewhere vouches for nothing either.
    stranger = AuditLog(db, CredentialBox([CredentialBox.generate_key()]))
    assert (await stranger.verify()).problem is not None


async def test_records_cut_off_the_end_are_caught_by_the_anchor_file(
    audit: AuditLog, db: Database, tmp_path: Path
) -> None:
    await fill(audit, 3)
    await audit.anchor()
    assert audit.anchor_file is not None and audit.anchor_file.exists()
    async with tampering(db) as session:
        await session.execute(delete(AuditRecordRow).where(AuditRecordRow.seq >= 3))
    result = await audit.verify()
    assert result.problem is not None
    assert (result.problem.seq, result.problem.flaw) == (3, Flaw.TRUNCATED)
    assert "the chain ends at record 2, but the hub anchored record 4" in result.problem.message


async def test_a_forged_anchor_file_is_refused(audit: AuditLog, tmp_path: Path) -> None:
    await fill(audit, 2)
    await audit.anchor()
    assert audit.anchor_file is not None
    audit.anchor_file.write_text('{"seq": 1, "hash": "00", "signature": "x"}', encoding="utf-8")
    result = await audit.verify()
    assert result.problem is not None and result.problem.flaw is Flaw.ANCHOR


async def test_many_appends_at_once_leave_one_chain(audit: AuditLog) -> None:
    await asyncio.gather(*(fill(audit, 1, camera_id=None) for _ in range(40)))
    result = await audit.verify()
    assert result.intact and result.records == 40


async def test_two_logs_on_one_store_take_turns(db: Database, store_url: str) -> None:
    # Two handles with their own connections and locks: the store alone keeps them in line
    # (the primary key, and on PostgreSQL the advisory lock).
    other = Database(store_url)
    await other.start()
    try:
        first, second = AuditLog(db), AuditLog(other)
        await asyncio.gather(
            *(fill(first, 1, camera_id=None) for _ in range(25)),
            *(fill(second, 1, camera_id=None) for _ in range(25)),
        )
    finally:
        await other.close()
    result = await first.verify()
    assert result.intact and result.records == 50


async def test_two_processes_on_one_sqlite_file_leave_one_chain(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "var" / "pantau.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    count = 60
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.audit.append_process",
            str(path),
            str(count),
            name,
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for name in ("left", "right")
    ]
    path.with_suffix(".go").touch()
    outputs = [await process.communicate() for process in processes]
    for process, (_, errors) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, errors.decode()
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.start()
    try:
        audit = AuditLog(db)
        result = await audit.verify()
        assert result.intact, result.summary()
        assert result.records == 2 * count
        records = await audit.records(limit=1000)
        assert {r.actor for r in records} == {"left", "right"}
        # each process's records in the order it made them
        for name in ("left", "right"):
            numbers = [r.details["n"] for r in reversed(records) if r.actor == name]
            assert numbers == list(range(count))
    finally:
        await db.close()


def _sqlite_refusals(folder: Path) -> tuple[sqlite3.OperationalError, sqlite3.OperationalError]:
    """Real 'database is locked' refusals: a write on a stale snapshot, and one on a held lock."""
    path = folder / "locks.db"
    first = sqlite3.connect(path, isolation_level=None, timeout=0)
    second = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        first.execute("PRAGMA journal_mode=WAL")
        first.execute("CREATE TABLE t (x INTEGER)")
        first.execute("BEGIN")
        first.execute("SELECT * FROM t").fetchall()  # a snapshot taken
        second.execute("INSERT INTO t VALUES (1)")  # and made stale
        with pytest.raises(sqlite3.OperationalError) as stale:
            first.execute("INSERT INTO t VALUES (2)")
        first.execute("ROLLBACK")
        second.execute("BEGIN IMMEDIATE")  # the write lock held
        with pytest.raises(sqlite3.OperationalError) as held:
            first.execute("INSERT INTO t VALUES (3)")
        second.execute("ROLLBACK")
    finally:
        first.close()
        second.close()
    return stale.value, held.value


def test_only_a_stale_snapshot_is_retried_not_a_held_lock(tmp_path: Path) -> None:
    # Both say 'database is locked'. The stale snapshot comes at once: another appender took
    # the head, start over. The held lock comes after the busy timeout (10 s in the hub):
    # retrying it ATTEMPTS times held a stopping hub for minutes.
    stale, held = _sqlite_refusals(tmp_path)
    assert "locked" in str(stale) and "locked" in str(held)
    assert _taken(OperationalError("INSERT", {}, stale))
    assert not _taken(OperationalError("INSERT", {}, held))
    assert _taken(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE")))


async def test_records_are_filtered_by_owner_camera_action_and_time(
    audit: AuditLog, db: Database
) -> None:
    clock = iter(datetime(2026, 11, 24, 1, 0, tzinfo=UTC) + timedelta(hours=h) for h in range(9))
    timed = AuditLog(db, clock=lambda: next(clock))
    await timed.append(Action.SNAPSHOT_VIEW, SARI, camera_id="mall-lobi", owner_id="sunrise")
    await timed.append(Action.LIVE_VIEW, SARI, camera_id="mall-lobi", owner_id="sunrise")
    await timed.append(Action.SNAPSHOT_VIEW, SARI, camera_id="tpa", owner_id="dlh")
    await timed.append(Action.LOGIN, SARI, source="10.0.0.7")
    await timed.append(Action.CLIP_EXPORT, SARI, camera_id="mall-parkir", owner_id="sunrise")

    def seqs(records: list[AuditRecord]) -> list[int]:
        return [r.seq for r in records]

    assert seqs(await audit.records(owner="sunrise")) == [5, 2, 1]
    assert seqs(await audit.records(camera="mall-lobi")) == [2, 1]
    assert seqs(await audit.records(action=Action.LOGIN)) == [4]
    since = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    until = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    assert seqs(await audit.records(since=since, until=until)) == [3, 2]
    assert seqs(await audit.records(owner="sunrise", limit=2)) == [5, 2]
    assert seqs(await audit.records(owner="sunrise", before=2)) == [1]
    streamed = [r.seq async for r in audit.stream(owner="sunrise", batch=2)]
    assert streamed == [1, 2, 5]


def test_filter_times_are_read_in_the_hubs_time_zone() -> None:
    wib = "Asia/Jakarta"
    assert parse_when("2026-11-24", wib) == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert parse_when("2026-11-24", wib, end=True) == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    assert parse_when("2026-11-24T08:30", wib) == datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
    assert parse_when("2026-11-24T08:30Z", wib) == datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_when("yesterday", wib)


async def test_a_live_view_of_a_private_camera_needs_a_purpose(audit: AuditLog) -> None:
    with pytest.raises(PurposeMissing, match="state the purpose"):
        await audit.view(
            Action.LIVE_VIEW, SARI, "mall-lobi", "sunrise", private=True, source="10.0.0.7"
        )
    with pytest.raises(PurposeMissing):
        await audit.view(
            Action.LIVE_VIEW, SARI, "mall-lobi", "sunrise", private=True, source=None, purpose=" "
        )
    assert await audit.records() == []  # refused views leave no record (and show nothing)
    live = await audit.view(
        Action.LIVE_VIEW,
        SARI,
        "mall-lobi",
        "sunrise",
        private=True,
        source="10.0.0.7",
        purpose="Laporan kehilangan anak, tiket 119-2231",
    )
    assert live.purpose == "Laporan kehilangan anak, tiket 119-2231"
    assert live.source == "10.0.0.7" and live.owner_id == "sunrise"
    # a government camera, or a snapshot, needs none
    await audit.view(Action.LIVE_VIEW, SARI, "simpang-5", "dishub", private=False, source=None)
    await audit.view(Action.SNAPSHOT_VIEW, SARI, "mall-lobi", "sunrise", private=True, source=None)
    assert len(await audit.records()) == 3


async def test_the_vocabulary_is_closed(audit: AuditLog) -> None:
    with pytest.raises(ValueError):
        await audit.append("camera.peek", SARI)
    with pytest.raises(ValueError, match="anchor"):
        await audit.append(Action.AUDIT_ANCHOR, SARI)
    assert await audit.records() == []


async def test_secrets_never_reach_a_record(audit: AuditLog, db: Database) -> None:
    from hub.logs import redactor

    redactor.add(["Sandi-Rahasia-DVR-77"])
    record = await audit.append(
        Action.CAMERA_UPDATE,
        Actor("tok-1", ActorKind.TOKEN, "integrator"),
        camera_id="mall-lobi",
        source="10.0.0.7",
        purpose="the DVR password was Sandi-Rahasia-DVR-77",
        details={
            "password": "hunter2-hunter2",
            "token": "pantau_abcdefabcdef",
            "channel_url": "tgram://123:AAbbCC/456",
            "session_id": "sess-9f9f9f",
            "nested": {"api_key": "k-123456", "url": "rtsp://admin:Kunci999@10.0.0.5/ch1"},
            "note": "moved to rtsp://admin:Kunci999@10.0.0.5/ch2",
            "changed": ["password", "url"],
        },
    )
    assert record.details == {
        "nested": {},
        "note": "moved to rtsp://***@10.0.0.5/ch2",
        "changed": ["password", "url"],
    }
    assert record.purpose == "the DVR password was ***"
    async with db.engine.connect() as connection:
        rows = (await connection.execute(select(AuditRecordRow.__table__))).all()
    dump = repr(rows)
    for secret in (
        "hunter2",
        "pantau_abc",
        "AAbbCC",
        "sess-9f",
        "k-123456",
        "Kunci999",
        "Sandi-Rahasia-DVR-77",
    ):
        assert secret not in dump
    assert (await audit.verify()).intact


async def test_text_is_kept_printable_and_within_its_column(audit: AuditLog) -> None:
    record = await audit.append(
        Action.LOGIN_FAILED,
        Actor("x" * 500, ActorKind.ANONYMOUS, "nul\x00and\nnewline"),
        source="1" * 400,
    )
    assert len(record.actor) == 200 and record.actor_name == "nul and newline"
    assert record.source is not None and len(record.source) == 255
    assert (await audit.verify()).intact


async def test_the_recipe_in_the_docs_recomputes_every_hash(audit: AuditLog) -> None:
    await fill(audit, 2)
    await audit.append(Action.LOGIN_FAILED, SARI, purpose='ünïcode, "quotes"', details={"z": [1.5]})
    await audit.anchor()
    guide = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    recipe = guide.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(recipe, namespace)  # noqa: S102 - our own documentation
    for record in await audit.records():
        printed = json.loads(json.dumps(record.as_dict()))  # as `pantau audit list --json`
        assert namespace["record_hash"](printed) == record.hash
