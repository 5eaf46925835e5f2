"""Hikvision cameras and NVRs over ISAPI (HTTP, digest auth), streamed by RTSP.

A camera names the device by `host` (or a `url` whose host is taken); `port`, when given, is
the ISAPI (HTTP) port. Options, all optional:

- `http_port` (or `port`): the ISAPI port; default 80, 443 with `https`.
- `https` (bool, default false; true for an https url) and `tls_verify` (bool, default true;
  false accepts the self-signed certificates most devices carry).
- `auth`: `digest` (default) or `basic`.
- `rtsp_port`: default 554 (or an rtsp url's port).
- `channel`: the device channel this camera is (an NVR's channel), default 1. Streams are
  rtsp://host:rtsp_port/Streaming/Channels/{channel}01 (main) and {channel}02 (sub).
- `stream`: `sub` (default) or `main`, the stream the engine watches.
- `event_timeout`: seconds without a repeated `active` alert after which a condition ends,
  default 5.
- `stream_timeout`: seconds of silence on the alert stream before it is reopened, default 120.

Events come from /ISAPI/Event/notification/alertStream; see `plugins.hikvision.alerts` for how
each eventType maps to Pantau's vocabulary (ANPR is a `plate` event with object `vehicle` and
the plate in `raw["plate"]`). One device session serves an NVR's channels: events carry the
channel (`dynChannelID`, else `channelID`); a single camera's events carry none.
"""

from __future__ import annotations

from hub import hookimpl
from hub.plugins import Register
from plugins.hikvision.camera import HikvisionVendor


@hookimpl
def register_camera_vendors(register: Register) -> None:
    """Offer the `hikvision` vendor."""
    register(HikvisionVendor())
