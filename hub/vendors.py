"""What a camera vendor plugin registers; later issues add streams, snapshots, events and PTZ."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from hub.config import CameraConfig


@runtime_checkable
class CameraVendor(Protocol):
    """A camera brand, NVR family or generic stream kind that cameras name in `vendor:`."""

    name: str
    description: str

    def check_camera(self, camera: CameraConfig) -> list[str]:
        """Problems with this camera's settings for this vendor, in plain words; empty if none."""
        ...
