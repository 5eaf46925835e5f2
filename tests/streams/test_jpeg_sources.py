"""JPEG cameras: MJPEG over multipart HTTP (AvSource) and polled snapshot URLs (JpegPollSource).

A local aiohttp camera serves real JPEGs of the test footage: a multipart MJPEG stream (with and
without Content-Length, behind basic or digest auth or none) and snapshot URLs behind basic or
digest auth. The last test runs both kinds through a real hub and its stream engine.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import logging
import re
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import pytest
from aiohttp import web

from hub.config import Config
from hub.runtime import Hub
from hub.streams.avsource import AvSource, open_source
from hub.streams.jpegsource import JpegPollSource
from hub.streams.pictures import KeyframeDecoder
from hub.streams.units import VIDEO_CLOCK, AccessUnit, PacketSource, SourceError, SourceFailure
from tests.test_running import free_port

USER = "pemantau"
PASSWORD = "Sandi-Jpeg-Rahasia-31"
REALM = "Kamera Pasar"
WIDTH, HEIGHT = 768, 432
CAMERA_NAME = "Pasar Kliwon Timur"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def footage_jpegs(video: Path, count: int = 12) -> list[bytes]:
    """The footage's first `count` pictures as JPEGs, encoded with PyAV."""
    encoder = av.CodecContext.create("mjpeg", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuvj420p"
    encoder.open()
    pictures = []
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            picture = frame.reformat(format="yuvj420p")
            picture.pts = None
            pictures.append(bytes(encoder.encode(picture)[0]))
            if len(pictures) == count:
                break
    return pictures


@pytest.fixture(scope="module")
def jpegs(car_video: Path) -> list[bytes]:
    return footage_jpegs(car_video)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@dataclass
class FakeCamera:
    """A JPEG camera on 127.0.0.1: what it serves, and what it saw."""

    pictures: list[bytes]
    fps: float = 10.0
    requests: dict[str, list[float]] = field(default_factory=dict)
    """Arrival times of the requests it answered with a picture, by path."""
    challenges: dict[str, int] = field(default_factory=dict)
    """401 answers given, by path."""
    nonces: set[str] = field(default_factory=set)
    base: str = ""

    def url(self, path: str) -> str:
        return self.base + path

    def app(self) -> web.Application:
        app = web.Application()
        routes = {
            "/video.mjpg": self._mjpeg(None),
            "/basic/video.mjpg": self._mjpeg("basic"),
            "/digest/video.mjpg": self._mjpeg("digest"),
            "/basic/snapshot.jpg": self._snapshot("basic"),
            "/digest/snapshot.jpg": self._snapshot("digest"),
            "/snapshot.jpg": self._snapshot(None),
            "/same.jpg": self._same,
            "/login.html": self._login,
            "/flaky.jpg": self._flaky,
        }
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        return app

    # -- auth

    def _authorized(self, request: web.Request, scheme: str | None) -> bool:
        header = request.headers.get("Authorization", "")
        if scheme is None:
            return True
        if scheme == "basic":
            token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            return header == f"Basic {token}"
        if not header.startswith("Digest "):
            return False
        fields = {
            key: quoted or bare
            for key, quoted, bare in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header[7:])
        }
        if fields.get("username") != USER or fields.get("nonce") not in self.nonces:
            return False
        ha1 = _md5(f"{USER}:{REALM}:{PASSWORD}")
        ha2 = _md5(f"{request.method}:{fields.get('uri')}")
        parts = [ha1, fields["nonce"], fields.get("nc"), fields.get("cnonce"), "auth", ha2]
        return fields.get("response") == _md5(":".join(str(part) for part in parts))

    def _refuse(self, request: web.Request, scheme: str) -> web.Response:
        self.challenges[request.path] = self.challenges.get(request.path, 0) + 1
        if scheme == "basic":
            challenge = f'Basic realm="{REALM}"'
        else:
            nonce = secrets.token_hex(16)
            self.nonces.add(nonce)
            challenge = f'Digest realm="{REALM}", nonce="{nonce}", qop="auth", algorithm=MD5'
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    def _seen(self, request: web.Request) -> int:
        times = self.requests.setdefault(request.path, [])
        times.append(time.monotonic())
        return len(times) - 1

    # -- routes

    def _mjpeg(self, scheme: str | None) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            if scheme is not None and not self._authorized(request, scheme):
                return self._refuse(request, scheme)
            self._seen(request)
            with_length = request.query.get("framing") != "no-length"
            response = web.StreamResponse(
                headers={"Content-Type": "multipart/x-mixed-replace; boundary=pantauframe"}
            )
            await response.prepare(request)
            index = 0
            try:
                while True:
                    jpeg = self.pictures[index % len(self.pictures)]
                    index += 1
                    length = f"Content-Length: {len(jpeg)}\r\n" if with_length else ""
                    head = f"--pantauframe\r\nContent-Type: image/jpeg\r\n{length}\r\n"
                    part = head.encode() + jpeg + b"\r\n"
                    for at in range(0, len(part), 4096):  # in pieces, as a network gives them
                        await response.write(part[at : at + 4096])
                    await asyncio.sleep(1 / self.fps)
            except ConnectionResetError:  # the viewer left
                pass
            return response

        return handler

    def _snapshot(self, scheme: str | None) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            if scheme is not None and not self._authorized(request, scheme):
                return self._refuse(request, scheme)
            index = self._seen(request)
            jpeg = self.pictures[index % len(self.pictures)]
            return web.Response(body=jpeg, content_type="image/jpeg")

        return handler

    async def _same(self, request: web.Request) -> web.StreamResponse:
        self._seen(request)
        return web.Response(body=self.pictures[0], content_type="image/jpeg")

    async def _login(self, request: web.Request) -> web.StreamResponse:
        self._seen(request)
        return _login_page()

    async def _flaky(self, request: web.Request) -> web.StreamResponse:
        """A picture, then a login page, then pictures again."""
        index = self._seen(request)
        if index == 1:
            return _login_page()
        return web.Response(
            body=self.pictures[index % len(self.pictures)], content_type="image/jpeg"
        )


def _login_page() -> web.Response:
    return web.Response(text="<html><body>Please log in</body></html>", content_type="text/html")


@asynccontextmanager
async def serving(camera: FakeCamera) -> AsyncIterator[FakeCamera]:
    runner = web.AppRunner(camera.app(), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    camera.base = f"http://127.0.0.1:{port}"
    try:
        yield camera
    finally:
        await runner.cleanup()


@pytest.fixture
async def camera(jpegs: list[bytes]) -> AsyncIterator[FakeCamera]:
    async with serving(FakeCamera(jpegs)) as running:
        yield running


async def collect(source: PacketSource, count: int, within: float = 10.0) -> list[AccessUnit]:
    """Run an opened `source` until `count` units came, then cancel it; the units."""
    units: list[AccessUnit] = []
    enough = asyncio.Event()

    def sink(unit: AccessUnit) -> None:
        units.append(unit)
        if len(units) >= count:
            enough.set()

    task = asyncio.create_task(source.run(sink))
    waiter = asyncio.create_task(enough.wait())
    try:
        await asyncio.wait({task, waiter}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        if task.done() and len(units) < count:
            task.result()  # the source's own error says more than a short count
    finally:
        for pending in (task, waiter):
            pending.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
    assert len(units) >= count, f"{len(units)} units in {within} s"
    return units[:count]


def picture_size(jpeg: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(jpeg), "r") as picture:
        frame = next(picture.decode(video=0))
        return frame.width, frame.height


async def eventually(check: Callable[[], bool], within: float) -> None:
    """Return once `check()` holds, or after `within` seconds (the caller asserts)."""
    for _ in range(round(within / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)


# -- MJPEG over multipart HTTP, through AvSource


@pytest.mark.parametrize("framing", ["length", "no-length"])
async def test_mjpeg_stream_as_jpeg_keyframes(camera: FakeCamera, framing: str) -> None:
    source = open_source(camera.url(f"/video.mjpg?framing={framing}"))
    assert isinstance(source, AvSource)
    try:
        info = await source.open()
        units = await collect(source, 8)
    finally:
        await source.close()
    assert (info.codec, info.width, info.height) == ("mjpeg", WIDTH, HEIGHT)
    assert info.transport == "http" and info.extradata == b""
    assert info.fps is None  # the multipart stream does not say; FFmpeg's 25 would be a guess
    assert all(unit.keyframe for unit in units)
    assert [unit.data for unit in units] == camera.pictures[:8]  # whole JPEGs, byte for byte
    decoder = KeyframeDecoder(info, "pasar")
    for unit in units:
        frame = decoder.decode(unit)
        assert frame is not None and (frame.width, frame.height) == (WIDTH, HEIGHT)
    # timed by arrival at about 10 fps, not by FFmpeg's assumed 25 fps
    steps = [(b.pts - a.pts) / VIDEO_CLOCK for a, b in zip(units[1:], units[2:], strict=False)]
    assert 0.05 < sum(steps) / len(steps) < 0.3


@pytest.mark.parametrize("scheme", ["basic", "digest"])
async def test_mjpeg_with_credentials_never_shown(
    camera: FakeCamera, scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = camera.url(f"/{scheme}/video.mjpg")
    source = open_source(url, USER, PASSWORD)
    try:
        info = await source.open()
        units = await collect(source, 3)
    finally:
        await source.close()
    assert info.codec == "mjpeg" and all(unit.keyframe for unit in units)
    assert isinstance(source, AvSource)
    assert PASSWORD not in repr(source) + source.url + caplog.text

    wrong = "Bukan-Sandi-Ini-99"
    refused = open_source(url, USER, wrong)
    with pytest.raises(SourceError) as caught:
        await refused.open()
    await refused.close()
    assert caught.value.kind is SourceFailure.AUTH
    assert wrong not in str(caught.value) + caplog.text


async def test_a_snapshot_url_is_not_a_stream(camera: FakeCamera) -> None:
    source = open_source(camera.url("/same.jpg"))
    with pytest.raises(SourceError) as caught:
        await source.open()
    await source.close()
    assert caught.value.kind is SourceFailure.UNSUPPORTED
    assert "mjpeg" in str(caught.value)


# -- snapshot URLs, through JpegPollSource


async def test_polls_at_its_interval_with_basic_auth(
    camera: FakeCamera, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    source = JpegPollSource(
        camera.url("/basic/snapshot.jpg"),
        username=USER,
        password=PASSWORD,
        camera=CAMERA_NAME,
        interval=0.3,
    )
    try:
        info = await source.open()
        units = await collect(source, 6)
    finally:
        await source.close()
    assert (info.codec, info.width, info.height) == ("mjpeg", WIDTH, HEIGHT)
    assert info.fps == pytest.approx(1 / 0.3) and info.transport == "http/poll"
    assert all(unit.keyframe for unit in units)
    assert [unit.data for unit in units] == camera.pictures[:6]
    assert picture_size(units[-1].data) == (WIDTH, HEIGHT)
    # measured at the camera: one request every 0.3 s
    served = camera.requests["/basic/snapshot.jpg"][:6]
    gaps = [b - a for a, b in zip(served, served[1:], strict=False)]
    assert 0.28 <= sum(gaps) / len(gaps) <= 0.36 and all(0.2 <= gap <= 0.6 for gap in gaps), gaps
    # one challenge, then basic on every request
    assert camera.challenges["/basic/snapshot.jpg"] == 1
    pts_gaps = [(b.pts - a.pts) / VIDEO_CLOCK for a, b in zip(units, units[1:], strict=False)]
    assert all(0.2 <= gap <= 0.5 for gap in pts_gaps), pts_gaps
    assert source.bytes_received >= sum(len(jpeg) for jpeg in camera.pictures[:6])
    assert PASSWORD not in repr(source) + source.url + caplog.text


async def test_digest_auth_asks_once(camera: FakeCamera) -> None:
    source = JpegPollSource(
        camera.url("/digest/snapshot.jpg"), username=USER, password=PASSWORD, interval=0.2
    )
    try:
        await source.open()
        units = await collect(source, 4)
    finally:
        await source.close()
    assert [unit.data for unit in units] == camera.pictures[:4]
    assert camera.challenges["/digest/snapshot.jpg"] == 1  # later requests answer it unasked


@pytest.mark.parametrize("scheme", ["basic", "digest"])
async def test_wrong_password_is_an_auth_failure(
    camera: FakeCamera, scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Sandi-Yang-Salah-42"
    source = JpegPollSource(camera.url(f"/{scheme}/snapshot.jpg"), username=USER, password=wrong)
    with pytest.raises(SourceError) as caught:
        await source.open()
    await source.close()
    assert caught.value.kind is SourceFailure.AUTH
    assert "refused user 'pemantau'" in str(caught.value)
    assert wrong not in str(caught.value) + caplog.text


async def test_the_same_picture_is_still_a_unit(camera: FakeCamera) -> None:
    source = JpegPollSource(camera.url("/same.jpg"), interval=0.1)
    try:
        await source.open()
        units = await collect(source, 4)
    finally:
        await source.close()
    assert {unit.data for unit in units} == {camera.pictures[0]}
    assert [u.pts for u in units] == sorted({u.pts for u in units})  # rising, all distinct


async def test_an_answer_that_is_not_a_jpeg_is_skipped_and_logged(
    camera: FakeCamera, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    source = JpegPollSource(camera.url("/flaky.jpg"), camera=CAMERA_NAME, interval=0.1)
    try:
        await source.open()
        units = await collect(source, 3)
    finally:
        await source.close()
    pictures = camera.pictures
    assert [unit.data for unit in units] == [pictures[0], pictures[2], pictures[3]]
    skipped = [r for r in caplog.records if "text/html" in r.getMessage()]
    assert len(skipped) == 1 and CAMERA_NAME in skipped[0].getMessage()
    assert skipped[0].levelno == logging.WARNING


async def test_only_answers_that_are_not_jpegs_end_the_source(
    camera: FakeCamera, caplog: pytest.LogCaptureFixture
) -> None:
    source = JpegPollSource(camera.url("/login.html"), camera=CAMERA_NAME)
    with pytest.raises(SourceError) as caught:
        await source.open()
    await source.close()
    assert caught.value.kind is SourceFailure.PROTOCOL
    assert CAMERA_NAME in caplog.text and "Please log in" in caplog.text


async def test_server_down_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}/snapshot.jpg"
    source = JpegPollSource(url, username=USER, password=PASSWORD)
    with pytest.raises(SourceError) as caught:
        await source.open()
    await source.close()
    assert caught.value.kind is SourceFailure.UNREACHABLE
    assert str(caught.value).startswith(url + ": ") and PASSWORD not in str(caught.value)


async def test_a_camera_that_dies_ends_the_source_after_failures_in_a_row(
    jpegs: list[bytes],
) -> None:
    async with serving(FakeCamera(jpegs)) as camera:
        source = JpegPollSource(camera.url("/snapshot.jpg"), interval=0.1, timeout=1.0)
        await source.open()
        units: list[AccessUnit] = []
        task = asyncio.create_task(source.run(units.append))
        await asyncio.sleep(0.35)
    died = time.monotonic()
    try:
        with pytest.raises(SourceError) as caught:
            await asyncio.wait_for(task, 5)
    finally:
        await source.close()
    assert caught.value.kind is SourceFailure.UNREACHABLE
    assert "3 polls in a row failed" in str(caught.value)
    assert time.monotonic() - died < 2.0
    assert len(units) >= 3


async def test_close_ends_run(camera: FakeCamera) -> None:
    source = JpegPollSource(camera.url("/snapshot.jpg"), interval=5.0)
    await source.open()
    task = asyncio.create_task(source.run(lambda unit: None))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await source.close()
    await asyncio.wait_for(task, 1.0)
    assert time.monotonic() - started < 0.5
    await source.close()


# -- through the real engine


def city(tmp_path: Path, cameras: list[dict[str, Any]]) -> Config:
    return Config.model_validate(
        {
            "hub": {"data_dir": str(tmp_path / "var"), "streams": {"keyframe_interval": 1.0}},
            "owners": [{"id": "dishub", "name": "Dishub", "kind": "opd"}],
            "cameras": [{"owner": "dishub", "vendor": "rtsp", **c} for c in cameras],
        }
    )


async def test_engine_watches_an_mjpeg_and_a_snapshot_camera(
    camera: FakeCamera, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = city(
        tmp_path,
        [
            {"id": "pasar", "name": "Pasar", "url": camera.url("/video.mjpg")},
            {
                "id": "terminal",
                "name": "Terminal",
                "url": camera.url("/digest/snapshot.jpg"),
                "username": USER,
                "password": PASSWORD,
                "options": {"snapshot_interval": 0.5},
            },
        ],
    )
    hub = Hub(config)
    await hub.start()
    try:
        assert hub.camera_problems() == []
        engine = hub.streams
        assert engine is not None
        both = ("pasar", "terminal")
        await eventually(
            lambda: (
                set(engine.health().values()) == {"online"}
                and all(engine.snapshot(cid) for cid in both)
            ),
            within=6.0,
        )
        assert engine.health() == {"pasar": "online", "terminal": "online"}
        for cid in both:
            shot = engine.snapshot(cid)
            assert shot is not None, cid
            assert (shot.width, shot.height) == (WIDTH, HEIGHT)
            assert picture_size(shot.jpeg) == (640, 360)  # scaled to snapshot_width
        assert engine.workers["terminal"].info is not None
        assert engine.workers["terminal"].info.transport == "http/poll"

        # T3: a viewer's lease decodes every JPEG of the stream
        worker = engine.workers["pasar"]
        engine.lease("pasar", "viewer", ttl=30.0)
        await eventually(lambda: worker._t3 is not None and worker._t3.decoder.decoded > 0, 3.0)
        assert worker._t3 is not None and worker._t3.decoder.decoded > 0
        assert worker._t3.decoder.errors == 0

        clip = await engine.clip("pasar", pre=1.0, post=1.0)
        probe = await asyncio.to_thread(
            subprocess.run,
            ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json",
             str(clip.path)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        stream = json.loads(probe.stdout)["streams"][0]
        assert stream["codec_name"] == "mjpeg" and (stream["width"], stream["height"]) == (
            WIDTH,
            HEIGHT,
        )
        assert int(stream["nb_read_frames"]) == clip.frames >= 10
    finally:
        await hub.stop()
    assert PASSWORD not in caplog.text
