"""A Sunrise NVR camera's settings: where the NVR's API and RTSP server are, and its channel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hub.vendorkit import option_typos

OPTIONS = ("port", "https", "tls_verify", "rtsp_port", "channel", "stream", "heartbeat")
"""Every option this vendor reads; a near miss of one is reported as a typo."""
HTTP_PORT = 80
HTTPS_PORT = 443
RTSP_PORT = 554
HEARTBEAT = 10
"""Seconds between the NVR's heartbeat lines on the event feed."""

StreamRole = Literal["main", "sub"]


@dataclass(frozen=True, slots=True)
class NvrOptions:
    """Where to reach one NVR and which of its channels a camera is; built by `read_options`."""

    host: str | None
    port: int
    https: bool
    tls_verify: bool
    rtsp_port: int
    channel: int
    channel_given: bool
    """Whether the camera names its channel (one channel of the NVR) or takes the default 1."""
    stream: StreamRole
    heartbeat: int

    @property
    def api_url(self) -> str:
        """The root of the NVR's JSON API, without credentials."""
        scheme = "https" if self.https else "http"
        return f"{scheme}://{_netloc(self.host or '', self.port)}/api/v1"

    def rtsp_url(self, channel: int, stream: str) -> str:
        """The RTSP URL of a channel's stream (`main` or `sub`), without credentials."""
        return f"rtsp://{_netloc(self.host or '', self.rtsp_port)}/live/ch{channel}/{stream}"


def read_options(
    host: str | None, port: int | None, options: Mapping[str, Any]
) -> tuple[NvrOptions, list[str]]:
    """A camera's settings, with defaults where a value is missing or wrong, and the problems."""
    problems = option_typos(options, OPTIONS)
    https = _flag(options, "https", False, problems)
    stream = options.get("stream", "sub")
    if stream not in ("main", "sub"):
        problems.append(f"stream must be 'main' or 'sub', got {stream!r}")
        stream = "sub"
    settings = NvrOptions(
        host=host,
        port=_number(options, "port", port or (HTTPS_PORT if https else HTTP_PORT), problems),
        https=https,
        tls_verify=_flag(options, "tls_verify", True, problems),
        rtsp_port=_number(options, "rtsp_port", RTSP_PORT, problems),
        channel=_number(options, "channel", 1, problems, high=256),
        channel_given="channel" in options,
        stream=stream,
        heartbeat=_number(options, "heartbeat", HEARTBEAT, problems, high=300),
    )
    if not host:
        problems.append("vendor 'sunrise_mall' needs the NVR's host")
    return settings, problems


def _number(
    options: Mapping[str, Any], key: str, default: int, problems: list[str], high: int = 65535
) -> int:
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        problems.append(f"{key} must be a whole number from 1 to {high}, got {value!r}")
        return default
    return value


def _flag(options: Mapping[str, Any], key: str, default: bool, problems: list[str]) -> bool:
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    problems.append(f"{key} must be true or false, got {value!r}")
    return default


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
