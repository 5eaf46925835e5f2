"""The stream engine inside a real hub, watching cameras served by GStreamer's RTSP server."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import av
import pytest

from hub.config import Config
from hub.events import Event
from hub.runtime import Hub
from hub.streams import memory
from hub.streams.engine import TRIM_AFTER
from hub.streams.lease import DecodeLeases
from hub.streams.motion import MotionChange
from hub.streams.units import StreamInfo
from hub.streams.worker import _T3, EngineSettings, StreamWorker
from tests.streams.conftest import RtspTestServer


class Recorder:
    """Every event the hub publishes, with the time it arrived."""

    def __init__(self) -> None:
        self.events: list[tuple[float, Event]] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append((time.monotonic(), event))
        self._changed.set()

    async def wait_for(
        self, test: Callable[[Event], bool], within: float, after: float = 0.0
    ) -> tuple[float, Event]:
        deadline = time.monotonic() + within
        while True:
            for at, event in self.events:
                if at >= after and test(event):
                    return at, event
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [e.type for a, e in self.events if a >= after]
                raise AssertionError(f"no matching event in {within} s; saw {seen}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


def city(tmp_path: Path, cameras: list[dict[str, Any]], **streams: Any) -> Config:
    return Config.model_validate(
        {
            "hub": {
                "data_dir": str(tmp_path / "var"),
                "streams": {"keyframe_interval": 1.0, "stats_interval": 3.0, **streams},
            },
            "owners": [{"id": "dishub", "name": "Dishub", "kind": "opd"}],
            "cameras": [{"owner": "dishub", "name": c["id"], **c} for c in cameras],
        }
    )


@asynccontextmanager
async def running_hub(config: Config) -> AsyncIterator[tuple[Hub, Recorder]]:
    hub = Hub(config)
    recorder = Recorder()
    hub.bus.subscribe("*", recorder, name="test:recorder", maxsize=10_000)
    await hub.start()
    try:
        yield hub, recorder
    finally:
        await hub.stop()


def of(kind: str, camera: str) -> Callable[[Event], bool]:
    return lambda e: e.type == kind and e.camera_id == camera


def ffprobe(url: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
         "-show_streams", "-of", "json", url],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    stream: dict[str, Any] = json.loads(out.stdout)["streams"][0]
    return stream


async def test_camera_health_stats_snapshot_and_clip(
    rtsp_server: RtspTestServer, tmp_path: Path
) -> None:
    url = rtsp_server.add_mount(
        "engine-a", "testsrc", width=640, height=360, fps=15, gop=2, bitrate=800
    )
    # ffprobe first: a new client on a shared GStreamer mount restarts its clock for everyone
    probe = await asyncio.to_thread(ffprobe, url)
    config = city(tmp_path, [{"id": "simpang", "url": url}])
    async with running_hub(config) as (hub, events):
        await events.wait_for(of("camera.online", "simpang"), within=15)
        _, stats_event = await events.wait_for(
            lambda e: of("stream.stats", "simpang")(e) and e.data.get("keyframes", 0) > 0,
            within=15,
        )
        stats = stats_event.data
        assert (stats["width"], stats["height"]) == (probe["width"], probe["height"]) == (640, 360)
        assert stats["codec"] == probe["codec_name"] == "h264"
        num, den = (int(x) for x in probe["r_frame_rate"].split("/"))
        assert stats["fps"] == pytest.approx(num / den, rel=0.1)
        assert stats["gop_frames"] == 30
        assert stats["keyframe_interval_s"] == pytest.approx(2.0, abs=0.3)
        assert 20 < stats["bitrate_kbps"] < 1600  # a ball on black needs far less than its cap

        assert hub.streams is not None
        # T2 runs at the next keyframe once the camera is online; the cache holds its JPEG
        await asyncio.sleep(3.0)
        shot = hub.streams.snapshot("simpang")
        assert shot is not None
        with av.open(io.BytesIO(shot.jpeg), "r") as picture:
            frame = next(picture.decode(video=0))
            assert (frame.width, frame.height) == (640, 360)

        clip = await hub.streams.clip("simpang", pre=3.0, post=2.0)
        assert clip.path.exists() and clip.duration >= 4.0
        probe_clip = await asyncio.to_thread(
            subprocess.run,
            ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json",
             str(clip.path)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        clip_stream = json.loads(probe_clip.stdout)["streams"][0]
        assert clip_stream["codec_name"] == "h264"
        assert int(clip_stream["nb_read_frames"]) == clip.frames
    rtsp_server.remove_mount("engine-a")


async def test_dead_camera_offline_within_10s_and_back_within_5s(
    rtsp_server: RtspTestServer, tmp_path: Path
) -> None:
    url = rtsp_server.add_mount("engine-b", "testsrc", width=320, height=240, fps=15, gop=1)
    config = city(tmp_path, [{"id": "gerbang", "url": url}])
    async with running_hub(config) as (_hub, events):
        await events.wait_for(of("camera.online", "gerbang"), within=15)
        await asyncio.sleep(2)
        died = time.monotonic()
        await asyncio.to_thread(rtsp_server.remove_mount, "engine-b")
        offline_at, offline = await events.wait_for(
            of("camera.offline", "gerbang"), within=12, after=died
        )
        assert offline_at - died <= 10.0, f"offline after {offline_at - died:.1f} s"
        # a short outage: the camera returns 20 s after it died
        await asyncio.sleep(max(0.0, died + 20 - time.monotonic()))
        returned = time.monotonic()
        await asyncio.to_thread(
            rtsp_server.add_mount, "engine-b", "testsrc", width=320, height=240, fps=15, gop=1
        )
        online_at, _ = await events.wait_for(
            of("camera.online", "gerbang"), within=8, after=returned
        )
        assert online_at - returned <= 5.0, f"online after {online_at - returned:.1f} s"
    rtsp_server.remove_mount("engine-b")


async def test_unreachable_camera_is_offline_with_a_reason_and_others_unaffected(
    rtsp_server: RtspTestServer, tmp_path: Path
) -> None:
    url = rtsp_server.add_mount("engine-c", "testsrc", width=320, height=240, fps=15, gop=1)
    config = city(
        tmp_path,
        [
            {"id": "mati", "url": "rtsp://127.0.0.1:1/nothing", "username": "admin",
             "password": "Rahasia-Kamera-99"},
            {"id": "hidup", "url": url},
        ],
    )  # fmt: skip
    async with running_hub(config) as (_hub, events):
        _, offline = await events.wait_for(of("camera.offline", "mati"), within=10)
        assert "connection refused" in offline.data["reason"]
        assert "Rahasia" not in json.dumps(dict(offline.data))
        await events.wait_for(of("camera.online", "hidup"), within=15)
    rtsp_server.remove_mount("engine-c")


ROAD = [[0.15, 0.0], [0.6, 0.0], [0.6, 1.0], [0.15, 1.0]]
VERGE = [[0.85, 0.15], [0.98, 0.15], [0.98, 0.85], [0.85, 0.85]]


async def test_motion_on_real_footage_fires_on_the_road_only_while_leased(
    rtsp_server: RtspTestServer, car_video: Path, tmp_path: Path
) -> None:
    url = rtsp_server.add_mount("engine-real", "file", path=str(car_video))
    zones = [{"name": "road", "polygon": ROAD}, {"name": "verge", "polygon": VERGE}]
    # activity switched off, so that only the viewer's lease asks for pixels
    options = {"zones": zones, "activity": {"start_ratio": 1e9}}
    config = city(tmp_path, [{"id": "parkir", "url": url, "options": options}])
    async with running_hub(config) as (hub, events):
        await events.wait_for(of("camera.online", "parkir"), within=15)
        assert hub.streams is not None
        worker = hub.streams.workers["parkir"]
        assert worker._t3 is None  # nobody asked for pixels yet
        leased_from = time.monotonic()
        lease = hub.streams.lease("parkir", "viewer", ttl=40.0)
        _, start = await events.wait_for(
            lambda e: of("motion.start", "parkir")(e) and e.data["zone"] == "road",
            within=35,
            after=leased_from,
        )
        x0, y0, x1, y1 = start.data["box"]
        assert 0.1 <= x0 < x1 <= 0.65  # the box lies on the road
        await asyncio.sleep(max(0.0, leased_from + 32 - time.monotonic()))
        verge = [
            e for at, e in events.events
            if at >= leased_from and e.type == "motion.start" and e.data.get("zone") == "verge"
        ]  # fmt: skip
        assert verge == []
        hub.streams.leases.release(lease)
        # the footage is a montage that cuts every few seconds, so pixels keep moving and
        # motion holds its own lease: only it may keep the decoding on now
        assert hub.streams.leases.reasons("parkir") <= {"motion"}
    rtsp_server.remove_mount("engine-real")


@asynccontextmanager
async def still_camera(
    rtsp_server: RtspTestServer, tmp_path: Path, **streams: Any
) -> AsyncIterator[tuple[Hub, Recorder]]:
    """A hub with one camera, "diam", online and showing still colour bars; `streams` are
    settings of the hub.streams section."""
    url = rtsp_server.add_mount(
        "engine-still", "testsrc", width=320, height=240, fps=15, gop=1, pattern="smpte"
    )
    config = city(tmp_path, [{"id": "diam", "url": url}], **streams)
    try:
        async with running_hub(config) as (hub, events):
            await events.wait_for(of("camera.online", "diam"), within=15)
            assert hub.streams is not None
            yield hub, events
    finally:
        rtsp_server.remove_mount("engine-still")


async def test_decoding_stops_when_nobody_needs_pixels(
    rtsp_server: RtspTestServer, tmp_path: Path
) -> None:
    async with still_camera(rtsp_server, tmp_path) as (hub, events):
        assert hub.streams is not None
        worker = hub.streams.workers["diam"]
        assert worker._t3 is None
        lease = hub.streams.lease("diam", "viewer", ttl=60.0)
        await asyncio.sleep(2.5)
        assert worker._t3 is not None  # a viewer asked: pixels are decoded
        decoded = worker._t3.decoder.decoded
        await asyncio.sleep(2.0)
        assert worker._t3.decoder.decoded > decoded
        trims = hub.streams.trims
        hub.streams.leases.release(lease)
        await asyncio.sleep(2.5)
        assert worker._t3 is None  # nobody needs them: decoding stopped
        motion = [e for _, e in events.events if e.type.startswith("motion.")]
        assert motion == []  # still bars never move
        if memory.AVAILABLE:  # and a moment later the decoder's memory goes back (glibc)
            await asyncio.sleep(TRIM_AFTER + 1.5)
            assert hub.streams.trims == trims + 1


async def motion_without_a_viewer(hub: Hub, worker: StreamWorker) -> _T3:
    """T3 started for a viewer, motion opened in it, the viewer gone: motion alone holds it.

    The motion is what the detector hands over when a car crosses the zone (the still bars
    never move). Returns the T3.
    """
    assert hub.streams is not None
    viewer = hub.streams.lease(worker.id, "viewer", ttl=60.0)
    async with asyncio.timeout(5.0):
        while worker._t3 is None:  # noqa: ASYNC110 - the worker's tick starts T3, polled
            await asyncio.sleep(0.05)
    t3 = worker._t3
    assert t3 is not None
    t3._publish([MotionChange("all", True, (0.1, 0.1, 0.3, 0.3), 0.2, time.monotonic())])
    hub.streams.leases.release(viewer)
    return t3


async def t3_stopped(worker: StreamWorker, within: float) -> None:
    """Wait until the worker's tick has stopped T3 (polled: the tick decides, once a second)."""
    async with asyncio.timeout(within):
        while worker._t3 is not None:  # noqa: ASYNC110 - the worker's tick decides, polled
            await asyncio.sleep(0.05)


async def test_motion_keeps_pixels_for_the_configured_motion_lease(
    rtsp_server: RtspTestServer, tmp_path: Path
) -> None:
    settings = {"motion_lease": 1.0, "activity_lease": 30.0, "t3_dismiss": 0}
    async with still_camera(rtsp_server, tmp_path, **settings) as (hub, events):
        assert hub.streams is not None
        worker = hub.streams.workers["diam"]
        assert worker.settings.motion_lease == 1.0 and worker.settings.t3_dismiss is None
        t3 = await motion_without_a_viewer(hub, worker)
        assert hub.streams.leases.reasons("diam") == {"motion"}
        await asyncio.sleep(1.5)
        assert worker._t3 is t3  # motion is open: it holds the pixels without a viewer
        t3._publish([MotionChange("all", False, (0.1, 0.1, 0.3, 0.3), 0.2, time.monotonic())])
        ended = time.monotonic()
        await t3_stopped(worker, within=5.0)
        assert 0.9 <= time.monotonic() - ended < 3.0  # the 1 s tail, not activity's 30 s
        assert [e.type for _, e in events.events if e.type.startswith("motion.")] == [
            "motion.start",
            "motion.end",
        ]


async def test_motion_that_never_ends_holds_pixels_for_motion_hold_at_most(
    rtsp_server: RtspTestServer, tmp_path: Path
) -> None:
    settings = {"motion_hold": 2.0, "motion_lease": 1.0, "t3_dismiss": 0}
    async with still_camera(rtsp_server, tmp_path, **settings) as (hub, events):
        assert hub.streams is not None
        worker = hub.streams.workers["diam"]
        assert worker.settings.motion_hold == 2.0
        await motion_without_a_viewer(hub, worker)  # a car park busy all the time: it never ends
        started = time.monotonic()
        assert hub.streams.leases.reasons("diam") == {"motion"}
        await t3_stopped(worker, within=6.0)
        assert 1.9 <= time.monotonic() - started < 4.0  # the 2 s hold, then the next tick
        await events.wait_for(of("motion.end", "diam"), within=2.0)  # the bus delivers later
        motion = [e for _, e in events.events if e.type.startswith("motion.")]
        assert [e.type for e in motion] == ["motion.start", "motion.end"]
        assert motion[1].data == {"zone": "all", "unseen": True}  # closed, not seen to end


async def test_motion_that_ends_and_starts_again_is_held_from_its_first_start(
    rtsp_server: RtspTestServer, tmp_path: Path
) -> None:
    """On a busy road motion ends and starts again every few seconds, each time within the
    tail that motion_lease keeps: one stretch of motion, held for motion_hold from its first
    start. Each start had a hold of its own, and the decoder never stopped."""
    settings = {"motion_hold": 2.0, "motion_lease": 1.0, "t3_dismiss": 0}
    async with still_camera(rtsp_server, tmp_path, **settings) as (hub, events):
        assert hub.streams is not None
        worker = hub.streams.workers["diam"]
        t3 = await motion_without_a_viewer(hub, worker)
        started = time.monotonic()
        box = (0.1, 0.1, 0.3, 0.3)
        async with asyncio.timeout(8.0):
            while worker._t3 is t3:
                await asyncio.sleep(0.4)
                t3._publish([MotionChange("all", False, box, 0.2, time.monotonic())])
                t3._publish([MotionChange("all", True, box, 0.2, time.monotonic())])
        assert 1.9 <= time.monotonic() - started < 4.0  # the 2 s hold, then the next tick
        await events.wait_for(
            lambda e: of("motion.end", "diam")(e) and bool(e.data.get("unseen")), within=2.0
        )  # closed when T3 stopped, not seen to end
        motion = [e for _, e in events.events if e.type.startswith("motion.")]
        assert motion[-1].data == {"zone": "all", "unseen": True}
        assert hub.streams.leases.reasons("diam") == set()


def test_motion_seen_after_its_tail_lapsed_does_not_revive_t3() -> None:
    """The worker's tick stops a T3 that nothing holds, once a second. Motion that started in
    the moment between its tail lapsing and that tick took a new hold of its own, and a road's
    flickering motion kept T3 running by itself for good (a minute and more, on the streams
    benchmark's loop). Motion goes on holding a T3 that something holds; it revives none."""
    clock = [0.0]
    leases = DecodeLeases(clock=lambda: clock[0])
    settings = EngineSettings()  # motion_lease 2 s, motion_hold 20 s
    worker = SimpleNamespace(settings=settings, _leases=leases, id="road", _emit=lambda _: None)
    t3 = _T3(cast(StreamWorker, worker), StreamInfo("h264"))
    leases.acquire("road", "activity", ttl=0.5)  # activity asked for pixels, briefly

    def motion(at: float, started: bool) -> None:
        clock[0] = at
        t3._publish([MotionChange("all", started, (0.1, 0.1, 0.3, 0.3), 0.2, at)])

    motion(0.0, True)
    motion(5.0, False)
    motion(6.0, True)  # within the 2 s tail: the same stretch of motion, still held
    assert leases.reasons("road", 6.5) == {"motion"}
    motion(10.0, False)  # its tail lapses at 12 s
    motion(12.5, True)  # and motion comes back before the tick that stops T3
    assert not leases.active("road", 13.0)


async def test_pixels_that_do_not_move_dismiss_the_activity_that_asked_for_them(
    rtsp_server: RtspTestServer, tmp_path: Path
) -> None:
    async with still_camera(rtsp_server, tmp_path) as (hub, events):
        assert hub.streams is not None
        worker = hub.streams.workers["diam"]
        dismiss = worker.settings.t3_dismiss
        assert dismiss is not None
        # an episode with nothing moving (what the exposure settling after a car looks like)
        started = time.monotonic()
        worker._activity_changed(True, 2.0)
        assert worker._t3 is not None and hub.streams.leases.reasons("diam") == {"activity"}
        calibrated = 10 / worker.settings.motion_fps
        await t3_stopped(worker, within=calibrated + dismiss + 5.0)
        assert time.monotonic() - started >= calibrated + dismiss - 0.5  # not before its time
        assert hub.streams.leases.reasons("diam") == set()
        worker._activity_changed(False, 1.0)  # the episode's end finds nothing left to give back
        await events.wait_for(of("activity.end", "diam"), within=5)
        assert worker._t3 is None and hub.streams.leases.reasons("diam") == set()
