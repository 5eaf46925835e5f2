"""One camera's stream: connect, reconnect, and feed every tier from the same access units."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hub.events import (
    ActivityEnd,
    ActivityStart,
    CameraDegraded,
    CameraOffline,
    CameraOnline,
    Event,
    MotionEnd,
    MotionStart,
    StreamStats,
    Tamper,
)
from hub.streams.activity import ActivityMeter, ActivitySettings
from hub.streams.clips import ClipInfo, ClipRecorder, PacketRing, Ring
from hub.streams.health import Health, HealthChange, HealthSettings, StreamMonitor
from hub.streams.lease import DecodeLeases
from hub.streams.live import QUALITY as LIVE_QUALITY
from hub.streams.motion import MotionDetector, Polygon, Zone
from hub.streams.pictures import (
    KeyframeCache,
    KeyframeDecoder,
    PictureChecks,
    grey_small,
    snapshot_pictures,
)
from hub.streams.privacy import PrivacyMask
from hub.streams.reconnect import Backoff, ReconnectPolicy
from hub.streams.units import AccessUnit, PacketSource, SourceError, StreamInfo

if TYPE_CHECKING:
    import av

    from hub.config.models import StreamSettings
    from hub.masks.lifted import LiftedMasks
    from hub.streams.live import LiveFeed, LiveViews

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """What every worker shares; per-camera settings override parts of it."""

    keyframe_interval: float = 10.0
    """T2: decode a keyframe at most this often (seconds)."""
    motion_fps: float = 5.0
    """T3: analyse at most this many pictures a second while a lease holds."""
    motion_width: int = 320
    activity_lease: float = 5.0
    """T3: how long activity keeps pixels decoded after it ends."""
    motion_lease: float = 2.0
    """T3: how long pixel motion keeps pixels decoded after it ends. Measured on the streams
    benchmark's day scene (N=25, bench/results/streams-day-motion-lease.json): T3 on 6.2 of 25
    cameras at 5 s, 4.8 at 2 s, 4.9 at 1 s, with as many motion.start events."""
    motion_hold: float | None = 20.0
    """T3: at most this many seconds that motion holds pixels on its own, from its
    `motion.start` (an episode that starts again within `motion_lease` of its end is the same
    stretch of motion, timed from the first start); None: as long as it lasts (an hour at
    most). A scene that is busy all the time (a road, a car park at rush hour) would otherwise
    keep a full decoder running for good; 20 s is the activity meter's `settle`, after which it
    too takes a lasting change as the usual scene. Activity, a zone rule or a viewer still hold
    pixels as long as they need."""
    t3_dismiss: float | None = 4.0
    """T3: seconds without pixel motion, once T3 has calibrated, after which it dismisses the
    activity that asked for it: the activity's lease is given back before `activity.end` (the
    exposure settling after a car is most of an episode). None: hold it to the end. Measured
    in bench/bench_activity.py (`dismiss_what_if`): the same recall with about half the frames."""
    snapshot_width: int = 640
    pre_roll: float = 10.0
    ring: Literal["disk", "memory"] = "disk"
    """Where the engine keeps the pre-roll: finished GOPs in files under data_dir/ring, or RAM."""
    t3_backlog: float = 2.0
    """T3: seconds of undecoded frames allowed before the worker skips to the next keyframe."""
    live_fps: float = 5.0
    """Live view: pictures a second made from T3's frames while someone watches."""
    live_width: int = 960
    """Live view: the pictures' width at most."""

    @classmethod
    def from_config(cls, section: StreamSettings) -> EngineSettings:
        """The settings a configuration's `hub.streams` section gives, field by field.

        A field the section does not have keeps its default; `t3_dismiss: 0` there means never,
        and `motion_hold: 0` as long as the motion lasts.
        """
        given = {f.name: getattr(section, f.name) for f in fields(cls) if hasattr(section, f.name)}
        for name in ("t3_dismiss", "motion_hold"):
            if not given.get(name, True):
                given[name] = None
        return cls(**given)


@dataclass(slots=True)
class CameraStream:
    """What a worker needs to know of its camera."""

    camera_id: str
    name: str
    open_source: Callable[[], PacketSource]
    health: HealthSettings = field(default_factory=HealthSettings)
    activity: ActivitySettings = field(default_factory=ActivitySettings)
    zones: list[Zone] = field(default_factory=list)
    masks: list[Polygon] = field(default_factory=list)
    privacy: PrivacyMask | None = None
    """Burned into every snapshot before it is encoded (hub/streams/privacy.py)."""


class StreamWorker:
    """Keeps one camera's stream open and turns its packets into health, stats and pictures."""

    def __init__(
        self,
        camera: CameraStream,
        *,
        emit: Emit,
        cache: KeyframeCache,
        leases: DecodeLeases,
        executor: Executor,
        settings: EngineSettings | None = None,
        policy: ReconnectPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        ring: Ring | None = None,
        live: LiveViews | None = None,
        lifted: LiftedMasks | None = None,
    ) -> None:
        self.camera = camera
        self.live = live
        """Who watches the camera live (hub/streams/live.py); None: nobody can."""
        self.lifted = lifted
        """Which cameras' privacy masks are lifted now (hub/masks); None: never."""
        self._live_failures = 0
        self.settings = settings or EngineSettings()
        self._emit = emit
        self._cache = cache
        self._leases = leases
        self._executor = executor
        self._clock = clock
        self.backoff = Backoff(policy)
        self.monitor = StreamMonitor(camera.health)
        self.activity = ActivityMeter(camera.activity)
        # The engine's choice of pre-roll (on disk, by default); alone, a worker keeps it in memory.
        self.recorder = ClipRecorder(
            ring if ring is not None else PacketRing(self.settings.pre_roll)
        )
        self.info: StreamInfo | None = None
        self.source: PacketSource | None = None
        self.bytes_received = 0
        self._source_counted = 0
        self.last_error: str | None = None
        self._checks = PictureChecks()
        self._t2_busy = False
        self._last_t2 = float("-inf")
        self._t3: _T3 | None = None
        self._activity_lease: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def id(self) -> str:
        """The camera's id."""
        return self.camera.camera_id

    @property
    def health(self) -> Health:
        """The camera's health now."""
        return self.monitor.state

    @property
    def decoding(self) -> bool:
        """Whether T3 decodes the camera's every frame now (a lease holds)."""
        return self._t3 is not None

    @property
    def picture_pending(self) -> bool:
        """Whether a keyframe is on its way to the snapshot cache (T2 in a decode thread)."""
        return self._t2_busy

    # -- connection ------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, stream, reconnect on the policy's ladder; runs until cancelled."""
        self._loop = asyncio.get_running_loop()
        while True:
            source: PacketSource | None = None
            self._source_counted = 0
            try:
                # Inside the try: a vendor whose stream_source raises is a camera that failed
                # to connect (and retries on the ladder), not a worker that dies.
                source = self.source = self.camera.open_source()
                info = await source.open()
                self._connected(info)
                await source.run(self._on_unit)
                reason = "the stream ended"
            except SourceError as exc:
                reason = str(exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a source bug must not end the camera's worker
                log.exception("stream source failed", extra={"camera": self.id})
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._count_live_bytes()
                if source is not None:
                    await _close_quietly(source)
                self.source = None
            self._disconnected(reason)
            now = self._clock()
            delay = self.backoff.failed(now)
            # The first failure and a tripped breaker are news; every retry in between is not.
            if self.backoff.attempts == 1 or self.backoff.breaker_open(now):
                level = logging.WARNING if self.backoff.breaker_open(now) else logging.INFO
            else:
                level = logging.DEBUG
            log.log(level, "reconnecting in %.1f s: %s", delay, reason, extra={"camera": self.id})
            await asyncio.sleep(delay)

    def _connected(self, info: StreamInfo) -> None:
        now = self._clock()
        self.info = info
        self.last_error = None
        self.backoff.succeeded()
        if self.monitor.nominal_fps is None and info.fps:
            self.monitor.nominal_fps = info.fps
        self.monitor.settings = self.camera.health.for_rate(info.fps)
        self.monitor.connected(now)
        self.recorder.ring.clear()
        self._last_t2 = float("-inf")
        change = self.activity.reset(now, info)
        if change is not None:
            self._activity_changed(change.started, change.score)
        log.info(
            "stream open: %s %sx%s", info.codec, info.width, info.height, extra={"camera": self.id}
        )

    def _disconnected(self, reason: str) -> None:
        self.last_error = reason
        self.recorder.abort(reason)
        if self._t3 is not None:
            self._t3.stop()
            self._t3 = None
        change = self.monitor.stream_gone(self._clock(), reason)
        if change is not None:
            self._health_changed(change)

    # -- the hot path --------------------------------------------------------------------------

    def _on_unit(self, unit: AccessUnit) -> None:
        self.monitor.on_unit(unit)
        self.recorder.on_unit(unit)
        change = self.activity.on_unit(unit)
        if change is not None:
            self._activity_changed(change.started, change.score)
        if (
            unit.keyframe
            and not self._t2_busy
            and unit.arrival - self._last_t2 >= self.settings.keyframe_interval
        ):
            self._start_t2(unit)
        t3 = self._t3
        if t3 is not None:
            t3.feed(unit)

    # -- judgement, once a second -------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Judge health, publish statistics, start or stop T3; called by the engine's ticker."""
        change = self.monitor.tick(now)
        if change is not None:
            self._health_changed(change)
        stats = self.monitor.take_stats()
        if stats is not None:
            info = self.info
            if info is not None:
                stats.update(
                    codec=info.codec, width=info.width, height=info.height,
                    transport=info.transport,
                )  # fmt: skip
            source = self.source
            lost = getattr(source, "lost_packets", None)
            if lost is not None:
                stats["lost_packets"] = lost
            self._emit(StreamStats.create(camera_id=self.id, data=stats))
        self._count_live_bytes()
        self._dismiss_if_still(now)
        self.follow_leases(now)

    def _dismiss_if_still(self, now: float) -> None:
        """Give the activity's lease back when T3 has seen nothing move for `t3_dismiss` s."""
        after = self.settings.t3_dismiss
        t3 = self._t3
        if after is None or t3 is None or self._activity_lease is None:
            return
        if t3.still_for(now) >= after:
            self._leases.release(self._activity_lease)
            self._activity_lease = None
            camera = {"camera": self.id}
            log.debug("T3 saw nothing move for %.0f s: activity dismissed", after, extra=camera)

    def follow_leases(self, now: float | None = None) -> None:
        """Start or stop T3 as the camera's leases say now (a viewer came or went)."""
        now = self._clock() if now is None else now
        wanted = self._leases.active(self.id, now)
        if wanted and self._t3 is None:
            self._start_t3(now)
        elif not wanted and self._t3 is not None:
            self._t3.stop()
            self._t3 = None

    def _start_t3(self, now: float) -> None:
        """Start pixels from the last keyframe in the ring: the moments that asked are seen too."""
        if self.info is None or self._t3 is not None:
            return
        self._t3 = _T3(self, self.info)
        self._t3.prime(self.recorder.ring.since(now))

    def _count_live_bytes(self) -> None:
        counted = getattr(self.source, "bytes_received", None)
        if isinstance(counted, int):
            self.bytes_received += counted - self._source_counted
            self._source_counted = counted

    def take_bytes(self) -> int:
        """Bytes received since the last call, for the data-usage ledger."""
        self._count_live_bytes()
        taken, self.bytes_received = self.bytes_received, 0
        return taken

    def _health_changed(self, change: HealthChange) -> None:
        event_class = {
            Health.ONLINE: CameraOnline,
            Health.DEGRADED: CameraDegraded,
            Health.OFFLINE: CameraOffline,
        }.get(change.state)
        if event_class is None:
            return
        level = logging.INFO if change.state is Health.ONLINE else logging.WARNING
        log.log(
            level, "camera %s: %s", change.state.value, change.reason, extra={"camera": self.id}
        )
        self._emit(
            event_class.create(
                camera_id=self.id,
                data={"reason": change.reason, "previous": change.previous.value},
            )
        )

    def _activity_changed(self, started: bool, score: float) -> None:
        event_class = ActivityStart if started else ActivityEnd
        self._emit(event_class.create(camera_id=self.id, data={"score": score}))
        if started:
            self._activity_lease = self._leases.acquire(self.id, "activity", ttl=3600.0)
            self._start_t3(self._clock())  # now, not at the next tick: motion may be brief
        elif self._activity_lease is not None:
            self._leases.renew(self._activity_lease, ttl=self.settings.activity_lease)
            self._activity_lease = None

    # -- T2: keyframes -------------------------------------------------------------------------

    def _start_t2(self, unit: AccessUnit) -> None:
        info = self.info
        if info is None:
            return
        self._t2_busy = True
        self._last_t2 = unit.arrival
        # A decoder per keyframe, not per camera: a kept 720p H.264 context holds about 3 MB,
        # a new one every 10 s costs a fraction of a millisecond (measured: 2.96 vs 0.11 MB).
        future = self._executor.submit(self._t2_work, KeyframeDecoder(info, self.id), unit)
        future.add_done_callback(
            lambda f: None if f.cancelled() else self._call_on_loop(self._t2_done, f.result())
        )

    def _t2_work(self, decoder: KeyframeDecoder, unit: AccessUnit) -> Any:
        try:
            frame = decoder.decode(unit)
            if frame is None:
                return None
            privacy, generation = self.privacy()
            jpeg, grey = snapshot_pictures(
                frame, max_width=self.settings.snapshot_width, privacy=privacy
            )
            assert grey is not None
            at = time.time()

            def store() -> None:
                self._cache.put(self.id, jpeg, at, width=frame.width, height=frame.height)

            if self.lifted is None:
                store()
            else:  # a lift that began or ended meanwhile: this picture is of the old state
                self.lifted.keep(self.id, generation, store)
            return self._checks.update(grey, unit.arrival)
        except Exception:  # keep the worker alive whatever the picture is
            log.exception("keyframe analysis failed", extra={"camera": self.id})
            return None

    def _t2_done(self, problems: Any) -> None:
        self._t2_busy = False
        for problem in problems or ():
            self._emit(
                Tamper.create(
                    camera_id=self.id,
                    data={
                        "kind": problem.kind,
                        "state": "start" if problem.started else "end",
                        **problem.detail,
                    },
                )
            )

    def privacy(self) -> tuple[PrivacyMask | None, int]:
        """The mask to burn into a picture now (None while lifted), and its generation."""
        if self.lifted is None:
            return self.camera.privacy, 0
        return self.lifted.privacy(self.id, self.camera.privacy)

    def refresh_picture(self) -> None:
        """Let the next keyframe into the snapshot cache at once (a mask was lifted or restored)."""
        self._last_t2 = float("-inf")

    def _live_picture(self, frame: av.VideoFrame, feed: LiveFeed) -> None:
        """A live picture of `frame`, masked, made in the decode thread, handed over on the loop."""
        privacy, generation = self.privacy()
        try:
            jpeg = snapshot_pictures(
                frame, max_width=feed.width, quality=LIVE_QUALITY, grey_width=None, privacy=privacy
            )[0]
        except Exception:  # one bad picture must not stop motion analysis or the next ones
            self._live_failures += 1
            if self._live_failures % 100 == 1:  # a broken camera must not flood the log
                log.exception("live picture failed", extra={"camera": self.id})
            return
        self._call_on_loop(self._live_publish, feed, jpeg, generation)

    def _live_publish(self, feed: LiveFeed, jpeg: bytes, generation: int) -> None:
        if self.lifted is None or self.lifted.current(self.id, generation):
            feed.publish(jpeg)

    def _call_on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    # -- clips ---------------------------------------------------------------------------------

    async def clip(self, path: Path, *, pre: float = 10.0, post: float = 10.0) -> ClipInfo:
        """Write `pre` seconds before now and `post` after to `path`, remuxed."""
        info = self.info
        if info is None:
            raise ValueError(f"camera {self.id} has no stream yet")
        return await self.recorder.record(info, path, pre=pre, post=post, now=self._clock())


class _T3:
    """Leased full decode of a small grey picture, feeding the motion detector."""

    def __init__(self, worker: StreamWorker, info: StreamInfo) -> None:
        self.worker = worker
        self.info = info
        self.decoder = KeyframeDecoder(info, all_frames=True)
        self.queue: deque[AccessUnit] = deque()
        self.running = False
        self.stopped = False
        self.waiting_for_key = True
        self.detector: MotionDetector | None = None
        self.last_analysed = float("-inf")
        self.interval = 1.0 / max(worker.settings.motion_fps, 0.1)
        self.backlog = max(1, int(worker.settings.t3_backlog * (info.fps or 15)))
        self.limit = self.backlog
        self.active_zones: set[str] = set()
        self.motion_lease: Any = None
        """The lease that open motion holds on pixels..."""
        self.motion_tail: Any = None
        """...and keeps for `motion_lease` once motion has ended."""
        self.motion_until = float("-inf")
        """When the hold of this stretch of motion ends (the leases' clock)..."""
        self.motion_ended = float("-inf")
        """...and when motion last ended: motion that starts within `motion_lease` of it goes
        on with the stretch."""
        self.seeing = False
        """Whether the motion detector has calibrated and can see motion (set by the decode
        thread after each picture)."""
        self.still_since: float | None = None
        """Since when (worker clock) T3 has been calibrated and seen nothing move."""

    def prime(self, units: list[AccessUnit]) -> None:
        """Start with what the ring holds from its last keyframe (up to one GOP back)."""
        if not units or not units[0].keyframe:
            return
        self.queue.extend(units)
        self.waiting_for_key = False
        self.limit = self.backlog + len(units)  # the catch-up is not a backlog
        self._kick()

    def feed(self, unit: AccessUnit) -> None:
        if self.waiting_for_key:
            if not unit.keyframe:
                return
            self.waiting_for_key = False
        self.queue.append(unit)
        if len(self.queue) > self.limit:  # cannot keep up: skip to the next keyframe
            self.queue.clear()
            self.limit = self.backlog
            self.waiting_for_key = True
            return
        self._kick()

    def _kick(self) -> None:
        if not self.running:
            self.running = True
            self.worker._executor.submit(self._drain)

    def _drain(self) -> None:
        changes: list[Any] = []
        try:
            while self.queue and not self.stopped:
                unit = self.queue.popleft()
                if self.limit > self.backlog and len(self.queue) <= self.backlog:
                    self.limit = self.backlog  # caught up with the live stream
                frame = self.decoder.decode(unit)
                live = self.worker.live
                feed = live.feed(self.worker.id) if live is not None else None
                if (
                    frame is not None
                    and feed is not None
                    and feed.due(unit.arrival, self.worker._clock())
                ):
                    self.worker._live_picture(frame, feed)
                if frame is None or unit.arrival - self.last_analysed < self.interval:
                    continue
                self.last_analysed = unit.arrival
                grey = grey_small(frame, width=self.worker.settings.motion_width)
                if self.detector is None:
                    height, width = grey.shape
                    self.detector = MotionDetector(
                        width,
                        height,
                        zones=self.worker.camera.zones,
                        masks=self.worker.camera.masks,
                    )
                changes.extend(self.detector.update(grey, unit.arrival))
                self.seeing = not self.detector.calibrating
        except Exception:
            log.exception("motion analysis failed", extra={"camera": self.worker.id})
        finally:
            self.running = False
            if changes:
                self.worker._call_on_loop(self._publish, changes)

    def still_for(self, now: float) -> float:
        """Seconds since T3 last saw motion, or since it calibrated; 0 while motion is open."""
        if self.active_zones or not self.seeing:
            self.still_since = None
            return 0.0
        if self.still_since is None:
            self.still_since = now
        return now - self.still_since

    def _publish(self, changes: list[Any]) -> None:
        if self.stopped:
            return
        self.still_since = None  # something moved, or just stopped moving: count from now
        leases = self.worker._leases
        for change in changes:
            event_class = MotionStart if change.started else MotionEnd
            if change.started:
                self.active_zones.add(change.zone)
                if self.motion_lease is None:
                    self._motion_started(leases)
            else:
                self.active_zones.discard(change.zone)
                if not self.active_zones:
                    self._motion_ended(leases)
            self.worker._emit(
                event_class.create(
                    camera_id=self.worker.id,
                    data={"zone": change.zone, "box": list(change.box), "score": change.score},
                )
            )

    def _motion_started(self, leases: DecodeLeases) -> None:
        """Pixels that move keep pixels coming, for `motion_hold` at most.

        Motion that starts again within `motion_lease` of its end is the same stretch of
        motion, held until `motion_hold` from its first start: on a busy road episodes end
        and start again every few seconds, and each one's own hold kept a decoder running.
        Motion only holds a T3 that something holds: one whose leases have all lapsed is
        stopped at the next tick, and motion seen in that last second must not revive it.
        """
        now = leases.now()
        if not leases.active(self.worker.id, now):
            return  # nothing holds T3 any more, motion's own tail included: it stops at the tick
        settings = self.worker.settings
        if now - self.motion_ended > settings.motion_lease:  # a new stretch of motion
            self.motion_until = now + (settings.motion_hold or 3600.0)
        if self.motion_tail is not None:
            leases.release(self.motion_tail)
            self.motion_tail = None
        if self.motion_until > now:  # else the stretch's hold is spent: it holds nothing more
            left = self.motion_until - now
            self.motion_lease = leases.acquire(self.worker.id, "motion", ttl=left)

    def _motion_ended(self, leases: DecodeLeases) -> None:
        """Motion keeps pixels for `motion_lease` more, within its stretch's hold."""
        now = self.motion_ended = leases.now()
        lease, self.motion_lease = self.motion_lease, None
        if lease is None:
            return
        tail = min(self.worker.settings.motion_lease, self.motion_until - now)
        if tail > 0 and leases.renew(lease, ttl=tail):
            self.motion_tail = lease
        else:
            leases.release(lease)

    def stop(self) -> None:
        self.stopped = True
        self.queue.clear()
        for lease in (self.motion_lease, self.motion_tail):
            if lease is not None:
                self.worker._leases.release(lease)
        self.motion_lease = self.motion_tail = None
        for zone in sorted(self.active_zones):  # nobody watches any more: close what is open
            data = {"zone": zone, "unseen": True}  # it ended unseen: T3 stopped looking
            self.worker._emit(MotionEnd.create(camera_id=self.worker.id, data=data))
        self.active_zones.clear()


async def _close_quietly(source: PacketSource) -> None:
    try:
        await asyncio.wait_for(source.close(), timeout=2.0)
    except Exception:  # closing a broken connection may fail; nothing is lost by it
        log.debug("closing a source failed", exc_info=True)
