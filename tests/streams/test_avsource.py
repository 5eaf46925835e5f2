"""AvSource: the PyAV demuxer path for files and HTTP, paced and looped like a camera."""

from __future__ import annotations

import asyncio
import base64
import http.server
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from hub.streams.avsource import AvSource, open_source
from hub.streams.h264 import START_CODE, nal_type, split_annexb
from hub.streams.rtsp import RtspSource
from hub.streams.units import AccessUnit, SourceError, SourceFailure, StreamInfo

FRAME = 90_000 * 2 // 25  # 12.5 fps in 90 kHz ticks
FOOTAGE_UNITS = 377
FOOTAGE_KEYS = 7


async def run_until(source: AvSource, count: int) -> list[AccessUnit]:
    """Run `source` until `count` units arrived (or it ended), then cancel; the units."""
    units: list[AccessUnit] = []
    enough = asyncio.Event()

    def sink(unit: AccessUnit) -> None:
        units.append(unit)
        if len(units) >= count:
            enough.set()

    task = asyncio.create_task(source.run(sink))
    waiter = asyncio.create_task(enough.wait())
    try:
        await asyncio.wait({task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task.done() and task.exception() is not None and len(units) < count:
            task.result()
    finally:
        for pending in (task, waiter):
            pending.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
    return units[:count]


def decode(info: StreamInfo, units: list[AccessUnit], extradata: bool = True) -> int:
    decoder = av.CodecContext.create(info.codec, "r")
    assert isinstance(decoder, av.VideoCodecContext)
    if extradata:
        decoder.extradata = info.extradata
    pictures = 0
    for unit in units:
        for frame in decoder.decode(av.Packet(unit.data)):
            assert (frame.width, frame.height) == (info.width, info.height)
            pictures += 1
    return pictures + len(decoder.decode(None))


async def test_open_describes_the_file(car_video: Path) -> None:
    source = AvSource(car_video)
    info = await source.open()
    await source.close()
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 768, 432, 12.5)
    assert info.transport == "file"
    assert [nal_type("h264", nal) for nal in split_annexb(info.extradata)] == [7, 8]
    assert info.extradata.startswith(START_CODE)


async def test_whole_file_as_annexb_units_that_decode(car_video: Path) -> None:
    source = AvSource(car_video)
    info = await source.open()
    units: list[AccessUnit] = []
    with pytest.raises(SourceError) as caught:
        await source.run(units.append)
    await source.close()
    assert caught.value.kind == SourceFailure.ENDED
    assert len(units) == FOOTAGE_UNITS == source.units
    assert sum(unit.keyframe for unit in units) == FOOTAGE_KEYS
    assert all(unit.data.startswith(START_CODE) for unit in units)
    assert [b.pts - a.pts for a, b in zip(units, units[1:], strict=False)] == [FRAME] * (
        FOOTAGE_UNITS - 1
    )
    # Read as stored; the units are larger by the parameter sets put before keyframes.
    assert 0 < source.bytes_received < sum(unit.size for unit in units)
    # MP4 stores length-prefixed NAL units; converted, the first GOP decodes.
    first_gop = units[: next(i for i, u in enumerate(units[1:], 1) if u.keyframe)]
    assert decode(info, first_gop) == len(first_gop)
    # Keyframes carry the parameter sets, so each decodes alone, without extradata.
    keys = [unit for unit in units if unit.keyframe]
    assert all(split_annexb(key.data)[0][0] & 0x1F == 7 for key in keys)
    assert decode(info, keys[-1:], extradata=False) == 1


async def test_paced_in_real_time(car_video: Path) -> None:
    source = AvSource(car_video, realtime=True)
    await source.open()
    try:
        units = await run_until(source, 25)
    finally:
        await source.close()
    assert len(units) == 25
    # 24 intervals of 80 ms
    assert 1.75 <= units[-1].arrival - units[0].arrival <= 2.3
    assert units[-1].pts - units[0].pts == 24 * FRAME


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory, car_video: Path) -> Path:
    """The first second of the footage (13 frames, one keyframe), as MP4."""
    path = tmp_path_factory.mktemp("clip") / "short.mp4"
    with av.open(str(car_video)) as source, av.open(str(path), "w") as target:
        video = source.streams.video[0]
        out = target.add_stream_from_template(video)
        for index, packet in enumerate(source.demux(video)):
            if index == 13 or not packet.size:
                break
            packet.stream = out
            target.mux(packet)
    return path


async def test_loops_with_timestamps_running_on(short_clip: Path) -> None:
    source = AvSource(short_clip, loop=True)
    await source.open()
    try:
        units = await run_until(source, 13 * 3 + 1)
    finally:
        await source.close()
    assert [unit.keyframe for unit in units[::13]] == [True] * 4
    assert sum(unit.keyframe for unit in units) == 4
    assert {b.pts - a.pts for a, b in zip(units, units[1:], strict=False)} == {FRAME}


async def test_loops_in_real_time(short_clip: Path) -> None:
    source = AvSource(short_clip, loop=True, realtime=True)
    await source.open()
    try:
        units = await run_until(source, 25)
    finally:
        await source.close()
    assert 1.75 <= units[-1].arrival - units[0].arrival <= 2.3
    assert units[13].keyframe


async def test_missing_file() -> None:
    with pytest.raises(SourceError) as caught:
        await AvSource("/nonexistent/camera.mp4").open()
    assert caught.value.kind == SourceFailure.UNREACHABLE
    assert str(caught.value).startswith("/nonexistent/camera.mp4: ")


async def test_not_a_video(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError) as caught:
        await AvSource(junk).open()
    assert caught.value.kind == SourceFailure.PROTOCOL


async def test_other_codecs_are_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "mjpeg.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame.reformat(format="yuvj420p")))
        container.mux(stream.encode(None))
    with pytest.raises(SourceError) as caught:
        await AvSource(path).open()
    assert caught.value.kind == SourceFailure.UNSUPPORTED
    assert "mjpeg" in str(caught.value)


async def test_cancelling_and_closing(car_video: Path) -> None:
    source = AvSource(car_video, realtime=True, loop=True)
    await source.open()
    task = asyncio.create_task(source.run(lambda unit: None))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    started = time.monotonic()
    await source.close()
    await source.close()
    assert time.monotonic() - started < 1.0


async def test_a_sink_that_raises_stops_run(car_video: Path) -> None:
    def broken(unit: AccessUnit) -> None:
        raise ZeroDivisionError("sink bug")

    source = AvSource(car_video)
    await source.open()
    with pytest.raises(ZeroDivisionError):
        await source.run(broken)
    await source.close()


# -- over HTTP, from an MPEG-TS (Annex B already), behind Basic auth

HTTP_USER, HTTP_PASSWORD = "viewer", "Sandi-Http-4242"


@pytest.fixture(scope="module")
def transport_stream(tmp_path_factory: pytest.TempPathFactory, car_video: Path) -> Path:
    path = tmp_path_factory.mktemp("ts") / "camera.ts"
    with av.open(str(car_video)) as source, av.open(str(path), "w", format="mpegts") as target:
        video = source.streams.video[0]
        out = target.add_stream_from_template(video)
        for index, packet in enumerate(source.demux(video)):
            if index == 40 or not packet.size:
                break
            packet.stream = out
            target.mux(packet)
    return path


@pytest.fixture
def http_camera(transport_stream: Path) -> Iterator[str]:
    """An HTTP server giving the stream to the right Basic credentials; its URL."""
    body = transport_stream.read_bytes()
    expected = "Basic " + base64.b64encode(f"{HTTP_USER}:{HTTP_PASSWORD}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "video/mp2t")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/camera.ts"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_http_with_credentials(http_camera: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    source = open_source(http_camera, HTTP_USER, HTTP_PASSWORD)
    assert isinstance(source, AvSource)
    info = await source.open()
    units: list[AccessUnit] = []
    with pytest.raises(SourceError):
        await source.run(units.append)
    await source.close()
    assert (info.codec, info.width, info.transport) == ("h264", 768, "http")
    assert len(units) == 40 and units[0].keyframe
    assert decode(info, units) == 40
    assert HTTP_PASSWORD not in repr(source) + source.url + caplog.text


async def test_http_wrong_credentials(http_camera: str, caplog: pytest.LogCaptureFixture) -> None:
    wrong = "Salah-Sandi-Http"
    with pytest.raises(SourceError) as caught:
        await AvSource(http_camera, username=HTTP_USER, password=wrong).open()
    assert caught.value.kind == SourceFailure.AUTH
    assert str(caught.value).startswith(http_camera + ": ")
    assert wrong not in str(caught.value) + caplog.text


def test_open_source_chooses_by_scheme(car_video: Path) -> None:
    rtsp = open_source("rtsp://cam.local/live", "admin", "secret", read_timeout=3.0)
    assert isinstance(rtsp, RtspSource)
    assert isinstance(open_source("RTSPS://cam.local/live"), RtspSource)
    assert isinstance(open_source(str(car_video), realtime=True), AvSource)
    assert isinstance(open_source("http://cam.local/video.ts"), AvSource)
