"""The hikvision vendor: loads like any plugin, checks its cameras, streams RTSP, connects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.config import CameraConfig
from hub.plugins import PluginHost, PluginState
from hub.registry import CameraRecord
from hub.streams.rtsp import RtspSource
from hub.vendors import (
    CameraAccess,
    CameraVendor,
    DeviceSession,
    DeviceVendor,
    StreamingVendor,
    Unsupported,
)
from plugins.hikvision.camera import HikvisionVendor
from plugins.hikvision.options import read_settings
from tests.plugin_kit import camera_record


def camera(**fields: Any) -> CameraConfig:
    """A camera as the config would hold it (built without the url-or-host rule)."""
    values: dict[str, Any] = {
        "id": "simpang-lima",
        "name": "Simpang Lima",
        "owner": "dishub-pati",
        "vendor": "hikvision",
        "url": None,
        "host": "10.20.30.40",
        "port": None,
        "tags": [],
        "enabled": True,
        "options": {},
        **fields,
    }
    return CameraConfig.model_construct(**values)


def record(**fields: Any) -> CameraRecord:
    values: dict[str, Any] = {
        "id": "simpang-lima",
        "name": "Simpang Lima",
        "owner": "dishub-pati",
        "vendor": "hikvision",
        "host": "10.20.30.40",
        "username": "admin",
        "has_password": True,
        **fields,
    }
    return camera_record(**values)


def test_loads_through_the_host_like_any_plugin() -> None:
    host = PluginHost()
    host.load()
    plugin = host.records["hikvision"]
    assert (plugin.state, plugin.reason) == (PluginState.LOADED, None)
    assert plugin.manifest is not None and plugin.manifest.kind.value == "vendor"
    vendor = host.registered("camera_vendor")["hikvision"].obj
    assert isinstance(vendor, CameraVendor)
    assert isinstance(vendor, StreamingVendor)
    assert isinstance(vendor, DeviceVendor)
    assert vendor.name == "hikvision" and vendor.description


def test_a_camera_with_a_host_passes() -> None:
    vendor = HikvisionVendor()
    assert vendor.check_camera(camera()) == []
    assert (
        vendor.check_camera(camera(host=None, url="rtsp://10.0.0.9:8554/Streaming/Channels/101"))
        == []
    )
    options = {
        "http_port": 8080,
        "https": True,
        "tls_verify": False,
        "auth": "basic",
        "rtsp_port": 10554,
        "channel": 12,
        "stream": "main",
        "event_timeout": 3,
        "stream_timeout": 60,
        "zones": [],  # the engine's, not ours
        "monitor_stream": "102",
    }
    assert vendor.check_camera(camera(options=options)) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": None}, "needs a host (or a url that names one)"),
        ({"host": None, "url": "file:///tmp/x.mp4"}, "needs a host"),
        ({"options": {"rtsp_port": 0}}, "option 'rtsp_port' must be a port number from 1 to 65535"),
        ({"options": {"http_port": "80"}}, "option 'http_port' must be a port number"),
        ({"options": {"channel": 0}}, "option 'channel' must be a whole number from 1 to 999"),
        ({"options": {"https": "yes"}}, "option 'https' must be true or false"),
        ({"options": {"auth": "ntlm"}}, "option 'auth' must be 'digest' or 'basic'"),
        ({"options": {"stream": "third"}}, "option 'stream' must be 'main' or 'sub'"),
        ({"options": {"event_timeout": 0}}, "option 'event_timeout' must be a number of seconds"),
        ({"options": {"rtsp_prot": 554}}, "unknown option 'rtsp_prot' (did you mean 'rtsp_port'?)"),
    ],
)
def test_bad_settings_are_told_in_plain_words(fields: dict[str, Any], expected: str) -> None:
    problems = HikvisionVendor().check_camera(camera(**fields))
    assert len(problems) == 1 and expected in problems[0], problems


def test_ports_come_from_options_the_camera_or_its_url() -> None:
    settings, _ = read_settings("h", None, None, {})
    assert settings is not None
    assert (settings.base_url, settings.rtsp_port) == ("http://h:80", 554)
    settings, _ = read_settings("h", 8000, None, {"https": True})
    assert settings is not None and settings.base_url == "https://h:8000"
    settings, _ = read_settings(None, None, "https://cam.local:8443/", {})
    assert settings is not None and settings.base_url == "https://cam.local:8443"
    settings, _ = read_settings(None, None, "rtsp://10.0.0.9:8554/x", {"port": 81})
    assert settings is not None
    assert (settings.base_url, settings.rtsp_port) == ("http://10.0.0.9:81", 8554)
    settings, _ = read_settings("fe80::1", None, None, {})
    assert settings is not None
    assert settings.rtsp_url(101) == "rtsp://[fe80::1]:554/Streaming/Channels/101"


def test_the_stream_source_is_the_channel_s_sub_stream(tmp_path: Path) -> None:
    vendor = HikvisionVendor()
    source = vendor.stream_source(record(), "pw", tmp_path)
    assert isinstance(source, RtspSource)
    assert source.url == "rtsp://10.20.30.40:554/Streaming/Channels/102"
    main = vendor.stream_source(
        record(options={"channel": 7, "stream": "main", "rtsp_port": 1554}), "pw", tmp_path
    )
    assert isinstance(main, RtspSource)
    assert main.url == "rtsp://10.20.30.40:1554/Streaming/Channels/701"
    assert "pw" not in main.url and "pw" not in repr(main)
    with pytest.raises(ValueError, match="needs a host"):
        vendor.stream_source(record(host=None), None, tmp_path)


async def test_connect_makes_a_session_without_io() -> None:
    access = CameraAccess(
        name="Simpang Lima", host="192.0.2.1", password="pw", options={"channel": 3}
    )
    session = HikvisionVendor().connect(access)
    assert isinstance(session, DeviceSession)
    assert "pw" not in repr(session)
    await session.close()
    with pytest.raises(Unsupported, match="'Simpang Lima'.*needs a host"):
        HikvisionVendor().connect(CameraAccess(name="Simpang Lima"))
