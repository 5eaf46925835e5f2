"""Generic cameras known only by a stream URL: any RTSP camera, HTTP MJPEG or a file."""

from __future__ import annotations

from hub import hookimpl
from hub.plugins import Register
from plugins.rtsp.camera import GenericStreamVendor


@hookimpl
def register_camera_vendors(register: Register) -> None:
    """Offer the `rtsp` vendor."""
    register(GenericStreamVendor())
