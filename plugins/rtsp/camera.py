"""The `rtsp` vendor: a camera is its URL; credentials come from username/password."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from hub.streams.avsource import open_source
from hub.streams.jpegsource import JpegPollSource
from hub.streams.units import PacketSource, Sink, SourceError, SourceFailure, StreamInfo
from plugins.rtsp.options import parse_options

if TYPE_CHECKING:
    from hub.config import CameraConfig
    from hub.registry import CameraRecord

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https", "file")


class GenericStreamVendor:
    """A camera that offers nothing but a stream URL or a JPEG snapshot URL."""

    name = "rtsp"
    description = "Any camera reachable by an RTSP, RTSPS, HTTP or file URL, or a JPEG snapshot URL"

    def check_camera(self, camera: CameraConfig) -> list[str]:
        """A URL with a stream scheme and a host, and options that fit it."""
        problem = _url_problem(camera.url)
        if problem is not None:
            return [problem]
        assert camera.url is not None
        return parse_options(camera.url, camera.options)[1]

    def stream_source(
        self, camera: CameraRecord, password: str | None, data_dir: Path
    ) -> PacketSource:
        """RTSP by Pantau's reader, HTTP streams and files by PyAV, snapshot URLs by polling.

        A camera whose settings are wrong gets a source that fails to open with the problem,
        so the camera shows offline with the reason rather than stopping its worker.
        """
        problem = _url_problem(camera.url)
        if problem is not None or camera.url is None:
            return RefusedSource(problem or "no url")
        options, problems = parse_options(camera.url, camera.options)
        if problems:
            return RefusedSource("; ".join(problems))
        if options.kind == "snapshot":
            return JpegPollSource(
                camera.url,
                username=camera.username,
                password=password,
                camera=camera.name,
                interval=options.snapshot_interval,
                verify_tls=options.tls_verify,
            )
        return open_source(camera.url, username=camera.username, password=password)


class RefusedSource:
    """A `PacketSource` that never opens: the camera's settings say why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def open(self) -> StreamInfo:
        """Refuse, with the reason."""
        raise SourceError(SourceFailure.UNSUPPORTED, f"vendor 'rtsp': {self.reason}")

    async def run(self, sink: Sink) -> None:
        """Never runs: it never opened."""
        raise RuntimeError("a refused source cannot run")

    async def close(self) -> None:
        """Nothing to release."""


def _url_problem(url: str | None) -> str | None:
    if url is None:
        return "vendor 'rtsp' needs a url (host and port alone do not say which stream)"
    parts = urlsplit(url)
    if parts.scheme not in STREAM_SCHEMES:
        return f"url scheme must be one of {', '.join(STREAM_SCHEMES)}, got {parts.scheme!r}"
    if parts.scheme != "file" and not parts.hostname:
        return "url has no host"
    return None
