"""The clip tests use the streams tests' real GStreamer RTSP server."""

from tests.streams.conftest import rtsp_server

__all__ = ["rtsp_server"]
