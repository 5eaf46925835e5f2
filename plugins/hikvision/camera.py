"""The `hikvision` vendor: Hikvision cameras and NVRs over ISAPI, streamed by RTSP."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hub.streams.avsource import open_source
from hub.streams.reconnect import ReconnectPolicy
from hub.streams.units import PacketSource
from hub.vendors import CameraAccess, CameraEvent, Unsupported
from plugins.hikvision.decode import decode_capture
from plugins.hikvision.options import read_settings
from plugins.hikvision.session import HikvisionSession

if TYPE_CHECKING:
    from hub.config import CameraConfig
    from hub.decode import CaptureLog
    from hub.registry import CameraRecord


class HikvisionVendor:
    """Hikvision IP cameras and NVRs: RTSP streams, and ISAPI for everything else."""

    name = "hikvision"
    description = "Hikvision cameras and NVRs (ISAPI: device info, snapshots, alerts, PTZ)"

    def __init__(self, policy: ReconnectPolicy | None = None) -> None:
        """`policy` paces the reconnection of alert streams (the hub's default if None)."""
        self._policy = policy

    def check_camera(self, camera: CameraConfig) -> list[str]:
        """A Hikvision camera needs a host (or a url naming one); its options must make sense."""
        return read_settings(camera.host, camera.port, camera.url, camera.options)[1]

    def stream_source(
        self, camera: CameraRecord, password: str | None, data_dir: Path
    ) -> PacketSource:
        """The RTSP source of the camera's channel: the sub stream unless `stream: main`."""
        settings, problems = read_settings(camera.host, camera.port, camera.url, camera.options)
        if settings is None:
            raise ValueError(f"camera {camera.name!r}: {'; '.join(problems)}")
        stream_id = settings.stream_id(settings.channel, settings.stream)
        return open_source(
            settings.rtsp_url(stream_id), username=camera.username, password=password
        )

    def connect(self, access: CameraAccess) -> HikvisionSession:
        """A session with the device; nothing is sent until a method is awaited."""
        settings, problems = read_settings(access.host, access.port, access.url, access.options)
        if settings is None:
            raise Unsupported(f"camera {access.name!r}: {'; '.join(problems)}")
        return HikvisionSession(access, settings, self._policy)

    def decode(self, payload: bytes, log: CaptureLog) -> list[CameraEvent]:
        """The events in a captured alert, alertStream or alarm-host push, as a session reads it."""
        return decode_capture(payload, log)
