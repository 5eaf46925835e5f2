"""A connection to one Dahua device over its HTTP CGI API, with digest authentication."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import DigestAuthMiddleware
from yarl import URL

from hub.streams.reconnect import Backoff, ReconnectPolicy
from hub.vendorkit import PayloadLog
from hub.vendors import (
    AuthenticationFailed,
    BadPayload,
    CameraAccess,
    CameraEvent,
    ChannelInfo,
    DeviceInfo,
    DeviceUnreachable,
    PtzMove,
    PtzPreset,
    StreamProfile,
    Unsupported,
    VendorError,
)
from plugins.dahua import parsers
from plugins.dahua.events import normalize
from plugins.dahua.eventstream import DahuaEvent, EventStreamParser, boundary_of
from plugins.dahua.options import read_options
from plugins.dahua.ptz import PtzCommand, preset_command, start_commands, stop_commands

log = logging.getLogger("plugins.dahua")

SILENT_HEARTBEATS = 3
"""An event stream silent this many heartbeats is dead."""
MAX_ANSWER = 16 * 1024 * 1024
"""The largest answer read (a snapshot of a 4K camera is a few MB)."""
UNSUPPORTED_STATUS = (400, 404, 405, 501)
_BUILD = re.compile(r"^(.*?),\s*build\s*:\s*(.*)$", re.IGNORECASE)


class DahuaSession:
    """A device session (`hub.vendors.DeviceSession`) to a Dahua camera, NVR or DVR.

    Opened without I/O; the HTTP client is made on first use. `policy` sets how the event
    stream reconnects; `read_timeout` how long it may stay silent (three heartbeats if None).
    """

    def __init__(
        self,
        access: CameraAccess,
        *,
        policy: ReconnectPolicy | None = None,
        read_timeout: float | None = None,
    ) -> None:
        self.access = access
        self.settings = read_options(access.host, access.port, access.url, access.options)[0]
        self.payloads = PayloadLog(log, access.name)
        self._policy = policy
        heartbeats = SILENT_HEARTBEATS * self.settings.heartbeat
        self._read_timeout = read_timeout if read_timeout is not None else heartbeats
        self._who = f"camera {access.name!r}"
        self._http: aiohttp.ClientSession | None = None
        self._closed = False
        self._closing = asyncio.Event()
        self._moving: dict[int, set[str]] = {}
        self._timed_stops: dict[int, asyncio.Task[None]] = {}

    # -- device information and streams ------------------------------------------------------

    async def device_info(self) -> DeviceInfo:
        """Make, model, firmware, serial and channels from `magicBox.cgi` and `configManager`."""
        system = await self._optional_values("magicBox.cgi", "getSystemInfo")
        kind = await self._optional_values("magicBox.cgi", "getDeviceType")
        software = await self._optional_values("magicBox.cgi", "getSoftwareVersion")
        vendor = await self._optional_values("magicBox.cgi", "getVendor")
        machine = await self._optional_values("magicBox.cgi", "getMachineName")
        model = kind.get("type") or system.get("deviceType") or None
        firmware = software.get("version") or None
        extra: dict[str, Any] = {}
        if firmware and (build := _BUILD.match(firmware)):
            firmware, extra["build"] = build.group(1), build.group(2)
        for key, name in (
            ("processor", "processor"),
            ("updateSerial", "update_serial"),
            ("hardwareVersion", "hardware_version"),
        ):
            if system.get(key):
                extra[name] = system[key]
        if machine.get("name"):
            extra["name"] = machine["name"]
        return DeviceInfo(
            manufacturer=vendor.get("vendor") or None,
            model=model,
            firmware=firmware,
            serial=system.get("serialNumber") or None,
            hardware_id=system.get("hardwareVersion") or None,
            device_type=parsers.device_type(model),
            channels=await self._channels(),
            extra=extra,
        )

    async def streams(self) -> list[StreamProfile]:
        """Main and sub stream of the camera's channel, or of every channel the device has."""
        if self.settings.channel_given:
            numbers = [self.settings.channel]
        else:
            numbers = [channel.index for channel in await self._channels()]
        base = self.settings.base_url
        return [
            StreamProfile(
                token=f"ch{number}-{role}",
                url=self.settings.rtsp_url(number, role),
                role=role,
                channel=number,
                name=role,
                snapshot_url=f"{base}/cgi-bin/snapshot.cgi?channel={number}",
            )
            for number in numbers
            for role in ("main", "sub")
        ]

    async def snapshot(self, channel: int | None = None) -> bytes:
        """A JPEG from `snapshot.cgi`."""
        number = channel or self.settings.channel
        body, content_type = await self._get(
            "snapshot.cgi", {"channel": str(number)}, f"a snapshot of channel {number}"
        )
        if not body.startswith(b"\xff\xd8"):
            raise BadPayload(
                f"{self._who}: the snapshot of channel {number} is not a JPEG"
                f" ({content_type or 'no content type'}, {len(body)} bytes)"
            )
        return body

    async def _channels(self) -> tuple[ChannelInfo, ...]:
        titles = await self._optional_values(
            "configManager.cgi", "getConfig", {"name": "ChannelTitle"}
        )
        definition = await self._optional_values(
            "magicBox.cgi", "getProductDefinition", {"name": "MaxRemoteInputChannels"}
        )
        return parsers.channels(
            parsers.channel_titles(titles), parsers.max_remote_channels(definition)
        )

    # -- PTZ ---------------------------------------------------------------------------------

    async def ptz(self, move: PtzMove) -> None:
        """Continuous moves, stop, go to and set presets; `Unsupported` for the rest."""
        channel = move.channel or self.settings.channel
        if move.kind in ("goto_preset", "set_preset"):
            try:
                command = preset_command(move)
            except Unsupported as exc:
                raise Unsupported(f"{self._who}: {exc}") from None
            await self._ptz_command(command, channel)
        elif move.kind == "stop":
            self._cancel_timed_stop(channel)
            await self._stop(channel)
        elif move.kind == "continuous":
            self._cancel_timed_stop(channel)
            commands = start_commands(move)
            if not commands:
                await self._stop(channel)
                return
            started = {command.code for command in commands}
            moving = self._moving.get(channel, set())
            if moving - started:
                await self._stop(channel)
            for command in commands:
                await self._ptz_command(command, channel)
            self._moving[channel] = started
            if move.timeout is not None and move.timeout > 0:
                self._timed_stops[channel] = asyncio.create_task(
                    self._stop_later(channel, move.timeout), name=f"dahua-ptz-stop-{channel}"
                )
        else:
            raise Unsupported(f"{self._who}: the Dahua plugin does not do {move.kind} PTZ moves")

    async def presets(self, channel: int | None = None) -> list[PtzPreset]:
        """The presets `ptz.cgi?action=getPresets` lists."""
        number = channel or self.settings.channel
        values = await self._values(
            "ptz.cgi", {"action": "getPresets", "channel": str(number)}, "getPresets"
        )
        return parsers.presets(values)

    async def _stop(self, channel: int) -> None:
        for command in stop_commands(self._moving.pop(channel, set())):
            await self._ptz_command(command, channel)

    async def _stop_later(self, channel: int, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._timed_stops.pop(channel, None)
        try:
            await self._stop(channel)
        except VendorError as exc:
            log.warning("%s; the move of channel %d was to end after %g s", exc, channel, seconds)

    def _cancel_timed_stop(self, channel: int) -> None:
        task = self._timed_stops.pop(channel, None)
        if task is not None:
            task.cancel()

    async def _ptz_command(self, command: PtzCommand, channel: int) -> None:
        body, _ = await self._get("ptz.cgi", command.query(channel), f"PTZ {command.code}")
        answer = body.decode("utf-8", "replace").strip()
        if answer and answer.upper() != "OK":
            raise Unsupported(
                f"{self._who}: PTZ {command.code} on channel {channel} answered {_first(answer)!r}"
            )

    # -- events ------------------------------------------------------------------------------

    async def events(self) -> AsyncGenerator[CameraEvent, None]:
        """The device's events from `eventManager.cgi?action=attach`, until `close`."""
        backoff = Backoff(self._policy)
        while not self._closed:
            try:
                async with contextlib.aclosing(self._attach(backoff)) as stream:
                    async for event in stream:
                        yield event
                reason = f"{self._who}: the event stream ended"
            except VendorError as exc:
                reason = str(exc)
            if self._closed:
                return
            delay = backoff.failed(time.monotonic())
            log.warning("%s; reconnecting in %.1f s", reason, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)

    async def _attach(self, backoff: Backoff) -> AsyncGenerator[CameraEvent, None]:
        """One connection of the event stream; raises `VendorError` when it fails."""
        client = self._client()
        query = {"action": "attach", "codes": "[All]", "heartbeat": str(self.settings.heartbeat)}
        url = self._url("eventManager.cgi", query)
        what = "the event stream"
        try:
            async with asyncio.timeout(self.access.timeout):
                response = await client.get(url, timeout=aiohttp.ClientTimeout(total=None))
        except TimeoutError:
            raise DeviceUnreachable(
                f"{self._who}: no answer to {what} within {self.access.timeout:g} s"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(what, exc) from exc
        parser: EventStreamParser | None = None
        # Closing the HTTP client does not wake a pending read, so each read races `close`.
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            if response.status != 200:
                self._check(response.status, await response.content.read(4096), what)
            content_type = response.headers.get("Content-Type")
            parser = EventStreamParser(self.payloads, boundary_of(content_type))
            log.info("%s: event stream attached", self._who)
            while (chunk := await self._next_chunk(response, closing)) is not None:
                try:
                    items = parser.feed(chunk)
                    events = [
                        normalize(i, self.payloads) for i in items if isinstance(i, DahuaEvent)
                    ]
                except Exception as exc:  # a bug here must not end the stream: start afresh
                    log.exception("%s: the event parser failed", self._who)
                    self.payloads.malformed("event stream", chunk, exc)
                    parser = EventStreamParser(self.payloads, boundary_of(content_type))
                    continue
                if items:
                    backoff.succeeded()
                for event in events:
                    if event is not None:
                        yield event
        except (aiohttp.ClientError, OSError) as exc:
            if self._closed:
                return
            raise self._unreachable(what, exc) from exc
        finally:
            closing.cancel()
            response.close()
            if parser is not None and not self._closed:
                parser.finish()

    async def _next_chunk(
        self, response: aiohttp.ClientResponse, closing: asyncio.Future[Any]
    ) -> bytes | None:
        """The stream's next bytes; None at its end or when the session closes."""
        read = asyncio.ensure_future(response.content.readany())
        try:
            done, _ = await asyncio.wait(
                (read, closing), timeout=self._read_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            read.cancel()
        if read in done:
            return read.result() or None
        if closing in done:
            return None
        raise DeviceUnreachable(
            f"{self._who}: the event stream was silent for {self._read_timeout:g} s"
        )

    # -- HTTP --------------------------------------------------------------------------------

    async def close(self) -> None:
        """End event streams and timed PTZ stops, and close the HTTP client; safe twice."""
        self._closed = True
        self._closing.set()
        stops = list(self._timed_stops.values())
        self._timed_stops.clear()
        for task in stops:
            task.cancel()
        await asyncio.gather(*stops, return_exceptions=True)
        if self._http is not None:
            http, self._http = self._http, None
            await http.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise DeviceUnreachable(f"{self._who}: the session is closed")
        if self._http is None:
            middlewares: tuple[DigestAuthMiddleware, ...] = ()
            if self.access.username is not None:
                try:
                    digest = DigestAuthMiddleware(self.access.username, self.access.password or "")
                except ValueError:
                    raise AuthenticationFailed(
                        f"{self._who}: a username with ':' cannot log in by digest"
                    ) from None
                middlewares = (digest,)
            connector = aiohttp.TCPConnector(ssl=self.settings.verify_tls)
            self._http = aiohttp.ClientSession(
                connector=connector, middlewares=middlewares, headers={"User-Agent": "Pantau"}
            )
        return self._http

    def _url(self, cgi: str, query: Mapping[str, str]) -> URL:
        # Brackets stay as they are (codes=[All]): some firmwares do not decode %5B.
        encoded = urlencode(query, safe="[]", quote_via=quote)
        return URL(f"{self.settings.base_url}/cgi-bin/{cgi}?{encoded}", encoded=True)

    async def _get(self, cgi: str, query: Mapping[str, str], what: str) -> tuple[bytes, str]:
        """An answer's body and content type; raises a `VendorError` unless it is 200 OK."""
        client = self._client()
        try:
            async with client.get(
                self._url(cgi, query), timeout=aiohttp.ClientTimeout(total=self.access.timeout)
            ) as response:
                body = await self._read(response, what)
                status, content_type = response.status, response.content_type
        except TimeoutError:
            raise DeviceUnreachable(
                f"{self._who}: no answer to {what} within {self.access.timeout:g} s"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(what, exc) from exc
        self._check(status, body, what)
        return body, content_type

    async def _values(self, cgi: str, query: Mapping[str, str], what: str) -> dict[str, str]:
        body, _ = await self._get(cgi, query, what)
        return parsers.key_values(body.decode("utf-8", "replace"))

    async def _optional_values(
        self, cgi: str, action: str, query: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The answer's values, or none when the device does not know the action."""
        what = f"{action} {' '.join((query or {}).values())}".strip()
        try:
            return await self._values(cgi, {"action": action, **(query or {})}, what)
        except Unsupported as exc:
            log.debug("%s", exc)
            return {}

    def _check(self, status: int, body: bytes, what: str) -> None:
        text = body[:512].decode("utf-8", "replace")
        user = self.access.username
        if status == 401:
            refused = f"refused user {user!r}" if user else "asks for credentials and has none"
            raise AuthenticationFailed(f"{self._who}: the device {refused} ({what})")
        if status == 403:
            raise AuthenticationFailed(f"{self._who}: user {user!r} may not ask for {what}")
        if status in UNSUPPORTED_STATUS or (status == 200 and parsers.is_error(text)):
            answer = self._scrub(_first(text.strip())) or f"HTTP {status}"
            raise Unsupported(f"{self._who}: the device does not support {what} ({answer})")
        if status != 200:
            raise DeviceUnreachable(f"{self._who}: {what} answered HTTP {status}")

    async def _read(self, response: aiohttp.ClientResponse, what: str) -> bytes:
        body = bytearray()
        while chunk := await response.content.readany():
            body += chunk
            if len(body) > MAX_ANSWER:
                raise BadPayload(f"{self._who}: {what} answered more than {MAX_ANSWER} bytes")
        return bytes(body)

    def _unreachable(self, what: str, exc: BaseException) -> DeviceUnreachable:
        reason = self._scrub(str(exc)) or type(exc).__name__
        return DeviceUnreachable(f"{self._who}: {what} failed: {reason}")

    def _scrub(self, text: str) -> str:
        """`text` without the password, should a library ever have put it there."""
        password = self.access.password
        return text.replace(password, "***") if password else text


def _first(text: str, limit: int = 80) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[:limit] + "..."
