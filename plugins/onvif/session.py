"""A session with one ONVIF device: information, streams, snapshots, PTZ, and its events.

Nothing happens until a method is awaited. The first call connects: the device's clock is
read without credentials (GetSystemDateAndTime), the skew is put into every WS-Security time
stamp, then the services are listed (GetServices, else GetCapabilities) with credentials. A
refused login is blamed on the clock when it is more than 5 s off (`ClockSkew`), else on the
credentials (`AuthenticationFailed`).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp

from hub.vendorkit import PayloadLog, json_ready
from hub.vendors import (
    AuthenticationFailed,
    BadPayload,
    CameraAccess,
    CameraEvent,
    ChannelInfo,
    ClockSkew,
    DeviceInfo,
    DeviceUnreachable,
    PtzMove,
    PtzPreset,
    StreamProfile,
    Unsupported,
    pick_stream,
)
from plugins.onvif.client import bundled_wsdl_dir, make_camera, normalize_url, plain
from plugins.onvif.const import (
    CAPABILITY_SERVICES,
    DEFAULT_PORT,
    LOGGER_NAME,
    SERVICE_NAMES,
    SKEW_LIMIT,
)
from plugins.onvif.errors import ErrorWords
from plugins.onvif.events import EventTiming, PullPointEvents
from plugins.onvif.profiles import (
    MediaProfile,
    channel_tokens,
    read_profiles,
    stream_profiles,
    without_credentials,
)
from plugins.onvif.ptz import ptz_request

Purpose = Literal["monitoring", "viewing"]
_STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
_QUIET = (Unsupported, BadPayload)
"""Errors of optional calls, after which the session carries on without that answer."""


@dataclass(frozen=True, slots=True)
class OnvifOptions:
    """A camera's `options` for this vendor, read once."""

    port: int | None = None
    channel: int = 1
    monitor_stream: str | None = None
    view_stream: str | None = None
    stream_url: str | None = None
    wsdl_dir: str | None = None

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> OnvifOptions:
        """The options from a camera's mapping; `problems` says what is wrong with them."""
        return cls(
            port=_whole(options.get("port")),
            channel=_whole(options.get("channel")) or 1,
            monitor_stream=_opt_text(options.get("monitor_stream")),
            view_stream=_opt_text(options.get("view_stream")),
            stream_url=_opt_text(options.get("stream_url")),
            wsdl_dir=_opt_text(options.get("wsdl_dir")),
        )


def _whole(value: Any) -> int | None:
    if isinstance(value, int | str) and not isinstance(value, bool) and str(value).isdigit():
        return int(value)
    return None


def _opt_text(value: Any) -> str | None:
    return str(value) if value is not None and str(value).strip() else None


def device_address(access: CameraAccess, options: OnvifOptions) -> tuple[str, int]:
    """The host (a `https://` base for HTTPS) and port of the device service."""
    host = access.host
    port = options.port
    if access.url:
        parts = urlsplit(access.url)
        host = host or parts.hostname
        if parts.scheme in ("http", "https"):
            port = port or parts.port or (443 if parts.scheme == "https" else DEFAULT_PORT)
            if parts.scheme == "https" and host and "://" not in host:
                host = f"https://{host}"
    elif port is None:
        port = access.port
    if not host:
        raise Unsupported(f"camera {access.name!r}: vendor 'onvif' needs a host or a url")
    return host, port or DEFAULT_PORT


class OnvifSession:
    """A connection to one ONVIF device (a `DeviceSession`)."""

    def __init__(self, access: CameraAccess, timing: EventTiming | None = None) -> None:
        self.access = access
        self.options = OnvifOptions.of(access.options)
        self.timing = timing or EventTiming()
        self.errors = ErrorWords(access.name, access.password)
        self.log = logging.getLogger(LOGGER_NAME)
        self.payloads = PayloadLog(self.log, access.name)
        self.closing = asyncio.Event()
        self._camera: Any = None
        self._connecting = asyncio.Lock()
        self._xaddrs: dict[str, str] = {}
        self._profiles: list[MediaProfile] | None = None
        self._sources: list[str] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._pullpoint: PullPointEvents | None = None
        self._warned_overrides: set[str] = set()

    def __repr__(self) -> str:
        return f"<OnvifSession {self.access.name!r}>"

    @property
    def name(self) -> str:
        """The camera's name, for log lines and errors."""
        return self.access.name

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self.closing.is_set()

    @property
    def skew(self) -> float | None:
        """The device's clock minus ours (s), once measured."""
        return self.errors.skew

    # connection

    async def device(self) -> Any:
        """The connected `ONVIFCamera`, connecting on first use."""
        if self.closed:
            raise DeviceUnreachable(f"camera {self.name!r}: the session is closed")
        if self._camera is None:
            async with self._connecting:
                if self._camera is None:
                    camera = await self._connect()
                    if self.closed:  # closed while connecting: nobody will close it later
                        await camera.close()
                        raise DeviceUnreachable(f"camera {self.name!r}: the session is closed")
                    self._camera = camera
        return self._camera

    async def _connect(self) -> Any:
        host, port = device_address(self.access, self.options)
        wsdl_dir = self.options.wsdl_dir or bundled_wsdl_dir()
        camera = make_camera(host, port, self.access.username, self.access.password, wsdl_dir)
        try:
            devicemgmt = await self._create(camera, "devicemgmt")
            skew = await self._measure_skew(devicemgmt)
            self.errors.skew = skew
            if skew is not None and abs(skew) >= 1.0:
                # Sign WS-Security time stamps with the device's clock, as it checks them.
                camera.dt_diff = timedelta(seconds=skew)
                await devicemgmt.close()
                camera.services.pop(devicemgmt.binding_key, None)
                devicemgmt = await self._create(camera, "devicemgmt")
            self._xaddrs = await self._find_services(devicemgmt)
            camera.xaddrs.update(self._xaddrs)
        except BaseException:
            await camera.close()
            raise
        return camera

    async def _create(self, camera: Any, name: str, port_type: str | None = None) -> Any:
        try:
            async with asyncio.timeout(self.access.timeout):
                return await camera.create_onvif_service(name, port_type=port_type)
        except Exception as exc:
            raise self.errors.translate(exc, f"the {name} service") from None

    async def service(self, name: str, port_type: str | None = None) -> Any:
        """A service client of the device (devicemgmt, media, ptz, events, pullpoint, ...)."""
        return await self._create(await self.device(), name, port_type)

    async def call(
        self, service: Any, operation: str, params: Any = None, *, wait: float | None = None
    ) -> Any:
        """Call an operation; every failure becomes a `VendorError` without the password."""
        try:
            async with asyncio.timeout(wait or self.access.timeout):
                return await getattr(service, operation)(params)
        except Exception as exc:
            raise self.errors.translate(exc, operation.removeprefix("authless_")) from None

    async def _measure_skew(self, devicemgmt: Any) -> float | None:
        """The device's clock minus ours, read without credentials; None when it will not say."""
        sent = time.time()
        try:
            answer = plain(await self.call(devicemgmt, "authless_GetSystemDateAndTime"))
        except (*_QUIET, AuthenticationFailed, ClockSkew) as exc:
            self.log.debug("camera %r: clock not read: %s", self.name, exc)
            return None
        received = time.time()
        try:
            utc = answer["UTCDateTime"]
            date, clock = utc["Date"], utc["Time"]
            device_time = datetime(
                int(date["Year"]),
                int(date["Month"]),
                int(date["Day"]),
                int(clock["Hour"]),
                int(clock["Minute"]),
                int(clock["Second"]),
                tzinfo=UTC,
            )
        except (KeyError, TypeError, ValueError):
            self.log.debug("camera %r: GetSystemDateAndTime has no usable UTC time", self.name)
            return None
        # The device counts whole seconds: on average its clock is half a second further on.
        skew = device_time.timestamp() + 0.5 - (sent + received) / 2
        if abs(skew) > SKEW_LIMIT:
            self.log.warning(
                "camera %r: its clock is %+.0f s off ours; WS-Security time stamps follow its"
                " clock, but events and logins may suffer: set it to NTP",
                self.name,
                skew,
            )
        return skew

    async def _find_services(self, devicemgmt: Any) -> dict[str, str]:
        """Service addresses by namespace: GetServices, else GetCapabilities (older devices)."""
        xaddrs: dict[str, str] = {}
        try:
            answer = plain(await self.call(devicemgmt, "GetServices", {"IncludeCapability": False}))
        except _QUIET:
            answer = None
        for item in answer if isinstance(answer, list) else []:
            namespace, xaddr = item.get("Namespace"), item.get("XAddr")
            if namespace and xaddr:
                xaddrs[str(namespace)] = normalize_url(str(xaddr).strip())
        if xaddrs:
            return xaddrs
        capabilities = plain(await self.call(devicemgmt, "GetCapabilities", {"Category": "All"}))
        if not isinstance(capabilities, Mapping):
            raise BadPayload(f"camera {self.name!r}: GetCapabilities gave nothing usable")
        for category, namespace in CAPABILITY_SERVICES.items():
            entry = capabilities.get(category)
            if isinstance(entry, Mapping) and entry.get("XAddr"):
                xaddrs[namespace] = normalize_url(str(entry["XAddr"]).strip())
        return xaddrs

    # what the device is and offers

    async def device_info(self) -> DeviceInfo:
        """Make, model, firmware, serial, channels (video sources) and services."""
        devicemgmt = await self.service("devicemgmt")
        info = plain(await self.call(devicemgmt, "GetDeviceInformation"))
        if not isinstance(info, Mapping):
            raise BadPayload(f"camera {self.name!r}: GetDeviceInformation gave nothing usable")
        scopes = await self._scopes(devicemgmt)
        sources = await self._video_sources()
        channels = tuple(
            ChannelInfo(index=index, name=token) for index, token in enumerate(sources, start=1)
        )
        services = sorted({SERVICE_NAMES.get(ns, ns) for ns in self._xaddrs})
        skew = self.skew
        return DeviceInfo(
            manufacturer=_field(info, "Manufacturer"),
            model=_field(info, "Model"),
            firmware=_field(info, "FirmwareVersion"),
            serial=_field(info, "SerialNumber"),
            hardware_id=_field(info, "HardwareId"),
            device_type=_device_type(scopes),
            channels=channels if len(channels) > 1 else (),
            extra=json_ready(
                {
                    "services": services,
                    "scopes": scopes,
                    "clock_skew_seconds": round(skew, 1) if skew is not None else None,
                }
            ),
        )

    async def _scopes(self, devicemgmt: Any) -> list[str]:
        try:
            answer = plain(await self.call(devicemgmt, "GetScopes"))
        except _QUIET:
            return []
        items = answer if isinstance(answer, list) else []
        return [str(item["ScopeItem"]).strip() for item in items if item.get("ScopeItem")]

    async def _video_sources(self) -> list[str]:
        """Video source tokens in the device's order: its channels."""
        if self._sources is None:
            try:
                media = await self.service("media")
                answer = plain(await self.call(media, "GetVideoSources"))
                items = answer if isinstance(answer, list) else []
                self._sources = [str(item["token"]) for item in items if item.get("token")]
            except _QUIET:
                self._sources = []
        return self._sources

    async def _media_profiles(self, refresh: bool = False) -> list[MediaProfile]:
        if self._profiles is None or refresh:
            media = await self.service("media")
            self._profiles = read_profiles(plain(await self.call(media, "GetProfiles")))
        return self._profiles

    async def channel_map(self) -> dict[str, int]:
        """Video source and source configuration tokens by channel, for events."""
        return channel_tokens(await self._media_profiles(), await self._video_sources())

    async def streams(self) -> list[StreamProfile]:
        """Every video profile with its stream and snapshot URIs and its role."""
        profiles = await self._media_profiles(refresh=True)
        channels = channel_tokens(profiles, await self._video_sources())
        media = await self.service("media")
        urls: dict[str, str | None] = {}
        snapshots: dict[str, str | None] = {}
        for profile in profiles:
            if profile.video:
                urls[profile.token] = await self._uri(media, "GetStreamUri", profile.token)
                snapshots[profile.token] = await self._uri(media, "GetSnapshotUri", profile.token)
        return stream_profiles(profiles, channels, urls, snapshots)

    async def profile_uri(self, kind: Literal["stream", "snapshot"], token: str) -> str | None:
        """A profile's stream (RTSP) or snapshot URI as the device gives it, less credentials."""
        operation = "GetStreamUri" if kind == "stream" else "GetSnapshotUri"
        return await self._uri(await self.service("media"), operation, token, quiet=False)

    async def _uri(self, media: Any, operation: str, token: str, quiet: bool = True) -> str | None:
        params: dict[str, Any] = {"ProfileToken": token}
        if operation == "GetStreamUri":
            params["StreamSetup"] = _STREAM_SETUP
        try:
            answer = plain(await self.call(media, operation, params))
        except _QUIET as exc:
            if not quiet:
                raise
            self.log.debug("camera %r: %s for %r: %s", self.name, operation, token, exc)
            return None
        uri = answer.get("Uri") if isinstance(answer, Mapping) else None
        return without_credentials(str(uri)) if uri else None

    async def pick(self, purpose: Purpose, channel: int | None = None) -> StreamProfile:
        """The profile for monitoring (sub) or viewing (main) on a channel; options override."""
        wanted = channel or self.options.channel
        profiles = await self._media_profiles()
        mine = [
            stream
            for stream in stream_profiles(profiles, await self.channel_map(), {}, {})
            if (stream.channel or 1) == wanted
        ]
        options = self.options
        override = options.monitor_stream if purpose == "monitoring" else options.view_stream
        chosen = pick_stream(mine, purpose, override)
        if chosen is None:
            raise Unsupported(f"camera {self.name!r}: no video stream on channel {wanted}")
        missed = override is not None and override not in (chosen.token, chosen.name)
        if override is not None and missed and override not in self._warned_overrides:
            self._warned_overrides.add(override)
            self.log.warning(
                "camera %r: no stream %r on channel %d; using %r",
                self.name,
                override,
                wanted,
                chosen.token,
            )
        return chosen

    async def stream_uri(self, purpose: Purpose = "monitoring") -> str:
        """The URI of the monitoring (or viewing) stream, without credentials."""
        chosen = await self.pick(purpose)
        uri = await self.profile_uri("stream", chosen.token)
        if uri is None:
            raise Unsupported(f"camera {self.name!r}: no stream URI for profile {chosen.token!r}")
        return uri

    # snapshots

    async def snapshot(self, channel: int | None = None) -> bytes:
        """A JPEG from the device: GetSnapshotUri of the viewing profile, then HTTP GET."""
        chosen = await self.pick("viewing", channel)
        uri = await self.profile_uri("snapshot", chosen.token)
        if uri is None:
            raise Unsupported(f"camera {self.name!r}: no snapshot URI for {chosen.token!r}")
        return await self._fetch(uri)

    async def _fetch(self, uri: str) -> bytes:
        """GET with digest auth, falling back to basic when the device only offers that."""
        if self._http is None:
            timeout = aiohttp.ClientTimeout(total=self.access.timeout)
            self._http = aiohttp.ClientSession(timeout=timeout)
        user, password = self.access.username, self.access.password or ""
        try:
            if user is None:
                status, body, kind = await self._get(uri)
            else:
                digest = aiohttp.DigestAuthMiddleware(user, password)
                status, body, kind = await self._get(uri, middlewares=(digest,))
                if status == 401:
                    basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
                    headers = {"Authorization": f"Basic {basic}"}
                    status, body, kind = await self._get(uri, headers=headers)
        except Exception as exc:
            raise self.errors.translate(exc, "snapshot") from None
        if status in (401, 403):
            raise AuthenticationFailed(f"camera {self.name!r}: snapshot refused the credentials")
        if status != 200:
            raise DeviceUnreachable(f"camera {self.name!r}: snapshot answered HTTP {status}")
        if not body.startswith(b"\xff\xd8") and not kind.startswith("image/"):
            shown = kind or "no type"
            raise BadPayload(f"camera {self.name!r}: snapshot is not an image ({shown})")
        return body

    async def _get(self, uri: str, **auth: Any) -> tuple[int, bytes, str]:
        assert self._http is not None
        async with self._http.get(uri, **auth) as response:
            return response.status, await response.read(), response.content_type or ""

    # PTZ

    async def _ptz_profile(self, channel: int | None) -> str:
        wanted = channel or self.options.channel
        viewing = await self.pick("viewing", wanted)
        if viewing.ptz:
            return viewing.token
        channels = await self.channel_map()
        for profile in await self._media_profiles():
            if profile.ptz and channels.get(profile.source or "", 1) == wanted:
                return profile.token
        raise Unsupported(f"camera {self.name!r}: no PTZ on channel {wanted}")

    async def ptz(self, move: PtzMove) -> None:
        """Move the camera; `Unsupported` where no profile of the channel has PTZ."""
        token = await self._ptz_profile(move.channel)
        ptz = await self.service("ptz")
        existing: list[PtzPreset] = []
        if move.kind == "set_preset":
            existing = await self._presets(ptz, token)
        try:
            operation, params = ptz_request(move, token, [preset.token for preset in existing])
        except ValueError as exc:
            raise Unsupported(f"camera {self.name!r}: {exc}") from None
        await self.call(ptz, operation, params)

    async def presets(self, channel: int | None = None) -> list[PtzPreset]:
        """The PTZ presets of the channel's PTZ profile."""
        token = await self._ptz_profile(channel)
        return await self._presets(await self.service("ptz"), token)

    async def _presets(self, ptz: Any, token: str) -> list[PtzPreset]:
        answer = plain(await self.call(ptz, "GetPresets", {"ProfileToken": token}))
        items = answer if isinstance(answer, list) else []
        return [
            PtzPreset(token=str(item["token"]), name=_field(item, "Name"))
            for item in items
            if isinstance(item, Mapping) and item.get("token") is not None
        ]

    # events

    def events(self) -> AsyncIterator[CameraEvent]:
        """The device's events through a PullPoint subscription, until the session closes."""
        if self._pullpoint is None:
            self._pullpoint = PullPointEvents(self, self.timing)
        return self._pullpoint.run()

    async def close(self) -> None:
        """End the events, unsubscribe, and release every connection; safe to call twice."""
        if self.closed:
            return
        self.closing.set()
        if self._pullpoint is not None:
            await self._pullpoint.unsubscribe()
        camera, self._camera = self._camera, None
        if camera is not None:
            await camera.close()
        http, self._http = self._http, None
        if http is not None:
            await http.close()


def _field(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    return str(value).strip() or None


def _device_type(scopes: list[str]) -> str | None:
    """`camera` or `nvr` from the device's `onvif://www.onvif.org/type/...` scopes."""
    kinds = " ".join(
        scope.lower().rpartition("/type/")[2] for scope in scopes if "/type/" in scope.lower()
    )
    if "recorder" in kinds or "nvr" in kinds:
        return "nvr"
    if kinds:
        return "camera"
    return None
