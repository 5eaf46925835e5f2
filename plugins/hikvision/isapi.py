"""ISAPI over HTTP: one aiohttp session per device, digest (or basic) auth, errors in our words.

Every failure becomes a `hub.vendors` error naming the camera: no answer is `DeviceUnreachable`,
401 (after the digest exchange) is `AuthenticationFailed`, 403/404 and other refusals are
`Unsupported`. No message carries the password: the URL never holds it, and every message is
scrubbed of it besides.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from hub.vendors import (
    AuthenticationFailed,
    BadPayload,
    CameraAccess,
    DeviceUnreachable,
    Unsupported,
    VendorError,
)
from plugins.hikvision.options import HikvisionSettings
from plugins.hikvision.xmldoc import parse_xml, top_text

XML = "application/xml; charset=UTF-8"
REFUSED = (403, 404, 405, 501)
"""Statuses by which a device says it has no such function (or the user may not use it)."""


class IsapiClient:
    """Requests to one device's ISAPI; opens its HTTP session on first use."""

    def __init__(self, access: CameraAccess, settings: HikvisionSettings) -> None:
        self._access = access
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def camera(self) -> str:
        """The camera's name, for messages."""
        return self._access.name

    def scrub(self, text: str) -> str:
        """`text` with the password (should it ever be there) masked."""
        password = self._access.password
        return text.replace(password, "***") if password else text

    def _error(self, kind: type[VendorError], message: str) -> VendorError:
        return kind(self.scrub(f"camera {self.camera!r}: {message}"))

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise self._error(DeviceUnreachable, "the session is closed")
        if self._session is None:
            access, settings = self._access, self._settings
            middlewares: list[aiohttp.DigestAuthMiddleware] = []
            headers = {"User-Agent": "Pantau"}
            if access.username is not None:
                try:
                    if settings.auth == "basic":
                        headers["Authorization"] = aiohttp.encode_basic_auth(
                            access.username, access.password or ""
                        )
                    else:
                        middlewares.append(
                            aiohttp.DigestAuthMiddleware(access.username, access.password or "")
                        )
                except ValueError as exc:
                    raise self._error(AuthenticationFailed, f"unusable username: {exc}") from None
            tls: ssl.SSLContext | bool = True
            if settings.https and not settings.tls_verify:
                tls = False  # cameras mostly carry self-signed certificates
            self._session = aiohttp.ClientSession(
                middlewares=tuple(middlewares),
                connector=aiohttp.TCPConnector(ssl=tls, limit_per_host=4),
                timeout=aiohttp.ClientTimeout(total=access.timeout),
                headers=headers,
            )
        return self._session

    def _url(self, path: str) -> str:
        return self._settings.base_url + path

    def _check(self, status: int, body: bytes, path: str) -> None:
        """Raise the error a non-2xx answer means."""
        if 200 <= status < 300:
            return
        detail = ""
        if body.lstrip().startswith(b"<"):
            try:
                _, data = parse_xml(body)
            except ValueError:
                data = None
            reason = top_text(data, "subStatusCode", "statusString")
            detail = f" ({reason})" if reason else ""
        if status == 401:
            user = self._access.username
            who = f"user {user!r}" if user is not None else "no credentials"
            raise self._error(
                AuthenticationFailed,
                f"the device refused {who} ({self._settings.auth} auth) on {path}{detail}",
            )
        if status in REFUSED or 400 <= status < 500:
            raise self._error(Unsupported, f"{path} answered {status}{detail}")
        raise self._error(DeviceUnreachable, f"{path} answered {status}{detail}")

    def _unreachable(self, path: str, exc: BaseException) -> VendorError:
        if isinstance(exc, TimeoutError):
            return self._error(DeviceUnreachable, f"{path}: no answer in time")
        reason = str(exc) or type(exc).__name__
        return self._error(DeviceUnreachable, f"{path}: {reason}")

    async def request(self, method: str, path: str, body: str | None = None) -> tuple[str, bytes]:
        """The content type and body of a successful answer; raises a `VendorError`."""
        headers = {"Content-Type": XML} if body is not None else None
        data = body.encode("utf-8") if body is not None else None
        try:
            async with self._http().request(
                method, self._url(path), data=data, headers=headers
            ) as response:
                content = await response.read()
                self._check(response.status, content, path)
                return response.content_type, content
        except VendorError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._unreachable(path, exc) from None

    async def get_xml(self, path: str, root: str | tuple[str, ...]) -> Any:
        """The content of an XML answer whose root element is `root` (one of them)."""
        _, content = await self.request("GET", path)
        try:
            name, data = parse_xml(content)
        except ValueError as exc:
            raise self._error(BadPayload, f"{path}: {exc}") from None
        roots = (root,) if isinstance(root, str) else root
        if name not in roots:
            raise self._error(BadPayload, f"{path}: expected <{roots[0]}>, got <{name}>")
        return data

    async def put_xml(self, path: str, body: str = "") -> None:
        """PUT an XML document (or nothing) and check the answer."""
        await self.request("PUT", path, body)

    @asynccontextmanager
    async def stream(self, path: str, idle: float) -> AsyncIterator[aiohttp.ClientResponse]:
        """A long-lived GET whose body is read as it comes; `idle` s of silence ends it."""
        timeout = aiohttp.ClientTimeout(total=None, connect=self._access.timeout, sock_read=idle)
        try:
            async with self._http().get(self._url(path), timeout=timeout) as response:
                if not 200 <= response.status < 300:
                    self._check(response.status, await response.content.read(4096), path)
                yield response
        except VendorError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._unreachable(path, exc) from None

    async def close(self) -> None:
        """Close the HTTP session; safe to call twice."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            await asyncio.sleep(0)  # let the connector's transports finish closing
