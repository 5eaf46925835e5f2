"""A connection to one Sunrise NVR over its HTTP JSON API, with HTTP basic authentication."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator
from typing import Any, Literal

import aiohttp

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
from pantau_sunrise_mall.events import JsonLines, read_event
from pantau_sunrise_mall.options import read_options

log = logging.getLogger("pantau_sunrise_mall")

SILENT_HEARTBEATS = 3
"""An event feed silent for this many heartbeats is dead."""
MAX_ANSWER = 8 * 1024 * 1024
"""The largest answer read (a 4K snapshot is a few MB)."""
UNSUPPORTED_STATUS = (404, 405, 501)


class SunriseSession:
    """A device session (`hub.vendors.DeviceSession`) to a Sunrise NVR.

    Opened without I/O; the HTTP client is made on first use. `policy` sets how the event feed
    reconnects; `read_timeout` how long it may stay silent (three heartbeats if None).
    """

    def __init__(
        self,
        access: CameraAccess,
        *,
        policy: ReconnectPolicy | None = None,
        read_timeout: float | None = None,
    ) -> None:
        self.access = access
        self.settings = read_options(access.host, access.port, access.options)[0]
        self.payloads = PayloadLog(log, access.name)
        self._policy = policy
        heartbeats = SILENT_HEARTBEATS * self.settings.heartbeat
        self._read_timeout = read_timeout if read_timeout is not None else heartbeats
        self._who = f"camera {access.name!r}"
        self._http: aiohttp.ClientSession | None = None
        self._closed = False
        self._closing = asyncio.Event()

    # -- device information, streams, snapshots ----------------------------------------------

    async def device_info(self) -> DeviceInfo:
        """Make, model, firmware, serial and channels from `/system` and `/channels`."""
        system = await self._get_json("/system", "the system information")
        if not isinstance(system, dict):
            raise BadPayload(f"{self._who}: the system information is not a JSON object")
        channels = tuple(
            ChannelInfo(index=c["id"], name=_text(c.get("name")), online=_flag(c.get("online")))
            for c in await self._channels()
        )
        uptime = _whole(system.get("uptime"))
        return DeviceInfo(
            manufacturer=_text(system.get("vendor")),
            model=_text(system.get("model")),
            firmware=_text(system.get("firmware")),
            serial=_text(system.get("serial")),
            device_type="nvr",
            channels=channels,
            extra={"uptime_s": uptime} if uptime is not None else {},
        )

    async def streams(self) -> list[StreamProfile]:
        """The streams of the camera's channel, or of every channel when it names none."""
        settings = self.settings
        profiles = []
        for channel in await self._channels():
            number = channel["id"]
            if settings.channel_given and number != settings.channel:
                continue
            streams = channel.get("streams")
            for stream in streams if isinstance(streams, list) else []:
                if not isinstance(stream, dict) or not isinstance(stream.get("id"), str):
                    self.payloads.malformed("stream", json.dumps(stream), "no stream id")
                    continue
                role: Literal["main", "sub", "other"] = "other"
                if stream["id"] == "main":
                    role = "main"
                elif stream["id"] == "sub":
                    role = "sub"
                profiles.append(
                    StreamProfile(
                        token=f"ch{number}-{stream['id']}",
                        url=settings.rtsp_url(number, stream["id"]),
                        role=role,
                        channel=number,
                        name=f"{channel.get('name') or number} {stream['id']}",
                        codec=_text(stream.get("codec")),
                        width=_whole(stream.get("width")),
                        height=_whole(stream.get("height")),
                        fps=_real(stream.get("fps")),
                        bitrate_kbps=_whole(stream.get("bitrate_kbps")),
                        snapshot_url=f"{settings.api_url}/channels/{number}/snapshot",
                    )
                )
        return profiles

    async def snapshot(self, channel: int | None = None) -> bytes:
        """A JPEG the NVR takes of a channel (the camera's own when None)."""
        number = channel or self.settings.channel
        body = await self._get(f"/channels/{number}/snapshot", f"a snapshot of channel {number}")
        if not body.startswith(b"\xff\xd8"):
            raise BadPayload(f"{self._who}: the snapshot of channel {number} is not a JPEG")
        return body

    async def _channels(self) -> list[dict[str, Any]]:
        answer = await self._get_json("/channels", "the channel list")
        channels = answer.get("channels") if isinstance(answer, dict) else None
        if not isinstance(channels, list):
            raise BadPayload(f"{self._who}: the channel list has no 'channels' list")
        usable = []
        for channel in channels:
            if isinstance(channel, dict) and (_whole(channel.get("id")) or 0) >= 1:
                usable.append(channel)
            else:
                self.payloads.malformed("channel", json.dumps(channel), "no channel id")
        return usable

    # -- PTZ: the mall's cameras are fixed ---------------------------------------------------

    async def ptz(self, move: PtzMove) -> None:
        """The NVR's channels are fixed cameras: always `Unsupported`."""
        raise Unsupported(f"{self._who}: Sunrise NVR channels have no PTZ")

    async def presets(self, channel: int | None = None) -> list[PtzPreset]:
        """The NVR's channels are fixed cameras: always `Unsupported`."""
        raise Unsupported(f"{self._who}: Sunrise NVR channels have no PTZ presets")

    # -- events ------------------------------------------------------------------------------

    async def events(self) -> AsyncGenerator[CameraEvent, None]:
        """Every channel's events from `/events/stream`, until `close`.

        A broken or silent feed is reopened with a jittered backoff; a refused login or an NVR
        without the feed ends the events with that error, for the hub to retry much later.
        """
        backoff = Backoff(self._policy)
        while not self._closed:
            try:
                async with contextlib.aclosing(self._follow(backoff)) as feed:
                    async for event in feed:
                        yield event
                reason = f"{self._who}: the event feed ended"
            except (AuthenticationFailed, Unsupported):
                raise
            except VendorError as exc:
                reason = str(exc)
            if self._closed:
                return
            delay = backoff.failed(time.monotonic())
            log.warning("%s; reopening the event feed in %.1f s", reason, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)

    async def _follow(self, backoff: Backoff) -> AsyncGenerator[CameraEvent, None]:
        """One connection of the event feed; raises a `VendorError` when it fails."""
        what = "the event feed"
        client = self._client()
        url = f"{self.settings.api_url}/events/stream"
        try:
            async with asyncio.timeout(self.access.timeout):
                response = await client.get(
                    url,
                    params={"heartbeat": str(self.settings.heartbeat)},
                    timeout=aiohttp.ClientTimeout(total=None),
                )
        except TimeoutError:
            raise DeviceUnreachable(
                f"{self._who}: no answer to {what} within {self.access.timeout:g} s"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(what, exc) from exc
        # Closing the HTTP client does not wake a pending read, so each read races `close`.
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            self._check(response.status, what)
            log.info("%s: event feed open", self._who)
            lines = JsonLines(self.payloads)
            while (chunk := await self._next_chunk(response, closing)) is not None:
                for line in lines.feed(chunk):
                    backoff.succeeded()  # a heartbeat, too, shows the feed works
                    event = read_event(line, self.payloads)
                    if event is not None:
                        yield event
        except (aiohttp.ClientError, OSError) as exc:
            if self._closed:
                return
            raise self._unreachable(what, exc) from exc
        finally:
            closing.cancel()
            response.close()

    async def _next_chunk(
        self, response: aiohttp.ClientResponse, closing: asyncio.Future[Any]
    ) -> bytes | None:
        """The feed's next bytes; None at its end or when the session closes."""
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
            f"{self._who}: the event feed was silent for {self._read_timeout:g} s"
        )

    # -- HTTP --------------------------------------------------------------------------------

    async def close(self) -> None:
        """End the event feed and close the HTTP client; safe to call twice."""
        self._closed = True
        self._closing.set()
        if self._http is not None:
            http, self._http = self._http, None
            await http.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise DeviceUnreachable(f"{self._who}: the session is closed")
        if self._http is None:
            headers = {"User-Agent": "Pantau"}
            if self.access.username is not None:
                try:
                    headers["Authorization"] = aiohttp.encode_basic_auth(
                        self.access.username, self.access.password or ""
                    )
                except ValueError:
                    raise AuthenticationFailed(
                        f"{self._who}: a username with ':' cannot log in by basic auth"
                    ) from None
            # NVRs mostly carry self-signed certificates: `tls_verify: false` accepts them.
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.settings.tls_verify), headers=headers
            )
        return self._http

    async def _get_json(self, path: str, what: str) -> Any:
        body = await self._get(path, what)
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.payloads.malformed(what, body, exc)
            raise BadPayload(f"{self._who}: {what} is not JSON") from None

    async def _get(self, path: str, what: str) -> bytes:
        """An answer's body; raises a `VendorError` unless it is 200 OK."""
        client = self._client()
        timeout = aiohttp.ClientTimeout(total=self.access.timeout)
        try:
            async with client.get(self.settings.api_url + path, timeout=timeout) as response:
                self._check(response.status, what)
                body = bytearray()
                while chunk := await response.content.readany():
                    body += chunk
                    if len(body) > MAX_ANSWER:
                        raise BadPayload(f"{self._who}: {what} is larger than {MAX_ANSWER} bytes")
        except TimeoutError:
            raise DeviceUnreachable(
                f"{self._who}: no answer to {what} within {self.access.timeout:g} s"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(what, exc) from exc
        return bytes(body)

    def _check(self, status: int, what: str) -> None:
        user = self.access.username
        if status == 401:
            refused = f"refused user {user!r}" if user else "asks for credentials and has none"
            raise AuthenticationFailed(f"{self._who}: the NVR {refused} ({what})")
        if status == 403:
            raise AuthenticationFailed(f"{self._who}: user {user!r} may not ask for {what}")
        if status in UNSUPPORTED_STATUS:
            raise Unsupported(f"{self._who}: the NVR does not offer {what} (HTTP {status})")
        if status != 200:
            raise DeviceUnreachable(f"{self._who}: {what} answered HTTP {status}")

    def _unreachable(self, what: str, exc: BaseException) -> DeviceUnreachable:
        reason = str(exc) or type(exc).__name__
        password = self.access.password
        if password:  # should a library ever put it in a message
            reason = reason.replace(password, "***")
        return DeviceUnreachable(f"{self._who}: {what} failed: {reason}")


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int | float) and value != "" else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _real(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
