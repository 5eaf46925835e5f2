"""Device events: one session per device, its native events normalized onto the bus.

Cameras whose vendor is a `DeviceVendor` get their device's own events (motion, line crossing,
intrusion, tamper, video loss, alarm inputs) as bus events, besides what the stream engine sees
in their pictures. Cameras that reach the same device (vendor, address and user: an NVR's
channels) share one session, and each event lands on the camera of its channel (the camera's
`options.channel`, default 1). A camera opts out with `options.events: false`.

The session reconnects by itself; when it gives up (refused credentials, no event service) the
device is tried again after `retry_after` seconds, never faster, so a camera account is not
locked out by a hub that keeps knocking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hub.bus import Bus, Subscription
from hub.events import DEVICE_EVENTS, DeviceEvent, Event, MotionEnd, MotionStart
from hub.registry import CameraRecord
from hub.vendors import (
    AuthenticationFailed,
    CameraAccess,
    CameraEvent,
    CameraVendor,
    ClockSkew,
    DeviceSession,
    DeviceVendor,
    Unsupported,
)

log = logging.getLogger(__name__)


def bus_event(camera_id: str, vendor: str, event: CameraEvent) -> Event:
    """The bus event for a device's normalized event.

    Motion becomes `motion.start`/`motion.end` (a pulse is a start, with `state: pulse`), as
    the engine's pixel motion does, with `source` telling them apart; tamper is `tamper` with
    `kind` the device's detail; the other kinds have their own types. Every one carries the
    device's raw topic and data for diagnosis.
    """
    data: dict[str, Any] = {
        "source": "device",
        "vendor": vendor,
        "state": event.state,
        "channel": event.channel,
        "object": event.object,
        "detail": event.detail,
        "region": event.region,
        "raw_topic": event.raw_topic,
        "raw": dict(event.raw),
        "device_time": event.time.isoformat() if event.time is not None else None,
    }
    if event.kind == "motion":
        event_class: type[Event] = MotionEnd if event.state == "end" else MotionStart
        data["zone"] = event.region
    else:
        event_class = DeviceEvent if event.kind == "raw" else DEVICE_EVENTS[event.kind]
        if event.kind == "tamper":
            data["kind"] = event.detail or "tamper"
    return event_class.create(camera_id=camera_id, data=data)


def device_key(camera: CameraRecord) -> tuple[str, str, int | None, str | None] | None:
    """What identifies the device a camera reaches; None when it names no device."""
    host = camera.host
    port = camera.port
    if host is None and camera.url is not None:
        parts = urlsplit(camera.url)
        host = parts.hostname
    if not host:
        return None
    return (camera.vendor, host.lower(), port, camera.username)


def camera_channel(camera: CameraRecord) -> int:
    """The device channel a camera shows (1 unless its options say)."""
    try:
        return int(camera.options.get("channel", 1))
    except (TypeError, ValueError):
        return 1


@dataclass
class _Device:
    key: tuple[str, str, int | None, str | None]
    vendor: DeviceVendor
    cameras: dict[int, str]
    """Channel -> camera id."""
    names: tuple[str, ...]
    task: asyncio.Task[None] | None = None
    session: DeviceSession | None = None
    unrouted: set[int | None] | None = None


class DeviceEvents:
    """Keeps one event session per device for the registry's cameras, and publishes events."""

    def __init__(
        self,
        bus: Bus,
        cameras: Callable[[], Awaitable[list[CameraRecord]]],
        password: Callable[[str], Awaitable[str | None]],
        vendors: Callable[[], Mapping[str, CameraVendor]],
        *,
        retry_after: float = 300.0,
        request_timeout: float = 10.0,
    ) -> None:
        self._bus = bus
        self._cameras = cameras
        self._password = password
        self._vendors = vendors
        self.retry_after = retry_after
        self.request_timeout = request_timeout
        self._devices: dict[tuple[str, str, int | None, str | None], _Device] = {}
        self._lock = asyncio.Lock()
        self._subscriptions: list[Subscription] = []
        self.published = 0

    async def start(self) -> None:
        """Open the sessions, and follow the registry as cameras come, change and go."""
        await self.refresh()
        for pattern in ("camera.added", "camera.updated", "camera.removed"):
            self._subscriptions.append(
                self._bus.subscribe(pattern, self._registry_changed, name=f"devices:{pattern}")
            )

    async def _registry_changed(self, event: Event) -> None:
        if event.type == "camera.updated":
            # new credentials, address or options: the device's session starts afresh
            async with self._lock:
                for key, device in list(self._devices.items()):
                    if event.camera_id in device.cameras.values():
                        await self._stop(self._devices.pop(key))
        await self.refresh()

    @property
    def devices(self) -> dict[tuple[str, str, int | None, str | None], tuple[str, ...]]:
        """The devices with a session, and the cameras on each."""
        return {key: tuple(device.cameras.values()) for key, device in self._devices.items()}

    async def refresh(self) -> None:
        """Start, restart or stop device sessions to match the registry."""
        async with self._lock:
            wanted = await self._wanted()
            for key in list(self._devices):
                device = self._devices[key]
                if key not in wanted or wanted[key][1] != device.cameras:
                    await self._stop(self._devices.pop(key))
            for key, (vendor, cameras, first) in wanted.items():
                if key in self._devices:
                    continue
                password = await self._password(first.id)
                access = CameraAccess.of(first, password, timeout=self.request_timeout)
                names = tuple(sorted(cameras.values()))
                device = _Device(key, vendor, cameras, names, unrouted=set())
                device.task = asyncio.get_running_loop().create_task(
                    self._run(device, access), name=f"device-events:{first.id}"
                )
                self._devices[key] = device

    async def _wanted(
        self,
    ) -> dict[tuple[str, str, int | None, str | None], tuple[DeviceVendor, dict[int, str], Any]]:
        vendors = self._vendors()
        wanted: dict[
            tuple[str, str, int | None, str | None], tuple[DeviceVendor, dict[int, str], Any]
        ] = {}
        for camera in await self._cameras():
            vendor = vendors.get(camera.vendor)
            if not camera.enabled or not isinstance(vendor, DeviceVendor):
                continue
            if camera.options.get("events", True) is False:
                continue
            key = device_key(camera)
            if key is None:
                continue
            entry = wanted.setdefault(key, (vendor, {}, camera))
            channel = camera_channel(camera)
            if channel in entry[1]:
                log.warning(
                    "cameras %r and %r both show channel %d of one device; events go to the first",
                    entry[1][channel],
                    camera.id,
                    channel,
                )
                continue
            entry[1][channel] = camera.id
        return wanted

    def _route(self, device: _Device, event: CameraEvent) -> str | None:
        channel = event.channel if event.channel is not None else 1
        camera = device.cameras.get(channel)
        if camera is None and event.channel is None and len(device.cameras) == 1:
            camera = next(iter(device.cameras.values()))
        if camera is None and device.unrouted is not None and channel not in device.unrouted:
            device.unrouted.add(channel)
            log.info(
                "device of %s: events of channel %s go to no camera (set a camera's "
                "options.channel to %s to receive them)",
                ", ".join(device.names),
                channel,
                channel,
            )
        return camera

    async def _run(self, device: _Device, access: CameraAccess) -> None:
        vendor_name = device.key[0]
        while True:
            session = device.vendor.connect(access)
            device.session = session
            try:
                async for event in session.events():
                    camera_id = self._route(device, event)
                    if camera_id is None:
                        continue
                    await self._bus.publish(bus_event(camera_id, vendor_name, event))
                    self.published += 1
                reason = "the event stream ended"
            except asyncio.CancelledError:
                raise
            except ClockSkew as exc:
                reason = f"the device clock is off by {exc.skew_seconds:+.0f} s: {exc}"
            except AuthenticationFailed as exc:
                reason = f"credentials refused: {exc}"
            except Unsupported as exc:
                log.info("%s: no device events: %s", access.name, exc)
                return
            except Exception as exc:  # a plugin bug must not end the hub's other devices
                log.exception("%s: device events failed", access.name)
                reason = f"{type(exc).__name__}"
            finally:
                device.session = None
                with contextlib.suppress(Exception):
                    await session.close()
            log.warning(
                "%s: device events stopped (%s); trying again in %.0f s",
                access.name,
                reason,
                self.retry_after,
            )
            await asyncio.sleep(self.retry_after)

    async def _stop(self, device: _Device) -> None:
        if device.session is not None:
            with contextlib.suppress(Exception):
                await device.session.close()
        if device.task is not None:
            device.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await device.task

    async def stop(self) -> None:
        """Close every session."""
        for subscription in self._subscriptions:
            await subscription.cancel()
        self._subscriptions.clear()
        async with self._lock:
            devices, self._devices = list(self._devices.values()), {}
            await asyncio.gather(*(self._stop(device) for device in devices))
