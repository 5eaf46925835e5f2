"""The `onvif` vendor: checks cameras, opens streams and device sessions, discovers devices."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hub.vendors import CameraAccess, CameraEvent, DiscoveredDevice
from plugins.onvif.const import MULTICAST_GROUP, VENDOR_NAME
from plugins.onvif.decode import decode_capture
from plugins.onvif.discovery import discover
from plugins.onvif.events import EventTiming
from plugins.onvif.session import OnvifSession
from plugins.onvif.stream import OnvifStreamSource

if TYPE_CHECKING:
    from hub.config import CameraConfig
    from hub.decode import CaptureLog
    from hub.registry import CameraRecord
    from hub.streams.units import PacketSource

URL_SCHEMES = ("http", "https", "rtsp", "rtsps")
TEXT_OPTIONS = ("monitor_stream", "view_stream", "stream_url", "wsdl_dir")


def _whole(value: Any, low: int, high: int) -> bool:
    if isinstance(value, bool):
        return False
    try:
        number = int(str(value))
    except ValueError:
        return False
    return low <= number <= high


class OnvifVendor:
    """Cameras and NVRs spoken to by ONVIF.

    A `CameraVendor`, `StreamingVendor`, `DeviceVendor`, `DiscoveringVendor` and
    `DecodingVendor`.
    """

    name = VENDOR_NAME
    description = "Any ONVIF camera or NVR: streams, snapshots, events, PTZ and discovery"

    def __init__(
        self,
        timing: EventTiming | None = None,
        discovery_target: tuple[str, int] = MULTICAST_GROUP,
    ) -> None:
        self.timing = timing or EventTiming()
        self.discovery_target = discovery_target

    def check_camera(self, camera: CameraConfig) -> list[str]:
        """An ONVIF camera needs a host (or a url); its options must make sense."""
        problems = []
        if not camera.host and not camera.url:
            problems.append("vendor 'onvif' needs a host (or a url giving one)")
        if camera.url:
            parts = urlsplit(camera.url)
            if parts.scheme not in URL_SCHEMES:
                problems.append(
                    f"url scheme must be one of {', '.join(URL_SCHEMES)}, got {parts.scheme!r}"
                )
            elif not parts.hostname:
                problems.append("url has no host")
        options = camera.options
        if "port" in options and not _whole(options["port"], 1, 65535):
            problems.append(f"option port must be a port number, got {options['port']!r}")
        if "channel" in options and not _whole(options["channel"], 1, 4096):
            problems.append(f"option channel must be a number from 1, got {options['channel']!r}")
        for name in TEXT_OPTIONS:
            if name in options and not isinstance(options[name], str):
                problems.append(f"option {name} must be text, got {options[name]!r}")
        stream_url = options.get("stream_url")
        if isinstance(stream_url, str) and "://" not in stream_url:
            problems.append(f"option stream_url must be a URL, got {stream_url!r}")
        wsdl_dir = options.get("wsdl_dir")
        if isinstance(wsdl_dir, str) and not Path(wsdl_dir).is_dir():
            problems.append(f"option wsdl_dir is not a folder: {wsdl_dir}")
        return problems

    def connect(self, access: CameraAccess) -> OnvifSession:
        """A session for the device; nothing is sent until a method is awaited."""
        return OnvifSession(access, self.timing)

    def stream_source(
        self, camera: CameraRecord, password: str | None, data_dir: Path
    ) -> PacketSource:
        """The monitoring stream: the device names it when the source opens."""
        return OnvifStreamSource(self.connect(CameraAccess.of(camera, password)))

    async def discover(self, wait: float = 3.0) -> list[DiscoveredDevice]:
        """The ONVIF devices on the local network that answer a WS-Discovery probe."""
        return await discover(wait, self.discovery_target)

    def decode(self, payload: bytes, log: CaptureLog) -> list[CameraEvent]:
        """The events in a captured PullMessages answer, Notify or metadata stream document."""
        return decode_capture(payload, log)
