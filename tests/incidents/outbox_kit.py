"""Builders for outbox and delivery tests: an opening incident change, its jobs, waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from hub.config import Config
from hub.incidents.model import IncidentChange, IncidentState, NotificationJob, Severity
from hub.incidents.outbox import Outbox
from hub.runtime import Hub
from hub.store import Database
from hub.store.models import IncidentHistoryRow, NotificationJobRow

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def opening(
    incident_id: str = "inc-1", *, at: datetime = T0, dedup_key: str | None = None
) -> tuple[IncidentChange, dict[str, Any]]:
    """The change that opens an incident, and the incident's columns."""
    change = IncidentChange(incident_id, "triggered", f"rule:smoke-{incident_id}", at)
    fields: dict[str, Any] = {
        "dedup_key": dedup_key or f"smoke:{incident_id}",
        "rule_id": "smoke",
        "owner_id": "pasar-kliwon",
        "camera_id": "pasar-3",
        "site_id": "pasar",
        "state": IncidentState.TRIGGERED,
        "severity": Severity.HIGH,
        "title": "Smoke at Pasar Kliwon",
        "summary": "camera pasar-3 sees smoke",
        "escalation": {"steps": [{"after_s": 0, "to": ["damkar"]}]},
    }
    return change, fields


def job(key: str, url: str, *, incident_id: str = "inc-1", **options: Any) -> NotificationJob:
    """A notification job of `incident_id` to the Damkar fire service."""
    return NotificationJob(
        idempotency_key=key,
        incident_id=incident_id,
        responder="damkar",
        channel_url=url,
        title="Smoke at Pasar Kliwon",
        body=f"Camera pasar-3 sees smoke.\nJob {key}.",
        **options,
    )


async def job_rows(db: Database) -> dict[str, NotificationJobRow]:
    """Every job, by idempotency key."""
    async with db.session() as session:
        rows = await session.scalars(select(NotificationJobRow))
        return {row.idempotency_key: row for row in rows}


async def history(db: Database, incident_id: str = "inc-1") -> list[IncidentHistoryRow]:
    """An incident's history, oldest first."""
    async with db.session() as session:
        rows = await session.scalars(
            select(IncidentHistoryRow)
            .where(IncidentHistoryRow.incident_id == incident_id)
            .order_by(IncidentHistoryRow.id)
        )
        return list(rows)


async def states(db: Database) -> dict[str, str]:
    """Every job's state, by idempotency key."""
    return {key: row.state for key, row in (await job_rows(db)).items()}


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 20.0, every: float = 0.05
) -> None:
    """Wait until `check()` is true, failing after `within` seconds."""
    async with asyncio.timeout(within):
        # The database has no event to wait on: poll it.
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(every)


def later(seconds: float, start: datetime = T0) -> datetime:
    """`seconds` after `start`."""
    return start + timedelta(seconds=seconds)


async def stored_incidents(config: Config) -> list[dict[str, Any]]:
    """The incidents the store of a stopped hub holds, as `pantau incidents list` reads them."""
    hub = Hub(config)
    try:
        await hub.open_store()
        return await Outbox(hub.db, hub.credentials).incidents()
    finally:
        await hub.db.close()
