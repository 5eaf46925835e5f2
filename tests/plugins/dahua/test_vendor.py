"""The `dahua` vendor: loads like any plugin, checks its cameras, gives their RTSP stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import plugins.dahua
from hub.config import CameraConfig
from hub.plugins import PluginHost, PluginState
from hub.registry import CameraRecord
from hub.streams.rtsp import RtspSource
from hub.vendors import CameraAccess, DeviceSession, DeviceVendor, StreamingVendor
from plugins.dahua.camera import DahuaVendor
from plugins.dahua.options import OPTIONS
from plugins.dahua.session import DahuaSession
from tests.plugin_kit import camera_record


def camera(**fields: Any) -> CameraConfig:
    values: dict[str, Any] = {
        "id": "pasar-puri",
        "name": "Pasar Puri, pintu utara",
        "owner": "diskominfo",
        "vendor": "dahua",
        "url": None,
        "host": "10.20.0.13",
        "port": None,
        "username": "admin",
        "password": None,
        "tags": [],
        "enabled": True,
        "options": {},
        **fields,
    }
    return CameraConfig.model_construct(**values)


def record(**fields: Any) -> CameraRecord:
    values: dict[str, Any] = {
        "id": "pasar-puri",
        "name": "Pasar Puri, pintu utara",
        "owner": "diskominfo",
        "vendor": "dahua",
        "host": "10.20.0.13",
        "username": "admin",
        "has_password": True,
        **fields,
    }
    return camera_record(**values)


def test_loads_through_the_host_like_any_plugin() -> None:
    host = PluginHost()
    host.load()
    plugin = host.records["dahua"]
    assert (plugin.state, plugin.reason) == (PluginState.LOADED, None)
    vendor = host.registered("camera_vendor")["dahua"].obj
    assert isinstance(vendor, StreamingVendor) and isinstance(vendor, DeviceVendor)
    assert vendor.name == "dahua" and vendor.description


def test_the_plugin_docstring_names_every_option() -> None:
    doc = plugins.dahua.__doc__ or ""
    assert all(f"`{option}`" in doc for option in OPTIONS)


def test_a_camera_with_a_host_passes() -> None:
    vendor = DahuaVendor()
    assert vendor.check_camera(camera()) == []
    assert vendor.check_camera(camera(host=None, url="http://10.20.0.13:8080")) == []
    options = {
        "port": "8080",
        "https": "yes",
        "rtsp_port": 8554,
        "channel": 4,
        "stream": "main",
        "heartbeat": 10,
    }
    assert vendor.check_camera(camera(options=options)) == []
    # The hub's own options are not the vendor's business.
    assert (
        vendor.check_camera(camera(options={"health": {}, "zones": [], "monitor_stream": "sub"}))
        == []
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": None}, "needs the device's host"),
        ({"options": {"rtsp_port": "abc"}}, "rtsp_port must be a whole number from 1 to 65535"),
        ({"options": {"port": 0}}, "port must be a whole number"),
        ({"options": {"channel": 0}}, "channel must be a whole number from 1"),
        ({"options": {"channel": True}}, "channel must be a whole number"),
        ({"options": {"stream": "hd"}}, "stream must be 'main' or 'sub'"),
        ({"options": {"https": "maybe"}}, "https must be true or false"),
        ({"options": {"heartbeat": 0}}, "heartbeat must be a whole number"),
        ({"options": {"rtps_port": 554}}, "unknown option 'rtps_port' (did you mean 'rtsp_port'?)"),
    ],
)
def test_bad_settings_are_told_in_plain_words(fields: dict[str, Any], expected: str) -> None:
    problems = DahuaVendor().check_camera(camera(**fields))
    assert any(expected in problem for problem in problems), problems


def test_the_monitored_stream_is_the_sub_stream_of_the_channel(tmp_path: Path) -> None:
    vendor = DahuaVendor()
    source = vendor.stream_source(record(), "pw", tmp_path)
    assert isinstance(source, RtspSource)
    assert source.url == "rtsp://10.20.0.13:554/cam/realmonitor?channel=1&subtype=1"
    options = {"stream": "main", "channel": 3, "rtsp_port": 8554}
    source = vendor.stream_source(
        record(host=None, url="http://10.20.0.14", options=options), "pw", tmp_path
    )
    assert isinstance(source, RtspSource)
    assert source.url == "rtsp://10.20.0.14:8554/cam/realmonitor?channel=3&subtype=0"
    with pytest.raises(ValueError, match="needs the device's host"):
        vendor.stream_source(record(host=None), "pw", tmp_path)


def test_ports_come_from_options_the_camera_or_the_url() -> None:
    def base(**fields: Any) -> str:
        access = CameraAccess(name="x", **fields)
        return DahuaSession(access).settings.base_url

    assert base(host="10.0.0.5") == "http://10.0.0.5:80"
    assert base(host="10.0.0.5", options={"https": True}) == "https://10.0.0.5:443"
    assert base(host="10.0.0.5", port=8080) == "http://10.0.0.5:8080"
    assert base(host="10.0.0.5", port=8080, options={"port": 81}) == "http://10.0.0.5:81"
    assert base(url="https://cam.example:8443/") == "https://cam.example:8443"
    assert base(host="fe80::1") == "http://[fe80::1]:80"


async def test_connect_does_no_io_and_gives_a_device_session() -> None:
    session = DahuaVendor().connect(CameraAccess(name="x", host="192.0.2.1", password="pw"))
    assert isinstance(session, DeviceSession)
    assert "pw" not in repr(session.access)
    await session.close()
