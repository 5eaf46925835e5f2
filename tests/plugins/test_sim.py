"""The sim vendor: loads like any plugin, checks its cameras, renders camera-like H.264 files."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit
from urllib.request import url2pathname

import av
import numpy as np
import numpy.typing as npt
import pytest

from hub.config import CameraConfig
from hub.plugins import PluginHost, PluginState
from hub.vendors import CameraVendor
from plugins.sim.camera import SimVendor
from plugins.sim.render import cache_name, render_scene
from plugins.sim.scenes import SCENES, Happening, make_scene

if TYPE_CHECKING:
    from hub.registry import CameraRecord

FFPROBE = Path("/usr/bin/ffprobe")
Luma = npt.NDArray[np.uint8]


def camera(**fields: Any) -> CameraConfig:
    """A sim camera as the config would hold it (built without the url-or-host rule)."""
    values: dict[str, Any] = {
        "id": "alun-alun",
        "name": "Alun-alun Pati",
        "owner": "diskominfo-pati",
        "vendor": "sim",
        "url": None,
        "host": None,
        "tags": [],
        "enabled": True,
        "options": {},
        **fields,
    }
    return CameraConfig.model_construct(**values)


def decode_luma(path: Path) -> list[Luma]:
    with av.open(str(path)) as container:
        return [
            frame.to_ndarray(format="gray").astype(np.uint8) for frame in container.decode(video=0)
        ]


def only(happenings: list[Happening], kind: str) -> Happening:
    found = [h for h in happenings if h.kind == kind]
    assert len(found) == 1, happenings
    return found[0]


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sim")


# -- the plugin and its checks ---------------------------------------------------------------


def test_loads_through_the_host_like_any_plugin() -> None:
    host = PluginHost()
    host.load()
    record = host.records["sim"]
    assert (record.state, record.reason) == (PluginState.LOADED, None)
    assert record.manifest is not None
    assert (record.manifest.kind.value, record.manifest.version) == ("vendor", "0.1.0")
    registration = host.registered("camera_vendor")["sim"]
    assert registration.plugin == "sim"
    vendor = registration.obj
    assert isinstance(vendor, CameraVendor)
    assert vendor.name == "sim"
    assert vendor.description


def test_a_camera_with_a_known_scene_passes() -> None:
    vendor = SimVendor()
    options = {"scene": "busy_square", "seed": 3, "width": 320, "height": 180, "duration": 30}
    assert vendor.check_camera(camera(options=options)) == []
    assert vendor.check_camera(camera(url="sim://busy_square", options=options)) == []
    assert vendor.check_camera(camera(url="sim://busy_square")) == []  # the url names the scene


def test_an_unknown_scene_is_named_with_a_suggestion() -> None:
    problems = SimVendor().check_camera(camera(options={"scene": "busy_sqare"}))
    assert len(problems) == 1
    assert "unknown scene 'busy_sqare'" in problems[0]
    assert "did you mean 'busy_square'?" in problems[0]
    assert "road_night_stop" in problems[0]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"options": {}}, "needs a scene (url sim://<scene> or options.scene)"),
        (
            {"url": "sim://market", "options": {"scene": "landfill"}},
            "url names scene 'market' but options.scene is 'landfill'",
        ),
        ({"url": "sim://markt"}, "unknown scene 'markt' (did you mean 'market'?)"),
        (
            {"options": {"scene": "market", "sede": 1}},
            "unknown option 'sede' (did you mean 'seed'?)",
        ),
        ({"options": {"scene": "market", "width": 321}}, "width must be even"),
        ({"options": {"scene": "market", "fps": True}}, "fps must be a whole number from 1 to 30"),
        ({"options": {"scene": "market", "duration": 1}}, "duration must be a number of seconds"),
        ({"options": {"scene": "market", "seed": -1}}, "seed must be a whole number"),
        ({"options": {"scene": "market"}, "host": "10.0.0.5"}, "vendor 'sim' has no host"),
        ({"options": {"scene": "market"}, "url": "rtsp://10.0.0.5/x"}, "url must be sim://"),
        ({"options": {"scene": "market"}, "url": "file:///tmp/x.mp4"}, "url must be sim://"),
    ],
)
def test_bad_settings_are_told_in_plain_words(fields: dict[str, Any], expected: str) -> None:
    problems = SimVendor().check_camera(camera(**fields))
    assert any(expected in problem for problem in problems), problems


def test_stream_url_refuses_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scene 'nowhere'"):
        SimVendor().stream_url({"scene": "nowhere"}, tmp_path)
    assert not (tmp_path / "plugins").exists()


# -- scenes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENES))
def test_every_scene_draws_and_tells_its_truth(name: str) -> None:
    scene = make_scene(name, width=128, height=72, fps=10, duration=20, seed=1)
    first = scene.frame(0)
    assert first.shape == (72, 128, 3)
    assert first.dtype == np.uint8
    assert first.std() > 10  # a picture, not a flat colour
    later = scene.frame(55)
    assert np.array_equal(scene.frame(0), first)  # a frame depends on its index only
    assert not np.array_equal(later, first)
    assert scene.describe()
    for happening in scene.happenings():
        assert 0 <= happening.start_s < happening.end_s <= 20
        x0, y0, x1, y1 = happening.pixels(128, 72)
        assert 0 <= x0 < x1 <= 128
        assert 0 <= y0 < y1 <= 72


def test_a_seed_changes_the_scene_and_the_same_seed_repeats_it() -> None:
    one = make_scene("market", width=128, height=72, duration=10, seed=1).frame(40)
    again = make_scene("market", width=128, height=72, duration=10, seed=1).frame(40)
    other = make_scene("market", width=128, height=72, duration=10, seed=2).frame(40)
    assert np.array_equal(one, again)
    assert not np.array_equal(one, other)


# -- rendering -----------------------------------------------------------------------------


def test_a_rendering_looks_like_a_camera_stream(renders: Path) -> None:
    out = render_scene(
        "statue_roundabout",
        width=192,
        height=108,
        fps=15,
        duration=6,
        seed=0,
        out=renders / "a.mp4",
    )
    progress: list[tuple[int, int]] = []
    render_scene(
        "statue_roundabout",
        width=192,
        height=108,
        fps=15,
        duration=6,
        seed=0,
        out=renders / "b.mp4",
        progress=lambda done, total: progress.append((done, total)),
    )
    assert progress[0] == (1, 90)
    assert progress[-1] == (90, 90)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (192, 108)
        assert stream.average_rate == 15
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.duration is not None and stream.time_base is not None
        assert float(stream.duration * stream.time_base) == pytest.approx(6.0)
        packets = [p for p in container.demux(stream) if p.size]
    assert len(packets) == 90
    assert [i for i, p in enumerate(packets) if p.is_keyframe] == [0, 30, 60]
    pts = [p.pts for p in packets]
    assert all(p.pts == p.dts for p in packets)  # no B-frames, as from a live encoder
    steps = {
        int(b) - int(a)
        for a, b in zip(pts, pts[1:], strict=False)
        if a is not None and b is not None
    }
    assert len(steps) == 1 and steps.pop() > 0  # constant frame rate, increasing
    bitrate = sum(p.size for p in packets) * 8 / 6
    assert 20_000 < bitrate < 2_000_000


@pytest.mark.skipif(not FFPROBE.exists(), reason="ffprobe is not installed")
def test_ffprobe_reads_every_frame_without_complaint(renders: Path) -> None:
    out = render_scene("market", width=160, height=90, fps=10, duration=4, out=renders / "m.mp4")
    probe = subprocess.run(
        [
            str(FFPROBE),
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,width,height,avg_frame_rate,nb_read_frames,has_b_frames,pix_fmt",
            "-of",
            "json",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stderr == ""
    (stream,) = json.loads(probe.stdout)["streams"]
    assert stream == {
        "codec_name": "h264",
        "width": 160,
        "height": 90,
        "pix_fmt": "yuv420p",
        "has_b_frames": 0,
        "avg_frame_rate": "10/1",
        "nb_read_frames": "40",
    }


def test_rendering_is_deterministic(renders: Path) -> None:
    settings: dict[str, Any] = {"width": 160, "height": 90, "fps": 10, "duration": 4, "seed": 5}
    one = render_scene("quiet_park", **settings, out=renders / "p1.mp4")
    two = render_scene("quiet_park", **settings, out=renders / "p2.mp4")
    assert one.read_bytes() == two.read_bytes()
    other = render_scene("quiet_park", **{**settings, "seed": 6}, out=renders / "p3.mp4")
    assert one.read_bytes() != other.read_bytes()


def test_stream_url_renders_once_and_then_reuses_the_file(tmp_path: Path) -> None:
    vendor = SimVendor()
    options = {"scene": "landfill", "width": 160, "height": 90, "fps": 10, "duration": 4}
    url = vendor.stream_url(options, tmp_path)
    assert urlsplit(url).scheme == "file"
    path = Path(url2pathname(urlsplit(url).path))
    assert path.parent == (tmp_path / "plugins" / "sim").resolve()
    assert path.name == cache_name("landfill", width=160, height=90, fps=10, duration=4, seed=0)
    assert path.name.startswith("landfill-")
    made = path.stat().st_mtime_ns
    assert vendor.stream_url(options, tmp_path) == url
    assert SimVendor().stream_url(dict(options), tmp_path) == url
    assert path.stat().st_mtime_ns == made
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no partial files left
    with av.open(url) as container:  # FFmpeg opens the URL as the engine will
        assert container.streams.video[0].frames == 40
    changed = vendor.stream_url({**options, "seed": 1}, tmp_path)
    assert changed != url


# -- scripted happenings, checked on the decoded video ----------------------------------------


def test_goes_dark_is_black_exactly_while_the_truth_says(renders: Path) -> None:
    settings: dict[str, Any] = {"width": 192, "height": 108, "fps": 15, "duration": 8}
    out = render_scene("goes_dark", **settings, out=renders / "dark.mp4")
    dark = only(make_scene("goes_dark", **settings).happenings(), "dark")
    assert (dark.start_s, dark.end_s) == pytest.approx((3.2, 5.6))
    frames = decode_luma(out)
    assert len(frames) == 120
    for index, picture in enumerate(frames):
        if dark.covers(index / 15):
            assert picture.mean() < 25 and picture.std() < 5, index
        else:
            assert picture.mean() > 60 and picture.std() > 25, index


def test_frozen_decodes_the_same_picture_while_the_stream_flows(renders: Path) -> None:
    settings: dict[str, Any] = {"width": 192, "height": 108, "fps": 15, "duration": 8}
    out = render_scene("frozen", **settings, out=renders / "frozen.mp4")
    frozen = only(make_scene("frozen", **settings).happenings(), "frozen")
    assert (frozen.start_s, frozen.end_s) == (4.0, 6.0)
    frames = decode_luma(out)
    assert len(frames) == 120
    inside = [i for i in range(120) if frozen.covers(i / 15)]
    assert inside == list(range(60, 90))
    assert all(np.array_equal(frames[i], frames[60]) for i in inside)
    outside = [i for i in range(1, 120) if i not in inside]
    assert all(not np.array_equal(frames[i], frames[i - 1]) for i in outside)


def test_the_night_car_moves_into_its_box_and_then_stands_still(renders: Path) -> None:
    fps = 15
    settings: dict[str, Any] = {"width": 320, "height": 180, "fps": fps, "duration": 12}
    out = render_scene("road_night_stop", **settings, out=renders / "night.mp4")
    truth = make_scene("road_night_stop", **settings).happenings()
    stopped = only(truth, "vehicle_stopped")
    arriving = only(truth, "vehicle_arriving")
    assert stopped.start_s == pytest.approx(4.0)
    assert stopped.end_s == pytest.approx(12.0)
    assert arriving.end_s == stopped.start_s
    x0, y0, x1, y1 = stopped.pixels(320, 180)
    frames = [f[y0:y1, x0:x1].astype(np.int16) for f in decode_luma(out)]

    def change(a_s: float, b_s: float) -> float:
        return float(np.abs(frames[round(a_s * fps)] - frames[round(b_s * fps)]).mean())

    stop = stopped.start_s
    moving = change(stop - 1.6, stop - 0.4)
    standing = [change(stop + 0.5, t) for t in (6.0, 8.0, 10.0, 11.9)]
    assert moving > 8
    assert max(standing) < 4.5  # coding noise of a dark picture, nothing moving
    assert moving > 3 * max(standing)
    assert frames[round((stop + 1) * fps)].mean() > frames[0].mean() + 5  # the car is there


def test_engine_options_are_left_to_the_engine() -> None:
    options = {"scene": "market", "health": {"window": 5}, "zones": [], "activity": {}}
    assert SimVendor().check_camera(camera(options=options)) == []


# -- read as the stream engine reads it --------------------------------------------------------


async def test_the_engine_reads_a_sim_camera_live_and_looped(tmp_path: Path) -> None:
    from hub.streams.units import AccessUnit

    options = {"width": 160, "height": 90, "fps": 15, "duration": 2}
    record = SimpleNamespace(id="alun-alun", url="sim://busy_square", options=options)
    source = SimVendor().stream_source(cast("CameraRecord", record), None, tmp_path)
    units: list[AccessUnit] = []
    enough = asyncio.Event()

    def sink(unit: AccessUnit) -> None:
        units.append(unit)
        if len(units) == 36:
            enough.set()

    info = await source.open()
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 160, 90, 15.0)
    assert info.transport == "file"
    reading = asyncio.create_task(source.run(sink))
    try:
        await asyncio.wait_for(enough.wait(), timeout=10)
    finally:
        await source.close()
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
    assert [i for i, unit in enumerate(units[:36]) if unit.keyframe] == [0, 30]  # looped at 30
    assert units[0].data.startswith(b"\x00\x00\x00\x01")
    pts = [unit.pts for unit in units[:36]]
    assert all(b - a == 6000 for a, b in zip(pts, pts[1:], strict=False))  # 90 kHz / 15 fps
    took = units[35].arrival - units[0].arrival
    assert 1.8 < took < 3.5  # paced like a live camera, not read as fast as possible
