"""ONVIF cameras and NVRs, through onvif-zeep-async.

Device information, services and capabilities; media profiles with their stream and snapshot
URIs (the sub stream is picked for monitoring, the main stream for viewing; a device that does
not name them has them told apart by resolution); snapshots (HTTP digest, else basic); PTZ
(continuous, relative, absolute, stop, presets, home) on profiles with a PTZ configuration;
events through a PullPoint subscription, normalized by topic (`parsers.TOPIC_PARSERS`);
WS-Discovery.

A camera gives `host` (or a `url`: an `http(s)://` one is the device service address, an
`rtsp://` one only gives the host), `username` and `password`. Options:

- `port`: the device service's HTTP port (default: that of an `http(s)://` url, else the
  camera's `port` when it has no url, else 80).
- `channel`: the video source to use, 1-based (default 1); an NVR's channels are its sources.
- `monitor_stream`: profile token or name of the stream the engine watches (default: the sub
  stream).
- `view_stream`: profile token or name for viewing and snapshots (default: the main stream).
- `stream_url`: a stream URL to watch instead of asking the device (credentials are added).
- `wsdl_dir`: a folder of ONVIF WSDLs to use instead of those bundled with onvif-zeep-async.
"""

from __future__ import annotations

from hub import hookimpl
from hub.plugins import Register
from plugins.onvif.vendor import OnvifVendor


@hookimpl
def register_camera_vendors(register: Register) -> None:
    """Offer the `onvif` vendor."""
    register(OnvifVendor())
