"""A session with one Hikvision camera or NVR over ISAPI: the hub's `DeviceSession`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, Literal

import aiohttp

from hub.streams.reconnect import Backoff, ReconnectPolicy
from hub.vendorkit import PayloadLog, json_ready
from hub.vendors import (
    AuthenticationFailed,
    BadPayload,
    CameraAccess,
    CameraEvent,
    ChannelInfo,
    DeviceInfo,
    PtzMove,
    PtzPreset,
    StreamProfile,
    Unsupported,
    VendorError,
)
from plugins.hikvision.alerts import Alert, AlertTranslator, read_alert
from plugins.hikvision.isapi import IsapiClient
from plugins.hikvision.multipart import AlertPart, AlertStreamParser, boundary_of
from plugins.hikvision.options import HikvisionSettings
from plugins.hikvision.xmldoc import items_of, text_of, to_int, top_text

log = logging.getLogger("plugins.hikvision")

DEVICE_INFO = "/ISAPI/System/deviceInfo"
PROXY_CHANNELS = "/ISAPI/ContentMgmt/InputProxy/channels"
PROXY_STATUS = "/ISAPI/ContentMgmt/InputProxy/channels/status"
VIDEO_INPUTS = "/ISAPI/System/Video/inputs/channels"
STREAMING_CHANNELS = "/ISAPI/Streaming/channels"
PTZ_CHANNELS = "/ISAPI/PTZCtrl/channels"
ALERT_STREAM = "/ISAPI/Event/notification/alertStream"
RECORDER_TYPES = ("nvr", "dvr", "dvs", "encoder", "recorder")
"""Words in deviceType that mark a device whose channels are cameras of their own."""
QUEUE_SIZE = 256
"""Alerts read ahead of the consumer before the stream is read no further."""

_Item = Alert | VendorError | None
"""What the reader hands the events iterator: an alert, a fatal error, or None (closed)."""


def _flag(value: Any) -> bool | None:
    text = text_of(value)
    return None if text is None else text.lower() == "true"


def _codec(text: str | None) -> str | None:
    if not text:
        return None
    return text.lower().replace(".", "").replace("-", "").replace(" ", "")


class HikvisionSession:
    """One device: information, channels, streams, snapshots, alerts and PTZ over ISAPI."""

    def __init__(
        self,
        access: CameraAccess,
        settings: HikvisionSettings,
        policy: ReconnectPolicy | None = None,
    ) -> None:
        """No I/O happens here; `policy` paces reconnection of the alert stream."""
        self._access = access
        self._settings = settings
        self._policy = policy
        self._client = IsapiClient(access, settings)
        self._payloads = PayloadLog(log, access.name)
        self._info: DeviceInfo | None = None
        self._multichannel: bool | None = None
        """Whether events name channels of their own (an NVR); None until device_info."""
        self._readers: set[asyncio.Task[None]] = set()
        self._queues: set[asyncio.Queue[_Item]] = set()
        self._stoppers: set[asyncio.Task[None]] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"<HikvisionSession {self._access.name!r} {self._settings.base_url}>"

    @property
    def payload_log(self) -> PayloadLog:
        """What this session logged about payloads it could not use."""
        return self._payloads

    # -- device

    async def device_info(self) -> DeviceInfo:
        """Make, model, firmware, serial and channels (from deviceInfo and the channel lists)."""
        data = await self._client.get_xml(DEVICE_INFO, "DeviceInfo")
        device_type = top_text(data, "deviceType")
        channels = await self.channels(device_type)
        firmware = top_text(data, "firmwareVersion")
        released = top_text(data, "firmwareReleasedDate")
        info = DeviceInfo(
            manufacturer=top_text(data, "manufacturer") or "Hikvision",
            model=top_text(data, "model"),
            firmware=f"{firmware} {released}" if firmware and released else firmware,
            serial=top_text(data, "serialNumber"),
            hardware_id=top_text(data, "hardwareVersion"),
            device_type=device_type,
            channels=tuple(channels),
            extra=json_ready(data) if isinstance(data, dict) else {},
        )
        recorder = any(word in (device_type or "").lower() for word in RECORDER_TYPES)
        self._multichannel = recorder or len(channels) > 1
        self._info = info
        return info

    async def channels(self, device_type: str | None = None) -> list[ChannelInfo]:
        """The video channels: an NVR's IP channels and a camera's (or DVR's) video inputs."""
        recorder = any(word in (device_type or "").lower() for word in RECORDER_TYPES)
        found: dict[int, ChannelInfo] = {}
        paths = (PROXY_CHANNELS, VIDEO_INPUTS) if recorder else (VIDEO_INPUTS, PROXY_CHANNELS)
        for path in paths:
            try:
                channels = await self._channel_list(path)
            except (Unsupported, BadPayload) as exc:
                log.debug("camera %r: no channels from %s: %s", self._access.name, path, exc)
                continue
            for channel in channels:
                found.setdefault(channel.index, channel)
            if found and not recorder:
                break  # a camera's own inputs are all it has
        if not found and not recorder:
            found[1] = ChannelInfo(1)  # a camera that will not list its one input
        return [found[index] for index in sorted(found)]

    async def _channel_list(self, path: str) -> list[ChannelInfo]:
        if path == PROXY_CHANNELS:
            data = await self._client.get_xml(path, "InputProxyChannelList")
            entries = items_of(data, "InputProxyChannel")
            online = await self._proxy_online()
        else:
            data = await self._client.get_xml(path, "VideoInputChannelList")
            entries = items_of(data, "VideoInputChannel")
            online = {}
        channels = []
        for entry in entries:
            index = to_int(top_text(entry, "id"))
            if index is None or index < 1:
                continue
            enabled = _flag(entry.get("videoInputEnabled")) if isinstance(entry, dict) else None
            channels.append(
                ChannelInfo(
                    index=index,
                    name=top_text(entry, "name"),
                    online=online.get(index, None if enabled is not False else False),
                )
            )
        return channels

    async def _proxy_online(self) -> dict[int, bool]:
        try:
            data = await self._client.get_xml(PROXY_STATUS, "InputProxyChannelStatusList")
        except (Unsupported, BadPayload):
            return {}
        online: dict[int, bool] = {}
        for entry in items_of(data, "InputProxyChannelStatus"):
            index = to_int(top_text(entry, "id"))
            flag = _flag(entry.get("online")) if isinstance(entry, dict) else None
            if index is not None and flag is not None:
                online[index] = flag
        return online

    async def streams(self) -> list[StreamProfile]:
        """Main and sub stream (and any third) per channel, with RTSP and snapshot URLs."""
        ptz = await self._ptz_channels()
        try:
            data = await self._client.get_xml(STREAMING_CHANNELS, "StreamingChannelList")
        except Unsupported:
            # Some NVRs will not list streams: offer the usual two per known channel.
            channels = self._info.channels if self._info else tuple(await self.channels())
            return [
                self._profile(self._settings.stream_id(channel.index, role), channel.name, ptz)
                for channel in channels
                for role in ("main", "sub")
            ]
        profiles = []
        for entry in items_of(data, "StreamingChannel"):
            stream_id = to_int(top_text(entry, "id"))
            if stream_id is None or stream_id < 100 or _flag(entry.get("enabled")) is False:
                continue
            video = entry.get("Video") if isinstance(entry, dict) else None
            profiles.append(self._profile(stream_id, top_text(entry, "channelName"), ptz, video))
        return profiles

    def _profile(
        self, stream_id: int, name: str | None, ptz: set[int], video: Any = None
    ) -> StreamProfile:
        channel, number = divmod(stream_id, 100)
        role: Literal["main", "sub", "other"] = (
            "main" if number == 1 else "sub" if number == 2 else "other"
        )
        fps = to_int(top_text(video, "maxFrameRate"))
        control = (top_text(video, "videoQualityControlType") or "").lower()
        bitrate = to_int(
            top_text(video, "vbrUpperCap", "constantBitRate")
            if control == "vbr"
            else top_text(video, "constantBitRate", "vbrUpperCap")
        )
        return StreamProfile(
            token=str(stream_id),
            url=self._settings.rtsp_url(stream_id),
            role=role,
            channel=channel,
            name=name,
            codec=_codec(top_text(video, "videoCodecType")),
            width=to_int(top_text(video, "videoResolutionWidth")),
            height=to_int(top_text(video, "videoResolutionHeight")),
            fps=fps / 100 if fps else None,  # ISAPI counts frames per 100 seconds
            bitrate_kbps=bitrate,
            snapshot_url=self._settings.snapshot_url(stream_id),
            ptz=channel in ptz,
        )

    async def _ptz_channels(self) -> set[int]:
        try:
            data = await self._client.get_xml(PTZ_CHANNELS, "PTZChannelList")
        except (Unsupported, BadPayload):
            return set()
        indexes = (to_int(top_text(entry, "id")) for entry in items_of(data, "PTZChannel"))
        return {index for index in indexes if index is not None}

    async def snapshot(self, channel: int | None = None) -> bytes:
        """A JPEG of the main stream of `channel` (default: the camera's channel option)."""
        stream_id = self._settings.stream_id(channel or self._settings.channel, "main")
        path = f"{STREAMING_CHANNELS}/{stream_id}/picture"
        _, content = await self._client.request("GET", path)
        if not content.startswith(b"\xff\xd8"):
            raise BadPayload(f"camera {self._access.name!r}: {path} did not answer a JPEG")
        return content

    # -- PTZ

    async def ptz(self, move: PtzMove) -> None:
        """Continuous moves (timed by the device where it can), stop, presets and home."""
        channel = move.channel or self._settings.channel
        base = f"{PTZ_CHANNELS}/{channel}"
        if move.kind in ("continuous", "stop"):
            speed = 1.0 if move.speed is None else max(0.0, min(1.0, move.speed))
            pan, tilt, zoom = (
                (0, 0, 0)
                if move.kind == "stop"
                else (
                    round(max(-1.0, min(1.0, value)) * speed * 100)
                    for value in (move.pan, move.tilt, move.zoom)
                )
            )
            data = f"<pan>{pan}</pan><tilt>{tilt}</tilt><zoom>{zoom}</zoom>"
            if move.kind == "continuous" and move.timeout:
                duration = round(move.timeout * 1000)
                momentary = f"<Momentary><duration>{duration}</duration></Momentary>"
                try:
                    await self._client.put_xml(
                        f"{base}/momentary", f"<PTZData>{data}{momentary}</PTZData>"
                    )
                    return
                except Unsupported:
                    pass  # older firmware: move, and stop after the timeout ourselves
                await self._client.put_xml(f"{base}/continuous", f"<PTZData>{data}</PTZData>")
                self._stop_later(channel, move.timeout)
                return
            await self._client.put_xml(f"{base}/continuous", f"<PTZData>{data}</PTZData>")
        elif move.kind in ("goto_preset", "set_preset"):
            preset = to_int(move.preset)
            if preset is None or preset < 1:
                raise Unsupported(
                    f"camera {self._access.name!r}: Hikvision presets are numbers from 1, "
                    f"got {move.preset!r}"
                )
            if move.kind == "goto_preset":
                await self._client.put_xml(f"{base}/presets/{preset}/goto")
            else:
                body = (
                    f"<PTZPreset><id>{preset}</id><presetName>preset {preset}</presetName>"
                    "</PTZPreset>"
                )
                await self._client.put_xml(f"{base}/presets/{preset}", body)
        elif move.kind == "home":
            await self._client.put_xml(f"{base}/homeposition/goto")
        else:
            raise Unsupported(
                f"camera {self._access.name!r}: {move.kind} PTZ moves are not implemented for "
                "Hikvision; use continuous with a timeout, or presets"
            )

    def _stop_later(self, channel: int, delay: float) -> None:
        async def stop() -> None:
            await asyncio.sleep(delay)
            try:
                await self.ptz(PtzMove("stop", channel=channel))
            except VendorError as exc:
                log.warning(
                    "camera %r: PTZ stop after a timed move failed: %s", self._access.name, exc
                )

        task = asyncio.get_running_loop().create_task(stop())
        self._stoppers.add(task)
        task.add_done_callback(self._stoppers.discard)

    async def presets(self, channel: int | None = None) -> list[PtzPreset]:
        """The channel's PTZ presets; `Unsupported` where it has no PTZ."""
        path = f"{PTZ_CHANNELS}/{channel or self._settings.channel}/presets"
        data = await self._client.get_xml(path, "PTZPresetList")
        presets = []
        for entry in items_of(data, "PTZPreset"):
            token = top_text(entry, "id")
            if token is None or _flag(entry.get("enabled")) is False:
                continue
            presets.append(PtzPreset(token=token, name=top_text(entry, "presetName")))
        return presets

    # -- events

    async def events(self) -> AsyncIterator[CameraEvent]:
        """The device's alerts as `CameraEvent`s until the session closes.

        A reader task keeps the alertStream open (reopening it with backoff); this iterator
        turns its alerts into events and ends conditions whose repeats stopped. A refusal of
        the credentials (401) or of the stream (403/404) ends the iteration with that error,
        since retrying would not help and may lock the account.
        """
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue(QUEUE_SIZE)
        reader = loop.create_task(self._read_alerts(queue))
        self._readers.add(reader)
        self._queues.add(queue)
        translator = AlertTranslator(self._payloads, self._settings.event_timeout)
        try:
            while not self._closed:
                deadline = translator.next_deadline()
                events: list[CameraEvent] = []
                try:
                    async with asyncio.timeout_at(deadline):
                        item = await queue.get()
                except TimeoutError:
                    pass
                else:
                    if item is None:
                        return
                    if isinstance(item, VendorError):
                        raise item
                    events = translator.translate(item, loop.time())
                # Also when alerts keep coming: a busy stream must not hold conditions open.
                events += translator.expire(loop.time())
                for event in events:
                    if self._closed:
                        return
                    yield self._on_channel(event)
        finally:
            self._queues.discard(queue)
            self._readers.discard(reader)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    def _on_channel(self, event: CameraEvent) -> CameraEvent:
        """A single-channel device's events carry no channel (its alerts say channel 1)."""
        if self._multichannel is False and event.channel is not None:
            return replace(event, channel=None)
        return event

    async def _read_alerts(self, queue: asyncio.Queue[_Item]) -> None:
        """Keep the alertStream open and hand its alerts over, until cancelled or refused."""
        backoff = Backoff(self._policy)
        name = self._access.name
        while not self._closed:
            try:
                if self._multichannel is None:
                    await self._learn_channels()
                await self._read_stream(queue, backoff)
                problem = f"camera {name!r}: the alert stream ended"
            except (AuthenticationFailed, Unsupported) as exc:
                log.warning("camera %r: alert stream refused: %s", name, exc)
                await queue.put(exc)
                return
            except VendorError as exc:
                problem = str(exc)  # names the camera already
            except Exception as exc:  # a bug here must not end the events quietly
                log.exception("camera %r: alert stream failed", name)
                problem = self._client.scrub(f"camera {name!r}: {type(exc).__name__}: {exc}")
            delay = backoff.failed(asyncio.get_running_loop().time())
            level = logging.WARNING if backoff.attempts == 1 else logging.INFO
            log.log(level, "%s; reconnecting in %.1f s", problem, delay)
            await asyncio.sleep(delay)

    async def _learn_channels(self) -> None:
        try:
            await self.device_info()
        except (Unsupported, BadPayload) as exc:
            log.debug("camera %r: device info unavailable: %s", self._access.name, exc)

    async def _read_stream(self, queue: asyncio.Queue[_Item], backoff: Backoff) -> None:
        name = self._access.name
        async with self._client.stream(ALERT_STREAM, self._settings.stream_timeout) as response:
            content_type = response.headers.get("Content-Type")
            parser = AlertStreamParser(boundary_of(content_type), self._payloads)
            log.info("camera %r: alert stream open", name)
            try:
                async for chunk in response.content.iter_any():
                    for part in parser.feed(chunk):
                        backoff.succeeded()
                        alert = self._read_part(part)
                        if alert is not None:
                            await queue.put(alert)
            except (aiohttp.ClientError, TimeoutError, OSError):
                parser.close()  # the device or the network cut the stream: log a cut-off part
                raise
            parser.close()  # (not when cancelled: closing the session cuts nothing off)

    def _read_part(self, part: AlertPart) -> Alert | None:
        try:
            alert = read_alert(part)
        except BadPayload as exc:
            self._payloads.malformed("alert", part.body, exc)
            return None
        if alert is None and part.body.strip():
            log.debug(
                "camera %r: skipped a %s part of %d bytes",
                self._access.name,
                part.content_type or "binary",
                len(part.body),
            )
        return alert

    # -- closing

    async def close(self) -> None:
        """End every events iterator, stop the readers and close the HTTP session."""
        self._closed = True
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        tasks = [*self._readers, *self._stoppers]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.close()
