"""The `sunrise_mall` vendor: checks a camera's settings, gives its stream, opens sessions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hub.streams.avsource import open_source
from hub.streams.reconnect import ReconnectPolicy
from hub.streams.units import PacketSource
from hub.vendors import CameraAccess, CameraEvent
from pantau_sunrise_mall.events import decode_feed
from pantau_sunrise_mall.options import read_options
from pantau_sunrise_mall.session import SunriseSession

if TYPE_CHECKING:
    from hub.config import CameraConfig
    from hub.decode import CaptureLog
    from hub.registry import CameraRecord


class SunriseMallNvr:
    """The channels of the mall's Sunrise NVR: RTSP streams, JSON API, a JSON-lines event feed.

    `policy` sets how sessions' event feeds reconnect (the hub's default ladder if None).
    """

    name = "sunrise_mall"
    description = "Sunrise Mall NVR channels: RTSP streams, snapshots and events"

    def __init__(self, policy: ReconnectPolicy | None = None) -> None:
        self.policy = policy

    def check_camera(self, camera: CameraConfig) -> list[str]:
        """A channel camera needs the NVR's host; its options must make sense."""
        return read_options(camera.host, camera.port, camera.options)[1]

    def stream_source(
        self, camera: CameraRecord, password: str | None, data_dir: Path
    ) -> PacketSource:
        """The RTSP stream of the camera's channel: the sub stream unless `stream: main`.

        The URL holds no credentials: the RTSP reader answers the NVR's challenge with them.
        """
        settings, problems = read_options(camera.host, camera.port, camera.options)
        if settings.host is None:
            raise ValueError(f"camera {camera.name!r}: " + "; ".join(problems))
        url = settings.rtsp_url(settings.channel, settings.stream)
        return open_source(url, username=camera.username, password=password)

    def connect(self, access: CameraAccess) -> SunriseSession:
        """A session to the NVR; no I/O until a method is awaited."""
        return SunriseSession(access, policy=self.policy)

    def decode(self, payload: bytes, log: CaptureLog) -> list[CameraEvent]:
        """The events in a captured stretch of the event feed (`pantau events decode`)."""
        return decode_feed(payload, log)
