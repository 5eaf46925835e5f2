"""T0 health from packets alone: hysteresis, degradation, recovery, statistics."""

from __future__ import annotations

from hub.streams.health import Health, HealthSettings, StreamMonitor
from hub.streams.units import VIDEO_CLOCK, AccessUnit

FPS = 15
GOP = 30


class Camera:
    """Plays a stream into a monitor with a tick every whole second, as the engine does."""

    def __init__(self, monitor: StreamMonitor) -> None:
        self.m = monitor
        self.now = 0.0
        self.pts = 0
        self.frame = 0
        self.changes: list[tuple[float, str, str]] = []
        self._next_tick = 1.0

    def _advance(self, to: float) -> None:
        while self._next_tick <= to:
            change = self.m.tick(self._next_tick)
            if change is not None:
                self.changes.append((self._next_tick, change.state.value, change.reason))
            self._next_tick += 1.0
        self.now = to

    def play(
        self,
        seconds: float,
        *,
        fps: float = FPS,
        size: int = 2000,
        gop: int | None = GOP,
        backwards_every: int = 0,
    ) -> None:
        for i in range(int(round(seconds * fps))):
            at = self.now + 1.0 / fps
            self._advance(at)
            self.pts += 90_000 // int(fps)
            if backwards_every and i % backwards_every == backwards_every - 1:
                self.pts -= 90_000
            key = gop is not None and self.frame % gop == 0
            self.frame += 1
            self.m.on_unit(AccessUnit(b"x" * (size * 4 if key else size), self.pts, key, at))

    def silence(self, seconds: float) -> None:
        self._advance(self.now + seconds)

    def since(self, at: float) -> list[tuple[float, str, str]]:
        return [c for c in self.changes if c[0] > at]


def test_online_when_picture_flows_and_stats_are_right() -> None:
    m = StreamMonitor(nominal_fps=FPS)
    assert m.tick(0.0) is None  # never had a picture: nothing to say yet
    cam = Camera(m)
    cam.play(20.0)
    assert [c[1] for c in cam.changes] == ["online"]
    assert cam.changes[0][0] == 1.0
    stats = m.take_stats()
    assert stats is not None
    assert stats["fps"] == 15.0
    assert stats["gop_frames"] == GOP
    assert stats["keyframe_interval_s"] == 2.0
    assert stats["timestamp_problems"] == 0
    # per 10 s: 5 keyframes of 8000 B and 145 frames of 2000 B; windows need not align with GOPs
    expected = (5 * 8000 + 145 * 2000) * 8 / 10 / 1000
    assert abs(stats["bitrate_kbps"] - expected) / expected < 0.03
    assert m.take_stats() is None  # given once


def test_short_stall_is_not_an_outage_and_dead_camera_is_offline_within_10s() -> None:
    cam = Camera(StreamMonitor(nominal_fps=FPS))
    cam.play(30.0)
    cam.silence(3.0)
    cam.play(10.0)
    assert [c[1] for c in cam.changes] == ["online"]
    died = cam.now
    cam.silence(15.0)
    late = cam.since(died)
    assert len(late) == 1
    at, state, reason = late[0]
    assert state == "offline" and at - died <= 10
    assert reason.startswith("no picture for ")


def test_offline_camera_comes_back_online_at_first_picture() -> None:
    cam = Camera(StreamMonitor(nominal_fps=FPS))
    cam.play(5.0)
    cam.silence(20.0)
    back = cam.now
    cam.m.connected(back)
    cam.play(2.0)
    late = cam.since(back)
    assert [c[1] for c in late] == ["online"]
    assert late[0][0] - back <= 1.0


def test_low_fps_degrades_then_recovers_with_hysteresis() -> None:
    cam = Camera(StreamMonitor(HealthSettings(window=10, recover_after=10), nominal_fps=FPS))
    cam.play(20.0)
    slow = cam.now
    cam.play(20.0, fps=5, gop=10)
    degraded = cam.since(slow)
    assert [c[1:] for c in degraded] == [("degraded", "5.0 fps, expected about 15")]
    well = cam.now
    cam.play(15.0)
    assert cam.since(well) == []  # one good window is not enough
    cam.play(15.0)
    recovered = cam.since(well)
    assert [c[1:] for c in recovered] == [("online", "recovered")]


def test_missing_keyframes_degrade() -> None:
    cam = Camera(StreamMonitor(HealthSettings(window=10, keyframe_timeout=20), nominal_fps=FPS))
    cam.play(10.0)
    cam.play(30.0, gop=None)
    changes = cam.since(10.0)
    assert [c[1] for c in changes] == ["degraded"]
    assert "no keyframe for" in changes[0][2]


def test_backwards_timestamps_degrade() -> None:
    cam = Camera(StreamMonitor(nominal_fps=FPS))
    cam.play(10.0)
    cam.play(12.0, backwards_every=50)
    changes = cam.since(10.0)
    assert [c[1] for c in changes] == ["degraded"]
    assert changes[0][2].startswith("timestamps went backwards ")


def test_bitrate_collapse_degrades() -> None:
    cam = Camera(StreamMonitor(HealthSettings(window=10), nominal_fps=FPS))
    cam.play(40.0)
    cam.play(20.0, size=100)
    changes = cam.since(40.0)
    assert [c[1] for c in changes] == ["degraded"]
    assert changes[0][2].startswith("bitrate fell to ")


def test_fps_is_learned_when_the_source_does_not_say() -> None:
    cam = Camera(StreamMonitor())
    cam.play(20.0)
    assert cam.m.nominal_fps == 15.0


def test_stream_gone_respects_the_grace() -> None:
    cam = Camera(StreamMonitor(nominal_fps=FPS))
    cam.play(5.0)
    assert cam.m.stream_gone(cam.now + 1.0, "the stream ended") is None
    change = cam.m.stream_gone(cam.now + 9.0, "connection refused")
    assert change is not None and change.state is Health.OFFLINE
    assert change.reason == "connection refused"
    never = StreamMonitor()
    first = never.stream_gone(0.0, "connection refused")
    assert first is not None and first.state is Health.OFFLINE


def test_settings_from_camera_options() -> None:
    settings = HealthSettings.from_options({"offline_after": 5, "window": "20"})
    assert settings.offline_after == 5.0 and settings.window == 20.0
    try:
        HealthSettings.from_options({"offline_afterr": 5})
    except ValueError as exc:
        assert str(exc) == "unknown health settings: offline_afterr"
    else:
        raise AssertionError("a typo must be refused")


def test_settings_stretch_for_a_slow_source_and_not_for_a_camera() -> None:
    base = HealthSettings()
    assert base.for_rate(15.0) == base and base.for_rate(None) == base
    slow = base.for_rate(0.1)  # a snapshot every 10 s
    assert slow.offline_after == 35.0 and slow.keyframe_timeout == 35.0
    assert slow.window == 40.0 and slow.recover_after == 30.0
    assert slow.low_fps_ratio == base.low_fps_ratio


def test_a_snapshot_every_ten_seconds_stays_online() -> None:
    monitor = StreamMonitor(HealthSettings().for_rate(0.1), nominal_fps=0.1)
    now = 0.0
    monitor.connected(now)
    states = []
    for index in range(30):
        now = index * 10.0
        monitor.on_unit(AccessUnit(b"\xff\xd8jpeg", int(now * VIDEO_CLOCK), True, now))
        for second in range(10):
            change = monitor.tick(now + second)
            if change is not None:
                states.append(change.state.value)
    assert "offline" not in states and "degraded" not in states[2:]
