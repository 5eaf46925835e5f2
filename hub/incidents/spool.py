"""The attachment spool: snapshots in files, as some Apprise services attach by path only.

A spooled file must outlive the process that wrote it (a job may be retried after a restart), so
it is written atomically and named by its content: the same snapshot is stored once. Snapshots
show people; the folder and its files are readable by the hub's user only.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import Collection
from datetime import timedelta
from pathlib import Path


class Spool:
    """A folder of attachment files, written atomically and pruned when no job needs them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def write(self, data: bytes, *, suffix: str = ".jpg") -> Path:
        """Store `data` (a JPEG snapshot) and return its path, to attach by path."""
        return await asyncio.to_thread(self._write, data, suffix)

    async def prune(self, keep: Collection[str], older_than: timedelta) -> int:
        """Delete files older than `older_than` whose paths are not in `keep`; how many."""
        return await asyncio.to_thread(self._prune, {str(Path(p)) for p in keep}, older_than)

    def _write(self, data: bytes, suffix: str) -> Path:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
        if path.exists():
            os.utime(path)  # fresh again: a new job needs it
            return path
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".spool-", suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o600)
            # A reader sees the whole file or none; never half a snapshot.
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path

    def _prune(self, keep: set[str], older_than: timedelta) -> int:
        if not self.directory.is_dir():
            return 0
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        for path in self.directory.iterdir():
            if not path.is_file() or str(path) in keep:
                continue
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
