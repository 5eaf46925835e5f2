"""Fixtures for outbox and delivery tests: credentials, an outbox, real receivers, a snapshot."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from hub.credentials import CredentialBox
from hub.incidents.delivery import Backoff, DeliveryWorker
from hub.incidents.outbox import Outbox
from hub.store import Database
from hub.streams.pictures import to_jpeg
from tests.incidents.receivers import SmtpReceiver

SMTP_USER = "hub-sender"
SMTP_PASSWORD = "Sandi-Surel-Rahasia-31"
"""The SMTP server's password: tests check that it never shows up in a log or an error."""

FAST = {
    "backoff": Backoff(first=0.2, factor=2.0, cap=1.0, jitter=0.1),
    "send_timeout": 3.0,
    "poll_interval": 0.2,
}
"""Worker options that make a test's retries come in fractions of a second."""

StartWorker = Callable[..., Awaitable[DeliveryWorker]]


@pytest.fixture
def credentials() -> CredentialBox:
    return CredentialBox([CredentialBox.generate_key()])


@pytest.fixture
def outbox(db: Database, credentials: CredentialBox) -> Outbox:
    """An outbox on both backends (the `db` fixture), with a short lease."""
    return Outbox(db, credentials, lease=timedelta(seconds=10))


@pytest.fixture
async def sqlite_db(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    """A migrated SQLite store only, for delivery tests where the backend is not the point."""
    path = tmp_path / "var" / "pantau.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.start()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def sqlite_outbox(sqlite_db: Database, credentials: CredentialBox) -> Outbox:
    return Outbox(sqlite_db, credentials, lease=timedelta(seconds=10))


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpReceiver]:
    server = SmtpReceiver(SMTP_USER, SMTP_PASSWORD)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def start_worker() -> AsyncIterator[StartWorker]:
    """Start delivery workers with fast retries; every one is stopped after the test."""
    started: list[DeliveryWorker] = []

    async def start(outbox: Outbox, **options: Any) -> DeliveryWorker:
        worker = DeliveryWorker(outbox, **{**FAST, **options})
        await worker.start()
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            await worker.stop(grace=5.0)


@pytest.fixture(scope="session")
def snapshot_jpeg() -> bytes:
    """A real JPEG, made by the hub's own keyframe encoder from a synthetic picture."""
    ramp = np.linspace(0, 255, 320, dtype=np.uint8)
    rgb = np.stack(
        [np.tile(ramp, (240, 1)), np.tile(ramp[::-1], (240, 1)), np.full((240, 320), 90, np.uint8)],
        axis=-1,
    )
    return to_jpeg(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"))
