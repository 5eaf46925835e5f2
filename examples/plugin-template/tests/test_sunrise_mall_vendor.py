"""The vendor as the hub sees it: loaded through the plugin host, checking cameras, streaming."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pantau_sunrise_mall
import pytest
from pantau_sunrise_mall.camera import SunriseMallNvr
from sunrise_nvr import PASSWORD, USERNAME, camera_record

from hub.config import CameraConfig
from hub.plugins import PluginHost
from hub.streams.rtsp import RtspSource
from hub.streams.units import SourceError, SourceFailure
from hub.vendors import DecodingVendor, DeviceVendor, DiscoveringVendor, StreamingVendor

VENDOR = SunriseMallNvr()


def config(**fields: Any) -> CameraConfig:
    values = {"id": "lobby", "name": "Lobby", "owner": "sunrise-mall", "vendor": "sunrise_mall"}
    return CameraConfig.model_validate({**values, **fields})


async def test_the_hub_loads_the_plugin(tmp_path: Path) -> None:
    # A copy in a plugin folder, and no entry points, so that an installed copy cannot clash.
    folder = tmp_path / "plugins"
    package = Path(pantau_sunrise_mall.__file__).parent
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(package, folder / "sunrise_mall", ignore=ignore)
    host = PluginHost(plugin_dir=folder, data_dir=tmp_path / "var", entry_point_group="pantau.none")
    host.load()
    record = host.records["sunrise_mall"]
    assert record.state.value == "loaded", record.reason
    vendor = host.registered("camera_vendor")["sunrise_mall"].obj
    assert type(vendor).__name__ == "SunriseMallNvr"
    routes = [r.path for r in host.web_routes if r.plugin == "sunrise_mall"]
    assert routes == ["/plugins/sunrise_mall/status"]
    hub = cast(Any, SimpleNamespace())
    states = [record.state.value]
    await host.setup_all(hub)
    states.append(record.state.value)
    await host.shutdown_all(hub)
    states.append(record.state.value)
    assert states == ["loaded", "running", "stopped"]


def test_it_streams_talks_to_the_device_and_decodes_but_does_not_discover() -> None:
    assert isinstance(VENDOR, StreamingVendor) and isinstance(VENDOR, DeviceVendor)
    assert isinstance(VENDOR, DecodingVendor) and not isinstance(VENDOR, DiscoveringVendor)


def test_a_camera_needs_the_nvrs_host_and_sensible_options() -> None:
    assert VENDOR.check_camera(config(host="10.40.0.2", options={"channel": 2})) == []
    assert VENDOR.check_camera(config(url="rtsp://10.40.0.2/live/ch1/sub")) == [
        "vendor 'sunrise_mall' needs the NVR's host"
    ]
    options = {"chanel": 2, "stream": "hd", "rtsp_port": 0, "https": "ya"}
    assert VENDOR.check_camera(config(host="10.40.0.2", options=options)) == [
        "unknown option 'chanel' (did you mean 'channel'?)",
        "https must be true or false, got 'ya'",
        "stream must be 'main' or 'sub', got 'hd'",
        "rtsp_port must be a whole number from 1 to 65535, got 0",
    ]


def test_the_stream_is_the_channels_sub_stream_unless_main_is_asked(tmp_path: Path) -> None:
    source = VENDOR.stream_source(camera_record(), PASSWORD, tmp_path)
    assert isinstance(source, RtspSource)
    assert source.url == "rtsp://10.40.0.2:554/live/ch1/sub"
    options = {"channel": 3, "stream": "main", "rtsp_port": 8554}
    source = VENDOR.stream_source(camera_record(options=options), PASSWORD, tmp_path)
    assert isinstance(source, RtspSource)
    assert source.url == "rtsp://10.40.0.2:8554/live/ch3/main"
    assert PASSWORD not in repr(source)
    with pytest.raises(ValueError, match="needs the NVR's host"):
        VENDOR.stream_source(camera_record(host=None), PASSWORD, tmp_path)


async def test_the_stream_logs_in_with_the_cameras_credentials(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    requests: list[str] = []

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # An RTSP server that asks for credentials and refuses every answer.
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                requests.append(head)
                match = re.search(r"CSeq: *(\d+)", head)
                cseq = match.group(1) if match else "0"
                writer.write(
                    f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n"
                    'WWW-Authenticate: Basic realm="Sunrise NVR"\r\n\r\n'.encode()
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    camera = camera_record(host="127.0.0.1", options={"channel": 2, "rtsp_port": port})
    source = VENDOR.stream_source(camera, PASSWORD, tmp_path)
    try:
        with pytest.raises(SourceError) as refused:
            await source.open()
    finally:
        await source.close()
        server.close()
        await server.wait_closed()
    assert refused.value.kind is SourceFailure.AUTH
    url = f"rtsp://127.0.0.1:{port}/live/ch2/sub"
    assert [r.split("\r\n")[0] for r in requests] == [f"OPTIONS {url} RTSP/1.0"] * 2
    token = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert f"Authorization: Basic {token}" in requests[1]
    assert PASSWORD not in str(refused.value) and PASSWORD not in caplog.text
