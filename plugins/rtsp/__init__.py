"""Generic cameras known only by a URL: any RTSP camera, HTTP MJPEG, a file or a JPEG snapshot."""

from __future__ import annotations

from hub import hookimpl
from hub.plugins import Register
from plugins.rtsp.camera import GenericStreamVendor


@hookimpl
def register_camera_vendors(register: Register) -> None:
    """Offer the `rtsp` vendor."""
    register(GenericStreamVendor())
