"""The stream engine: a worker per camera in one process, one ticker, one event outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.bus import Bus
from hub.events import Event
from hub.masks.lifted import LiftedMasks
from hub.streams import memory
from hub.streams.activity import ActivitySettings
from hub.streams.clips import ClipInfo, PacketRing, Ring
from hub.streams.health import HealthSettings
from hub.streams.lease import DecodeLeases, Lease
from hub.streams.live import LiveViewer, LiveViews
from hub.streams.motion import parse_masks, parse_zones
from hub.streams.packages import AllowanceWatch
from hub.streams.pictures import KeyframeCache, Snapshot
from hub.streams.privacy import privacy_mask
from hub.streams.reconnect import ReconnectPolicy
from hub.streams.ring import RingDirectory
from hub.streams.usage import UsageLedger
from hub.streams.worker import CameraStream, EngineSettings, StreamWorker

if TYPE_CHECKING:
    from hub.registry import CameraRecord, Registry

log = logging.getLogger(__name__)

TICK = 1.0
USAGE_FLUSH = 60.0
PICTURE_WAIT = 2.0
"""Seconds a stopped camera's last keyframe may take to reach the cache before it is forgotten."""
TRIM_AFTER = 2.0
"""Seconds after T3 decoders stop before their freed memory is given back (hub/streams/memory):
time for a decode thread to finish the picture it had."""


class StreamEngine:
    """Watches every enabled camera whose vendor can stream; isolates each camera's failures."""

    def __init__(
        self,
        *,
        bus: Bus,
        registry: Registry,
        vendors: Callable[[], dict[str, Any]],
        usage: UsageLedger,
        data_dir: Path,
        allowances: AllowanceWatch | None = None,
        settings: EngineSettings | None = None,
        policy: ReconnectPolicy | None = None,
        decode_threads: int = 2,
        health_window: float = 10.0,
    ) -> None:
        self.bus = bus
        self.registry = registry
        self.vendors = vendors
        self.usage = usage
        self.allowances = allowances
        self.data_dir = data_dir
        self.settings = settings or EngineSettings()
        self.policy = policy
        self.health_window = health_window
        self.cache = KeyframeCache()
        self.leases = DecodeLeases()
        self.live = LiveViews(
            self.leases, fps=self.settings.live_fps, width=self.settings.live_width
        )
        """Who watches which camera live (hub/streams/live.py)."""
        self.lifted = LiftedMasks()
        """The cameras whose privacy masks are lifted now (hub/masks)."""
        self.executor = ThreadPoolExecutor(decode_threads, thread_name_prefix="pantau-decode")
        self.workers: dict[str, StreamWorker] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._outbox: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._subscriptions: list[Any] = []
        self._running = False
        self._unflushed: dict[str, int] = {}
        self._decoding = 0
        self._trim_at: float | None = None
        self.trims = 0
        """How often the memory of stopped T3 decoders was given back."""
        self._ring_dir: RingDirectory | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start a worker for every camera that can stream, and the engine's own tasks."""
        self._running = True
        settings = self.settings
        if settings.ring == "disk" and settings.pre_roll > 0:
            root = self.data_dir / "ring"
            try:
                self._ring_dir = await asyncio.to_thread(RingDirectory.create, root)
            except OSError as exc:  # clips still work, at the memory's price
                log.error("clip pre-roll kept in memory: cannot use %s: %s", root, exc)
        for camera in await self.registry.list_cameras():
            await self._start_camera(camera)
        for coro, name in (
            (self._ticker(), "streams:ticker"),
            (self._publisher(), "streams:publisher"),
            (self._usage_flusher(), "streams:usage"),
        ):
            task = asyncio.get_running_loop().create_task(coro, name=name)
            self._background.add(task)
        for pattern in ("camera.added", "camera.updated", "camera.removed"):
            self._subscriptions.append(
                self.bus.subscribe(pattern, self._registry_changed, name=f"streams:{pattern}")
            )
        log.info("stream engine watching %d cameras", len(self.workers))

    async def stop(self) -> None:
        """Stop every worker and task; record the data usage counted so far."""
        self._running = False
        self.live.close_all("the hub is stopping")
        for sub in self._subscriptions:
            await sub.cancel()
        self._subscriptions.clear()
        tasks = [*self._tasks.values(), *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._background.clear()
        for worker in self.workers.values():
            worker.recorder.ring.close()
        if self._ring_dir is not None:
            await asyncio.to_thread(self._ring_dir.close)
            self._ring_dir = None
        await self._flush_usage()
        await self._publish_pending()
        self.executor.shutdown(wait=True, cancel_futures=True)

    # -- cameras ---------------------------------------------------------------------------------

    async def _start_camera(self, camera: CameraRecord) -> None:
        if not camera.enabled or camera.id in self.workers:
            return
        vendor = self.vendors().get(camera.vendor)
        if vendor is None or not hasattr(vendor, "stream_source"):
            log.debug("vendor %s has no streams", camera.vendor, extra={"camera": camera.id})
            return
        try:
            stream = await self._camera_stream(camera, vendor)
        except ValueError as exc:
            log.error("cannot watch camera %s: %s", camera.name, exc, extra={"camera": camera.id})
            return
        worker = StreamWorker(
            stream,
            emit=self.emit,
            cache=self.cache,
            leases=self.leases,
            executor=self.executor,
            settings=self.settings,
            policy=self.policy,
            ring=self._ring(camera.id),
            live=self.live,
            lifted=self.lifted,
        )
        self.workers[camera.id] = worker
        self._tasks[camera.id] = asyncio.get_running_loop().create_task(
            self._guard(worker), name=f"stream:{camera.id}"
        )

    def _ring(self, camera_id: str) -> Ring:
        """The camera's clip pre-roll: on disk unless set to memory (or 0 s: one GOP, for T3)."""
        if self._ring_dir is None:
            return PacketRing(self.settings.pre_roll)
        return self._ring_dir.ring(camera_id, pre_roll=self.settings.pre_roll)

    async def _camera_stream(self, camera: CameraRecord, vendor: Any) -> CameraStream:
        options = dict(camera.options)
        password = await self.registry.camera_password(camera.id)
        health_options = dict(options.get("health") or {})
        health_options.setdefault("window", self.health_window)
        data_dir = self.data_dir

        def open_source() -> Any:
            return vendor.stream_source(camera, password, data_dir)

        return CameraStream(
            camera_id=camera.id,
            name=camera.name,
            open_source=open_source,
            health=HealthSettings.from_options(health_options),
            activity=ActivitySettings(**dict(options.get("activity") or {})),
            zones=parse_zones(options.get("zones") or []),
            masks=parse_masks(options.get("masks") or []),
            # a bad privacy mask stops the camera (ValueError): no picture rather than a bare one
            privacy=privacy_mask(options),
        )

    async def _guard(self, worker: StreamWorker) -> None:
        """Run a worker; if a bug kills it, log and restart it: one camera never ends all."""
        while True:
            try:
                await worker.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stream worker crashed; restarting", extra={"camera": worker.id})
                await asyncio.sleep(1.0)

    async def _stop_camera(self, camera_id: str) -> None:
        task = self._tasks.pop(camera_id, None)
        worker = self.workers.pop(camera_id, None)
        if worker is not None:
            self._unflushed[camera_id] = self._unflushed.get(camera_id, 0) + worker.take_bytes()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if worker is not None:
            worker.recorder.ring.close()
            # a keyframe already in a decode thread still lands in the cache: wait for it
            deadline = time.monotonic() + PICTURE_WAIT
            while worker.picture_pending and time.monotonic() < deadline:  # noqa: ASYNC110 - rare
                await asyncio.sleep(0.02)
        # the picture was made under the old settings: it may lack a privacy mask added since
        self.cache.discard(camera_id)

    async def _registry_changed(self, event: Event) -> None:
        camera_id = event.camera_id
        if camera_id is None or not self._running:
            return
        await self._stop_camera(camera_id)
        if event.type == "camera.removed":
            self.live.close(camera_id, f"camera {camera_id} was removed")
        else:
            camera = await self.registry.get_camera(camera_id)
            if camera is not None:
                await self._start_camera(camera)

    # -- what the rest of the hub asks ----------------------------------------------------------

    def snapshot(self, camera_id: str) -> Snapshot | None:
        """The camera's latest keyframe as JPEG, from the cache (never decodes on request)."""
        if self.lifted.ended(camera_id):  # a lift ran out a moment ago: not one unmasked picture
            self.restore_masks(camera_id)
        return self.cache.get(camera_id)

    async def clip(
        self, camera_id: str, *, pre: float = 10.0, post: float = 10.0, path: Path | None = None
    ) -> ClipInfo:
        """Write a clip of `pre` seconds before now and `post` after, remuxed, to `path`.

        The default `path` is `data_dir/clips/<camera>/<time>.mp4`.
        """
        worker = self.workers.get(camera_id)
        if worker is None:
            raise KeyError(f"camera {camera_id!r} is not being watched")
        if path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = self.data_dir / "clips" / camera_id / f"{stamp}.mp4"
        return await worker.clip(path, pre=pre, post=post)

    def lease(self, camera_id: str, reason: str, ttl: float) -> Lease:
        """Ask for pixels (T3) on a camera for `ttl` seconds: a viewer, a zone rule."""
        return self.leases.acquire(camera_id, reason, ttl=ttl)

    def watch(self, camera_id: str) -> LiveViewer:
        """A new live viewer of the camera: its worker decodes frames for live while any watch."""
        viewer = self.live.join(camera_id)
        worker = self.workers.get(camera_id)
        if worker is not None:
            worker.follow_leases()  # now, not at the next tick
        return viewer

    def unwatch(self, viewer: LiveViewer) -> None:
        """The viewer left; after the camera's last one, its decoding stops (unless leased else)."""
        self.live.leave(viewer)
        worker = self.workers.get(viewer.camera_id)
        if worker is not None:
            worker.follow_leases()

    def lift_masks(self, camera_id: str, until: float) -> None:
        """Show the camera without its privacy masks until `until` (epoch seconds)."""
        self.lifted.lift(camera_id, until, self.cache)
        worker = self.workers.get(camera_id)
        if worker is not None:
            worker.refresh_picture()

    def restore_masks(self, camera_id: str) -> None:
        """Burn the camera's privacy masks in again, at once; its cached picture is dropped."""
        if self.lifted.restore(camera_id, self.cache):
            worker = self.workers.get(camera_id)
            if worker is not None:
                worker.refresh_picture()

    def health(self) -> dict[str, str]:
        """Every watched camera's health."""
        return {cid: w.health.value for cid, w in self.workers.items()}

    # -- background --------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Queue an event for the bus (workers call this from the hot path)."""
        self._outbox.append(event)
        self._wake.set()

    async def _publisher(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._publish_pending()

    async def _publish_pending(self) -> None:
        while self._outbox:
            event = self._outbox.popleft()
            try:
                await self.bus.publish(event)
            except RuntimeError:  # the bus closed under us at shutdown
                return

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            self.live.renew()
            decoding = 0
            for worker in list(self.workers.values()):
                try:
                    worker.tick(now)
                except Exception:
                    log.exception("health check failed", extra={"camera": worker.id})
                decoding += worker.decoding
            self.leases.expire(now)
            self._trim_after_decoders_stop(decoding, now)

    def _trim_after_decoders_stop(self, decoding: int, now: float) -> None:
        """A moment after T3 decoders stop, give the memory they freed back to the system.

        At most once every `TRIM_AFTER` seconds: on a busy hub decoders stop every second, and
        a trim pushed back by each stop would never come.
        """
        if decoding < self._decoding and self._trim_at is None:
            self._trim_at = now + TRIM_AFTER
        self._decoding = decoding
        if self._trim_at is not None and now >= self._trim_at and memory.AVAILABLE:
            self._trim_at = None
            self.trims += 1
            self.executor.submit(memory.trim)

    async def _usage_flusher(self) -> None:
        while True:
            await asyncio.sleep(USAGE_FLUSH)
            await self._flush_usage()

    async def flush_usage(self) -> None:
        """Record the data usage counted so far now, and publish what it raised.

        The hub calls it at stop before the incident service stops, so that a package used up
        in the last minute still reaches a rule.
        """
        await self._flush_usage()
        await self._publish_pending()

    async def _flush_usage(self) -> None:
        counts, self._unflushed = self._unflushed, {}
        for cid, worker in self.workers.items():
            counts[cid] = counts.get(cid, 0) + worker.take_bytes()
        at = datetime.now(UTC)  # one moment for both: bytes and allowances on the same day
        try:
            await self.usage.add(counts, at)
        except Exception:  # a full disk must not stop the cameras: keep the bytes for next time
            log.exception("could not record data usage; will retry")
            for cid, n in counts.items():
                self._unflushed[cid] = self._unflushed.get(cid, 0) + n
            return
        if self.allowances is None:
            return
        try:
            crossed = await self.allowances.check(counts, at)
        except Exception:  # the bytes are recorded; only this flush's crossings are missed
            log.exception("could not compare data usage with the data packages")
            return
        for event in crossed:
            self.emit(event)
