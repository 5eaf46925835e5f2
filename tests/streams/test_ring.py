"""The clip pre-roll in memory and on disk: the same units either way, files that come and go."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.config.models import StreamSettings
from hub.streams.clips import ClipRecorder, PacketRing, Ring, write_mp4
from hub.streams.ring import DiskPacketRing, RingDirectory
from hub.streams.units import AccessUnit
from tests.streams.conftest import RtspTestServer
from tests.streams.test_clips import real_units, synthetic
from tests.streams.test_engine import city, of, running_hub

MakeRing = Callable[..., Ring]
MakeDisk = Callable[..., DiskPacketRing]


@pytest.fixture
def writer() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(1, thread_name_prefix="test-ring")
    yield executor
    executor.shutdown(wait=True)


@pytest.fixture(params=["inline", "thread"])
def make_disk(
    request: pytest.FixtureRequest, tmp_path: Path, writer: ThreadPoolExecutor
) -> MakeDisk:
    """A `DiskPacketRing` that writes in the caller's thread, or through a writer thread."""

    def make(
        directory: Path | None = None,
        *,
        camera: str = "cam-1",
        pre_roll: float = 10.0,
        max_units: int = 4000,
    ) -> DiskPacketRing:
        return DiskPacketRing(
            directory or tmp_path / "ring" / camera,
            camera=camera,
            pre_roll=pre_roll,
            max_units=max_units,
            writer=writer if request.param == "thread" else None,
        )

    return make


@pytest.fixture(params=["memory", "disk"])
def make_ring(request: pytest.FixtureRequest, make_disk: MakeDisk) -> MakeRing:
    """The ring under test: `PacketRing`, or `DiskPacketRing` (inline and threaded)."""

    def make(pre_roll: float = 10.0, max_units: int = 4000) -> Ring:
        if request.param == "memory":
            return PacketRing(pre_roll=pre_roll, max_units=max_units)
        return make_disk(pre_roll=pre_roll, max_units=max_units)

    return make


async def drained(ring: Ring) -> None:
    """Until the writer has done what it was given (the ring takes it in at its next unit)."""
    if isinstance(ring, DiskPacketRing) and ring.writer is not None:
        await asyncio.wrap_future(ring.writer.submit(lambda: None))
        await asyncio.sleep(0)


async def feed(ring: Ring, units: list[AccessUnit]) -> None:
    """Append as a stream does: frames apart, so the writer keeps up."""
    for unit in units:
        ring.append(unit)
        if unit.keyframe:
            await drained(ring)


def files(ring: DiskPacketRing) -> list[str]:
    return sorted(os.listdir(ring.directory)) if ring.directory.is_dir() else []


def as_tuples(units: list[AccessUnit]) -> list[tuple[bytes, int, bool, float]]:
    return [(u.data, u.pts, u.keyframe, u.arrival) for u in units]


# -- the same semantics, in memory and on disk ---------------------------------------------------


async def test_ring_keeps_whole_gops_covering_the_pre_roll(make_ring: MakeRing) -> None:
    ring = make_ring(pre_roll=3.0)
    await feed(ring, synthetic(100))  # 10 s at 10 fps, a keyframe every 2 s
    held = ring.since(0.0)
    assert held[0].keyframe
    assert 4.0 <= held[0].arrival <= 6.0
    assert held[-1].arrival == pytest.approx(9.9)
    assert ring.since(8.5)[0].arrival == 8.0
    assert as_tuples(ring.since(7.0)) == as_tuples(synthetic(100)[60:])


async def test_ring_without_keyframes_stays_bounded(make_ring: MakeRing) -> None:
    ring = make_ring(pre_roll=10.0, max_units=50)
    await feed(
        ring,
        synthetic(10, gop=1000) + [AccessUnit(b"x", i, False, i / 10) for i in range(10, 500)],
    )
    assert len(ring) <= 50


async def test_ring_with_zero_pre_roll_keeps_the_gop_being_received(make_ring: MakeRing) -> None:
    ring = make_ring(pre_roll=0.0)
    await feed(ring, synthetic(95))
    assert [u.arrival for u in ring.since(100.0)] == [u.arrival for u in synthetic(95)[80:]]
    if isinstance(ring, DiskPacketRing):
        assert files(ring) == []  # nothing ever reaches a file


async def test_clear_forgets_everything(make_ring: MakeRing) -> None:
    ring = make_ring(pre_roll=5.0)
    await feed(ring, synthetic(100))
    ring.clear()
    assert len(ring) == 0 and ring.since(100.0) == []
    await feed(ring, synthetic(30, start=20.0))  # the new stream, on its own
    assert ring.since(0.0)[0].arrival == 20.0


async def test_recorder_cuts_pre_and_post(make_ring: MakeRing, tmp_path: Path) -> None:
    info, units = real_units()
    ring = make_ring(pre_roll=10.0)
    recorder = ClipRecorder(ring)
    for unit in units[:200]:  # 16 s of footage
        recorder.on_unit(unit)
        if unit.keyframe:
            await drained(ring)
    now = units[199].arrival
    task = asyncio.create_task(
        recorder.record(info, tmp_path / "c.mp4", pre=5.0, post=3.0, now=now)
    )
    await asyncio.sleep(0)
    for unit in units[200:]:
        recorder.on_unit(unit)
        if task.done():
            break
    clip = await task
    assert now - 5.0 - 4.5 < clip.started_at <= now - 5.0  # the GOP is about 4 s
    assert clip.duration >= 8.0


@pytest.mark.parametrize("seed", range(6))
async def test_disk_ring_returns_what_the_memory_ring_returns(
    seed: int, make_disk: MakeDisk
) -> None:
    """Irregular GOPs, keyframe-only stretches (MJPEG), lost keyframes: the same units back."""
    rng = random.Random(seed)
    pre_roll = rng.choice([0.0, 0.5, 3.0, 10.0])
    memory = PacketRing(pre_roll=pre_roll)
    disk = make_disk(pre_roll=pre_roll)
    arrival = 0.0
    most_files = 0
    for i in range(1500):
        arrival += rng.choice([1 / 15, 1 / 15, 1 / 5, 0.0])
        keyframe = rng.random() < (0.9 if (i // 300) % 2 else 0.05)
        unit = AccessUnit(rng.randbytes(rng.randrange(1, 400)), i * 6000, keyframe, arrival)
        memory.append(unit)
        disk.append(unit)
        if keyframe and i % 3 == 0:  # otherwise writes still wait: in memory, as they must
            await drained(disk)
        if i % 37 == 0:
            most_files = max(most_files, len(files(disk)))
            for back in (0.0, 0.3, 1.0, 2.5, 7.0, 20.0):
                assert as_tuples(disk.since(arrival - back)) == as_tuples(
                    memory.since(arrival - back)
                )
    assert (most_files > 0) == (pre_roll > 0)  # the comparison went through files


# -- files ----------------------------------------------------------------------------------------


async def test_each_finished_gop_is_one_file_unlinked_when_it_expires(make_disk: MakeDisk) -> None:
    ring = make_disk(pre_roll=3.0)
    units = synthetic(100)  # keyframes every 2 s
    await feed(ring, units[:20])
    assert files(ring) == []  # the GOP being received stays in memory
    await feed(ring, units[20:21])
    assert files(ring) == ["0.gop"]
    assert (ring.directory / "0.gop").read_bytes() == b"".join(u.data for u in units[:20])
    await feed(ring, units[21:])
    await drained(ring)
    # at 8.0 s the cutoff 5.0 s needed the GOP of 4.0 s: GOPs 4.0 and 6.0 on disk, 8.0 in memory
    assert files(ring) == ["2.gop", "3.gop"]
    ring.close()
    await drained(ring)
    assert not ring.directory.exists()


def test_a_clip_from_disk_is_byte_identical_to_one_from_memory(tmp_path: Path) -> None:
    info, units = real_units()
    memory = PacketRing(pre_roll=10.0)
    disk = DiskPacketRing(tmp_path / "ring", camera="cam", pre_roll=10.0)
    for unit in units[:250]:
        memory.append(unit)
        disk.append(unit)
    at = units[249].arrival - 8.0
    from_memory, from_disk = memory.since(at), disk.since(at)
    assert len(files(disk)) >= 2 and len(from_disk) > 60
    a = write_mp4(from_memory, info, tmp_path / "memory.mp4")
    b = write_mp4(from_disk, info, tmp_path / "disk.mp4")
    assert (a.frames, a.duration, a.started_at) == (b.frames, b.duration, b.started_at)
    assert a.path.read_bytes() == b.path.read_bytes()


async def test_a_lost_segment_cuts_the_clip_after_it(
    make_disk: MakeDisk, caplog: pytest.LogCaptureFixture
) -> None:
    ring = make_disk(camera="cam-7", pre_roll=10.0)
    await feed(ring, synthetic(100))
    (ring.directory / "1.gop").unlink()  # the GOP of 2.0 s
    with caplog.at_level(logging.WARNING):
        held = ring.since(0.0)
    assert held[0].keyframe and held[0].arrival == 4.0
    assert [r.__dict__.get("camera") for r in caplog.records] == ["cam-7"]


async def test_a_failing_write_keeps_the_stream_and_is_logged_once(
    make_disk: MakeDisk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "cam"
    blocked.write_text("not a folder")  # root may write anywhere; nobody writes into a file
    units = synthetic(300)
    with caplog.at_level(logging.INFO, logger="hub.streams.ring"):
        ring = make_disk(blocked, camera="cam-3", pre_roll=3.0)
        await feed(ring, units)
    assert ring.failed_writes > 5
    # the pre-roll is kept in memory instead, as PacketRing keeps it
    assert as_tuples(ring.since(26.0)) == as_tuples(units[260:])
    (warning,) = caplog.records
    assert warning.levelno == logging.WARNING and warning.__dict__["camera"] == "cam-3"
    assert str(blocked) in warning.getMessage()

    blocked.unlink()  # fixed: the next GOP goes to a file again, and that is said once
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hub.streams.ring"):
        await feed(ring, synthetic(60, start=30.0))
    assert files(ring) and [r.levelno for r in caplog.records] == [logging.INFO]


async def test_a_removed_folder_is_made_again(
    make_disk: MakeDisk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ring = make_disk(tmp_path / "ring" / "cam", pre_roll=3.0)
    units = synthetic(100)
    await feed(ring, units[:50])
    shutil.rmtree(tmp_path / "ring")
    with caplog.at_level(logging.WARNING):
        await feed(ring, units[50:])
    assert files(ring) and not caplog.records
    assert ring.since(7.0)[0].arrival == 6.0


async def test_clear_removes_the_files(make_disk: MakeDisk) -> None:
    ring = make_disk(pre_roll=10.0)
    await feed(ring, synthetic(100))
    assert len(files(ring)) == 4
    ring.clear()  # the camera restarted its clock
    await drained(ring)
    assert files(ring) == [] and len(ring) == 0


async def test_a_slow_disk_keeps_gops_in_memory_and_skips_expired_writes(
    writer: ThreadPoolExecutor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ring = DiskPacketRing(tmp_path / "cam", camera="cam-9", pre_roll=3.0, writer=writer)
    units = synthetic(300)
    stuck = threading.Event()
    writer.submit(stuck.wait, 10.0)  # the disk stalls
    with caplog.at_level(logging.INFO, logger="hub.streams.ring"):
        for unit in units[:150]:
            ring.append(unit)
            await asyncio.sleep(0)
        stuck.set()
        await feed(ring, units[150:])
    # nothing was lost meanwhile
    assert as_tuples(ring.since(25.0)) == as_tuples(units[240:])
    assert ring.failed_writes >= 1  # the GOPs beyond a few waiting stayed in memory
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.INFO]
    assert "wait for the disk" in caplog.records[0].getMessage()
    assert len(files(ring)) <= 2  # what expired while it waited was skipped or removed


# -- the engine's folder --------------------------------------------------------------------------


async def test_a_stale_folder_is_removed_and_a_running_one_is_not(tmp_path: Path) -> None:
    root = tmp_path / "ring"
    stale = root / "4242-deadbeef" / "cam-1"
    stale.mkdir(parents=True)
    (stale / "17.gop").write_bytes(b"x" * 1000)
    running = RingDirectory.create(root)
    assert not stale.parent.exists()
    second = RingDirectory.create(root)  # another engine on the same data folder
    assert running.path.is_dir() and second.path.is_dir()
    ring = second.ring("cam-2", pre_roll=3.0)
    await feed(ring, synthetic(50))
    assert files(ring)
    ring.close()
    second.close()
    assert not second.path.exists() and running.path.is_dir()
    running.close()
    running.close()
    assert list(root.iterdir()) == []


def test_the_ring_setting_is_checked() -> None:
    assert StreamSettings().ring == "disk"
    assert StreamSettings.model_validate({"ring": "memory"}).ring == "memory"
    with pytest.raises(ValidationError):
        StreamSettings.model_validate({"ring": "tape"})


async def test_a_hub_keeps_the_pre_roll_on_disk_and_cleans_up(
    rtsp_server: RtspTestServer, tmp_path: Path
) -> None:
    url = rtsp_server.add_mount("ring-a", "testsrc", width=320, height=240, fps=15, gop=1)
    stale = tmp_path / "var" / "ring" / "1-0badf00d" / "old"
    stale.mkdir(parents=True)
    config = city(tmp_path, [{"id": "pasar", "url": url}], pre_roll=3.0)
    async with running_hub(config) as (hub, events):
        await events.wait_for(of("camera.online", "pasar"), within=15)
        assert not stale.parent.exists()
        (folder,) = (tmp_path / "var" / "ring").iterdir()
        await asyncio.sleep(4.0)
        segments = sorted((folder / "pasar").iterdir())
        assert 2 <= len(segments) <= 5  # 1 s GOPs over 3 s of pre-roll, one in memory
        assert hub.streams is not None
        clip = await hub.streams.clip("pasar", pre=2.0, post=1.0)
        assert clip.frames >= 40
        assert clip.duration == pytest.approx(clip.frames / 15, abs=0.3)
    assert list((tmp_path / "var" / "ring").iterdir()) == []
    rtsp_server.remove_mount("ring-a")


async def test_a_hub_without_pre_roll_writes_no_files(
    rtsp_server: RtspTestServer, tmp_path: Path
) -> None:
    url = rtsp_server.add_mount("ring-b", "testsrc", width=320, height=240, fps=15, gop=1)
    config = city(tmp_path, [{"id": "alun", "url": url}], pre_roll=0)
    async with running_hub(config) as (_hub, events):
        await events.wait_for(of("camera.online", "alun"), within=15)
        await asyncio.sleep(2.5)
        assert not (tmp_path / "var" / "ring").exists()
    rtsp_server.remove_mount("ring-b")
