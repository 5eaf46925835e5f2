"""A camera that sends a corrupt or truncated stream is degraded or reconnected, never a crash."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path
from typing import Any

import pytest

from hub.streams.units import VIDEO_CLOCK
from tests.streams.fakes import FakeCamera, handshake, interleaved, rtp, serve_requests
from tests.streams.test_engine import city, of, running_hub

FPS = 15
GOP = 30


class Broadcast:
    """A camera's picture, with faults switched on and off by the test."""

    def __init__(self) -> None:
        self.loss = 0.0
        self.backwards_every = 0
        self.truncate = asyncio.Event()
        self.rng = random.Random(7)

    async def play(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
    ) -> None:
        if not await handshake(reader, writer, camera):
            return
        requests = asyncio.create_task(serve_requests(reader, writer, camera))
        try:
            seq, ts, frame = 0, self.rng.randrange(1 << 31), 0
            while not self.truncate.is_set():
                key = frame % GOP == 0
                nal = (b"\x65" if key else b"\x41") + self.rng.randbytes(3000 if key else 600)
                frame += 1
                ts = (ts + VIDEO_CLOCK // FPS) & 0xFFFFFFFF
                if self.backwards_every and frame % self.backwards_every == 0:
                    ts = (ts - VIDEO_CLOCK) & 0xFFFFFFFF
                seq += 1
                if self.rng.random() >= self.loss:
                    writer.write(interleaved(0, rtp(seq, ts, nal, marker=True)))
                    await writer.drain()
                await asyncio.sleep(1 / FPS)
            # cut the connection in the middle of a fragmented frame
            fu_start = bytes([0x7C, 0x85]) + self.rng.randbytes(700)
            writer.write(interleaved(0, rtp(seq + 1, ts, fu_start))[:300])
            await writer.drain()
            self.truncate.clear()
        finally:
            requests.cancel()


async def test_corrupt_then_truncated_stream(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    broadcast = Broadcast()
    async with FakeCamera(broadcast.play) as camera:
        config = city(tmp_path, [{"id": "rusak", "url": camera.url}])
        async with running_hub(config) as (hub, events):
            await events.wait_for(of("camera.online", "rusak"), within=10)
            await asyncio.sleep(4)
            # most packets lost and timestamps jumping back: the picture is damaged
            broadcast.loss = 0.7
            broadcast.backwards_every = 20
            _, degraded = await events.wait_for(of("camera.degraded", "rusak"), within=12)
            reason = degraded.data["reason"]
            assert "fps" in reason or "timestamps went backwards" in reason
            # the link heals, then the camera cuts the stream in the middle of a frame
            broadcast.loss = 0.0
            broadcast.backwards_every = 0
            await asyncio.sleep(2)
            cut = asyncio.get_running_loop().time()
            broadcast.truncate.set()
            # it reconnects at once: the picture flows again and no outage is declared
            await asyncio.sleep(6)
            assert hub.streams is not None
            assert hub.streams.workers["rusak"].source is not None
            offline = [e for _, e in events.events if of("camera.offline", "rusak")(e)]
            assert offline == []
            assert len([r for r in camera.requests if r.method == "PLAY"]) >= 2
            assert asyncio.get_running_loop().time() - cut >= 6
    crashes = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert crashes == []


async def test_a_vendor_whose_stream_source_raises_is_a_failed_connect_not_a_dead_worker() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from hub.streams.lease import DecodeLeases
    from hub.streams.pictures import KeyframeCache
    from hub.streams.reconnect import ReconnectPolicy
    from hub.streams.worker import CameraStream, StreamWorker

    calls = 0

    def broken_source() -> Any:
        nonlocal calls
        calls += 1
        raise ValueError("the vendor plugin could not build a URL")

    with ThreadPoolExecutor(1) as executor:
        worker = StreamWorker(
            CameraStream("broken", "Broken vendor", broken_source),
            emit=lambda event: None,
            cache=KeyframeCache(),
            leases=DecodeLeases(),
            executor=executor,
            policy=ReconnectPolicy(ladder=(0.05,), short_cap=0.05, jitter=0.0),
        )
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(0.5)
        assert not task.done()  # still trying, on the ladder
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert calls >= 3
    assert worker.last_error is not None and "could not build a URL" in worker.last_error
