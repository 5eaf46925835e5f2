"""Appends to the audit log of one SQLite file from a process of its own, racing another.

    python -m tests.audit.append_process DB_PATH COUNT NAME

Waits for `<DB_PATH>.go` to exist, so that both processes start appending at once.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from hub.audit import Action, Actor, ActorKind, AuditLog
from hub.store import Database


async def run(path: Path, count: int, name: str) -> None:
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.start()
    try:
        audit = AuditLog(db)
        go = path.with_suffix(".go")
        while not go.exists():  # noqa: ASYNC110 - the test makes it, in another process
            await asyncio.sleep(0.01)
        actor = Actor(name, ActorKind.USER, name)
        for number in range(count):
            await audit.append(Action.SNAPSHOT_VIEW, actor, camera_id="cam", details={"n": number})
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("name")
    args = parser.parse_args()
    asyncio.run(run(args.db, args.count, args.name))


if __name__ == "__main__":
    main()
