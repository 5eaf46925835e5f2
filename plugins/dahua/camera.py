"""The `dahua` vendor: checks a camera's settings, gives its RTSP stream, opens device sessions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hub.streams.avsource import open_source
from hub.streams.reconnect import ReconnectPolicy
from hub.streams.units import PacketSource
from hub.vendors import CameraAccess, CameraEvent
from plugins.dahua.decode import decode_capture
from plugins.dahua.options import read_options
from plugins.dahua.session import DahuaSession

if TYPE_CHECKING:
    from hub.config import CameraConfig
    from hub.decode import CaptureLog
    from hub.registry import CameraRecord


class DahuaVendor:
    """Dahua cameras, NVRs and DVRs (and their rebrands) over the HTTP CGI API and RTSP.

    `policy` sets how sessions' event streams reconnect (the hub's default ladder if None).
    """

    name = "dahua"
    description = "Dahua cameras, NVRs and DVRs: RTSP streams, CGI snapshots, events and PTZ"

    def __init__(self, policy: ReconnectPolicy | None = None) -> None:
        self.policy = policy

    def check_camera(self, camera: CameraConfig) -> list[str]:
        """A Dahua camera needs a host (or a url with one); its options must make sense."""
        return read_options(camera.host, camera.port, camera.url, camera.options)[1]

    def stream_source(
        self, camera: CameraRecord, password: str | None, data_dir: Path
    ) -> PacketSource:
        """The RTSP stream of the camera's channel: the sub stream unless `stream: main`."""
        settings, problems = read_options(camera.host, camera.port, camera.url, camera.options)
        if settings.host is None:
            raise ValueError(f"camera {camera.name!r}: " + "; ".join(problems))
        url = settings.rtsp_url(settings.channel, settings.stream)
        return open_source(url, username=camera.username, password=password)

    def connect(self, access: CameraAccess) -> DahuaSession:
        """A session to the device; no I/O until a method is awaited."""
        return DahuaSession(access, policy=self.policy)

    def decode(self, payload: bytes, log: CaptureLog) -> list[CameraEvent]:
        """The events in a captured attach stream or JSON event records, as a session reads them."""
        return decode_capture(payload, log)
