"""The `onvif` vendor: loads like any plugin, offers every vendor protocol, checks cameras."""

from __future__ import annotations

from typing import Any

import pytest

from hub.config import CameraConfig
from hub.plugins import PluginHost, PluginState
from hub.vendorkit import session_problems
from hub.vendors import (
    CameraAccess,
    DeviceSession,
    DeviceVendor,
    DiscoveringVendor,
    StreamingVendor,
)
from plugins.onvif.session import OnvifOptions, device_address
from plugins.onvif.vendor import OnvifVendor
from tests.plugins.onvif.conftest import FAST, CameraMaker, access
from tests.plugins.onvif.fakecam import FIXTURES, PASSWORD


def camera(**fields: Any) -> CameraConfig:
    """An ONVIF camera as the config holds it (built without the config's own checks)."""
    values: dict[str, Any] = {
        "id": "pasar-kliwon",
        "name": "Pasar Kliwon",
        "owner": "diskominfo",
        "vendor": "onvif",
        "url": None,
        "host": "10.20.0.7",
        "port": None,
        "options": {},
        **fields,
    }
    return CameraConfig.model_construct(**values)


def test_loads_through_the_host_like_any_plugin() -> None:
    host = PluginHost()
    host.load()
    record = host.records["onvif"]
    assert (record.state, record.reason) == (PluginState.LOADED, None)
    vendor = host.registered("camera_vendor")["onvif"].obj
    assert isinstance(vendor, OnvifVendor)
    for protocol in (StreamingVendor, DeviceVendor, DiscoveringVendor):
        assert isinstance(vendor, protocol)


async def test_connect_does_no_io_and_is_a_device_session() -> None:
    session = OnvifVendor().connect(CameraAccess(name="Pasar Kliwon", host="10.255.255.1"))
    assert isinstance(session, DeviceSession)
    await session.close()
    await session.close()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({}, None),
        ({"host": None, "url": "http://10.20.0.7:8080/onvif/device_service"}, None),
        ({"host": None}, "needs a host"),
        ({"host": None, "url": "ftp://10.20.0.7/"}, "url scheme"),
        ({"options": {"port": "eighty"}}, "option port"),
        ({"options": {"port": 70000}}, "option port"),
        ({"options": {"channel": 0}}, "option channel"),
        ({"options": {"monitor_stream": 2}}, "option monitor_stream must be text"),
        ({"options": {"stream_url": "Streaming/Channels/102"}}, "stream_url must be a URL"),
        ({"options": {"wsdl_dir": "/no/such/folder"}}, "wsdl_dir is not a folder"),
        ({"options": {"port": 8000, "channel": "2", "view_stream": "Profile_1"}}, None),
    ],
)
def test_check_camera(fields: dict[str, Any], problem: str | None) -> None:
    problems = OnvifVendor().check_camera(camera(**fields))
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]


def test_device_address() -> None:
    def address(options: dict[str, Any] | None = None, **fields: Any) -> tuple[str, int]:
        access = CameraAccess(name="x", options=options or {}, **fields)
        return device_address(access, OnvifOptions.of(access.options))

    assert address(host="10.0.0.9") == ("10.0.0.9", 80)
    assert address(host="10.0.0.9", port=8000) == ("10.0.0.9", 8000)
    assert address({"port": 8899}, host="10.0.0.9", port=8000) == ("10.0.0.9", 8899)
    assert address(url="http://10.0.0.9:8080/onvif/device_service") == ("10.0.0.9", 8080)
    assert address(url="https://cam.example/onvif") == ("https://cam.example", 443)
    assert address(url="rtsp://10.0.0.9:554/live", port=554) == ("10.0.0.9", 80)


async def test_passes_the_vendor_kit_session_check(make_camera: CameraMaker) -> None:
    camera = await make_camera("easy_onvif/enp1a14-ir-25x")
    camera.subscription_template = "hikvision/CreatePullPointSubscriptionResponse.xml"
    recorded = FIXTURES / "hikvision" / "PullMessagesResponse.initialized-topics.xml"
    camera.pulls.append(recorded.read_text())
    session = OnvifVendor(timing=FAST).connect(access(camera))
    assert await session_problems(session, PASSWORD, 1.0, events_expected=1) == []
