"""The monitoring stream of an ONVIF camera as a `PacketSource`: ask the device, then read it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.streams.avsource import open_source
from hub.streams.units import PacketSource, Sink, SourceError, SourceFailure, StreamInfo
from hub.vendors import (
    AuthenticationFailed,
    CameraAccess,
    ClockSkew,
    DeviceUnreachable,
    Unsupported,
    VendorError,
)

if TYPE_CHECKING:
    from plugins.onvif.session import OnvifSession

_FAILURES: tuple[tuple[type[VendorError], SourceFailure], ...] = (
    (AuthenticationFailed, SourceFailure.AUTH),
    (ClockSkew, SourceFailure.AUTH),
    (DeviceUnreachable, SourceFailure.UNREACHABLE),
    (Unsupported, SourceFailure.UNSUPPORTED),
)


def source_error(error: VendorError) -> SourceError:
    """The stream engine's error for a device error."""
    for kind, failure in _FAILURES:
        if isinstance(error, kind):
            return SourceError(failure, str(error))
    return SourceError(SourceFailure.PROTOCOL, str(error))


class OnvifStreamSource:
    """A `PacketSource` whose `open` asks the device for the monitoring stream URI first.

    With the option `stream_url`, the device is not asked. The URI is asked again at every
    `open`, as devices may hand out a new one after a reboot.
    """

    def __init__(self, session: OnvifSession) -> None:
        self.session = session
        self.access: CameraAccess = session.access
        self.inner: PacketSource | None = None
        self.uri: str | None = None

    def __repr__(self) -> str:
        return f"<OnvifStreamSource {self.access.name!r}>"

    async def open(self) -> StreamInfo:
        """Find the stream and open it; raises `SourceError`."""
        if self.inner is not None:
            inner, self.inner = self.inner, None
            await inner.close()
        uri = self.session.options.stream_url
        if uri is None:
            try:
                uri = await self.session.stream_uri("monitoring")
            except VendorError as exc:
                raise source_error(exc) from None
        self.uri = uri
        self.inner = open_source(uri, username=self.access.username, password=self.access.password)
        return await self.inner.open()

    async def run(self, sink: Sink) -> None:
        """Deliver access units until the stream ends or fails."""
        if self.inner is None:
            raise SourceError(SourceFailure.PROTOCOL, f"camera {self.access.name!r}: not open")
        await self.inner.run(sink)

    async def close(self) -> None:
        """Close the stream and the device session; safe to call twice."""
        inner, self.inner = self.inner, None
        try:
            if inner is not None:
                await inner.close()
        finally:
            await self.session.close()
