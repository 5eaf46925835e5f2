"""Fixtures for the audit log: a log with a key and an anchor file, and a way to tamper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import Action, Actor, ActorKind, AuditLog, AuditRecord
from hub.audit.log import ANCHOR_FILE, record_of
from hub.credentials import CredentialBox
from hub.store import Database
from hub.store.models import AuditRecordRow

SARI = Actor("u-sari", ActorKind.USER, "sari")


@pytest.fixture
def credentials() -> CredentialBox:
    return CredentialBox([CredentialBox.generate_key()])


@pytest.fixture
def audit(db: Database, credentials: CredentialBox, tmp_path: Path) -> AuditLog:
    """An audit log on both backends (the `db` fixture), with a key and an anchor file."""
    return AuditLog(db, credentials, anchor_file=tmp_path / ANCHOR_FILE)


async def fill(audit: AuditLog, count: int, **fields: Any) -> list[AuditRecord]:
    """`count` snapshot views of camera `cam-<n>` by sari."""
    made = []
    for number in range(count):
        given = {"owner_id": "dishub", "camera_id": f"cam-{number}", **fields}
        made.append(await audit.append(Action.SNAPSHOT_VIEW, SARI, details={"n": number}, **given))
    return made


@asynccontextmanager
async def tampering(db: Database) -> AsyncIterator[AsyncSession]:
    """A session that may change and delete audit records, as someone with the store's keys.

    The append-only triggers are off inside it (on PostgreSQL only until it ends; on SQLite
    they are gone for the rest of the test, whose file is its own).
    """
    async with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            await connection.execute(
                text("ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only")
            )
        else:
            await connection.execute(text("DROP TRIGGER IF EXISTS audit_records_no_update"))
            await connection.execute(text("DROP TRIGGER IF EXISTS audit_records_no_delete"))
        session = AsyncSession(bind=connection, expire_on_commit=False)
        try:
            yield session
            await session.flush()
        finally:
            await session.close()
            if db.dialect == "postgresql":
                await connection.execute(
                    text("ALTER TABLE audit_records ENABLE TRIGGER audit_records_append_only")
                )


async def rechain(session: AsyncSession, start: int) -> None:
    """Recompute every link and hash from record `start` on, as a forger without the key would."""
    rows = list(await session.scalars(select(AuditRecordRow).order_by(AuditRecordRow.seq)))
    prev = None
    for row in rows:
        if row.seq >= start:
            if prev is not None:
                row.prev_hash = prev
            row.hash = record_of(row).computed_hash()
        prev = row.hash
    await session.flush()
