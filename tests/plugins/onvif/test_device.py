"""Device information, profiles, stream and snapshot URIs, end to end through onvif-zeep-async."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hub.registry import CameraRecord
from hub.streams.units import SourceError, SourceFailure
from hub.vendors import BadPayload, StreamProfile, Unsupported
from plugins.onvif.vendor import OnvifVendor
from tests.plugin_kit import camera_record
from tests.plugins.onvif.conftest import CAMERA, CameraMaker, SessionMaker
from tests.plugins.onvif.fakecam import FIXTURES, JPEG, PASSWORD, USER, Answer, FakeCamera, Seen

CAR_VIDEO = Path(__file__).resolve().parents[2] / "fixtures" / "media" / "car-detection.mp4"
HIKVISION_OEM = "easy_onvif/enp1a14-ir-25x"


def by_token(streams: list[StreamProfile]) -> dict[str, StreamProfile]:
    return {stream.token: stream for stream in streams}


async def test_agsh_device_information(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("agsh-hd-predator")
    session = open_session(camera)
    info = await session.device_info()
    assert info.manufacturer == "Mockup Manufacturer"
    assert info.model == "Mockup Model"
    assert (info.firmware, info.serial, info.hardware_id) == (
        "Mockup_15_14_13",
        "00000000",
        "MOCKUP",
    )
    assert info.device_type == "camera"
    assert info.channels == ()
    assert set(info.extra["services"]) >= {"device", "media", "events", "ptz", "imaging"}
    assert "onvif://www.onvif.org/hardware/HD_PREDATOR" in info.extra["scopes"]
    assert abs(info.extra["clock_skew_seconds"]) < 2
    operations = [seen.operation for seen in camera.requests]
    assert operations[:2] == ["GetSystemDateAndTime", "GetServices"]
    assert not camera.requests[0].authenticated
    assert all(seen.authenticated for seen in camera.requests[1:])


async def test_hikvision_oem_device_information(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera(HIKVISION_OEM)
    info = await open_session(camera).device_info()
    assert info.manufacturer == "ONVIF"
    assert info.model == "ENP1A14-IR/25X"
    assert info.firmware is not None and info.firmware.startswith("V5.5.3")
    assert info.device_type is None  # it has no recorded GetScopes
    assert {"media", "media2", "ptz", "events", "recording"} <= set(info.extra["services"])


async def test_older_device_found_through_get_capabilities(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("easy_onvif/dcs-6511")
    info = await open_session(camera).device_info()
    assert info.manufacturer == "D-Link Corporation"
    assert [seen.operation for seen in camera.requests][1:3] == ["GetServices", "GetCapabilities"]
    assert "media" in info.extra["services"]
    assert "ptz" not in info.extra["services"]


async def test_dahua_answers(make_camera: CameraMaker, open_session: SessionMaker) -> None:
    camera = await make_camera("dahua")
    session = open_session(camera)
    device = await session.device()  # no GetSystemDateAndTime or GetServices recorded
    assert session.skew is None
    assert device.xaddrs["http://www.onvif.org/ver10/media/wsdl"].startswith(camera.address)
    stream = await session.profile_uri("stream", "MediaProfile00001")
    assert (
        stream
        == "rtsp://192.168.1.123:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif"
    )
    snapshot = await session.profile_uri("snapshot", "MediaProfile00001")
    assert snapshot == f"{camera.address}/onvifsnapshot/media_service/snapshot?channel=1&subtype=1"
    assert camera.seen("GetStreamUri")[0].text("ProfileToken") == "MediaProfile00001"
    assert camera.seen("GetStreamUri")[0].text("Protocol") == "RTSP"


async def test_named_main_and_sub_streams(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera(HIKVISION_OEM)
    streams = by_token(await open_session(camera).streams())
    assert set(streams) == {"Profile_1", "Profile_2"}  # Profile_3 has no video encoder
    main, sub = streams["Profile_1"], streams["Profile_2"]
    assert (main.role, main.name, sub.role, sub.name) == ("main", "mainStream", "sub", "subStream")
    assert (main.codec, main.width, main.height, main.fps, main.bitrate_kbps) == (
        "hevc",
        2560,
        1440,
        25.0,
        8192,
    )
    assert main.ptz and sub.ptz and main.channel is None
    assert main.url is not None and main.url.startswith("rtsp://192.168.1.182:554/Streaming/")
    assert main.snapshot_url == f"{camera.address}/onvif-http/snapshot?Profile_1"
    assert [seen.text("ProfileToken") for seen in camera.seen("GetStreamUri")] == [
        "Profile_1",
        "Profile_2",
    ]


async def test_roles_by_resolution_when_the_device_does_not_say(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("easy_onvif/sunba")
    streams = by_token(await open_session(camera).streams())
    assert {token: s.role for token, s in streams.items()} == {
        "media_profile1": "main",  # 2592x1944
        "media_profile2": "other",  # 720x576
        "media_profile3": "sub",  # 352x288
    }
    assert all(s.url is None for s in streams.values())  # GetStreamUri was not recorded
    assert streams["media_profile1"].snapshot_url is not None

    dlink = await make_camera("easy_onvif/dcs-6511")
    roles = {s.token: s.role for s in await open_session(dlink).streams()}
    assert roles == {"Profile1": "main", "Profile2": "sub"}  # 1280x1024 and 640x480


async def test_monitoring_takes_sub_and_viewing_takes_main(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera(HIKVISION_OEM)
    session = open_session(camera)
    assert (await session.pick("monitoring")).token == "Profile_2"
    assert (await session.pick("viewing")).token == "Profile_1"
    await session.stream_uri("monitoring")
    assert camera.seen("GetStreamUri")[-1].text("ProfileToken") == "Profile_2"


async def test_stream_options_override_the_roles(
    make_camera: CameraMaker, open_session: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    camera = await make_camera(HIKVISION_OEM)
    session = open_session(camera, monitor_stream="mainStream", view_stream="Profile_2")
    assert (await session.pick("monitoring")).token == "Profile_1"
    assert (await session.pick("viewing")).token == "Profile_2"

    wrong = open_session(camera, monitor_stream="no-such-stream")
    with caplog.at_level(logging.WARNING, logger="plugins.onvif"):
        assert (await wrong.pick("monitoring")).token == "Profile_2"
        assert (await wrong.pick("monitoring")).token == "Profile_2"
    warnings = [r.getMessage() for r in caplog.records if "no-such-stream" in r.getMessage()]
    assert len(warnings) == 1 and CAMERA in warnings[0]


async def test_snapshot_with_digest_auth(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera(HIKVISION_OEM)
    assert await open_session(camera).snapshot() == JPEG
    assert camera.seen("GetSnapshotUri")[0].text("ProfileToken") == "Profile_1"
    assert camera.snapshots == ["/onvif-http/snapshot?Profile_1"] * 2  # challenge, then answer


async def test_snapshot_falls_back_to_basic_auth(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("easy_onvif/dcs-6511", snapshot_auth="basic")
    assert await open_session(camera).snapshot() == JPEG
    assert camera.snapshots[-1] == "/dms?nowprofileid=1"


async def test_malformed_snapshot_uri_answer(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("agsh-hd-predator")  # recorded with an undeclared SOAP-ENV prefix
    with pytest.raises(BadPayload, match=CAMERA):
        await open_session(camera).snapshot()


async def test_no_stream_on_a_missing_channel(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("agsh-hd-predator")
    with pytest.raises(Unsupported, match="channel 2"):
        await open_session(camera, channel=2).stream_uri()


def record(camera: FakeCamera, **options: object) -> CameraRecord:
    return camera_record(
        id="simpang-lima-timur",
        name=CAMERA,
        vendor="onvif",
        host="127.0.0.1",
        port=camera.port,
        username=USER,
        has_password=True,
        options=options,
    )


def stream_uri_of_local_file(seen: Seen) -> Answer:
    """The recorded GetStreamUri answer, pointing at a local file: no RTSP server needed here."""
    recorded = (FIXTURES / HIKVISION_OEM / "media1.GetStreamUriResponse.xml").read_text()
    start, end = recorded.index("<tt:Uri>") + len("<tt:Uri>"), recorded.index("</tt:Uri>")
    return Answer(recorded[:start] + CAR_VIDEO.as_uri() + recorded[end:])


async def test_stream_source_asks_the_device_then_opens_the_stream(
    make_camera: CameraMaker, tmp_path: Path
) -> None:
    camera = await make_camera(HIKVISION_OEM)
    camera.handlers["GetStreamUri"] = stream_uri_of_local_file
    source = OnvifVendor().stream_source(record(camera), PASSWORD, tmp_path)
    try:
        info = await source.open()
        assert info.codec == "h264"
        assert camera.seen("GetStreamUri")[0].text("ProfileToken") == "Profile_2"
    finally:
        await source.close()
        await source.close()


async def test_stream_source_with_stream_url_does_not_ask(
    make_camera: CameraMaker, tmp_path: Path
) -> None:
    camera = await make_camera(HIKVISION_OEM)
    source = OnvifVendor().stream_source(
        record(camera, stream_url=CAR_VIDEO.as_uri()), PASSWORD, tmp_path
    )
    try:
        assert (await source.open()).codec == "h264"
    finally:
        await source.close()
    assert camera.requests == []


async def test_stream_source_refused(make_camera: CameraMaker, tmp_path: Path) -> None:
    camera = await make_camera(HIKVISION_OEM, password="another-password")
    source = OnvifVendor().stream_source(record(camera), PASSWORD, tmp_path)
    try:
        with pytest.raises(SourceError) as caught:
            await source.open()
    finally:
        await source.close()
    assert caught.value.kind is SourceFailure.AUTH
    assert PASSWORD not in str(caught.value)
