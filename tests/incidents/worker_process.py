"""A delivery worker in a process of its own, for the test that kills one with SIGKILL.

    python -m tests.incidents.worker_process DB_PATH --lease 3 [--until-empty]

The credential key comes from PANTAU_SECRET_KEY, as in the hub. With --until-empty it exits
once no job is pending or being sent; without, it runs until it is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import timedelta
from pathlib import Path

from hub.credentials import CredentialBox
from hub.incidents.delivery import Backoff, DeliveryWorker
from hub.incidents.outbox import JobState, Outbox
from hub.logs import configure_logging
from hub.store import Database

log = logging.getLogger("worker_process")


async def run(path: Path, lease: float, until_empty: bool) -> None:
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.start()
    outbox = Outbox(db, CredentialBox.from_environment(path.parent), lease=timedelta(seconds=lease))
    worker = DeliveryWorker(
        outbox,
        backoff=Backoff(first=0.2, factor=2.0, cap=1.0),
        send_timeout=lease - 0.5,
        poll_interval=0.2,
    )
    await worker.start()
    log.info("worker started")
    try:
        while True:
            counts = await outbox.counts()
            if (
                until_empty
                and not counts.get(JobState.PENDING)
                and not counts.get(JobState.SENDING)
            ):
                log.info("outbox empty: %s", {str(k): v for k, v in counts.items()})
                return
            await asyncio.sleep(0.1)
    finally:
        await worker.stop()
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--lease", type=float, default=3.0)
    parser.add_argument("--until-empty", action="store_true")
    args = parser.parse_args()
    configure_logging("DEBUG", stream=sys.stderr)
    asyncio.run(run(args.db, args.lease, args.until_empty))


if __name__ == "__main__":
    main()
