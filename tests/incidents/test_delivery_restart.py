"""SIGKILL in the middle of sending: a new worker process resends, nothing is lost."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO

import pytest

from hub.credentials import CredentialBox
from hub.incidents.outbox import JobState, Outbox
from hub.store import Database
from hub.store.models import utcnow
from tests.incidents.outbox_kit import job, job_rows, opening
from tests.incidents.receivers import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
HOOK_TOKEN = "Tkn5ig4k1ll3d0ut"
LEASE = 3.0


@pytest.fixture
def worker_logs(tmp_path: Path) -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """Files for the two worker processes' output (a pipe nobody reads could block them)."""
    with (
        (tmp_path / "first.log").open("wb") as first,
        (tmp_path / "second.log").open("wb") as second,
    ):
        yield first, second


async def _spawn(path: Path, key: str, log: IO[bytes], *options: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PANTAU_SECRET_KEY": key, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.incidents.worker_process",
        str(path),
        "--lease",
        str(LEASE),
        *options,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        cwd=ROOT,
        env=env,
    )


@pytest.fixture
def store_file(tmp_path: Path, sqlite_template: Path) -> Path:
    """A migrated SQLite file that both worker processes open."""
    path = tmp_path / "var" / "pantau.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    return path


async def test_a_worker_killed_mid_send_loses_nothing(
    store_file: Path, worker_logs: tuple[IO[bytes], IO[bytes]]
) -> None:
    path = store_file
    key = CredentialBox.generate_key()
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.start()
    receiver = WebhookReceiver(delay=1.5)  # answers slowly: the kill lands mid-send
    await receiver.start()
    try:
        outbox = Outbox(db, CredentialBox([key]), lease=timedelta(seconds=LEASE))
        change, fields = opening(at=utcnow())
        keys = [f"inc-1:damkar:{i}" for i in range(4)]
        url = receiver.url("json", f"hooks/{HOOK_TOKEN}")
        await outbox.record(change, fields, [job(k, url) for k in keys])

        first = await _spawn(path, key, worker_logs[0])
        try:
            await receiver.wait_for(len(keys), within=30)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        assert first.returncode == -signal.SIGKILL
        # Killed mid-send: every job leased, none finished.
        assert {row.state for row in (await job_rows(db)).values()} == {"sending"}

        second = await _spawn(path, key, worker_logs[1], "--until-empty")
        try:
            await asyncio.wait_for(second.wait(), 30)
        finally:
            if second.returncode is None:
                second.kill()
                await second.wait()
        assert second.returncode == 0

        assert await outbox.counts() == {JobState.DELIVERED: len(keys)}
        rows = await job_rows(db)
        assert all(row.attempts == 2 for row in rows.values())
    finally:
        await receiver.stop()
        await db.close()

    # Each message arrived twice, once per worker, both times with its own key.
    seen = Counter(hit.reference for hit in receiver.hits)
    assert seen == {k: 2 for k in keys}
    for log in worker_logs:
        log.flush()
    first_log, second_log = [
        await asyncio.to_thread(Path(log.name).read_text) for log in worker_logs
    ]
    assert "delivered notification" in second_log
    assert HOOK_TOKEN not in first_log + second_log
