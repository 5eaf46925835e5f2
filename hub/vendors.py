"""What a camera vendor plugin registers; later issues add streams, snapshots, events and PTZ."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from hub.config import CameraConfig
    from hub.registry import CameraRecord
    from hub.streams.units import PacketSource


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
