"""What a camera vendor plugin offers: streams, and a session to devices that have more.

A device session gives device information, stream profiles, snapshots, native events, PTZ and
discovery.

Everything a vendor reports is normalized to Pantau's event vocabulary (`CameraEvent`); the
vendor's own topic and data ride along in `raw_topic` and `raw` for diagnosis. A plugin author
implements `CameraVendor` (always), `StreamingVendor` (the engine can watch it), and
`DeviceVendor` (it talks to the device itself); `DecodingVendor` reads its devices' event
payloads from a capture (`pantau events decode`); see docs/vendors.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from hub.config import CameraConfig
    from hub.decode import CaptureLog
    from hub.registry import CameraRecord
    from hub.streams.units import PacketSource

EventKind = Literal[
    "motion", "line_crossing", "intrusion", "tamper", "video_loss", "io_input", "plate", "raw"
]
"""The normalized kinds. `plate`: a number plate read (ANPR), the plate in `detail`, object
`vehicle`. `raw`: a topic no parser knows yet, delivered as it came."""
EVENT_KINDS: tuple[EventKind, ...] = (
    "motion",
    "line_crossing",
    "intrusion",
    "tamper",
    "video_loss",
    "io_input",
    "plate",
    "raw",
)
EventState = Literal["start", "end", "pulse"]
"""`start`/`end` bracket a condition; `pulse` is a moment with no duration (a line crossed)."""
ObjectKind = Literal["person", "vehicle"]
INTRUSION_DETAILS = ("field", "region")
"""`intrusion` events: `field` (an object inside an area), `region` (entering or leaving it)."""
TAMPER_DETAILS = ("covered", "scene_change", "defocus")
"""`tamper` events from the device itself (the hub's own picture checks add `frozen`, ...)."""


@dataclass(frozen=True, slots=True)
class CameraEvent:
    """One normalized event from a device.

    `channel` is the device's channel (1-based) for NVRs and multi-sensor cameras, None when
    the device has one; `object` qualifies object events; `detail` is the sub-kind (see
    INTRUSION_DETAILS, TAMPER_DETAILS; the input's id for `io_input`); `region` the rule, line
    or zone name or id the device gave; `time` the device's own clock, which may be wrong.
    `raw` is JSON-ready (str, numbers, bools, None, lists and dicts of them).
    """

    kind: EventKind
    state: EventState
    raw_topic: str
    raw: Mapping[str, Any] = field(default_factory=dict)
    channel: int | None = None
    object: ObjectKind | None = None
    detail: str | None = None
    region: str | None = None
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class CameraAccess:
    """How to reach one device: what `connect` gets. The password never shows in a repr."""

    name: str
    """The camera's name, for log lines and errors."""
    host: str | None = None
    port: int | None = None
    url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 10.0
    """Seconds for one request (connect and answer); long-lived event streams use read timeouts."""

    @classmethod
    def of(cls, camera: CameraRecord, password: str | None, timeout: float = 10.0) -> CameraAccess:
        """The access for a registry camera and its decrypted password."""
        return cls(
            name=camera.name,
            host=camera.host,
            port=camera.port,
            url=camera.url,
            username=camera.username,
            password=password,
            options=dict(camera.options),
            timeout=timeout,
        )


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """A video channel of a device; an NVR's channels become cameras of one owner."""

    index: int
    """1-based, as the device numbers its channels in events."""
    name: str | None = None
    online: bool | None = None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What a device says it is."""

    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    hardware_id: str | None = None
    device_type: str | None = None
    """`camera`, `nvr`, `dvr`, ... as the device says it."""
    channels: tuple[ChannelInfo, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamProfile:
    """A stream a device offers. `url` never holds credentials (they go in at connect time)."""

    token: str
    """The device's id for the stream (ONVIF profile token, Hikvision stream id, ...)."""
    url: str | None
    role: Literal["main", "sub", "other"] = "other"
    """`sub` is picked for monitoring and `main` for viewing, unless the camera's options say."""
    channel: int | None = None
    name: str | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate_kbps: int | None = None
    snapshot_url: str | None = None
    ptz: bool = False


PtzKind = Literal["continuous", "relative", "absolute", "stop", "goto_preset", "set_preset", "home"]


@dataclass(frozen=True, slots=True)
class PtzMove:
    """A PTZ command.

    Pan and tilt in [-1, 1], zoom in [0, 1] (absolute) or [-1, 1] (others); `speed` in [0, 1];
    `timeout` (s) ends a continuous move on the device.
    """

    kind: PtzKind
    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0
    speed: float | None = None
    preset: str | None = None
    timeout: float | None = None
    channel: int | None = None


@dataclass(frozen=True, slots=True)
class PtzPreset:
    """A stored PTZ position."""

    token: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """A device that answered a discovery probe."""

    vendor: str
    address: str
    """Host or IP address."""
    urls: tuple[str, ...] = ()
    """Service addresses (ONVIF XAddrs, ...)."""
    manufacturer: str | None = None
    model: str | None = None
    name: str | None = None
    scopes: tuple[str, ...] = ()


class VendorError(Exception):
    """A device could not do what was asked. Messages name the camera, never a credential."""


class DeviceUnreachable(VendorError):
    """No answer, a refused connection, a timeout or a broken stream."""


class AuthenticationFailed(VendorError):
    """The device refused the credentials (after clock skew was ruled out where it matters)."""


class ClockSkew(VendorError):
    """The device's clock is so far off that time-stamped authentication fails."""

    def __init__(self, message: str, skew_seconds: float) -> None:
        super().__init__(message)
        self.skew_seconds = skew_seconds


class Unsupported(VendorError):
    """The device (or this plugin) cannot do this, such as PTZ on a fixed camera."""


class BadPayload(VendorError):
    """A device answer or event that cannot be understood; logged and skipped, never fatal."""


@runtime_checkable
class CameraVendor(Protocol):
    """A camera brand, NVR family or generic stream kind that cameras name in `vendor:`."""

    name: str
    description: str

    def check_camera(self, camera: CameraConfig) -> list[str]:
        """Problems with this camera's settings for this vendor, in plain words; empty if none."""
        ...


@runtime_checkable
class StreamingVendor(CameraVendor, Protocol):
    """A vendor whose cameras the stream engine can watch."""

    def stream_source(
        self, camera: CameraRecord, password: str | None, data_dir: Path
    ) -> PacketSource:
        """A not-yet-open source for the camera's monitoring stream; credentials go in here."""
        ...


@runtime_checkable
class DeviceSession(Protocol):
    """A connection to one device (a camera or an NVR with channels).

    Opened by `connect`, which does no I/O; every method raises a `VendorError` subclass on
    failure.
    """

    async def device_info(self) -> DeviceInfo:
        """Make, model, firmware, serial and channels."""
        ...

    async def streams(self) -> list[StreamProfile]:
        """The streams the device offers, main and sub per channel where it has them."""
        ...

    async def snapshot(self, channel: int | None = None) -> bytes:
        """A JPEG taken by the device."""
        ...

    def events(self) -> AsyncIterator[CameraEvent]:
        """The device's native events, normalized, until the session closes.

        Reconnects by itself with a jittered backoff; a malformed payload is logged with the
        camera's name and skipped. Ends when the session is closed or cancelled, or raises
        `AuthenticationFailed` (or `ClockSkew`) when the device refuses the login and
        `Unsupported` when it has no events: retrying those would lock accounts or be futile,
        so the hub waits minutes before it tries again.
        """
        ...

    async def ptz(self, move: PtzMove) -> None:
        """Move the camera; `Unsupported` where it cannot."""
        ...

    async def presets(self, channel: int | None = None) -> list[PtzPreset]:
        """The PTZ presets; `Unsupported` where there is no PTZ."""
        ...

    async def close(self) -> None:
        """End the event stream and release connections; safe to call twice."""
        ...


@runtime_checkable
class DeviceVendor(CameraVendor, Protocol):
    """A vendor that talks to the device: information, streams, snapshots, events, PTZ."""

    def connect(self, access: CameraAccess) -> DeviceSession:
        """A session for the device (no I/O until a method is awaited)."""
        ...


@runtime_checkable
class DiscoveringVendor(CameraVendor, Protocol):
    """A vendor that can find its devices on the local network (`pantau discover`)."""

    async def discover(self, wait: float = 3.0) -> list[DiscoveredDevice]:
        """The devices that answered within `wait` seconds."""
        ...


@runtime_checkable
class DecodingVendor(CameraVendor, Protocol):
    """A vendor that reads its devices' event payloads from a capture, offline."""

    def decode(self, payload: bytes, log: CaptureLog) -> list[CameraEvent]:
        """The normalized events in a captured payload, in order, as a session gives them.

        Never raises, whatever the bytes: a part that cannot be read goes to `log.malformed`
        and is skipped, an unknown topic to `log.unknown_topic` (and out as a `raw` event), and
        a part that is read but gives no event (a heartbeat, a repeat, the end of a condition
        that never started) to `log.ignored`, each with the reason in plain words. `log.camera`
        names the capture.
        """
        ...


def pick_stream(
    profiles: list[StreamProfile], purpose: Literal["monitoring", "viewing"], override: str | None
) -> StreamProfile | None:
    """The profile for monitoring (the sub stream) or viewing (the main stream).

    `override` is a profile token or name the camera's options give (`monitor_stream`,
    `view_stream`); it wins when it names a profile. Otherwise monitoring takes the first `sub`
    profile and viewing the first `main`, each falling back to the other, then to the first.
    """
    if not profiles:
        return None
    if override is not None:
        for profile in profiles:
            if override in (profile.token, profile.name):
                return profile
    order = ("sub", "main") if purpose == "monitoring" else ("main", "sub")
    for role in order:
        for profile in profiles:
            if profile.role == role:
                return profile
    return profiles[0]
