"""Dahua cameras, NVRs and DVRs (and rebrands such as Amcrest) over the HTTP CGI API.

Streams are RTSP (`/cam/realmonitor?channel=N&subtype=0|1`); device information, channels,
snapshots, PTZ and presets come from `magicBox.cgi`, `configManager.cgi`, `snapshot.cgi` and
`ptz.cgi`; events from the long-lived `eventManager.cgi?action=attach` stream. Requests log in
by HTTP digest authentication with the camera's username and password.

A camera gives `host` (or a `url` with a host), and may set these `options`:

- `port`: the HTTP API's port; default the camera's `port`, else 80 (443 with `https`).
- `https`: true to speak HTTPS to the API; default false (true for an https `url`).
- `verify_tls`: false to accept the device's self-signed certificate; default true.
- `rtsp_port`: the RTSP server's port; default 554.
- `channel`: the device channel this camera is (1-based, for an NVR's channels); default 1.
  Streams, snapshots and PTZ use it; events come for every channel, each with its own.
- `stream`: `sub` (default) or `main`, the stream the hub monitors.
- `heartbeat`: seconds between the device's heartbeats on the event stream; default 5. A
  stream silent for three heartbeats is dropped and reconnected.
"""

from __future__ import annotations

from hub import hookimpl
from hub.plugins import Register
from plugins.dahua.camera import DahuaVendor


@hookimpl
def register_camera_vendors(register: Register) -> None:
    """Offer the `dahua` vendor."""
    register(DahuaVendor())
