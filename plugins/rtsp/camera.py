"""The `rtsp` vendor: a camera is its URL; credentials come from username/password."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from hub.streams.avsource import open_source
from hub.streams.units import PacketSource

if TYPE_CHECKING:
    from hub.config import CameraConfig
    from hub.registry import CameraRecord

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https", "file")


class GenericStreamVendor:
    """A camera that offers nothing but a stream URL."""

    name = "rtsp"
    description = "Any camera reachable by an RTSP, RTSPS, HTTP or file URL"

    def check_camera(self, camera: CameraConfig) -> list[str]:
        """A generic camera needs a URL with a stream scheme and a host."""
        if camera.url is None:
            return ["vendor 'rtsp' needs a url (host and port alone do not say which stream)"]
        parts = urlsplit(camera.url)
        if parts.scheme not in STREAM_SCHEMES:
            return [f"url scheme must be one of {', '.join(STREAM_SCHEMES)}, got {parts.scheme!r}"]
        if parts.scheme != "file" and not parts.hostname:
            return ["url has no host"]
        return []

    def stream_source(
        self, camera: CameraRecord, password: str | None, data_dir: Path
    ) -> PacketSource:
        """RTSP through Pantau's own reader; HTTP and files through PyAV's demuxer."""
        if camera.url is None:
            raise ValueError("vendor 'rtsp' needs a url")
        return open_source(camera.url, username=camera.username, password=password)
