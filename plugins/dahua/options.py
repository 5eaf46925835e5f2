"""A Dahua camera's settings: where its HTTP API and RTSP server are, and which channel it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from hub.vendorkit import option_typos

OPTIONS = ("port", "https", "verify_tls", "rtsp_port", "channel", "stream", "heartbeat")
HTTP_PORT = 80
HTTPS_PORT = 443
RTSP_PORT = 554
HEARTBEAT = 5
"""Seconds between the device's heartbeats on the event stream."""

StreamRole = Literal["main", "sub"]


@dataclass(frozen=True, slots=True)
class DahuaOptions:
    """Where to reach one Dahua device; built by `read_options`."""

    host: str | None
    port: int
    https: bool
    verify_tls: bool
    rtsp_port: int
    channel: int
    channel_given: bool
    """Whether the camera names its channel (one channel of an NVR) or takes the default 1."""
    stream: StreamRole
    heartbeat: int

    @property
    def base_url(self) -> str:
        """The device's HTTP API root, without credentials."""
        scheme = "https" if self.https else "http"
        return f"{scheme}://{_netloc(self.host or '', self.port)}"

    def rtsp_url(self, channel: int, role: StreamRole) -> str:
        """The RTSP URL of a channel's main (subtype 0) or sub (subtype 1) stream."""
        subtype = 0 if role == "main" else 1
        where = _netloc(self.host or "", self.rtsp_port)
        return f"rtsp://{where}/cam/realmonitor?channel={channel}&subtype={subtype}"


def read_options(
    host: str | None, port: int | None, url: str | None, options: Mapping[str, Any]
) -> tuple[DahuaOptions, list[str]]:
    """The settings of a camera, with defaults where a value is missing or wrong, and problems.

    The HTTP port is `options.port`, else the camera's `port`, else the port of an http(s)
    `url`, else 80 (443 with `https`). The RTSP port is `options.rtsp_port`, else the port of an
    rtsp `url`, else 554.
    """
    problems = option_typos(options, OPTIONS)

    url_scheme, url_host, url_port = _url_parts(url, problems)
    https = _flag(options, "https", url_scheme == "https", problems)
    verify_tls = _flag(options, "verify_tls", True, problems)
    if port is None and url_scheme in ("http", "https"):
        port = url_port
    default_http = HTTPS_PORT if https else HTTP_PORT
    rtsp_default = url_port if url_scheme == "rtsp" and url_port is not None else RTSP_PORT
    channel = _number(options, "channel", 1, 1, 1024, problems)
    stream = options.get("stream", "sub")
    if stream not in ("main", "sub"):
        problems.append(f"stream must be 'main' or 'sub', got {stream!r}")
        stream = "sub"
    settings = DahuaOptions(
        host=host or url_host,
        port=_number(options, "port", port or default_http, 1, 65535, problems),
        https=https,
        verify_tls=verify_tls,
        rtsp_port=_number(options, "rtsp_port", rtsp_default, 1, 65535, problems),
        channel=channel,
        channel_given="channel" in options,
        stream=stream,
        heartbeat=_number(options, "heartbeat", HEARTBEAT, 1, 300, problems),
    )
    if not settings.host:
        problems.append("vendor 'dahua' needs the device's host (or a url with a host)")
    return settings, problems


def _url_parts(url: str | None, problems: list[str]) -> tuple[str | None, str | None, int | None]:
    if url is None:
        return None, None, None
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), parts.hostname, parts.port
    except ValueError as exc:
        problems.append(f"url cannot be read: {exc}")
        return None, None, None


def _number(
    options: Mapping[str, Any], key: str, default: int, low: int, high: int, problems: list[str]
) -> int:
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{key} must be a whole number from {low} to {high}, got {value!r}")
        return default
    return value


def _flag(options: Mapping[str, Any], key: str, default: bool, problems: list[str]) -> bool:
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    problems.append(f"{key} must be true or false, got {value!r}")
    return default


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
