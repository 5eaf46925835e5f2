"""A Hikvision camera's settings: where ISAPI and RTSP answer, and how the plugin talks to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from hub.vendorkit import option_typos

OPTIONS = (
    "http_port",
    "port",
    "https",
    "tls_verify",
    "auth",
    "rtsp_port",
    "channel",
    "stream",
    "event_timeout",
    "stream_timeout",
)
AUTH_METHODS = ("digest", "basic")
STREAM_ROLES = ("main", "sub")
DEFAULT_RTSP_PORT = 554
DEFAULT_EVENT_TIMEOUT = 5.0
"""Seconds without a repeated `active` alert after which a condition is taken to have ended."""
DEFAULT_STREAM_TIMEOUT = 120.0
"""Seconds of silence on the alert stream (no event, no heartbeat) before it is reopened."""


@dataclass(frozen=True, slots=True)
class HikvisionSettings:
    """Where one device answers and how to talk to it, read from the camera's fields."""

    host: str
    http_port: int
    https: bool = False
    tls_verify: bool = True
    auth: Literal["digest", "basic"] = "digest"
    rtsp_port: int = DEFAULT_RTSP_PORT
    channel: int = 1
    stream: Literal["main", "sub"] = "sub"
    event_timeout: float = DEFAULT_EVENT_TIMEOUT
    stream_timeout: float = DEFAULT_STREAM_TIMEOUT

    @property
    def _netloc_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def base_url(self) -> str:
        """The ISAPI root, without credentials."""
        scheme = "https" if self.https else "http"
        return f"{scheme}://{self._netloc_host}:{self.http_port}"

    def stream_id(self, channel: int, role: Literal["main", "sub"]) -> int:
        """Hikvision's stream id: the channel, then 01 for the main and 02 for the sub stream."""
        return channel * 100 + (1 if role == "main" else 2)

    def rtsp_url(self, stream_id: int) -> str:
        """The RTSP URL of a stream id (101, 102, 201, ...), without credentials."""
        return f"rtsp://{self._netloc_host}:{self.rtsp_port}/Streaming/Channels/{stream_id}"

    def snapshot_url(self, stream_id: int) -> str:
        """The ISAPI picture URL of a stream id, without credentials."""
        return f"{self.base_url}/ISAPI/Streaming/channels/{stream_id}/picture"


def _port(value: Any, name: str, problems: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        problems.append(f"option {name!r} must be a port number from 1 to 65535, got {value!r}")
        return None
    return value


def _seconds(value: Any, name: str, low: float, high: float, problems: list[str]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        problems.append(
            f"option {name!r} must be a number of seconds from {low:g} to {high:g}, got {value!r}"
        )
        return None
    return float(value)


def _flag(value: Any, name: str, problems: list[str]) -> bool | None:
    if not isinstance(value, bool):
        problems.append(f"option {name!r} must be true or false, got {value!r}")
        return None
    return value


def read_settings(
    host: str | None, port: int | None, url: str | None, options: Mapping[str, Any]
) -> tuple[HikvisionSettings | None, list[str]]:
    """The settings a camera's host, port, url and options give, or the problems in plain words.

    The host comes from `host`, else from the url. The ISAPI port is `options.http_port`, else
    `options.port`, else the camera's `port`, else an http(s) url's port, else 80 (443 with
    https). The RTSP port is `options.rtsp_port`, else an rtsp url's port, else 554.
    """
    problems = option_typos(options, OPTIONS)

    url_scheme, url_host, url_port = "", None, None
    if url is not None:
        try:
            parts = urlsplit(url)
            url_scheme, url_host, url_port = parts.scheme.lower(), parts.hostname, parts.port
        except ValueError as exc:
            problems.append(f"url cannot be read: {exc}")
    name = host or url_host
    if not name:
        problems.append("vendor 'hikvision' needs a host (or a url that names one)")

    https: bool | None = url_scheme == "https"
    if "https" in options:
        https = _flag(options["https"], "https", problems)
    tls_verify = _flag(options.get("tls_verify", True), "tls_verify", problems)

    http_port: int | None = 443 if https else 80
    for given, label in (
        (options.get("http_port"), "http_port"),
        (options.get("port"), "port"),
        (port, "port"),
        (url_port if url_scheme in ("http", "https") else None, "url port"),
    ):
        if given is not None:
            http_port = _port(given, label, problems)
            break
    rtsp_port: int | None = DEFAULT_RTSP_PORT
    if "rtsp_port" in options:
        rtsp_port = _port(options["rtsp_port"], "rtsp_port", problems)
    elif url_scheme in ("rtsp", "rtsps") and url_port is not None:
        rtsp_port = url_port

    channel = options.get("channel", 1)
    if isinstance(channel, bool) or not isinstance(channel, int) or not 1 <= channel <= 999:
        problems.append(f"option 'channel' must be a whole number from 1 to 999, got {channel!r}")
    auth = options.get("auth", "digest")
    if auth not in AUTH_METHODS:
        problems.append(f"option 'auth' must be 'digest' or 'basic', got {auth!r}")
    stream = options.get("stream", "sub")
    if stream not in STREAM_ROLES:
        problems.append(f"option 'stream' must be 'main' or 'sub', got {stream!r}")
    event_timeout = _seconds(
        options.get("event_timeout", DEFAULT_EVENT_TIMEOUT), "event_timeout", 0.5, 3600, problems
    )
    stream_timeout = _seconds(
        options.get("stream_timeout", DEFAULT_STREAM_TIMEOUT), "stream_timeout", 5, 86400, problems
    )
    if problems:
        return None, problems
    assert name and http_port and rtsp_port and event_timeout and stream_timeout
    return (
        HikvisionSettings(
            host=name,
            http_port=http_port,
            https=bool(https),
            tls_verify=bool(tls_verify),
            auth=auth,
            rtsp_port=rtsp_port,
            channel=channel,
            stream=stream,
            event_timeout=event_timeout,
            stream_timeout=stream_timeout,
        ),
        [],
    )
