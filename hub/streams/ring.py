"""The clip pre-roll on disk: finished GOPs in short-lived files, the GOP being received in memory.

At 2 Mbit/s, 10 s of pre-roll is 2.5-3 MB of packets per camera: in memory, most of the budget
of a watched camera. Here each finished GOP is written as one file and only a small index of it
stays in memory. A file lives about pre-roll + one GOP (~12 s), less than the kernel's
`dirty_expire_centisecs` (30 s), so its pages are normally dropped at unlink without ever being
written to the disk (the benchmark measures it: bench/bench_streams.py).

Files are written and removed by one thread per engine, in order: creating a file and writing
half a megabyte costs about 0.5 ms, but up to 10-25 ms when the journal or a busy machine makes
it wait, and the cameras of a site often send their keyframes together.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
from array import array
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hub.streams.units import AccessUnit

log = logging.getLogger(__name__)

_IOV_MAX = 1024
"""Buffers one writev takes on Linux."""
MAX_WAITING_WRITES = 3
"""A camera's GOPs waiting for the writer; more stay in memory (the disk cannot keep up)."""


class _Segment:
    """Units from a keyframe on: in memory while received and written, then a file and its index.

    A segment that could not be written keeps its units in memory, as `PacketRing` does.
    """

    __slots__ = (
        "arrivals",
        "dropped",
        "keyframes",
        "on_disk",
        "path",
        "pts",
        "sizes",
        "started",
        "units",
    )

    def __init__(self, started: float) -> None:
        self.started = started
        self.units: list[AccessUnit] = []
        self.path: str | None = None
        """Its file, from the moment it is handed to the writer."""
        self.on_disk = False
        self.dropped = False
        self.sizes = array("I")
        self.pts = array("q")
        self.arrivals = array("d")
        self.keyframes = array("B")

    def __len__(self) -> int:
        return len(self.sizes) if self.on_disk else len(self.units)


class DiskPacketRing:
    """`PacketRing` with the finished GOPs in files: the same units, a GOP of them in memory.

    A segment is closed at the first keyframe `min_segment` seconds after it began (a GOP, or a
    second of a stream of keyframes only, such as MJPEG), and written with one writev, by
    `writer` (one thread, so files are made and removed in order; None: at once, in the
    caller's thread). A write that fails (disk full, no permission) is logged once and the
    segment stays in memory. Methods are called from the event loop that the writer reports to.
    """

    __slots__ = (
        "_count",
        "_failing",
        "_keys",
        "_open",
        "_removals",
        "_segments",
        "_sequence",
        "_waiting",
        "_writes",
        "camera",
        "directory",
        "failed_writes",
        "max_units",
        "min_segment",
        "pre_roll",
        "writer",
    )

    def __init__(
        self,
        directory: Path,
        *,
        camera: str,
        pre_roll: float = 10.0,
        max_units: int = 4000,
        min_segment: float = 1.0,
        writer: Executor | None = None,
    ) -> None:
        self.directory = directory
        self.camera = camera
        self.pre_roll = pre_roll
        self.max_units = max_units
        self.min_segment = min_segment
        self.writer = writer
        self.failed_writes = 0
        self._segments: deque[_Segment] = deque()
        # (arrival, segment, index in it) of every keyframe held, oldest first
        self._keys: deque[tuple[float, _Segment, int]] = deque()
        self._open: _Segment | None = None
        self._count = 0
        self._sequence = 0
        self._waiting = 0
        self._failing = False
        # Files to remove, handed to the writer with the next write (one job per GOP, in order).
        self._removals: list[str] = []
        # Writes handed to the writer, oldest first; looked at as units arrive (no thread ever
        # wakes the event loop: at 100 cameras that would be 50 wake-ups a second).
        self._writes: deque[tuple[Future[None], _Segment]] = deque()
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._write_failed(exc)

    def append(self, unit: AccessUnit) -> None:
        """Keep `unit`; at a keyframe, write the finished segment and drop what fell out."""
        if self._writes and self._writes[0][0].done():
            self._reap()
        segment = self._open
        if unit.keyframe:
            finished = None
            if segment is None or unit.arrival - segment.started >= self.min_segment:
                finished = segment
                segment = self._open = _Segment(unit.arrival)
                self._segments.append(segment)
            keys = self._keys
            keys.append((unit.arrival, segment, len(segment.units)))
            segment.units.append(unit)
            self._count += 1
            cutoff = unit.arrival - self.pre_roll
            while len(keys) >= 2 and keys[1][0] <= cutoff:
                keys.popleft()
            first = keys[0][1]
            segments = self._segments
            while segments[0] is not first:
                self._drop(segments.popleft())
            # Written only if still needed: with pre_roll 0 nothing ever reaches a file.
            if finished is not None and len(segments) >= 2:
                self._spill(finished)
        elif segment is not None:
            segment.units.append(unit)
            self._count += 1
        else:
            return  # before the first keyframe nothing can be decoded: nothing to keep
        while self._count > self.max_units:  # a stream without keyframes must not grow forever
            oldest = self._segments.popleft()
            while self._keys and self._keys[0][1] is oldest:
                self._keys.popleft()
            if oldest is self._open:
                self._open = None  # wait for the next keyframe
            self._drop(oldest)

    def since(self, at: float) -> list[AccessUnit]:
        """The units from the last keyframe at or before `at` (or the oldest keyframe held)."""
        start: tuple[float, _Segment, int] | None = None
        for key in self._keys:
            if key[0] <= at or start is None:
                start = key
            else:
                break
        if start is None:
            return []
        _, first, index = start
        out: list[AccessUnit] = []
        found = False
        for segment in self._segments:
            if segment is first:
                found = True
            elif not found:
                continue
            skip = index if segment is first else 0
            if not segment.on_disk:
                out.extend(segment.units[skip:])
                continue
            try:
                out.extend(_read(segment, skip))
            except OSError as exc:
                # What came before a lost segment cannot join what follows: start after it.
                log.warning(
                    "clip pre-roll: cannot read %s (%s); the clip starts after it",
                    segment.path,
                    exc.strerror or exc,
                    extra={"camera": self.camera},
                )
                out.clear()
        return out

    def clear(self) -> None:
        """Forget everything and remove its files (the stream restarted)."""
        for segment in self._segments:
            self._drop(segment)
        self._segments.clear()
        self._keys.clear()
        self._open = None
        self._count = 0
        self._flush_removals()

    def close(self) -> None:
        """Remove every file and the camera's folder (the camera is no longer watched)."""
        self.clear()
        self._run(_remove_folder, self.directory)

    def _reap(self) -> None:
        """Take in the writes the writer has finished, in order."""
        writes = self._writes
        while writes and writes[0][0].done():
            future, segment = writes.popleft()
            self._written(segment, future.exception())

    def _flush_removals(self) -> None:
        if self._removals:
            removals, self._removals = self._removals, []
            self._run(_remove_files, removals)

    def __len__(self) -> int:
        return self._count

    def _drop(self, segment: _Segment) -> None:
        self._count -= len(segment)
        segment.dropped = True
        if segment.path is not None:  # after its write, if that still waits: one thread, in order
            self._removals.append(segment.path)
            if len(self._removals) > MAX_WAITING_WRITES:  # no write is coming to take them along
                self._flush_removals()

    def _spill(self, segment: _Segment) -> None:
        if self._waiting >= MAX_WAITING_WRITES:
            self._write_failed(OSError(f"{self._waiting} GOPs wait for the disk"))
            return
        path = segment.path = os.path.join(self.directory, f"{self._sequence}.gop")
        self._sequence += 1
        buffers = [unit.data for unit in segment.units]
        removals, self._removals = self._removals, []
        self._waiting += 1
        writer = self.writer
        if writer is None:
            try:
                _write_segment(segment, path, buffers, self.directory, removals)
            except OSError as exc:
                self._written(segment, exc)
            else:
                self._written(segment, None)
            return
        future = writer.submit(_write_segment, segment, path, buffers, self.directory, removals)
        self._writes.append((future, segment))

    def _written(self, segment: _Segment, error: BaseException | None) -> None:
        self._waiting -= 1
        if segment.dropped:
            return  # expired or cleared meanwhile; its removal follows the write
        if error is not None:
            segment.path = None
            self._write_failed(error)
            return
        units = segment.units
        segment.sizes = array("I", [len(unit.data) for unit in units])
        segment.pts = array("q", [unit.pts for unit in units])
        segment.arrivals = array("d", [unit.arrival for unit in units])
        segment.keyframes = array("B", [unit.keyframe for unit in units])
        segment.units = []
        segment.on_disk = True
        if self._failing:
            self._failing = False
            log.info(
                "clip pre-roll: writing to %s again", self.directory, extra={"camera": self.camera}
            )

    def _write_failed(self, exc: BaseException) -> None:
        self.failed_writes += 1
        if not self._failing:
            self._failing = True
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            log.warning(
                "clip pre-roll: cannot write to %s (%s); keeping it in memory until it can",
                self.directory,
                reason,
                extra={"camera": self.camera},
            )

    def _run(self, action: Callable[[Any], None], argument: Any) -> None:
        if self.writer is None:
            action(argument)
            return
        with contextlib.suppress(RuntimeError):  # the engine stopped: its folder goes anyway
            self.writer.submit(action, argument)


def _write_segment(
    segment: _Segment, path: str, buffers: list[bytes], directory: Path, removals: list[str]
) -> None:
    """The writer's work for one GOP: remove what expired, then write the segment's file.

    Nothing is written if the segment expired while it waited.
    """
    _remove_files(removals)
    if segment.dropped:
        return
    try:
        _write(path, buffers)
    except FileNotFoundError:  # the folder was removed under us: make it again
        directory.mkdir(parents=True, exist_ok=True)
        _write(path, buffers)


def _remove_files(paths: list[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.debug("cannot remove %s: %s", path, exc)


def _remove_folder(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def _write(path: str, buffers: list[bytes]) -> None:
    """One file of the concatenated buffers, in one writev per 1024 of them."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for start in range(0, len(buffers), _IOV_MAX):
            chunk = buffers[start : start + _IOV_MAX]
            if os.writev(fd, chunk) != sum(map(len, chunk)):
                raise OSError("short write (is the disk full?)")
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def _read(segment: _Segment, skip: int) -> list[AccessUnit]:
    """A written segment's units from its `skip`-th on, read back from its file."""
    assert segment.path is not None
    sizes = segment.sizes
    offset = sum(sizes[:skip])
    with open(segment.path, "rb") as file:
        file.seek(offset)
        data = file.read()
    if len(data) != sum(sizes) - offset:
        raise OSError(f"{len(data)} bytes where {sum(sizes) - offset} were written")
    pts, arrivals, keyframes = segment.pts, segment.arrivals, segment.keyframes
    units = []
    position = 0
    for i in range(skip, len(sizes)):
        end = position + sizes[i]
        units.append(AccessUnit(data[position:end], pts[i], bool(keyframes[i]), arrivals[i]))
        position = end
    return units


class RingDirectory:
    """A stream engine's own folder of pre-roll files: `<root>/<pid>-<random>/<camera>/`.

    The engine holds a lock on it while it runs; a folder nobody holds was left by a process
    that ended without cleaning up, and is removed when the next engine starts. One thread
    writes and removes the files of every camera.
    """

    __slots__ = ("_fd", "path", "writer")

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="pantau-ring")

    @classmethod
    def create(cls, root: Path) -> RingDirectory:
        """Remove the folders of engines that are gone, then make and lock this engine's own."""
        root.mkdir(parents=True, exist_ok=True)
        stale = remove_stale(root)
        if stale:
            log.info("removed %d stale clip pre-roll folders from %s", stale, root)
        path = root / f"{os.getpid()}-{secrets.token_hex(4)}"
        path.mkdir()
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return cls(path, fd)

    def ring(self, camera_id: str, *, pre_roll: float, max_units: int = 4000) -> DiskPacketRing:
        """A camera's pre-roll in this folder."""
        return DiskPacketRing(
            self.path / camera_id,
            camera=camera_id,
            pre_roll=pre_roll,
            max_units=max_units,
            writer=self.writer,
        )

    def close(self) -> None:
        """Finish the writer's work, remove the folder and everything in it, let go of the lock."""
        if self._fd < 0:
            return
        self.writer.shutdown(wait=True)
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._fd)
        self._fd = -1


def remove_stale(root: Path) -> int:
    """Remove the folders under `root` that no running engine holds; how many were removed."""
    removed = 0
    for entry in root.iterdir():
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a running engine's
        else:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        finally:
            os.close(fd)
    return removed
