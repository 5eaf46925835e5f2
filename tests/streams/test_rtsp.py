"""RtspSource against a real GStreamer RTSP server, and against a fake camera that misbehaves."""

from __future__ import annotations

import asyncio
import datetime
import gc
import hashlib
import json
import logging
import random
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import av
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.streams.h264 import START_CODE, split_annexb
from hub.streams.rtsp import (
    RtspSource,
    RtspUrl,
    digest_response,
    parse_challenges,
    parse_sdp,
    resolve_control,
)
from hub.streams.units import AccessUnit, SourceError, SourceFailure, StreamInfo
from tests.streams.conftest import RtspTestServer
from tests.streams.fakes import (
    PPS,
    X264_720P_SPS,
    FakeCamera,
    answer,
    handshake,
    interleaved,
    rtp,
    sdp,
    serve_requests,
)


async def collect(source: RtspSource, seconds: float) -> list[AccessUnit]:
    """Run `source` for `seconds` after its first unit, then cancel it; the units."""
    units: list[AccessUnit] = []
    first = asyncio.Event()

    def sink(unit: AccessUnit) -> None:
        units.append(unit)
        first.set()

    task = asyncio.create_task(source.run(sink))
    waiter = asyncio.create_task(first.wait())
    try:
        await asyncio.wait({task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises what stopped it
        assert units, "no access unit within 10 s"
        await asyncio.sleep(seconds)
    finally:
        for pending in (task, waiter):
            pending.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
    return units


def decode(info: StreamInfo, units: list[AccessUnit]) -> list[tuple[int, int]]:
    """Decode the units from the first key on, as the engine would; the picture sizes."""
    decoder = av.CodecContext.create(info.codec, "r")
    assert isinstance(decoder, av.VideoCodecContext)
    decoder.extradata = info.extradata
    start = next(i for i, unit in enumerate(units) if unit.keyframe)
    sizes = []
    for unit in units[start:]:
        for frame in decoder.decode(av.Packet(unit.data)):
            sizes.append((frame.width, frame.height))
    return sizes


async def ffprobe(url: str) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        "ffprobe",
        "-v",
        "error",
        "-rtsp_transport",
        "tcp",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=codec_name,width,height,r_frame_rate",
        "-of",
        "json",
        url,
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 20)
    stream: dict[str, object] = json.loads(output)["streams"][0]
    return stream


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


# -- against GStreamer


async def test_open_agrees_with_the_server_and_ffprobe(rtsp_server: RtspTestServer) -> None:
    url = rtsp_server.add_mount(width=352, height=288, fps=15, gop=1)
    source = RtspSource(url)
    try:
        info = await source.open()
    finally:
        await source.close()
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 352, 288, 15.0)
    assert info.transport == "rtsp/tcp"
    assert [nal[0] & 0x1F for nal in split_annexb(info.extradata)] == [7, 8]
    assert info.extradata.startswith(START_CODE)
    probed = await ffprobe(url)
    assert probed["codec_name"] == info.codec
    assert (probed["width"], probed["height"]) == (info.width, info.height)
    assert probed["r_frame_rate"] == "15/1"


async def test_units_keyframes_and_pictures(rtsp_server: RtspTestServer) -> None:
    url = rtsp_server.add_mount(width=320, height=240, fps=15, gop=1)
    source = RtspSource(url)
    info = await source.open()
    try:
        started = time.monotonic()
        units = await collect(source, 3.0)
        elapsed = time.monotonic() - started
    finally:
        await source.close()
    assert 15 * (elapsed - 0.6) <= len(units) <= 15 * (elapsed + 0.4)
    keys = [i for i, unit in enumerate(units) if unit.keyframe]
    assert len(keys) >= 2
    assert {b - a for a, b in zip(keys, keys[1:], strict=False)} == {15}  # exactly every GOP
    steps = {b.pts - a.pts for a, b in zip(units, units[1:], strict=False)}
    assert steps == {90_000 // 15}
    assert all(unit.data.startswith(START_CODE) for unit in units)
    assert all(a.arrival <= b.arrival for a, b in zip(units, units[1:], strict=False))
    assert decode(info, units) == [(320, 240)] * (len(units) - keys[0])
    assert source.units == len(units)
    assert source.lost_packets == 0
    assert source.rtp_packets >= len(units)
    assert source.bytes_received > sum(unit.size for unit in units)


async def test_hevc(rtsp_server: RtspTestServer) -> None:
    url = rtsp_server.add_mount(codec="h265", width=320, height=240, fps=10, gop=1)
    source = RtspSource(url)
    info = await source.open()
    try:
        units = await collect(source, 2.2)
    finally:
        await source.close()
    assert (info.codec, info.width, info.height, info.fps) == ("hevc", 320, 240, 10.0)
    assert [(nal[0] >> 1) & 0x3F for nal in split_annexb(info.extradata)] == [32, 33, 34]
    keys = [i for i, unit in enumerate(units) if unit.keyframe]
    assert {b - a for a, b in zip(keys, keys[1:], strict=False)} == {10}
    assert decode(info, units) == [(320, 240)] * (len(units) - keys[0])


async def test_camera_like_stream(rtsp_server: RtspTestServer, car_video: Path) -> None:
    """The footage decoded and re-encoded like a 720p camera: SPS size, first key decodes."""
    url = rtsp_server.add_mount(
        kind="camera", path=car_video, width=1280, height=720, fps=15, bitrate=2000, gop=2
    )
    source = RtspSource(url)
    info = await source.open()
    try:
        units = await collect(source, 0.3)
    finally:
        await source.close()
    assert (info.width, info.height, info.fps) == (1280, 720, 15.0)
    assert (1280, 720) in decode(info, units)


async def test_recorded_h264_as_is(rtsp_server: RtspTestServer, car_video: Path) -> None:
    source = RtspSource(rtsp_server.add_mount(kind="file", path=car_video))
    try:
        info = await source.open()
    finally:
        await source.close()
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 768, 432, 12.5)


@pytest.fixture(params=["digest", "basic"])
def auth_url(request: pytest.FixtureRequest, rtsp_server: RtspTestServer) -> Iterator[str]:
    rtsp_server.set_auth(request.param)
    try:
        yield rtsp_server.add_mount(auth=1)
    finally:
        rtsp_server.set_auth("both")


async def test_credentials_are_accepted(
    rtsp_server: RtspTestServer, auth_url: str, all_logs: pytest.LogCaptureFixture
) -> None:
    source = RtspSource(auth_url, username=rtsp_server.user, password=rtsp_server.password)
    await source.open()
    try:
        units = await collect(source, 0.2)
    finally:
        await source.close()
    assert units
    assert rtsp_server.password not in repr(source) + source.url + all_logs.text


async def test_credentials_in_the_url(
    rtsp_server: RtspTestServer, all_logs: pytest.LogCaptureFixture
) -> None:
    url = rtsp_server.add_mount(auth=1)
    password = rtsp_server.password
    with_userinfo = url.replace("rtsp://", f"rtsp://{rtsp_server.user}:{password}@")
    source = RtspSource(with_userinfo)
    try:
        info = await source.open()
    finally:
        await source.close()
    assert info.width == 320
    assert source.url == url and password not in repr(source) + all_logs.text


async def test_wrong_password(
    rtsp_server: RtspTestServer, auth_url: str, all_logs: pytest.LogCaptureFixture
) -> None:
    wrong = "Salah-Sandi-1234"
    source = RtspSource(auth_url, username=rtsp_server.user, password=wrong)
    with pytest.raises(SourceError) as caught:
        await source.open()
    await source.close()
    assert caught.value.kind == SourceFailure.AUTH
    assert str(caught.value) == f"{auth_url}: the camera refused the credentials (401)"
    assert wrong not in str(caught.value) + repr(caught.value) + all_logs.text


async def test_no_credentials(rtsp_server: RtspTestServer) -> None:
    source = RtspSource(rtsp_server.add_mount(auth=1))
    with pytest.raises(SourceError) as caught:
        await source.open()
    assert caught.value.kind == SourceFailure.AUTH
    assert "none are configured" in str(caught.value)


async def test_camera_dies_mid_stream(rtsp_server: RtspTestServer) -> None:
    url = rtsp_server.add_mount(name="dying")
    source = RtspSource(url, read_timeout=3.0)
    await source.open()
    units: list[AccessUnit] = []
    task = asyncio.create_task(source.run(units.append))
    try:
        await asyncio.sleep(1.0)
        assert units
        await asyncio.to_thread(rtsp_server.remove_mount, "dying")
        removed = time.monotonic()
        with pytest.raises(SourceError) as caught:
            await asyncio.wait_for(task, 5)
        assert time.monotonic() - removed < 3.0 + 1.0
        assert caught.value.kind in (SourceFailure.ENDED, SourceFailure.TIMEOUT)
    finally:
        task.cancel()
        await source.close()
    # The camera comes back.
    url = rtsp_server.add_mount(name="dying")
    source = RtspSource(url)
    try:
        assert (await source.open()).width == 320
    finally:
        await source.close()


async def test_cancelling_run_closes_cleanly(rtsp_server: RtspTestServer) -> None:
    source = RtspSource(rtsp_server.add_mount())
    await source.open()
    task = asyncio.create_task(source.run(lambda unit: None))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await source.close()
    await source.close()  # twice is fine
    gc.collect()  # an unclosed transport would warn here (warnings are errors)


# -- rtsps through a TLS proxy in front of the server


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "camera.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("camera.test")]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
async def tls_proxy(rtsp_server: RtspTestServer, tmp_path: Path) -> AsyncIterator[int]:
    """A TLS endpoint forwarding to the plain RTSP server; its port."""
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", rtsp_server.port
        )
        both = asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await both
        except asyncio.CancelledError:
            both.cancel()  # ended by the fixture (see FakeCamera._serve)
        finally:
            tasks.discard(task)

    server = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def test_rtsps(rtsp_server: RtspTestServer, tls_proxy: int) -> None:
    url = rtsp_server.add_mount(width=160, height=120)
    tls_url = url.replace(f"rtsp://127.0.0.1:{rtsp_server.port}", f"rtsps://127.0.0.1:{tls_proxy}")
    trusting = RtspSource(tls_url, verify_tls=False)
    info = await trusting.open()
    try:
        units = await collect(trusting, 0.2)
    finally:
        await trusting.close()
    assert (info.width, info.transport) == (160, "rtsps/tcp")
    assert units
    verifying = RtspSource(tls_url)
    with pytest.raises(SourceError) as caught:
        await verifying.open()
    assert caught.value.kind == SourceFailure.PROTOCOL
    assert "certificate" in str(caught.value)


# -- failures before any RTSP


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_connection_refused() -> None:
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        await RtspSource(f"rtsp://127.0.0.1:{_closed_port()}/x").open()
    assert caught.value.kind == SourceFailure.UNREACHABLE
    assert "refused" in str(caught.value)
    assert time.monotonic() - started < 1.0


async def test_unknown_host() -> None:
    with pytest.raises(SourceError) as caught:
        await RtspSource("rtsp://camera.invalid/stream", open_timeout=5).open()
    assert caught.value.kind in (SourceFailure.UNREACHABLE, SourceFailure.TIMEOUT)


async def test_silent_server_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: object) -> None:
        await reader.read(65536)
        await asyncio.sleep(30)

    async with FakeCamera(silent) as camera:
        started = time.monotonic()
        source = RtspSource(camera.url, open_timeout=0.5)
        with pytest.raises(SourceError) as caught:
            await source.open()
        await source.close()
    assert caught.value.kind == SourceFailure.TIMEOUT
    assert 0.5 <= time.monotonic() - started < 1.5


# -- a fake camera that misbehaves


GARBAGE_ANSWERS = [
    b"\x00\x01\x02garbage",
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    b"SSH-2.0-OpenSSH_9.2\r\n",
    b"RTSP/1.0 2xx OK\r\n\r\n",
    b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: many\r\n\r\n",
    b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n",
]


@pytest.mark.parametrize("garbage", GARBAGE_ANSWERS)
async def test_garbage_instead_of_an_answer(garbage: bytes) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: object) -> None:
        await reader.read(65536)
        writer.write(garbage)
        await writer.drain()
        await asyncio.sleep(30)

    async with FakeCamera(script) as camera:
        with pytest.raises(SourceError) as caught:
            await RtspSource(camera.url, open_timeout=2).open()
    assert caught.value.kind == SourceFailure.PROTOCOL


async def test_server_hangs_up_at_once() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: object) -> None:
        writer.close()

    async with FakeCamera(script) as camera:
        with pytest.raises(SourceError) as caught:
            await RtspSource(camera.url).open()
    assert caught.value.kind == SourceFailure.PROTOCOL
    assert "closed the connection" in str(caught.value)


async def test_describe_refused() -> None:
    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
    ) -> None:
        while (request := await camera.next_request(reader)) is not None:
            status = "404 Stream Not Found" if request.method == "DESCRIBE" else "200 OK"
            writer.write(answer(request, status))

    async with FakeCamera(script) as camera:
        with pytest.raises(SourceError) as caught:
            await RtspSource(camera.url).open()
    assert caught.value.kind == SourceFailure.PROTOCOL
    assert str(caught.value).endswith("DESCRIBE answered 404 Stream Not Found")


async def test_unsupported_codec() -> None:
    mjpeg = sdp(encoding="JPEG/90000", fmtp="x=1")

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
    ) -> None:
        await handshake(reader, writer, camera, description=mjpeg)

    async with FakeCamera(script) as camera:
        with pytest.raises(SourceError) as caught:
            await RtspSource(camera.url).open()
    assert caught.value.kind == SourceFailure.UNSUPPORTED
    assert "JPEG" in str(caught.value)


def _fu_a(nal: bytes, size: int) -> list[bytes]:
    """An H.264 NAL unit as FU-A payloads of `size` bytes."""
    body = nal[1:]
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    payloads = []
    for index, chunk in enumerate(chunks):
        flags = (0x80 if index == 0 else 0) | (0x40 if index == len(chunks) - 1 else 0)
        payloads.append(bytes([(nal[0] & 0xE0) | 28, flags | (nal[0] & 0x1F)]) + chunk)
    return payloads


async def test_loss_wraparound_rtcp_and_answers_between_frames() -> None:
    """Packets crafted by hand: what reaches the sink, and the counters."""
    idr = b"\x65\x88" + bytes(range(1, 200))
    slice_ = b"\x41\x9a" + bytes(range(1, 120))
    stap = bytes([24]) + b"".join(len(nal).to_bytes(2, "big") + nal for nal in (X264_720P_SPS, PPS))
    start_ts = 0xFFFFFFFF - 6000  # wraps after the second frame

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
    ) -> None:
        # No sprop-parameter-sets: the size is learnt from the SPS in band.
        if not await handshake(
            reader, writer, camera, description=sdp(fmtp="packetization-mode=1")
        ):
            return
        seq = 65530  # wraps too
        frames = [
            (0, [stap, *_fu_a(idr, 80)]),  # key
            (1, _fu_a(slice_, 50)),
            (2, _fu_a(slice_, 50)),  # loses its middle packet
            (3, _fu_a(slice_, 50)),
        ]
        for number, payloads in frames:
            ts = (start_ts + number * 3000) & 0xFFFFFFFF
            for index, payload in enumerate(payloads):
                seq = (seq + 1) & 0xFFFF
                if number == 2 and index == 1:
                    continue
                last = index == len(payloads) - 1
                writer.write(interleaved(0, rtp(seq, ts, payload, marker=last)))
                if index == 0:
                    writer.write(interleaved(1, b"\x80\xc8\x00\x06" + bytes(24)))  # RTCP SR
                    writer.write(b"RTSP/1.0 200 OK\r\nCSeq: 99\r\n\r\n")  # a stray answer
            await writer.drain()
        await serve_requests(reader, writer, camera)

    async with FakeCamera(script) as camera:
        source = RtspSource(camera.url)
        info = await source.open()
        assert info.width is None  # not known before the stream says
        units: list[AccessUnit] = []
        task = asyncio.create_task(source.run(units.append))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(units) == 3:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await source.close()
    assert [unit.keyframe for unit in units] == [True, False, False]
    assert units[0].data == b"".join(START_CODE + nal for nal in (X264_720P_SPS, PPS, idr))
    assert units[1].data == START_CODE + slice_
    assert [unit.pts - units[0].pts for unit in units] == [0, 3000, 9000]  # frame 2 dropped
    assert source.lost_packets == 1
    assert source.units == 3
    assert source.info is not None
    assert (source.info.width, source.info.height, source.info.fps) == (1280, 720, 15.0)
    assert source.info.extradata == START_CODE + X264_720P_SPS + START_CODE + PPS


async def test_keepalive_and_teardown() -> None:
    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
    ) -> None:
        public = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"
        if not await handshake(reader, writer, camera, public=public):
            return
        sender = asyncio.create_task(send_frames(writer))
        try:
            await serve_requests(reader, writer, camera)
        finally:
            sender.cancel()

    async def send_frames(writer: asyncio.StreamWriter) -> None:
        for number in range(1000):
            payload = b"\x41\x9a" + bytes(range(1, 100))
            writer.write(interleaved(0, rtp(number, number * 6000, payload, marker=True)))
            await asyncio.sleep(0.02)

    async with FakeCamera(script) as camera:
        source = RtspSource(camera.url, keepalive=0.2)
        await source.open()
        units = await collect(source, 1.0)
        await source.close()
        await asyncio.sleep(0.1)
    methods = [request.method for request in camera.requests]
    assert methods[:4] == ["OPTIONS", "DESCRIBE", "SETUP", "PLAY"]
    assert methods.count("GET_PARAMETER") >= 3
    assert methods[-1] == "TEARDOWN"
    assert all(request.headers.get("session") == "F00D" for request in camera.requests[3:])
    assert camera.requests[2].url == camera.url + "/trackID=0"
    assert len(units) >= 30


async def test_reads_are_batched_to_the_stream_rate_and_unbatched_when_it_pauses() -> None:
    """SO_RCVLOWAT: a busy stream wakes the loop about ten times a second; a pause never
    holds back the last frames before it, and close() still hears TEARDOWN's answer."""
    sent: list[float] = []
    pause = asyncio.Event()

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
    ) -> None:
        if not await handshake(reader, writer, camera):
            return
        sender = asyncio.create_task(send_frames(writer))
        try:
            await serve_requests(reader, writer, camera)
        finally:
            sender.cancel()

    async def send_frames(writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        for number in range(75):  # 1.5 s at 50 fps, 8 kB frames: 3.2 Mbit/s
            payload = b"\x41\x9a" + bytes(8000)
            writer.write(interleaved(0, rtp(number, number * 1800, payload, marker=True)))
            sent.append(loop.time())
            await asyncio.sleep(0.02)
        pause.set()  # then silence: a camera whose scene went still, or a stalling link

    async with FakeCamera(script) as camera:
        source = RtspSource(camera.url, read_timeout=10)
        await source.open()
        arrivals: list[float] = []
        batches: list[int] = []
        task = asyncio.create_task(source.run(lambda unit: arrivals.append(unit.arrival)))
        try:
            await asyncio.wait_for(pause.wait(), 10)
            assert source._conn is not None
            batches.append(source._conn.low_water)
            await asyncio.sleep(1.2)
            batches.append(source._conn.low_water)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await source.close()
            await asyncio.sleep(0.1)
    assert batches[0] > 4096  # batching while busy: about a tenth of a second of stream
    assert batches[1] == 1  # and none once it paused
    # every frame arrived (the last ones too), none held back much longer than a batch
    assert len(arrivals) >= 74
    assert arrivals[-1] - sent[-1] < 0.7
    assert camera.requests[-1].method == "TEARDOWN"


async def test_read_timeout() -> None:
    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
    ) -> None:
        if await handshake(reader, writer, camera):
            writer.write(interleaved(0, rtp(1, 0, b"\x41\x9a\x01", marker=True)))
            await serve_requests(reader, writer, camera)

    async with FakeCamera(script) as camera:
        source = RtspSource(camera.url, read_timeout=0.5)
        await source.open()
        started = time.monotonic()
        with pytest.raises(SourceError) as caught:
            await source.run(lambda unit: None)
        await source.close()
    assert caught.value.kind == SourceFailure.TIMEOUT
    assert 0.5 <= time.monotonic() - started < 1.5


STREAM_GARBAGE = [
    b"\xff" * 64,  # neither '$' nor a letter
    interleaved(0, b"\x00" * 20),  # RTP version 0
    interleaved(0, b"\x80\x60"),  # shorter than an RTP header
    interleaved(0, b"\x90\x60\x00\x01" + bytes(8) + b"\x00\x00\x00\x09"),  # extension overrun
    b"NOT RTSP AT ALL\r\n\r\n",
]


@pytest.mark.parametrize("garbage", STREAM_GARBAGE)
async def test_garbage_while_streaming(garbage: bytes) -> None:
    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
    ) -> None:
        if await handshake(reader, writer, camera):
            writer.write(interleaved(0, rtp(1, 0, b"\x41\x9a\x01", marker=True)) + garbage)
            await serve_requests(reader, writer, camera)

    async with FakeCamera(script) as camera:
        source = RtspSource(camera.url, read_timeout=3)
        await source.open()
        with pytest.raises(SourceError) as caught:
            await source.run(lambda unit: None)
        await source.close()
    assert caught.value.kind == SourceFailure.PROTOCOL
    assert str(caught.value).startswith(camera.url + ": ")


async def test_cut_inside_a_frame_is_the_end() -> None:
    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
    ) -> None:
        if await handshake(reader, writer, camera):
            writer.write(interleaved(0, rtp(1, 0, b"\x41\x9a\x01", marker=True))[:9])
            await writer.drain()

    async with FakeCamera(script) as camera:
        source = RtspSource(camera.url)
        await source.open()
        with pytest.raises(SourceError) as caught:
            await source.run(lambda unit: None)
        await source.close()
    assert caught.value.kind == SourceFailure.ENDED


async def test_random_bytes_while_streaming() -> None:
    """Whatever follows PLAY, run() ends with a SourceError, never anything else."""
    rng = random.Random(2026)
    chunks: list[bytes] = []
    for _ in range(40):
        body = rng.randbytes(rng.randrange(0, 300))
        if rng.random() < 0.5:  # plausible framing around random content
            body = interleaved(rng.choice([0, 0, 1, 5]), b"\x80\x60" + body)
        chunks.append(body)

    served = iter(chunks)

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
    ) -> None:
        if await handshake(reader, writer, camera):
            writer.write(next(served))
            await writer.drain()
            writer.close()

    async with FakeCamera(script) as camera:
        for _ in chunks:
            source = RtspSource(camera.url, read_timeout=0.5)
            await source.open()
            with pytest.raises(SourceError) as caught:
                await source.run(lambda unit: None)
            await source.close()
            assert caught.value.kind in (SourceFailure.PROTOCOL, SourceFailure.ENDED)


async def test_a_sink_that_raises_stops_run() -> None:
    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
    ) -> None:
        if await handshake(reader, writer, camera):
            writer.write(interleaved(0, rtp(1, 0, b"\x41\x9a\x01", marker=True)))
            await serve_requests(reader, writer, camera)

    def broken(unit: AccessUnit) -> None:
        raise ZeroDivisionError("sink bug")

    async with FakeCamera(script) as camera:
        source = RtspSource(camera.url)
        await source.open()
        with pytest.raises(ZeroDivisionError):
            await source.run(broken)
        await source.close()


async def test_digest_with_qop_auth() -> None:
    """The Authorization header, checked by the camera with its own arithmetic."""
    password = "Rahasia-Digest-99"
    seen: list[str] = []

    def md5(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, camera: FakeCamera
    ) -> None:
        challenge = 'Digest realm="cam", nonce="abc123", qop="auth,auth-int", opaque="xyz"'
        while (request := await camera.next_request(reader)) is not None:
            header = request.headers.get("authorization", "")
            if not header:
                writer.write(answer(request, "401 Unauthorized", {"WWW-Authenticate": challenge}))
                continue
            seen.append(header)
            params = parse_challenges([header])[0][1]
            expected = md5(
                f"{md5(f'admin:cam:{password}')}:abc123:{params['nc']}:{params['cnonce']}:auth:"
                + md5(f"{request.method}:{params['uri']}")
            )
            ok = params["response"] == expected and params["opaque"] == "xyz"
            writer.write(answer(request, "200 OK" if ok else "401 Unauthorized"))
            if request.method == "OPTIONS":
                break

    async with FakeCamera(script) as camera:
        source = RtspSource(camera.url, username="admin", password=password)
        with pytest.raises(SourceError) as caught:
            await source.open()  # OPTIONS passes; then the camera hangs up
        await source.close()
    assert caught.value.kind == SourceFailure.PROTOCOL
    assert len(seen) == 1 and "qop=auth" in seen[0] and "nc=00000001" in seen[0]
    assert password not in seen[0]


# -- pure helpers


def test_digest_example_from_rfc_2617() -> None:
    response = digest_response(
        username="Mufasa",
        password="Circle Of Life",
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


def test_challenges() -> None:
    parsed = parse_challenges(
        ['Basic realm="cam"', 'Digest realm="a, b", nonce="n1", stale=TRUE, Basic realm="x"']
    )
    assert parsed == [
        ("basic", {"realm": "cam"}),
        ("digest", {"realm": "a, b", "nonce": "n1", "stale": "TRUE"}),
        ("basic", {"realm": "x"}),
    ]


def test_urls_never_show_credentials() -> None:
    url = RtspUrl.parse("rtsp://admin:p%40ss@10.0.0.7/cam/realmonitor?channel=1&password=secret")
    assert (url.username, url.password) == ("admin", "p@ss")
    assert url.request == "rtsp://10.0.0.7/cam/realmonitor?channel=1&password=secret"
    assert url.shown == "rtsp://10.0.0.7:554/cam/realmonitor?channel=1&password=***"
    assert "p@ss" not in repr(url) and "p%40ss" not in repr(url)
    assert RtspUrl.parse("rtsps://[fe80::1]/s").shown == "rtsps://[fe80::1]:322/s"
    with pytest.raises(ValueError, match="scheme"):
        RtspUrl.parse("http://admin:secret@host/")


def test_control_urls() -> None:
    base = "rtsp://cam/live/ch1"
    assert resolve_control(base, "trackID=1") == "rtsp://cam/live/ch1/trackID=1"
    assert resolve_control(base + "/", "trackID=1") == "rtsp://cam/live/ch1/trackID=1"
    assert resolve_control(base, "*") == base
    assert resolve_control(base, None) == base
    assert resolve_control(base, "rtsp://u:p@10.0.0.9/x/track1") == "rtsp://10.0.0.9/x/track1"
    assert resolve_control(base, "/other/track1") == "rtsp://cam/other/track1"


def test_sdp() -> None:
    description = parse_sdp(sdp(extra="a=framerate:12.5\r\n") + "m=audio 0 RTP/AVP 0\r\n")
    assert description.control == "*"
    video, audio = description.media
    assert (video.kind, video.payload_types, video.control) == ("video", (96,), "trackID=0")
    assert video.rtpmap[96] == "H264/90000" and video.framerate == 12.5
    assert video.fmtp[96]["packetization-mode"] == "1"
    assert audio.kind == "audio"
