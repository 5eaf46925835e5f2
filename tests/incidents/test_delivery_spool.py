"""The attachment spool: snapshots in files that outlive the process, pruned when unused."""

from __future__ import annotations

import asyncio
import os
import stat
from datetime import timedelta
from pathlib import Path

from hub.incidents.spool import Spool


def _age(path: Path, seconds: float) -> None:
    stamp = path.stat().st_mtime - seconds
    os.utime(path, (stamp, stamp))


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_a_snapshot_is_stored_once_whole_and_private(
    tmp_path: Path, snapshot_jpeg: bytes
) -> None:
    spool = Spool(tmp_path / "spool")

    first = await spool.write(snapshot_jpeg)
    again = await spool.write(snapshot_jpeg)
    other = await spool.write(b"\xff\xd8 another picture \xff\xd9")

    assert first == again != other
    assert first.suffix == ".jpg"
    assert await asyncio.to_thread(first.read_bytes) == snapshot_jpeg
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool.directory.stat().st_mode) == 0o700
    # No temporary files left behind.
    assert await asyncio.to_thread(_listing, spool.directory) == sorted([first.name, other.name])


async def test_pruning_keeps_what_jobs_still_need_and_what_is_fresh(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    needed = await spool.write(b"needed")
    stale = await spool.write(b"stale")
    fresh = await spool.write(b"fresh")
    for path in (needed, stale):
        _age(path, 7200)

    removed = await spool.prune(keep={str(needed)}, older_than=timedelta(hours=1))

    assert removed == 1
    assert await asyncio.to_thread(_listing, spool.directory) == sorted([needed.name, fresh.name])
    assert await Spool(tmp_path / "nothing-yet").prune(set(), timedelta(0)) == 0
