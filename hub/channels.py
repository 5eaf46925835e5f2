"""An NVR's channels become cameras of its owner: one registry camera per channel.

The NVR is registered once (a camera with the NVR's address and credentials); its vendor plugin
lists the channels, and each becomes a camera with the same owner, site, address and
credentials and `options.channel` set, so that the hub's device events land on it.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from hub.registry import CameraInput, CameraRecord, CameraSource, Registry
from hub.vendors import CameraAccess, ChannelInfo, DeviceVendor


def channel_camera_id(nvr_id: str, index: int) -> str:
    """The id of channel `index`'s camera: the NVR's id and the channel, such as pasar-nvr-3."""
    return f"{nvr_id}-{index}"


async def list_channels(
    vendor: DeviceVendor, nvr: CameraRecord, password: str | None, request_timeout: float = 10.0
) -> tuple[ChannelInfo, ...]:
    """The channels the device reports; `VendorError` when it cannot be asked."""
    session = vendor.connect(CameraAccess.of(nvr, password, timeout=request_timeout))
    try:
        return (await session.device_info()).channels
    finally:
        await session.close()


async def add_channel_cameras(
    registry: Registry, nvr: CameraRecord, password: str | None, channels: tuple[ChannelInfo, ...]
) -> tuple[list[CameraRecord], list[str]]:
    """Register a camera per channel not registered yet; the cameras added, and those skipped."""
    known = {camera.id for camera in await registry.list_cameras()}
    added: list[CameraRecord] = []
    skipped: list[str] = []
    for channel in channels:
        camera_id = channel_camera_id(nvr.id, channel.index)
        if camera_id in known:
            skipped.append(camera_id)
            continue
        options: dict[str, Any] = {**dict(nvr.options), "channel": channel.index}
        camera = CameraInput(
            id=camera_id,
            name=channel.name or f"{nvr.name} {channel.index}",
            owner=nvr.owner,
            site=nvr.site,
            vendor=nvr.vendor,
            url=nvr.url,
            host=nvr.host,
            port=nvr.port,
            username=nvr.username,
            password=SecretStr(password) if password is not None else None,
            lat=nvr.lat,
            lon=nvr.lon,
            tags=list(nvr.tags),
            options=options,
        )
        added.append(await registry.add_camera(camera, source=CameraSource.API))
    return added, skipped
